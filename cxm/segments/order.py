"""The one order segments are listed in: ranks up the ladder, everything else as declared.

Tables, charts, exports, headlines and the board pack list a dimension's segments in the same
order (issue 19): ranks from the entry rank up (the company's ladder, never alphabetical),
statuses, tenure bands, training tiers and the first-30-days split in their declared order,
product lines as configured, cohorts by year; markets and languages by their code. A value
the declaration does not know (a rank the configuration dropped) comes after the known ones,
in text order; a null comes last.

It is also the one place a segment is named for people (`label`): a dimension whose segments
the configuration names (an acquisition channel, a product line) shows the configured label,
never the id, on every chart, title, table and board pack page; files for analysts keep the
id, which a join or a re-import needs, with the label beside it (`cxm.reports.segment`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from cxm.config import CompanyConfig
from cxm.segments.filter import FAST_START, STATUSES, TENURE_BANDS, TRAINING_TIERS, Dimension


def declared(dim: str, cfg: CompanyConfig) -> tuple[str, ...] | None:
    """Return the order of ``dim``'s segments, or None for one listed by value (code, year).

    >>> from cxm.config import load_config
    >>> declared("rank", load_config())[:3], declared("market", load_config())
    (('Member', 'Consultant', 'Senior Consultant'), None)
    """
    return {
        Dimension.RANK.value: cfg.ranks,
        Dimension.STATUS.value: STATUSES,
        Dimension.TENURE_BAND.value: tuple(label for label, _ in TENURE_BANDS),
        Dimension.TRAINING_TIER.value: tuple(label for label, _ in TRAINING_TIERS),
        Dimension.FAST_START.value: FAST_START,
        Dimension.PRODUCT_LINE.value: tuple(p.id for p in cfg.product_lines),
        Dimension.CHANNEL.value: cfg.acquisition_channel_ids,
    }.get(dim)


#: What a segment nobody can name (a null: a customer whose channel is not recorded) reads.
UNNAMED = "–"


def labels(dim: str, cfg: CompanyConfig) -> dict[str, str] | None:
    """Return the configured label of each of ``dim``'s segments, or None for a dimension whose
    values are their own names (a rank, a market code, a tenure band).

    >>> from cxm.config import load_config
    >>> labels("channel", load_config())["events"], labels("rank", load_config())
    ('Events and sampling', None)
    """
    return {
        Dimension.PRODUCT_LINE.value: {p.id: p.label for p in cfg.product_lines},
        Dimension.CHANNEL.value: {c.id: c.label for c in cfg.acquisition_channels},
    }.get(dim)


def label(dim: str, value: object, cfg: CompanyConfig) -> str:
    """Return how one segment of ``dim`` is shown to a person: its configured label where the
    configuration names it, else the value itself (an id the configuration dropped stays
    readable as that id); a null reads "–".

    >>> from cxm.config import load_config
    >>> [label("channel", v, load_config()) for v in ("paid_social", "tv", None)]
    ['Paid social', 'tv', '–']
    >>> label("rank", "Manager", load_config())
    'Manager'
    """
    if value is None:
        return UNNAMED
    named = labels(dim, cfg) or {}
    return named.get(str(value), str(value))


def listed(dim: str, values, cfg: CompanyConfig) -> list:
    """Return ``values`` of ``dim`` (duplicates dropped) in the order segments are listed.

    >>> from cxm.config import load_config
    >>> listed("rank", ["Director", "Member", "Manager", "Director"], load_config())
    ['Member', 'Manager', 'Director']
    """
    seen = list(dict.fromkeys(values))
    order = declared(dim, cfg) or ()
    place = {v: i for i, v in enumerate(order)}
    return sorted(
        seen,
        key=lambda v: (v is None, v not in place, place.get(v, 0), "" if v is None else v),
    )


def sort_segments(
    frame: pl.DataFrame,
    cfg: CompanyConfig,
    dims: Sequence[str] | None = None,
    *,
    first: Sequence[str] = (),
) -> pl.DataFrame:
    """Return ``frame`` sorted by ``first`` (kept in their order of appearance), then by each
    of ``dims`` (default: every dimension column it has) in the order segments are listed.

    >>> from cxm.config import load_config
    >>> f = pl.DataFrame({"rank": ["Manager", "Director", "Member"], "v": [1, 2, 3]})
    >>> sort_segments(f, load_config())["rank"].to_list()
    ['Member', 'Manager', 'Director']
    """
    names = {d.value for d in Dimension}
    dims = [d for d in (dims if dims is not None else frame.columns) if d in names]
    keys = []
    for col in first:
        appear = frame[col].unique(maintain_order=True).to_list()
        keys.append(pl.col(col).replace_strict(appear, list(range(len(appear))), default=None))
    for d in dims:
        order = listed(d, frame[d].to_list(), cfg)
        keys.append(pl.col(d).replace_strict(order, list(range(len(order))), default=len(order)))
    if not keys or frame.is_empty():
        return frame
    return frame.sort(keys, nulls_last=True, maintain_order=True)
