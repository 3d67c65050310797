"""What the board pack says, computed from the report rows: no drawing, no warehouse.

The changes with the strongest evidence as sentences, each target with its status, the
experience gap's title, the scenario's gains and costs, and the appendix's rows in ladder
order with small segments folded into one counted line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from cxm.config import CompanyConfig
from cxm.metrics import stats
from cxm.metrics.kpis import BY_ID
from cxm.metrics.movers import moved
from cxm.segments.order import listed
from cxm.ui import fmt
from cxm.ui.headlines import where_words

#: Page 1 names a KPI's change in at most this many segments, so that three to five sentences
#: tell more than one story; the rest are counted in the note.
PER_KPI = 2
#: Segments smaller than this many times the minimum n are folded in the appendix: values
#: from a few dozen sellers swing from period to period and are not for a board.
FOLD_FACTOR = 3


def changes(
    reports: dict[tuple[str, ...], pl.DataFrame], cfg: CompanyConfig, *, limit: int = 5
) -> tuple[list[str], str]:
    """Return up to ``limit`` sentences on the changes with the strongest evidence, and a note
    saying how they were chosen (or that nothing moved beyond noise).

    The company's rows and the single-dimension breakdowns in ``reports`` are tested together
    (`cxm.metrics.movers.moved`: each change against its noise, the false discovery rate held
    across all of them, segments under the minimum n never tested), strongest evidence first,
    at most `PER_KPI` sentences on one KPI.

    >>> from cxm.config import load_config
    >>> r = pl.DataFrame({"market": ["BR", "US"], "kpi_id": ["active_rate"] * 2,
    ...     "value": [0.15, 0.20], "previous": [0.19, 0.205], "change": [-0.04, -0.005],
    ...     "n": [500, 900], "small": [False, False], "company": [0.18] * 2,
    ...     "change_p": [0.0004, 0.6]})
    >>> said, note = changes({("market",): r}, load_config())
    >>> said
    ['Active rate fell 4.0 pp in Brazil, to 15.0% (company 18.0%; n = 500; p < 0.001).']
    >>> note.split(";")[0]
    '1 of 2 changes tested is beyond noise'
    """
    frames = {}
    for dims, frame in reports.items():
        if len(dims) > 1 or frame.is_empty():
            continue
        dim = dims[0] if dims else "all"
        frames[dim] = frame if dims else frame.with_columns(pl.lit("all").alias("all"))
    found = moved(frames, min_n=cfg.min_n, limit=10 * limit)
    out: list[str] = []
    told: dict[str, int] = {}
    for r in found.rows.iter_rows(named=True):
        kpi = BY_ID[r["kpi_id"]]
        if len(out) == limit or told.get(kpi.id, 0) == PER_KPI:
            continue
        told[kpi.id] = told.get(kpi.id, 0) + 1
        step = fmt.change(kpi.unit, r["value"], r["previous"])
        if not step.direction:  # beyond noise yet too small to show: not news
            continue
        verb = "rose" if step.direction > 0 else "fell"
        value = fmt.kpi_value(kpi.unit, r["value"], cfg.currency)
        p = "p < 0.001" if r["change_p"] < 0.001 else f"p = {r['change_p']:.3f}"
        context = f"n = {fmt.number(r['n'])}; {p}"
        where = where_words(r["dimension"], r["segment"], cfg)
        where = f" {where}" if where else ""
        if r["dimension"] != "all":
            context = f"company {fmt.kpi_value(kpi.unit, r['company'], cfg.currency)}; {context}"
        out.append(
            f"{kpi.label} {verb} {step.text.lstrip('+' + fmt.MINUS)}"
            f"{where}, to {value} ({context})."
        )
    changes_ = "change" if found.tested == 1 else "changes"
    verb = "is" if found.beyond == 1 else "are"
    note = (
        f"{found.beyond:,} of {found.tested:,} {changes_} tested {verb} beyond noise; each "
        f"change tested against its noise (two-sided, 95%), the false discovery rate held at "
        f"{found.fdr:.0%} across all of them; segments under n = {found.min_n} not tested. "
        "Strongest evidence first."
    )
    if not found.tested:
        note = f"No change was tested: no segment has n of at least {cfg.min_n} in both periods."
    return out, note


@dataclass(frozen=True)
class TargetLine:
    """One target against its value: who, KPI, target, value and a status word."""

    kpi: str
    segment: str
    target: str
    value: str
    status: str
    good: bool | None  # True met / on track, False missed / behind, None not judged


def target_status(
    kpi_id: str, value: float | None, target: float, *, small: bool, partial: bool
) -> tuple[str, bool | None]:
    """Return the status word of ``value`` against ``target`` and whether it is good.

    Met when the value is at or beyond the target in the KPI's better direction (at least for
    "higher is better", at most for "lower is better"). While the period is still running
    (``partial``) a share or average reads "on track" or "behind", and a count or sum, which
    grows until the period ends, is not judged. A small segment is not judged either.

    >>> target_status("active_rate", 0.25, 0.22, small=False, partial=False)
    ('met', True)
    >>> target_status("experience_gap_pp", 55.0, 50.0, small=False, partial=True)
    ('behind', False)
    >>> target_status("revenue", 10.0, 50.0, small=False, partial=True)
    ('period not over', None)
    """
    kpi = BY_ID[kpi_id]
    if value is None:
        return "no value yet", None
    if small:
        return "too few to judge", None
    if partial and kpi.kind in ("count", "sum"):
        return "period not over", None
    good = value >= target if kpi.better == "higher" else value <= target
    if partial:
        return ("on track" if good else "behind"), good
    return ("met" if good else "missed"), good


def target_lines(
    reports: dict[tuple[str, ...], pl.DataFrame],
    segment_targets: Sequence[dict],
    cfg: CompanyConfig,
    *,
    partial: bool,
) -> list[TargetLine]:
    """Return every target that applies to the pack's rows, with its status.

    The company's rows (their ``target`` column), then each target set for one market or one
    rank (``segment_targets``, as `cxm.metrics.targets.targets_for` returns them) matched to
    that segment's row; a segment outside the reader's scope has no row and is left out.
    """
    names = {m.code: m.name for m in cfg.markets}
    out: list[TargetLine] = []

    def add(r: dict, segment: str) -> None:
        kpi = BY_ID[r["kpi_id"]]
        status, good = target_status(
            kpi.id, r["value"], r["target"], small=r["small"], partial=partial
        )
        out.append(
            TargetLine(
                kpi=kpi.label,
                segment=segment,
                target=fmt.kpi_value(kpi.unit, r["target"], cfg.currency),
                value=fmt.kpi_value(kpi.unit, None if r["small"] else r["value"], cfg.currency),
                status=status,
                good=good,
            )
        )

    for r in reports[()].filter(pl.col("target").is_not_null()).iter_rows(named=True):
        add(r, "all")
    for t in segment_targets:
        seg = t["segment"]
        for dim, field in (("market", "markets"), ("rank", "ranks")):
            values = seg.get(field) or ()
            if set(seg) != {field} or len(values) != 1 or (dim,) not in reports:
                continue
            frame = reports[(dim,)].filter(
                (pl.col(dim) == values[0]) & (pl.col("kpi_id") == t["kpi_id"])
            )
            for r in frame.iter_rows(named=True):
                add({**r, "target": t["target"]}, names.get(values[0], values[0]))
    return out


def gap_title(gaps: pl.DataFrame, cfg: CompanyConfig) -> tuple[str, str]:
    """Return the experience gap page's title (where the gap is widest) and a sentence on how
    far ahead of the next market it is ("" for one market).

    ``gaps`` holds the experience_gap_pp rows by market; small markets are not named.

    >>> from cxm.config import load_config
    >>> g = pl.DataFrame({"market": ["BR", "US", "CA"], "value": [70.6, 41.1, 52.0],
    ...     "small": [False, False, True], "company": [52.3] * 3})
    >>> gap_title(g, load_config())
    ('The experience gap is widest in Brazil: 70.6 pp (company 52.3 pp)', '29.5 pp above United States, the next widest. ')

    With a standard error of 12 pp on each, the two are apart only beyond 1.96 x sqrt(12^2 +
    12^2) = 33.3 pp: 29.5 pp is level.

    >>> gap_title(g.with_columns(se=pl.lit(12.0)), load_config())
    ('The experience gap is widest in Brazil and United States: 70.6 pp and 41.1 pp', 'Company 52.3 pp; the 29.5 pp between the two lie within the noise (95%): they are level. ')
    """  # noqa: E501
    names = {m.code: m.name for m in cfg.markets}
    rows = gaps.filter(~pl.col("small") & pl.col("value").is_not_null()).sort(
        "value", descending=True
    )
    if rows.is_empty():
        return "Not enough survey answers to measure the experience gap", ""
    top, name = rows.row(0, named=True), lambda m: names.get(m, m)
    title = f"The experience gap is widest in {name(top['market'])}: " + (
        f"{fmt.kpi_value('pp', top['value'])} (company {fmt.kpi_value('pp', top['company'])})"
    )
    if rows.height == 1:  # one market shown: nothing to be widest among
        return f"The experience gap in {name(top['market'])}: " + (
            f"{fmt.kpi_value('pp', top['value'])}"
        ), ""
    nxt = rows.row(1, named=True)
    gap = fmt.kpi_value("pp", top["value"] - nxt["value"])
    se = (top.get("se"), nxt.get("se"))
    if None not in se and top["value"] - nxt["value"] <= stats.Z * (se[0] ** 2 + se[1] ** 2) ** 0.5:
        both = f"{name(top['market'])} and {name(nxt['market'])}"
        return (
            f"The experience gap is widest in {both}: {fmt.kpi_value('pp', top['value'])} and "
            f"{fmt.kpi_value('pp', nxt['value'])}",
            f"Company {fmt.kpi_value('pp', top['company'])}; the {gap} between the two lie "
            "within the noise (95%): they are level. ",
        )
    return title, f"{gap} above {name(nxt['market'])}, the next widest. "


def gains_and_costs(effect: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Return the priorities a scenario raises and lowers, each "Label +12%", largest first.

    ``effect`` is `Comparison.effect`: expected progress per priority under the published
    weights (``baseline``) and the scenario, and the relative ``change``. A change that
    rounds to 0% is neither.

    >>> e = pl.DataFrame({"label": ["Retention", "Cart size", "Sales"],
    ...     "change": [1.10, -0.36, 0.0001]})
    >>> gains_and_costs(e)
    (['Retention +110%'], ['Cart size −36%'])
    """
    gains, costs = [], []
    for r in effect.sort("change", descending=True, nulls_last=True).iter_rows(named=True):
        if r["change"] is None or round(100 * r["change"]) == 0:
            continue
        text = f"{r['label']} {fmt.signed(100 * r['change'], 0, '%')}"
        (gains if r["change"] > 0 else costs).append(text)
    return gains, costs[::-1]


@dataclass(frozen=True)
class Appendix:
    """The appendix table: rows in market then ladder order, and the folded segments."""

    rows: list[dict]  # market, rank (None for the market's total), sellers, values by kpi_id
    folded: int
    folded_sellers: int


def appendix(
    by_market: pl.DataFrame,
    by_market_rank: pl.DataFrame,
    cfg: CompanyConfig,
    *,
    fold_under: int,
) -> Appendix:
    """Return the appendix rows: each market's total, then its ranks up the ladder.

    Markets and ranks come in the order segments are listed everywhere
    (`cxm.segments.order`: markets by code, ranks up the ladder from the entry rank). A market x
    rank segment with fewer than ``fold_under`` live sellers gets no row: it is counted in
    ``folded`` and its sellers in ``folded_sellers`` (the market's total row still holds them).
    A value whose own n is under the minimum n is None.
    """

    def wide(frame: pl.DataFrame, keys: list[str]) -> dict[tuple, dict]:
        cells: dict[tuple, dict] = {}
        for r in frame.iter_rows(named=True):
            cell = cells.setdefault(tuple(r[k] for k in keys), {})
            cell[r["kpi_id"]] = None if r["small"] else r["value"]
            if r["kpi_id"] == "live_sellers":
                cell["sellers"] = int(r["n"])
        return cells

    markets = wide(by_market, ["market"])
    segments = wide(by_market_rank, ["market", "rank"])
    rows: list[dict] = []
    folded = folded_sellers = 0
    for market in listed("market", [k[0] for k in markets], cfg):
        rows.append({"market": market, "rank": None, **markets[(market,)]})
        ranks = listed("rank", [k[1] for k in segments if k[0] == market], cfg)
        for key in ((market, r) for r in ranks):
            sellers = segments[key].get("sellers", 0)
            if sellers < fold_under:
                folded += 1
                folded_sellers += sellers
                continue
            rows.append({"market": market, "rank": key[1], **segments[key]})
    return Appendix(rows=rows, folded=folded, folded_sellers=folded_sellers)


def folded_line(app: Appendix, fold_under: int) -> str:
    """Return the counted line of the folded segments.

    >>> folded_line(Appendix(rows=[], folded=12, folded_sellers=143), 30)
    '12 segments under n = 30 folded: 143 sellers'
    >>> folded_line(Appendix(rows=[], folded=1, folded_sellers=1), 30)
    '1 segment under n = 30 folded: 1 seller'
    """
    segs = "segment" if app.folded == 1 else "segments"
    people = "seller" if app.folded_sellers == 1 else "sellers"
    return f"{app.folded:,} {segs} under n = {fold_under} folded: {app.folded_sellers:,} {people}"
