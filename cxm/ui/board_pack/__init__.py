"""The board pack: a PDF an executive presents (issue 19).

Page 1 says what happened in words: the changes with the strongest evidence, the targets with
their status, the ten headline KPIs with their 12-month lines. Then the experience gap, the
chosen what-if scenario with its gains and costs against the catalog's weights, acquisition
(CLV / CAC and CAC by channel, a table by market: `_acquisition`), and an
appendix by market and rank in ladder order with small segments folded into one counted line.
Every footer states the filters, the period (with "to date" when partial), the comparison,
the as-of date and the scope, so a page torn out of the pack still says what it shows. No
Streamlit here: the Reports page and ``cxm board-pack`` both call `board_pack`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cxm.access import Role, Scope, User, require_role
from cxm.config import CompanyConfig
from cxm.metrics import headline, report
from cxm.metrics.compute import DataRange, data_range, window
from cxm.metrics.experience import attribute_gaps
from cxm.metrics.targets import targets_for
from cxm.segments.filter import SegmentFilter
from cxm.ui import fmt
from cxm.ui.board_pack import _acquisition, _experiments, _pages, _story, _whatif
from cxm.ui.board_pack._layout import Pack
from cxm.warehouse import audit
from cxm.warehouse.scoped import Scoped
from cxm.whatif.compare import GUARDED, Guardrails
from cxm.whatif.scenarios import Scenario
from cxm.whatif.weights import Weights

#: Everyone signed in may take the board pack (it holds no row-level data).
PACK_ROLES = tuple(Role)


@dataclass(frozen=True)
class Chosen:
    """The what-if scenario a pack shows: a saved one, or weights given for this pack."""

    name: str
    weights: Weights
    guardrails: Guardrails
    origin: str  # "Saved by sam on 5 Dec 2026" / "Weights given for this pack"
    published_by: str | None = None
    published_at: dt.datetime | None = None

    @classmethod
    def of(cls, sc: Scenario | Weights) -> Chosen:
        if isinstance(sc, Weights):
            return cls("unsaved weights", sc, GUARDED, "Weights given for this pack")
        return cls(
            name=sc.name,
            weights=sc.weights,
            guardrails=sc.guardrails,
            origin=f"Saved by {sc.author} on {fmt.date(sc.created_at)}, catalog "
            f"{sc.catalog_version}",
            published_by=sc.published_by,
            published_at=sc.published_at,
        )


def words_for(where: SegmentFilter, scope: Scope, data: DataRange) -> _pages.Words:
    """Return how the pack names its period, comparison, segment and scope.

    The period and what it is compared with come from `cxm.metrics.report.comparison`: a
    period the data stops inside reads "to date" and is compared like for like.
    """
    win = window(where, data)
    c = report.comparison(where, data)
    said = where.describe()
    when = where.period.describe() + (f", as of {where.as_of}" if where.as_of else "")
    who = said.removesuffix(f", {when}")
    return _pages.Words(
        current=c.current_label,
        previous=None if c.previous is None else c.previous_label,
        compared=c.sentence(),
        why_none=c.why_none if c.previous is None else None,
        partial=c.partial,
        who=who,
        scope=scope.describe(),
        as_of=win.as_of,
    )


def footer_of(words: _pages.Words) -> str:
    """Return the line every page ends with: filters, period, comparison, as-of, scope.

    >>> import datetime as dt
    >>> footer_of(_pages.Words("Q3 2026", "Q2 2026", "Q3 2026 vs Q2 2026, the previous "
    ...     "period", None, False, "all sellers in BR", "BR, MX", dt.date(2026, 9, 30)))
    'All sellers in BR · Q3 2026 vs Q2 2026, the previous period · as of 30 Sep 2026 · scope BR, MX'
    """  # noqa: E501
    return (
        f"{words.who[0].upper()}{words.who[1:]} · {words.compared} · "
        f"as of {fmt.date(words.as_of)} · scope {words.scope}"
    )


def board_pack(
    company: Scoped,
    *,
    user: User | None,
    where: SegmentFilter,
    cfg: CompanyConfig,
    now: dt.datetime | None = None,
    scenario: Scenario | Weights | None = None,
    experiments: Path | None = None,
) -> bytes:
    """Return the board pack PDF for ``where`` in the user's company, with ``scenario`` if
    given.

    The scenario (a saved one, or weights) is compared with the catalog's weights over the
    live sellers of the user's company on the data's as-of date (the what-if works on today's field,
    not a period); without one its page says none was chosen. Callers pass the last
    published scenario by default (`cxm.whatif.scenarios.last_publication`). Every started
    experiment of ``experiments`` (the file; `$CXM_WAREHOUSE`'s by default) is read on the
    user's company and gets its decision, forest plot and KPIs (`_experiments`).

    Raises
    ------
    NotAllowed
        When nobody is signed in.
    BadFilter, OutOfScope
        As the reports do.
    """
    who = require_role(user, *PACK_ROLES)
    scope = company.scope
    data = data_range(company)
    words = words_for(where, scope, data)
    ids = [k.id for k in headline()]
    targets = targets_for(company, where.period, cfg)
    wanted = list(dict.fromkeys([*ids, *(t["kpi_id"] for t in targets)]))
    bys = [(), ("market",), ("rank",), ("market", "rank")]
    reports = report.segment_reports(company, wanted, bys=bys, where=where, cfg=cfg)
    heads = {b: f.filter(f["kpi_id"].is_in(ids)) for b, f in reports.items()}
    trend = report.trend(company, ids, months=12, where=where, cfg=cfg)
    when = (now or dt.datetime.now()).replace(microsecond=0)
    fold_under = _story.FOLD_FACTOR * cfg.min_n

    pdf = Pack(footer_of(words))
    _pages.summary(
        pdf,
        words,
        heads,
        trend,
        _story.target_lines(
            reports, [t for t in targets if t["segment"]], cfg, partial=words.partial
        ),
        *_story.changes({b: heads[b] for b in [(), ("market",), ("rank",)]}, cfg),
        cfg,
        ids,
        f"Prepared for {who.name} on {fmt.date(when)}, {when:%H:%M}.",
    )
    attributes = attribute_gaps(company, where=where, cfg=cfg)
    _pages.experience_gap(pdf, words, heads[("market",)], attributes, cfg)
    if scenario is None:
        _pages.no_scenario(pdf)
    else:
        _scenario_page(pdf, company, cfg, words, Chosen.of(scenario))
    _experiments.experiments(pdf, words, experiment_readouts(company, cfg, path=experiments))
    _acquisition_page(pdf, company, cfg, words, where)
    app = _story.appendix(heads[("market",)], heads[("market", "rank")], cfg, fold_under=fold_under)
    _pages.appendix(pdf, words, app, ids, cfg, fold_under)
    return bytes(pdf.output())


def _acquisition_page(pdf, company: Scoped, cfg, words, where: SegmentFilter) -> None:
    """The acquisition page, for the markets of the filter (spend splits by nothing else)."""
    plain = SegmentFilter(
        period=where.period, as_of=where.as_of, markets=where.markets, compare=where.compare
    )
    costs = [k for k in _acquisition.KPIS if k != "seller_won_share"]  # no split by channel
    by_channel = report.segment_report(company, costs, by=["channel"], where=plain, cfg=cfg)
    by_market = report.segment_report(
        company, _acquisition.KPIS, by=["market"], where=plain, cfg=cfg
    )
    _acquisition.acquisition(pdf, words, by_channel, by_market, cfg)


def _scenario_page(pdf, company: Scoped, cfg, words, chosen: Chosen) -> None:
    from cxm.whatif.compare import compare, load_field, rank

    field = load_field(company, cfg)
    catalog = rank(field, Weights.of(field.catalog.baseline), GUARDED)
    result = compare(field, rank(field, chosen.weights, chosen.guardrails), baseline=catalog)
    _whatif.scenario(pdf, words, chosen, field, result, cfg)


def experiment_readouts(company: Scoped, cfg, *, path: Path | None = None) -> list:
    """Return the readout of every started experiment on ``company``, newest start first;
    one with no seller of an arm in the company's markets is not about them and is left out.
    ``path``: the experiments file (`cxm.experiments.store.experiments_path`)."""
    from cxm.errors import ExperimentError
    from cxm.experiments import readout, store

    as_of = data_range(company).as_of
    found = []
    for e in store.list_all(path=path):
        if e.status(as_of) == "draft":
            continue
        try:
            found.append(readout.read(company, e, cfg=cfg, path=path))
        except ExperimentError as exc:
            if exc.code != "no_units":
                raise
    return found


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
