"""Assignment: deterministic, stratified, and a team under a leader never split."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxm.errors import ExperimentError
from cxm.experiments.assign import assign, team_units

RANKS = ["Consultant", "Senior", "Manager", "Director"]


def _units(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "unit_id": [f"S{i:05d}" for i in range(n)],
            "stratum": rng.choice(
                ["BR|Consultant", "BR|Manager", "MX|Consultant", "US|Director"],
                n,
                p=[0.5, 0.2, 0.25, 0.05],
            ),
        }
    )


def test_the_same_experiment_gives_the_same_arms_whatever_the_rows_order():
    units = _units(5000)
    first = assign("exp-1", units, 0.3)
    again = assign("exp-1", units.sample(fraction=1.0, shuffle=True, seed=4), 0.3)
    assert first.sort("unit_id").equals(again.sort("unit_id"))
    other = assign("exp-2", units, 0.3)
    changed = (first["arm"] != other["arm"]).mean()
    # two independent 30% draws differ on 2 x 0.3 x 0.7 = 42% of units
    assert 0.38 < changed < 0.46


def test_every_stratum_gets_its_share_within_one_unit_and_the_total_is_rounded_share():
    units = _units(5001, seed=1)
    arms = assign("exp-1", units, 0.3).join(units, on="unit_id")
    by = arms.group_by("stratum").agg(n=pl.len(), treated=(pl.col("arm") == "treatment").sum())
    assert (abs(by["treated"] - 0.3 * by["n"]) < 1).all()
    assert (arms["arm"] == "treatment").sum() == round(0.3 * 5001)  # 1500.3 -> 1500


def test_the_hash_order_is_unrelated_to_the_ids_order():
    # ids S00000..S09999 in one stratum, half treated: the first 5,000 ids hold about half of
    # the treated (a sort by id would put them all there); 3 sd = 3 x sqrt(10000/16) = 75
    units = pl.DataFrame({"unit_id": [f"S{i:05d}" for i in range(10_000)], "stratum": "all"})
    arms = assign("exp-1", units, 0.5)
    assert abs((arms["arm"][:5000] == "treatment").sum() - 2500) < 75


def test_a_repeated_unit_and_a_share_of_one_are_refused():
    units = pl.DataFrame({"unit_id": ["S1", "S2", "S1"], "stratum": ["a", "a", "a"]})
    with pytest.raises(ExperimentError) as caught:
        assign("e", units, 0.5)
    assert caught.value.code == "duplicate_unit" and caught.value.value == "S1"
    with pytest.raises(ExperimentError) as caught:
        assign("e", units.head(2), 1.0)
    assert caught.value.code == "bad_share"


def test_team_units_on_a_small_genealogy_worked_by_hand():
    # D (Director) -> S1 (Senior) -> M (Manager) -> C1 (Consultant); D -> C2; R (root,
    # Consultant) -> C3. Leaders at Manager and up: D heads D, S1, C2; M heads M, C1; R and C3
    # have no leader above: each is its own unit.
    sellers = pl.DataFrame(
        {
            "seller_id": ["D", "S1", "M", "C1", "C2", "R", "C3"],
            "sponsor_id": [None, "D", "S1", "M", "D", None, "R"],
            "rank": [
                "Director",
                "Senior",
                "Manager",
                "Consultant",
                "Consultant",
                "Consultant",
                "Consultant",
            ],
            "market": ["BR"] * 7,
        }
    )
    got = team_units(sellers, "Manager", RANKS)
    assert got["unit_id"].to_list() == ["D", "D", "M", "M", "D", "R", "C3"]


def test_a_loop_without_a_leader_and_an_unknown_rank_are_refused():
    loop = pl.DataFrame(
        {
            "seller_id": ["A", "B"],
            "sponsor_id": ["B", "A"],
            "rank": ["Consultant", "Consultant"],
            "market": ["BR", "BR"],
        }
    )
    with pytest.raises(ExperimentError) as caught:
        team_units(loop, "Manager", RANKS)
    assert caught.value.code == "sponsor_cycle"
    with pytest.raises(ExperimentError) as caught:
        team_units(loop, "Boss", RANKS)
    assert caught.value.code == "unknown_rank"


@st.composite
def genealogies(draw):
    n = draw(st.integers(1, 60))
    # each seller's sponsor is an earlier seller or nobody (a forest, as imports guarantee)
    sponsors = [None] + [draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(1, n)]
    ranks = draw(st.lists(st.sampled_from(RANKS), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))  # rows in any order
    return (
        pl.DataFrame(
            {
                "seller_id": [f"S{i}" for i in order],
                "sponsor_id": [None if sponsors[i] is None else f"S{sponsors[i]}" for i in order],
                "rank": [ranks[i] for i in order],
                "market": ["BR"] * n,
            }
        ),
        draw(st.sampled_from(RANKS[1:])),
        draw(st.floats(0.1, 0.9)),
    )


@given(genealogies())
def test_team_randomisation_never_splits_a_team(case):
    sellers, leader_rank, share = case
    units = team_units(sellers, leader_rank, RANKS)
    # the reference: walk up from each seller until a leader or the top
    sponsor = dict(zip(sellers["seller_id"], sellers["sponsor_id"], strict=True))
    level = {s: RANKS.index(r) for s, r in zip(sellers["seller_id"], sellers["rank"], strict=True)}
    lead = RANKS.index(leader_rank)

    def walk(s):
        at = s
        while at is not None and level[at] < lead:
            at = sponsor[at]
        return s if at is None else at

    assert units["unit_id"].to_list() == [walk(s) for s in sellers["seller_id"]]
    strata = units.select("unit_id").unique().with_columns(stratum=pl.lit("BR"))
    arms = units.join(assign("e", strata, share), on="unit_id")
    arm = dict(zip(arms["seller_id"], arms["arm"], strict=True))
    for s in sellers["seller_id"]:
        up = sponsor[s]
        # a non-leader whose sponsor belongs to a leader's team is in that team, same arm
        if level[s] < lead and up is not None and level[walk(up)] >= lead:
            assert arm[s] == arm[up]
