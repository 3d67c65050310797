"""The board pack's page furniture: fonts, a footer on every page, headings, tables, charts.

fpdf2 draws everything; charts come in as SVG through kaleido (the system Chromium), the
12-month lines are drawn straight onto the page (a polyline per KPI, no browser needed).
"""

from __future__ import annotations

import atexit
import io
import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TableBordersLayout
from fpdf.fonts import FontFace

from cxm.errors import CxmError

# fpdf2 draws Plotly's SVG without its clip paths (nothing in these charts needs them) and
# says so once per chart; keep that out of the logs.
logging.getLogger("fpdf.svg").setLevel(logging.ERROR)

FONTS = Path("/usr/share/fonts/truetype/dejavu")
INK, MUTED, RULE = (33, 33, 33), (105, 105, 105), (200, 200, 200)
GOOD, BAD, SHADE = (0, 120, 80), (190, 60, 0), (242, 242, 242)
#: Page body in mm (A4 landscape, 14 mm margins left and right).
LEFT, WIDTH = 14.0, 269.0


_KALEIDO = threading.Lock()
_kaleido_started = False


def _warm_kaleido() -> None:
    """Start kaleido's Chromium once per process and keep it: a cold start takes about 8 s
    a chart, a warm server about 0.3 s (measured here, 2 cores)."""
    global _kaleido_started
    with _KALEIDO:
        if not _kaleido_started:
            import kaleido

            kaleido.start_sync_server(silence_warnings=True)
            # Closed before the interpreter tears its threads down, so Chromium exits cleanly.
            atexit.register(kaleido.stop_sync_server, silence_warnings=True)
            _kaleido_started = True


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, and optionally bold, muted or coloured."""

    text: str
    bold: bool = False
    color: tuple[int, int, int] | None = None


class Pack(FPDF):
    """A4 landscape pages whose footer says what the page shows (filters, period, scope)."""

    def __init__(self, footer: str):
        super().__init__(orientation="landscape", format="A4")
        self._footer = footer
        regular, bold = FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSans-Bold.ttf"
        if not (regular.exists() and bold.exists()):
            raise CxmError(
                f"The board pack needs the DejaVu fonts ({regular}); install them with "
                "`apt-get install fonts-dejavu-core` (make run and make test do)."
            )
        self.add_font("DejaVu", "", str(regular))
        self.add_font("DejaVu", "B", str(bold))
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(LEFT, 12, LEFT)
        self.c_margin = 1.2
        self.set_title("Board pack")

    def footer(self) -> None:
        self.set_y(-13)
        self.set_draw_color(*RULE)
        self.line(LEFT, self.get_y(), LEFT + WIDTH, self.get_y())
        self.ln(1.5)
        self.set_font("DejaVu", size=7)
        self.set_text_color(*MUTED)
        self.multi_cell(
            0, 3.4, f"{self._footer} · page {self.page_no()}/{{nb}}", align="C", new_x="LMARGIN"
        )

    def title_block(self, title: str, subtitle: str) -> None:
        """Start a page: its title (the finding or the section) and a muted line under it."""
        self.set_font("DejaVu", "B", 17)
        self.set_text_color(*INK)
        self.multi_cell(0, 8, title, align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", size=9)
        self.set_text_color(*MUTED)
        self.multi_cell(0, 4.6, subtitle, align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def heading(self, text: str, *, x: float | None = None, w: float = 0) -> None:
        self.set_font("DejaVu", "B", 11.5)
        self.set_text_color(*INK)
        if x is not None:
            self.set_x(x)
        self.multi_cell(
            w, 6, text, align="L", new_x="LEFT" if x is not None else "LMARGIN", new_y="NEXT"
        )
        self.ln(1)

    def note(self, text: str, *, x: float | None = None, w: float = 0, size: float = 8.5) -> None:
        self.set_font("DejaVu", size=size)
        self.set_text_color(*MUTED)
        if x is not None:
            self.set_x(x)
        self.multi_cell(
            w,
            size * 0.5,
            text,
            align="L",
            new_x="LEFT" if x is not None else "LMARGIN",
            new_y="NEXT",
        )
        self.ln(1.5)

    def bullets(self, lines: Sequence[str], *, x: float, w: float, size: float = 10) -> None:
        """Sentences as a list, each after a bullet, wrapped inside ``w`` mm."""
        self.set_font("DejaVu", size=size)
        self.set_text_color(*INK)
        for line in lines:
            self.set_x(x)
            self.cell(4, size * 0.52, "•")
            self.multi_cell(w - 4, size * 0.52, line, align="L", new_x="LEFT", new_y="NEXT")
            self.set_x(x)
            self.ln(1.6)

    def grid(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[Cell | str]],
        widths: Sequence[float],
        *,
        align: str,
        x: float | None = None,
        size: float = 8,
        line_height: float = 5,
        pad: float = 0.5,
    ) -> None:
        """A table with a shaded header repeated on every page it runs on, rules between rows.

        ``align`` holds one letter per column: L(eft), R(ight) or C(entre).
        """
        self.set_font("DejaVu", size=size)
        self.set_text_color(*INK)
        self.set_draw_color(*RULE)
        self.set_fill_color(255, 255, 255)
        if x is not None:
            self.set_x(x)
        names = {"L": "LEFT", "R": "RIGHT", "C": "CENTER"}
        with self.table(
            width=sum(widths),
            col_widths=tuple(widths),
            align="LEFT",
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=FontFace(emphasis="BOLD", fill_color=SHADE, color=INK),
            line_height=line_height,
            text_align=tuple(names[a] for a in align),
            repeat_headings=1,
            padding=(pad, 1.2),
        ) as table:
            table.row(list(header))
            for raw in rows:
                row = table.row()
                for value in raw:
                    c = value if isinstance(value, Cell) else Cell(value)
                    style = FontFace(emphasis="BOLD" if c.bold else None, color=c.color or INK)
                    row.cell(c.text, style=style)
        self.ln(2)

    def svg(self, figure, *, x: float, y: float, w: float, h: float) -> None:
        """Draw a Plotly figure as a vector image in the box ``w`` x ``h`` mm at (x, y).

        The figure is laid out at 4.4 px a millimetre, so its 14 px type prints at about
        9 pt, in DejaVu like the text (fpdf2 maps the SVG's font by name; its built-in
        fonts lack the minus sign Plotly writes on negative ticks).
        """
        px_w = round(w * 4.4)
        px_h = round(h * 4.4)
        _solid_shapes(figure)
        figure.update_layout(
            font=dict(size=14, family="DejaVu"),
            width=px_w,
            height=px_h,
            margin=dict(l=10, r=24, t=28, b=10),
        )
        _warm_kaleido()
        with warnings.catch_warnings():
            # Plotly passes its browser options on each call; the warm server has its own.
            warnings.filterwarnings("ignore", "The kopts argument is ignored", UserWarning)
            data = figure.to_image(format="svg", width=px_w, height=px_h)
        self.image(io.BytesIO(data), x=x, y=y, w=w, h=h)

    def sparkline(
        self,
        values: Sequence[float | None],
        *,
        x: float,
        y: float,
        w: float,
        h: float,
        good: bool,
        partial_last: bool = False,
    ) -> None:
        """A 12-month line in the box at (x, y), its last point marked; green when ``good``,
        orange when not. A last month the data stops inside (``partial_last``) is joined by a
        dashed segment and marked with an open dot: its value is to date."""
        points = [(i, v) for i, v in enumerate(values) if v is not None]
        if len(points) < 2:
            return
        lo = min(v for _, v in points)
        hi = max(v for _, v in points)
        span = (hi - lo) or 1.0
        step = w / max(1, len(values) - 1)
        xy = [(x + i * step, y + h - (v - lo) / span * h) for i, v in points]
        color = GOOD if good else BAD
        self.set_draw_color(*color)
        self.set_fill_color(*color)
        self.set_line_width(0.35)
        solid = xy[:-1] if partial_last else xy
        if len(solid) > 1:
            self.polyline(solid)
        last = xy[-1]
        if partial_last:
            self.set_dash_pattern(dash=0.7, gap=0.5)
            self.line(*xy[-2], *last)
            self.set_dash_pattern()
            self.set_fill_color(255, 255, 255)
            self.circle(x=last[0], y=last[1], radius=0.6, style="DF")
        else:
            self.circle(x=last[0], y=last[1], radius=0.6, style="F")
        self.set_line_width(0.2)
        self.set_fill_color(255, 255, 255)


def _solid_shapes(figure) -> None:
    """Redraw a figure's data-anchored line shapes as traces, and draw the rest solid.

    fpdf2's SVG reader takes no dash lengths in px, and drops most shapes Plotly draws under
    the data (the dumbbell's connecting lines); traces it draws.
    """
    import plotly.graph_objects as go

    keep, before = [], len(figure.data)
    for shape in figure.layout.shapes:
        if shape.type == "line" and shape.xref in (None, "x") and shape.yref in (None, "y"):
            figure.add_trace(
                go.Scatter(
                    x=[shape.x0, shape.x1],
                    y=[shape.y0, shape.y1],
                    mode="lines",
                    line=dict(color=shape.line.color or "#bbbbbb", width=2),
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
        else:
            keep.append(shape.update(line_dash="solid"))
    figure.layout.shapes = keep
    figure.data = figure.data[before:] + figure.data[:before]  # the lines under the markers
