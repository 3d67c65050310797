"""The demo training catalog, who completed what, and what sellers did in the seller app.

Planted: French content exists for only two courses, so French-speaking sellers complete far
fewer courses than anyone else (the under-served language); only follow-up sellers
(`Field.follows_up`, whose customers reorder more) log `follow_up` activities.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cxm.config import CompanyConfig
from cxm.warehouse.demo import _calibration as cal
from cxm.warehouse.demo._field import Field
from cxm.warehouse.demo._sampling import as_datetime, microseconds

_ALL = ("en", "es", "pt-BR", "de", "ja")

#: (id, title, min_rank, prerequisites, compliance, languages)
COURSES: tuple[tuple[str, str, str, tuple[str, ...], bool, tuple[str, ...]], ...] = (
    ("C01", "Welcome to Lumina", "Member", (), False, (*_ALL, "fr")),
    ("C02", "Income and product claims", "Member", (), True, (*_ALL, "fr")),
    ("C03", "Selling basics", "Member", ("C01",), False, _ALL),
    ("C04", "Sharing on social media, compliantly", "Member", ("C02",), True, _ALL),
    ("C05", "Customer care and autoship", "Consultant", ("C03",), False, _ALL),
    ("C06", "Hosting a party", "Consultant", ("C03",), False, ("en", "es", "pt-BR", "ja")),
    ("C07", "Customer data and privacy", "Consultant", ("C02",), True, _ALL),
    ("C08", "Sponsoring with integrity", "Senior Consultant", ("C04",), True, _ALL),
    ("C09", "Building a team", "Senior Consultant", ("C05",), False, ("en", "es", "pt-BR", "de")),
    ("C10", "Leading your team", "Manager", ("C09",), False, _ALL),
    ("C11", "Leadership compliance", "Manager", ("C08",), True, _ALL),
    ("C12", "Coaching new sellers", "Manager", ("C10",), False, ("en", "es", "pt-BR")),
    ("C13", "Director ethics and governance", "Director", ("C11",), True, _ALL),
    ("C14", "Opening a new market", "Director", ("C12",), False, ("en", "es")),
    ("C15", "Executive leadership", "Executive Director", ("C14",), False, ("en",)),
    ("C16", "Diamond mentoring", "Diamond", ("C15",), False, ("en",)),
)

#: Seller-app activity per month of membership: (kind, engaged rate, other rate).
APP_RATES = (("login", 2.2, 0.6), ("content_share", 0.6, 0.08))
EVENTS_PER_MONTH_BUILDER = 0.12
DORMANT_APP_DAYS = 120  # sellers who neither sell nor build stop opening the app after this


def courses_frame() -> pl.DataFrame:
    """Return the course catalog in the warehouse's column layout."""
    cols = ("course_id", "title", "min_rank", "prerequisites", "compliance", "languages")
    return pl.DataFrame([dict(zip(cols, c, strict=True)) for c in COURSES]).with_columns(
        pl.col("prerequisites").cast(pl.List(pl.String)),
        pl.col("languages").cast(pl.List(pl.String)),
    )


def completions(rng: np.random.Generator, f: Field, cfg: CompanyConfig) -> pl.DataFrame:
    """Return (seller, course, completed_on) rows: prerequisites first, in the seller's language."""
    ids = [c[0] for c in COURSES]
    done_on = np.full((f.n, len(COURSES)), -1, dtype=np.int64)
    engaged = f.sells | f.builder
    lang = np.array(cfg.languages)[f.language]
    out = []
    for i, (_, _, min_rank, prereq, compliance, langs) in enumerate(COURSES):
        level = cfg.rank_index(min_rank)
        ready = (f.rank >= level) & np.isin(lang, langs)
        start = np.maximum(f.enrolled, f.rank_reached[:, level]).astype(np.int64)
        for p in prereq:
            pd = done_on[:, ids.index(p)]
            ready &= pd >= 0
            start = np.maximum(start, pd)
        p_done = (0.8 if compliance else 0.45) * np.where(engaged, 1.0, 0.35)
        on = start + 1 + rng.exponential(25, f.n).astype(np.int64)
        ok = ready & (rng.random(f.n) < p_done) & (on <= f.end)
        done_on[ok, i] = on[ok]
        sellers = np.flatnonzero(ok)
        out.append(
            pl.DataFrame(
                {"seller": sellers, "course": np.full(len(sellers), i), "completed_on": on[ok]}
            )
        )
    return pl.concat(out).with_columns(pl.col("completed_on").cast(pl.Int32).cast(pl.Date))


def activities(
    rng: np.random.Generator, f: Field, done: pl.DataFrame, cfg: CompanyConfig
) -> pl.DataFrame:
    """Return seller-app activity rows: seller, occurred_at, kind, ref_type, ref_num.

    ref_type: 0 none, 1 a seller (enrollment), 2 a course (training), 3 a content item,
    4 a rank (the rank reached).
    """
    kinds = {k: i for i, k in enumerate(cfg.activity_kinds)}
    engaged = f.sells | f.builder
    months = (f.end - f.enrolled + 1) / 30.44
    # The app is used while a seller sells (or builds); dormant sellers stop opening it.
    last = np.where(f.sells, np.maximum(f.selling_end, f.enrolled + DORMANT_APP_DAYS), f.end)
    last = np.minimum(f.end, np.where(engaged, last, f.enrolled + DORMANT_APP_DAYS))
    parts = []

    def add(seller, day, kind, ref_type, ref_num, seconds=None):
        if seconds is None:
            seconds = rng.integers(6 * 3600, 23 * 3600, len(day))
        at = microseconds(day, seconds)
        parts.append(
            pl.DataFrame(
                {
                    "seller": seller.astype(np.int64),
                    "occurred_at": as_datetime(at),
                    "kind": np.full(len(day), kinds[kind], dtype=np.int8),
                    "ref_type": np.full(len(day), ref_type, dtype=np.int8)
                    if np.isscalar(ref_type)
                    else ref_type,
                    "ref_num": ref_num.astype(np.int64),
                }
            )
        )

    for kind, rate_engaged, rate_other in APP_RATES:
        lam = np.where(engaged, rate_engaged, rate_other) * (last - f.enrolled + 1) / 30.44
        count = rng.poisson(lam)
        seller = np.repeat(np.arange(f.n), count)
        span = last - f.enrolled
        day = f.enrolled[seller] + (rng.random(len(seller)) * (span[seller] + 1)).astype(np.int64)
        ref = (
            rng.integers(1, 400, len(seller)) if kind == "content_share" else np.zeros(len(seller))
        )
        add(seller, day, kind, 3 if kind == "content_share" else 0, ref)

    # Planted: only follow-up sellers follow up with customers, while they sell.
    selling = (f.selling_end - f.first_sale_day + 1).astype(np.int64)
    count = rng.poisson(np.where(f.follows_up, cal.FOLLOW_UPS_PER_MONTH * selling / 30.44, 0.0))
    seller = np.repeat(np.arange(f.n), count)
    day = f.first_sale_day[seller] + (rng.random(len(seller)) * selling[seller]).astype(np.int64)
    add(seller, day, "follow_up", 0, np.zeros(len(seller)))

    count = rng.poisson(np.where(f.builder, EVENTS_PER_MONTH_BUILDER * months, 0.0))
    seller = np.repeat(np.arange(f.n), count)
    day = f.enrolled[seller] + (rng.random(len(seller)) * (f.end - f.enrolled + 1)[seller]).astype(
        np.int64
    )
    add(seller, day, "event_hosted", 0, np.zeros(len(seller)))

    steps = f.rank_reached[:, 1:]
    seller, level = np.nonzero(steps >= 0)
    # Steps on the same day keep their order: 09:00 plus one minute a level.
    add(seller, steps[seller, level], "rank_advanced", 4, level + 1, 9 * 3600 + 60 * level)

    recruits = np.flatnonzero(f.sponsor >= 0)
    add(f.sponsor[recruits], f.enrolled[recruits], "enrollment", 1, recruits)

    add(
        done["seller"].to_numpy(),
        done["completed_on"].cast(pl.Int32).to_numpy(),
        "training_completed",
        2,
        done["course"].to_numpy(),
    )
    return pl.concat(parts)
