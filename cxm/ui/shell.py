"""The app's frame: which pages each role gets, the sidebar, and how errors are shown."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import streamlit as st

from cxm.access import Role, User, require_role
from cxm.config import CompanyConfig
from cxm.errors import CxmError
from cxm.metrics.compute import DataRange
from cxm.metrics.kpis import Kpi, get
from cxm.metrics.report import comparison
from cxm.segments.filter import SegmentFilter
from cxm.ui import access, charts, filters, fmt, queries, tiles, warehouse
from cxm.warehouse import failures, store

#: (script, title, icon, url path, roles that may open it)
PAGES = (
    ("app_pages/overview.py", "Overview", ":material/dashboard:", "overview", tuple(Role)),
    (
        "app_pages/experience_gap.py",
        "Experience gap",
        ":material/compare_arrows:",
        "experience-gap",
        tuple(Role),
    ),
    ("app_pages/kpis.py", "KPIs by segment", ":material/grid_view:", "kpis", tuple(Role)),
    (
        "app_pages/acquisition.py",
        "Acquisition",
        ":material/campaign:",
        "acquisition",
        tuple(Role),
    ),
    ("app_pages/whatif.py", "What-if", ":material/tune:", "what-if", tuple(Role)),
    (
        "app_pages/experiments.py",
        "Experiments",
        ":material/science:",
        "experiments",
        tuple(Role),
    ),
    (
        "app_pages/reports.py",
        "Segment reports",
        ":material/table_view:",
        "reports",
        tuple(Role),
    ),
    ("app_pages/data.py", "Data", ":material/database:", "data", (Role.ADMIN,)),
    ("app_pages/users.py", "Users", ":material/group:", "users", (Role.ADMIN,)),
)


@st.cache_resource
def warm() -> threading.Thread:
    """Start warming the chart library once per server process, while the sign-in form waits:
    the first Plotly figure of a process costs ~0.7 s of imports and template loading, which
    the Overview's first draw after signing in paid (twice that with a busy neighbour).

    Whatever draws a chart joins it first (the sign-in page's `prefetch`, a signed-in run's
    page in app.py): two threads importing Plotly's parts at once can each find the other's
    import half done ("partially initialized module 'pandas'", seen in AppTest).
    """
    thread = threading.Thread(target=charts.warm, name="cxm-warm-charts", daemon=True)
    thread.start()
    return thread


#: Hidden on the sign-in page: `prefetch`'s elements are there for their code, not to be seen.
_PREFETCH = "cxm-prefetch"


def prefetch() -> None:
    """Draw one hidden element of each kind the Overview draws, under the sign-in form.

    The browser loads each kind's code (Plotly's alone is megabytes to parse) the first time
    a page draws one; drawn here, that happens while the user types, not after they sign in.
    The chart waits for `warm` (see there).
    """
    warm().join()
    st.html(f"<style>.st-key-{_PREFETCH} {{display: none}}</style>")
    with st.container(key=_PREFETCH):
        st.metric("prefetch", 0)
        st.image(charts.sparkline_svg([0.0, 1.0], "higher"))
        st.plotly_chart(charts.figure([]), key=f"{_PREFETCH}-chart")
        st.dataframe({"prefetch": [0]})


def pages_for(role: Role | None) -> list[st.Page]:
    """Return the pages ``role`` may open; every page when nobody is signed in yet, so that a
    deep link survives the login (the navigation is hidden until then)."""
    return [
        st.Page(script, title=title, icon=icon, url_path=url, default=i == 0)
        for i, (script, title, icon, url, roles) in enumerate(PAGES)
        if role is None or role in roles
    ]


def sidebar(user: User) -> None:
    """Draw who is signed in, their role and scope, and the sign-out button."""
    with st.sidebar:
        st.caption(
            f"{fmt.md_escape(user.name)} · {user.role.value} · "
            f"{fmt.md_escape(user.scope.describe())}"
        )
        access.logout_button()


@contextmanager
def errors_shown() -> Iterator[None]:
    """Show a `CxmError` raised inside as one message, instead of a traceback, and stop.

    Every page runs inside it, and so does the login: a missing credentials file, a cookie
    key that is not a secret, a missing or damaged warehouse reads as what to do, not as a
    crash. The message is shown as text (values in it are not Markdown), one line per line.
    """
    try:
        yield
    except (CxmError, duckdb.Error) as exc:
        # A damaged block is found by the query that reads it, wherever that runs: by name.
        shown = (
            exc
            if isinstance(exc, CxmError)
            else failures.explain(exc, path=store.warehouse_path(), writing=False)
        )
        if shown is None:
            raise
        st.error(fmt.md_escape(shown, keep_lines=True), icon=":material/error:")
        st.stop()


@dataclass(frozen=True)
class PageContext:
    """What every analytics page starts from: who, the company, the data, the filter."""

    user: User
    cfg: CompanyConfig
    where: SegmentFilter
    as_of: dt.date

    @property
    def scope(self):
        """Return the user's market scope (what every library call takes)."""
        return self.user.scope


def page(title: str, *, page_params: Sequence[str] = ()) -> PageContext:
    """Start an analytics page: check the user, draw the filters, title and data caption.

    Raises `NotAllowed` when nobody is signed in (a page script run directly).
    """
    user = require_role(access.current_user(), *Role)
    cfg = queries.config()
    if user.scope.markets is not None:
        with st.spinner(
            f"Preparing the data of {user.scope.describe()}: the first view of them since "
            "the last load…"
        ):
            warehouse.prepare(user.scope)
    data = queries.data(user.scope)
    where = filters.segment_filter(user, cfg, data, page_params=page_params)
    st.title(title)
    as_of = min(where.period.end, data.as_of)
    load = queries.last_load()  # its kind and day, never its source (a path on the server)
    loaded = f" · last {fmt.md_escape(load[0])} {fmt.date(load[1])}" if load else ""
    st.caption(
        f"{fmt.md_escape(caption(where, data))} · data as of {fmt.date(data.as_of)}"
        f"{loaded} · showing {fmt.md_escape(user.scope.describe())}"
    )
    tiles.stale_warning(data.as_of)
    return PageContext(user=user, cfg=cfg, where=where, as_of=as_of)


def caption(where: SegmentFilter, data: DataRange) -> str:
    """Return who and which days a page shows, and what they are compared with (plain text).

    A period the data stops inside reads "to date" with its days, as the tiles and files do.

    >>> import datetime as dt
    >>> from cxm.segments.periods import Period
    >>> data = DataRange(first_on=dt.date(2024, 1, 1), as_of=dt.date(2026, 10, 31))
    >>> caption(SegmentFilter(period=Period.parse("2026-Q4"), markets=("BR",)), data)
    'All sellers in BR · Q4 2026 to date (1–31 Oct) vs Q3 2026 (1–31 Jul), the same days of the previous period'
    """  # noqa: E501
    when = where.period.describe() + (f", as of {where.as_of.isoformat()}" if where.as_of else "")
    who = where.describe().removesuffix(f", {when}")
    compared = comparison(where, data).sentence()
    if where.as_of:
        compared += f" (as of {where.as_of.isoformat()})"
    return f"{who[0].upper()}{who[1:]} · {compared}"


def kpi(kpi_id: str) -> Kpi:
    """Return the registry record of a KPI (for chart titles and units)."""
    return get(kpi_id)
