"""KPIs by segment, in three views: chosen KPIs by rank x market, by one dimension and by
month; cohort retention, the fast start and the downline at risk; predicted customer value with
the check of its model. Only the view shown is computed and drawn (`cxm.ui.kpi_views`)."""

from cxm.ui import kpi_views, shell, widgets

ctx = shell.page("KPIs by segment", page_params=("view", "kpis", "by"))
view = widgets.one_of("View", kpi_views.VIEWS, "segments", key="view")
kpi_views.draw(view, ctx)
