"""Experience gap: corporate belief against customers and sellers, per attribute and segment."""

import streamlit as st

from cxm.metrics import experience
from cxm.segments import Dimension
from cxm.ui import charts, fmt, queries, shell, tables, tiles, widgets

ctx = shell.page("Experience gap", page_params=("by",))
by = widgets.dimension_picker(
    "Break down by",
    [Dimension.MARKET, Dimension.LANGUAGE, Dimension.RANK],
    Dimension.MARKET,
    key="by",
)
overall = queries.attribute_gaps(where=ctx.where, scope=ctx.scope)
if overall["n_customer"].sum() + overall["n_seller"].sum() == 0:
    st.info(fmt.md_escape(f"No customer or seller answers for {ctx.where.describe()} yet."))
    st.stop()

st.subheader(tiles.gap_headline(overall))
st.plotly_chart(charts.gap_dumbbell(overall), key="dumbbell")
tables.gap_table(overall, ctx.cfg, key="gap_overall")

segments = queries.attribute_gaps(by=[by], where=ctx.where, scope=ctx.scope)
st.subheader(f"Customer gap by attribute and {by}, in pp (percentage points)")
st.plotly_chart(charts.gap_heatmap(segments, by, ctx.cfg), key="gap_heatmap")
tables.gap_table(segments, ctx.cfg, key="gap_segments")

nps = queries.segment_report(
    ["customer_nps", "seller_nps"], by=[by], where=ctx.where, scope=ctx.scope
)
left, right = st.columns(2)
for col, kpi_id in ((left, "customer_nps"), (right, "seller_nps")):
    with col:
        st.subheader(shell.kpi(kpi_id).label + f" by {by}")
        st.plotly_chart(charts.kpi_bars(nps, shell.kpi(kpi_id), by, ctx.cfg), key=kpi_id)
tables.behind(nps, ctx.cfg, key="nps_table")

st.subheader("Focus areas: what drives customer NPS, and how wide its gap is")
drivers = queries.drivers(where=ctx.where, scope=ctx.scope)
focus = experience.focus_areas(overall, drivers)
st.caption(tiles.drivers_method(focus))
st.plotly_chart(charts.focus_quadrant(focus), key="focus")
tables.focus_table(focus, segments, by, ctx.cfg, key="focus_table")
