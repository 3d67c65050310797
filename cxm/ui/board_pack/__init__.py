"""The board pack: the Overview's KPIs, the experience gap and the KPIs by segment as one PDF.

Every page's footer states the filters, period, as-of date and scope, so a page torn out of
the pack still says what it shows. Charts go in as vector images (Plotly through kaleido,
which drives the system Chromium); long tables run on over pages with their header repeated,
never cut. No Streamlit here: the page and ``cxm board-pack`` both call `board_pack`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from pathlib import Path

import duckdb
import polars as pl
from fpdf import FPDF
from fpdf.fonts import FontFace

from cxm.access import Role, Scope, User, require_role
from cxm.config import CompanyConfig
from cxm.errors import CxmError
from cxm.metrics import headline, report
from cxm.metrics.compute import data_range, window
from cxm.metrics.kpis import get
from cxm.segments.filter import SegmentFilter
from cxm.ui import charts, fmt
from cxm.warehouse import audit
from cxm.whatif.scenarios import Scenario

# fpdf2 draws Plotly's SVG without its clip paths (nothing in these charts needs them) and
# says so once per chart; keep that out of the logs.
logging.getLogger("fpdf.svg").setLevel(logging.ERROR)

#: Everyone signed in may take the board pack (it holds no row-level data).
PACK_ROLES = tuple(Role)
FONTS = Path("/usr/share/fonts/truetype/dejavu")
INK, MUTED = (33, 33, 33), (110, 110, 110)


class _Pack(FPDF):
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
        self.set_auto_page_break(auto=True, margin=16)
        self.set_margins(14, 12, 14)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font("DejaVu", size=7)
        self.set_text_color(*MUTED)
        self.cell(0, 4, f"{self._footer} · page {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str, size: int = 14) -> None:
        self.set_font("DejaVu", "B", size)
        self.set_text_color(*INK)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def note(self, text: str) -> None:
        self.set_font("DejaVu", size=9)
        self.set_text_color(*MUTED)
        self.multi_cell(0, 4.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def table_of(self, header: list[str], rows: list[list[str]], widths: tuple) -> None:
        self.set_font("DejaVu", size=8)
        self.set_text_color(*INK)
        with self.table(
            col_widths=widths,
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
            line_height=5,
            text_align="LEFT",
            repeat_headings=1,
        ) as table:
            table.row(header)
            for row in rows:
                table.row(row)
        self.ln(3)

    def chart(self, title: str, figure, width: float = 160) -> None:
        """Draw a titled chart, on a new page when the rest of this one cannot hold both."""
        px_w, px_h = 900, 380
        height = width * px_h / px_w
        if self.get_y() + height + 14 > self.h - 16:
            self.add_page()
        self.heading(title, 13)
        # Larger type than on screen: the chart is printed at about a fifth of a millimetre
        # a pixel.
        figure.update_layout(font=dict(size=17), margin=dict(l=10, r=10, t=10, b=10))
        svg = figure.to_image(format="svg", width=px_w, height=px_h)
        self.image(io.BytesIO(svg), w=width)
        self.ln(2)


def _rows(frame: pl.DataFrame, dims: list[str], cfg: CompanyConfig) -> list[list[str]]:
    out = []
    for r in frame.iter_rows(named=True):
        kpi = get(r["kpi_id"])
        small = r["small"]
        out.append(
            [
                *(str(r[d]) for d in dims),
                kpi.label,
                "n < " + str(cfg.min_n)
                if small
                else fmt.kpi_value(kpi.unit, r["value"], cfg.currency),
                f"{int(r['n']):,}",
                "" if small else fmt.kpi_change(kpi.unit, r["value"], r["previous"]),
                fmt.kpi_value(kpi.unit, r["target"], cfg.currency),
            ]
        )
    return out


def board_pack(
    con: duckdb.DuckDBPyConnection,
    *,
    user: User | None,
    where: SegmentFilter,
    scope: Scope,
    cfg: CompanyConfig,
    now: dt.datetime | None = None,
    scenario: Scenario | None = None,
) -> bytes:
    """Return the board pack PDF for ``where`` within ``scope``, with ``scenario`` if given.

    A what-if scenario is shown against the published weights over the live sellers in
    ``scope`` on the data's as-of date (the what-if works on today's field, not a period).

    Raises
    ------
    NotAllowed
        When nobody is signed in.
    BadFilter, OutOfScope
        As the reports do.
    """
    who = require_role(user, *PACK_ROLES)
    data = data_range(con)
    win = window(where, data)
    said = where.describe()
    footer = (
        f"{said[0].upper()}{said[1:]} · as of {win.as_of.isoformat()} · scope {scope.describe()}"
    )
    ids = [k.id for k in headline()]
    reports = report.segment_reports(
        con, ids, bys=[(), ("market",), ("market", "rank")], where=where, scope=scope, cfg=cfg
    )
    when = (now or dt.datetime.now()).replace(microsecond=0)

    pdf = _Pack(footer)
    pdf.add_page()
    pdf.heading("Board pack", 20)
    pdf.note(
        f"{said[0].upper()}{said[1:]}; data as of {fmt.date(win.as_of)}; markets: "
        f"{scope.describe()}. Prepared for {who.name} on {when:%d %b %Y, %H:%M}. Small "
        f"segments (n under {cfg.min_n}) show no value."
    )
    pdf.heading("Headline KPIs", 13)
    pdf.table_of(
        ["KPI", "Value", "n", "Change", "Target"],
        [row for row in _rows(reports[()], [], cfg)],
        (60, 30, 20, 30, 30),
    )
    gaps = reports[("market",)].filter(pl.col("kpi_id") == "experience_gap_pp")
    gap_title = "Experience gap by market: corporate belief minus what customers report"
    if gaps["value"].drop_nulls().is_empty():
        pdf.heading(gap_title, 13)
        pdf.note("No market has both corporate and customer answers in this period.")
    else:
        pdf.chart(gap_title, charts.kpi_bars(gaps, get("experience_gap_pp"), "market", cfg))
    pdf.add_page()
    pdf.heading("Headline KPIs by market and rank", 13)
    pdf.table_of(
        ["Market", "Rank", "KPI", "Value", "n", "Change", "Target"],
        _rows(reports[("market", "rank")], ["market", "rank"], cfg),
        (22, 40, 60, 30, 20, 30, 30),
    )
    if scenario is None:
        pdf.heading("What-if scenario", 13)
        pdf.note("No what-if scenario was chosen for this pack.")
    else:
        _scenario_pages(pdf, con, cfg, scope, scenario)
    return bytes(pdf.output())


def _scenario_pages(
    pdf: _Pack, con: duckdb.DuckDBPyConnection, cfg: CompanyConfig, scope: Scope, sc: Scenario
) -> None:
    from cxm.ui import whatif_charts
    from cxm.whatif.compare import compare, load_field, rank

    field = load_field(con, cfg, scope=scope)
    result = compare(field, rank(field, sc.weights, sc.guardrails))
    pdf.add_page()
    pdf.heading(f"What-if scenario: {sc.name}", 13)
    published = f"published by {sc.published_by}" if sc.published_by else "not published"
    guard = ", ".join(
        n for n, on in (("mandatory actions kept", sc.guardrails.mandatory),
                        ("caps applied", sc.guardrails.caps)) if on
    ) or "no guardrails"  # fmt: skip
    pdf.note(
        f"{sc.weights.describe()}; {guard}. Saved by {sc.author} on {sc.created_at:%d %b %Y}, "
        f"{published}; catalog {sc.catalog_version}, made on data as of {sc.data_as_of}. "
        f"Against the published weights, over the {result.sellers:,} live sellers in "
        f"{scope.describe()} on {fmt.date(field.as_of)}: {fmt.share(result.changed_share)} "
        f"({result.changed:,}) would get a different first action."
    )
    pdf.chart(
        "Share of sellers whose first action changes, by market",
        whatif_charts.changed_by(result.changed_by["market"], "market", cfg),
    )
    labels = {a.id: a.label for a in field.catalog.actions} | {"(none)": "No action"}
    moves = result.transition.filter(pl.col("baseline") != pl.col("scenario")).head(8)
    pdf.heading("The most common changes of first action", 12)
    pdf.table_of(
        ["Published first action", "Scenario first action", "Sellers"],
        [[labels[r["baseline"]], labels[r["scenario"]], f"{r['sellers']:,}"]
         for r in moves.iter_rows(named=True)],
        (80, 80, 25),
    )  # fmt: skip
    ft = field.catalog.follow_through
    pdf.heading("Expected progress per 1,000 sellers", 12)
    pdf.table_of(
        ["Priority", "Published", "Scenario", "Change"],
        [[r["label"], f"{r['baseline']:.1f}", f"{r['scenario']:.1f}",
          "" if r["change"] is None else fmt.signed(100 * r["change"], 0, "%")]
         for r in result.effect.iter_rows(named=True)],
        (60, 35, 35, 35),
    )  # fmt: skip
    pdf.note(
        f"Assumes {ft[0]:.0%}, {ft[1]:.0%} and {ft[2]:.0%} of sellers act on their first, "
        "second and third recommendation; a model of direction and size, not a forecast."
    )


def audit_pack(
    user: User | None,
    where: SegmentFilter,
    scope: Scope,
    data: bytes,
    *,
    path: str | Path | None = None,
) -> None:
    """Write the download of a board pack to the audit trail (with the file's hash)."""
    who = require_role(user, *PACK_ROLES)
    audit.record(pack_entry(where, scope, data, who.username, who.role.value), path=path)


def pack_entry(
    where: SegmentFilter, scope: Scope, data: bytes, username: str, role: str
) -> audit.Entry:
    """Return the audit entry of a board pack's bytes."""
    return audit.Entry(
        username=username,
        role=role,
        action="board pack",
        what="board pack, pdf",
        filters=where.describe(),
        scope=scope.describe(),
        sha256=hashlib.sha256(data).hexdigest(),
    )
