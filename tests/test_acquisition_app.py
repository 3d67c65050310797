"""Acquisition in the app (issue 24, follow-up): channels are named by their configured labels
wherever a person reads them, and the Segment reports page offers the acquisition KPIs by the
breakdowns they take, naming a KPI and a breakdown it cannot take.

On the 2,000-seller demo company (seed 11): its five channels are configured in
cxm/company.yaml (``events`` is "Events and sampling", the planted channel whose customers are
worth less than they cost; ``seller_referred`` is "Seller-referred").
"""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from cxm.config import load_config
from cxm.metrics import report
from cxm.segments import Period, SegmentFilter
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

from .conftest import data_elements, point_app_at, signed_in_page

APP = "../app.py"
CFG = load_config()
LABELS = {c.id: c.label for c in CFG.acquisition_channels}
PERIOD = "2026-Q3"


@pytest.fixture
def demo_app(monkeypatch, demo_credentials, small_demo_warehouse, tmp_path):
    point_app_at(monkeypatch, small_demo_warehouse, demo_credentials, tmp_path)
    return small_demo_warehouse


def _api(path, kpis, by) -> pl.DataFrame:
    with store.open_readonly(path) as con:
        return report.segment_report(
            Scoped.everywhere(con),
            kpis,
            by=by,
            where=SegmentFilter(period=Period.parse(PERIOD)),
            cfg=CFG,
        )


def _ids_shown(text: str) -> list[str]:
    """Return the channel ids (not their labels) that appear in ``text`` as words."""
    words = set(text.replace(",", " ").replace(":", " ").replace("(", " ").split())
    return sorted(i for i in LABELS if i in words)


def test_the_acquisition_page_names_channels_by_their_labels_in_titles_charts_and_tables(
    demo_app,
):
    at = signed_in_page(APP, "app_pages/acquisition.py", "admin", 120, period=PERIOD)
    headline = at.main.subheader[0].value.replace("\\", "")
    # The planted channel: events' CLV/CAC under 1 on the KPI API, named by its label.
    by_channel = _api(demo_app, ["clv_cac_ratio"], ["channel"])
    losing = by_channel.filter(pl.col("value") < 1, ~pl.col("small"))["channel"].to_list()
    assert "events" in losing
    assert headline.startswith("Events and sampling")
    assert _ids_shown(headline) == []
    titles = " ".join(m.value for m in at.markdown).replace("\\", "")
    titles += " " + " ".join(s.value for s in at.main.subheader).replace("\\", "")
    assert _ids_shown(titles) == []
    # Every bar chart by channel reads the five labels on its axis, in configured order, and
    # the heatmap's rows; no id anywhere in a chart's labels.
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert charts
    axes = []
    for spec in charts:
        for trace in json.loads(spec)["data"]:
            axes.append([str(v) for v in trace.get("y", [])] + [str(v) for v in trace.get("x", [])])
    by_channel_axes = [a for a in axes if "Events and sampling" in a]
    assert len(by_channel_axes) >= 6  # CLV/CAC, CAC, the heatmap, three funnel bars
    shown = {v for a in axes for v in a}
    assert not (shown & set(LABELS)), shown & set(LABELS)
    # The tables behind the charts: the "Acquisition channel" column holds labels.
    for frame in (d.value for d in at.dataframe):
        if "Acquisition channel" in frame.columns:
            assert set(frame["Acquisition channel"]) <= {*LABELS.values(), "–"}
            assert "Events and sampling" in set(frame["Acquisition channel"])


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """Return the bytes of every download button the app draws, by file name."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files: dict[str, bytes] = {}
    keep = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        files[filename] = path_or_data
        return keep(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return files


def _report(kpis: str, dims: str):
    """Return the Segment reports page as an admin, the KPIs and breakdown in its link."""
    return signed_in_page(
        APP, "app_pages/reports.py", "admin", 120, period=PERIOD, kpis=kpis, dims=dims
    )


def test_the_segment_report_of_cac_by_market_and_channel_matches_the_kpi_api_and_its_file(
    demo_app, downloads
):
    at = _report("cac,clv_cac_ratio", "market,channel")
    assert not at.error, [e.value for e in at.error]
    assert at.main.subheader[0].value == "2 KPIs by Market x Acquisition channel"
    expected = _api(demo_app, ["cac", "clv_cac_ratio"], ["market", "channel"])
    assert expected.filter(~pl.col("small")).height >= 10  # enough segments to read
    # The preview: one row per KPI, market and channel the API has, named by the label.
    preview = at.dataframe[0].value
    kpi_label = {"cac": "Customer acquisition cost", "clv_cac_ratio": "CLV / CAC"}
    got = {
        (r["KPI"], r["Market"], r["Acquisition channel"]): r["n"]
        for r in preview.to_dict("records")
    }
    want = {
        (kpi_label[r["kpi_id"]], r["market"], LABELS.get(r["channel"], "–")): r["n"]
        for r in expected.iter_rows(named=True)
    }
    assert got == want
    # The file: ids (what a join with marketing_spend or a re-import needs) with the labels
    # beside them, each value the API's (left empty where n is under the minimum), stamped.
    name = f"cxm-{PERIOD}-market-channel.csv"
    raw = downloads[name].decode("utf-8-sig")
    stamp = [line for line in raw.splitlines() if line.startswith("# ")]
    assert any(line.startswith("# Generated by: ") and "admin" in line for line in stamp)
    assert any("2 KPIs by Market x Acquisition channel" in line for line in stamp)
    rows = pl.read_csv(io.StringIO(raw), comment_prefix="#")
    assert rows.columns[:4] == ["market", "channel", "channel_label", "kpi_id"]
    assert all(
        LABELS[c] == lab
        for c, lab in zip(rows["channel"], rows["channel_label"], strict=True)
        if c is not None
    )
    file_values = {(r["kpi_id"], r["market"], r["channel"]): r["value"] for r in rows.to_dicts()}
    for r in expected.iter_rows(named=True):
        value = file_values[(r["kpi_id"], r["market"], r["channel"])]
        if r["small"] or r["value"] is None:
            assert value is None
        else:
            assert value == pytest.approx(r["value"], abs=0.005)


def test_seller_won_share_by_a_sellers_rank_is_offered_and_matches_the_kpi_api(demo_app):
    at = _report("seller_won_share", "rank")
    assert not at.error, [e.value for e in at.error]
    expected = _api(demo_app, ["seller_won_share"], ["rank"])
    preview = at.dataframe[0].value
    assert dict(zip(preview["Rank"], preview["n"], strict=True)) == dict(
        zip(expected["rank"], expected["n"], strict=True)
    )
    assert sum(preview["n"]) > 0


@pytest.mark.parametrize(
    ("kpis", "dims", "words"),
    [
        # Spend is known by market and channel: CAC by a seller's rank cannot be told.
        (
            "cac,active_rate",
            "market,rank",
            "Customer acquisition cost cannot be broken down by Rank: it splits by Market and "
            "Acquisition channel only. Remove Rank from the breakdown, or Customer acquisition "
            "cost from the KPIs.",
        ),
        # A seller KPI has no acquisition channel; neither has the share won by sellers.
        (
            "active_rate,seller_won_share",
            "channel",
            "Active rate cannot be broken down by Acquisition channel: it splits by Rank, Market",
        ),
    ],
)
def test_a_kpi_picked_with_a_breakdown_it_cannot_take_is_named_with_it_not_dropped(
    demo_app, kpis, dims, words
):
    at = _report(kpis, dims)
    assert not at.exception
    errors = [e.value.replace("\\", "") for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(words), errors
    if "seller_won_share" in kpis:
        assert (
            "New customers won by sellers cannot be broken down by Acquisition channel"
            in (errors[0])
        )
    # No report, so no file that quietly lacks the KPI.
    assert not data_elements(at.dataframe) and not at.get("download_button")
