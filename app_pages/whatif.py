"""What-if: change the quarter's KPI priorities and preview, before anything is published, how
every seller's recommended activities would change, where, and why."""

import streamlit as st

from cxm.access import Role, require_role
from cxm.ui import access, fmt, queries, shell
from cxm.ui import whatif as ui
from cxm.ui import whatif_sections as sections

user = require_role(access.current_user(), *Role)
cfg = queries.config()
st.title("What-if: KPI priorities")
field = ui.field(user)
ui.start(field)
published = ui.published(field)
st.caption(
    f"{field.size:,} live sellers in {fmt.md_escape(user.scope.describe())} · data as of "
    f"{fmt.date(field.as_of)} · catalog {fmt.md_escape(field.catalog.version)} with "
    f"{len(field.catalog.actions)} actions"
)
st.markdown(
    f"**Published:** {fmt.md_escape(published.describe())}: "
    f"{fmt.md_escape(published.weights.describe())}",
    help="What the field platform runs, and what every scenario here is compared with.",
)
if field.size == 0:
    st.info("There are no live sellers in your markets, so there is nothing to preview.")
    st.stop()


@st.fragment(key=ui.CONTROLS)
def controls() -> None:
    # Fragments: a slider move reruns the comparison and the exports only (`ui.redraw`), a
    # picker or a form its own fragment; the field and baseline are cached. Each runs outside
    # the page's error handler on its own reruns: so each has its own.
    with shell.errors_shown():
        ui.preset_picker(field)
        ui.sliders(user)


@st.fragment(key=ui.COMPARISON)
def comparison() -> None:
    with shell.errors_shown():
        sections.headline(ui.comparison(field))


@st.fragment(key=ui.VIEWS)
def views() -> None:
    # The view and "By" pickers: a move reruns the picked view's content alone (`view`).
    with shell.errors_shown():
        sections.views(view)


@st.fragment(key=ui.VIEW)
def view(name: str, dim: str) -> None:
    # Rerun alone, it is called with what `views` last gave it: the view and "By" on screen.
    with shell.errors_shown():
        sections.view(name, dim, ui.comparison(field), field, cfg)


@st.fragment(key=ui.QUESTIONS)
def questions() -> None:
    with shell.errors_shown():
        sections.inverse_question(field, *ui.current())


@st.fragment(key=ui.SCENARIOS)
def saved() -> None:
    with shell.errors_shown():
        sections.scenario_panel(user, field, *ui.current())


@st.fragment(key=ui.EXPORTS)
def exports() -> None:
    with shell.errors_shown():
        sections.exports(user, field, *ui.current())


controls()
comparison()
views()
questions()
saved()
exports()
