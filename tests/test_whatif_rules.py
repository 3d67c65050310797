"""Eligibility rules (issue 12): parsed into nodes, compiled to one Polars expression, refused
with a code and a path. Every expected seller list is worked out by hand from `SELLERS`."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxm.config import load_config
from cxm.errors import CatalogError, CxmError, RuleError
from cxm.state.seller_state import FIELDS
from cxm.whatif.rules import All, Compare, Not, Vocabulary, parse_rule

COURSES = [f"C{i:02d}" for i in range(1, 17)]
VOCAB = Vocabulary.of(load_config(), COURSES)
# Ladder: Member 0, Consultant 1, Senior Consultant 2, Manager 3, Director 4, ...
#   id  rank                 market lang   status    lapsed frontline rank_progress courses
SELLERS = [
    ("S1", "Member", "US", "en", "new", 0, 0, 0.5, ["C01", "C02"]),
    ("S2", "Consultant", "BR", "pt-BR", "active", 2, 3, 0.85, ["C02", "C04"]),
    ("S3", "Manager", "JP", "ja", "active", 1, 5, 1.0, []),
    ("S4", "Senior Consultant", "MX", "es", "inactive", 0, 0, 0.8, ["C04"]),
    ("S5", "Director", "DE", "de", "active", 3, 2, 0.2, ["C01", "C02", "C03"]),
    ("S6", "Member", "CA", "fr", "inactive", 0, 0, 0.0, []),
]


def state_frame() -> pl.DataFrame:
    """Return the six sellers with every seller-state field (the rest at a harmless 0)."""
    ranks = VOCAB.ranks
    rows = []
    for sid, rank, market, lang, status, lapsed, front, progress, done in SELLERS:
        row = {f.name: 0 for f in FIELDS if f.kind == "int"}
        row |= {f.name: 0.0 for f in FIELDS if f.kind == "float"}
        row |= dict(
            seller_id=sid, rank=rank, rank_index=ranks.index(rank), market=market,
            language=lang, status=status, lapsed_customers=lapsed, frontline=front,
            rank_progress=progress, courses_done=done,
        )  # fmt: skip
        rows.append(row)
    return pl.DataFrame(rows, schema_overrides={"courses_done": pl.List(pl.String)})


STATE = state_frame()


def who(raw: object, content_languages=None) -> list[str]:
    """Return the ids of the hand sellers the rule lets through."""
    rule = parse_rule(raw, source="test.yaml", action="t", vocab=VOCAB)
    expr = rule.to_expr(content_languages=content_languages, vocab=VOCAB)
    return STATE.filter(expr)["seller_id"].to_list()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"field": "status", "is": "active"}, ["S2", "S3", "S5"]),
        ({"field": "status", "is_not": "new"}, ["S2", "S3", "S4", "S5", "S6"]),
        ({"field": "lapsed_customers", "at_least": 1}, ["S2", "S3", "S5"]),
        ({"field": "lapsed_customers", "at_most": 1}, ["S1", "S3", "S4", "S6"]),
        ({"field": "lapsed_customers", "above": 1}, ["S2", "S5"]),
        ({"field": "lapsed_customers", "below": 1}, ["S1", "S4", "S6"]),
        ({"field": "market", "in": ["BR", "MX"]}, ["S2", "S4"]),
        ({"field": "market", "not_in": ["JP"]}, ["S1", "S2", "S4", "S5", "S6"]),
        ({"field": "rank_progress", "is": 1.0}, ["S3"]),  # `is` on a float is allowed
        ({"field": "rank_progress", "at_least": 0.8}, ["S2", "S3", "S4"]),
        ({"field": "frontline", "in": [0, 5]}, ["S1", "S3", "S4", "S6"]),  # `in` on an int
        ({"course_done": "C04"}, ["S2", "S4"]),
        ({"not": {"course_done": "C02"}}, ["S3", "S4", "S6"]),
    ],
)
def test_each_node_kind_compiles_to_the_hand_computed_sellers(raw, expected):
    assert who(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        # Alphabetically Director < Manager; on the ladder Director (4) is above Manager (3).
        ({"field": "rank", "at_least": "Manager"}, ["S3", "S5"]),
        ({"field": "rank", "above": "Manager"}, ["S5"]),
        ({"field": "rank", "below": "Consultant"}, ["S1", "S6"]),
        ({"field": "rank", "at_most": "Senior Consultant"}, ["S1", "S2", "S4", "S6"]),
        ({"field": "rank", "is": "Consultant"}, ["S2"]),
        ({"field": "rank", "is_not": "Member"}, ["S2", "S3", "S4", "S5"]),
        ({"field": "rank", "in": ["Member", "Director"]}, ["S1", "S5", "S6"]),
        ({"field": "rank", "not_in": ["Member", "Director"]}, ["S2", "S3", "S4"]),
    ],
)
def test_rank_compares_along_the_company_ladder_not_alphabetically(raw, expected):
    assert who(raw) == expected


def test_content_in_language_asks_the_actions_languages_given_at_compile_time():
    # Content in en, es, pt-BR: S1 (en), S2 (pt-BR), S4 (es); not S3 ja, S5 de, S6 fr.
    langs = ["en", "es", "pt-BR"]
    assert who({"content_in_language": True}, langs) == ["S1", "S2", "S4"]
    assert who({"content_in_language": False}, langs) == ["S3", "S5", "S6"]
    # No list: the content exists in every language.
    assert who({"content_in_language": True}) == ["S1", "S2", "S3", "S4", "S5", "S6"]


def test_all_any_and_not_nest():
    # (JP or C04 done) = S3, S2, S4; not inactive drops S4 -> S2, S3.
    raw = {
        "all": [
            {"any": [{"field": "market", "is": "JP"}, {"course_done": "C04"}]},
            {"not": {"field": "status", "is": "inactive"}},
        ]
    }
    assert who(raw) == ["S2", "S3"]
    # not (active and lapsed >= 2) = not (S2, S5) -> S1, S3, S4, S6.
    raw = {
        "not": {
            "all": [
                {"field": "status", "is": "active"},
                {"field": "lapsed_customers", "at_least": 2},
            ]
        }
    }
    assert who(raw) == ["S1", "S3", "S4", "S6"]


def test_a_rule_is_one_polars_expression_and_parses_into_nodes():
    rule = parse_rule(
        {"all": [{"field": "status", "is": "active"}, {"not": {"field": "market", "in": ["JP"]}}]},
        source="a.yaml", action="x", vocab=VOCAB,
    )  # fmt: skip
    assert isinstance(rule, All)
    assert rule.rules[0] == Compare(field="status", op="is", value="active")
    assert isinstance(rule.rules[1], Not)
    assert isinstance(rule.to_expr(content_languages=None, vocab=VOCAB), pl.Expr)


@pytest.mark.parametrize(
    "raw, words",
    [
        (
            {
                "all": [
                    {"field": "status", "is": "active"},
                    {"field": "lapsed_customers", "at_least": 1},
                    {"field": "market", "not_in": ["JP"]},
                ]
            },
            "status is active and lapsed customers at least 1 and market not in JP",
        ),
        ({"not": {"field": "market", "in": ["JP"]}}, "market not in JP"),
        ({"not": {"field": "frontline", "at_least": 3}}, "frontline below 3"),
        ({"not": {"course_done": "C02"}}, "course C02 not done"),
        ({"not": {"not": {"field": "status", "is": "new"}}}, "status is new"),
        (
            {
                "any": [
                    {"field": "rank", "at_least": "Manager"},
                    {"all": [{"course_done": "C04"}, {"content_in_language": True}]},
                ]
            },
            "rank at least Manager or (course C04 done and content in the seller's language)",
        ),
        (
            {
                "not": {
                    "any": [
                        {"field": "market", "is": "BR"},
                        {"field": "rank_progress", "above": 0.8},
                    ]
                }
            },
            "not (market is BR or rank progress above 0.8)",
        ),
    ],
)
def test_a_rule_describes_itself_in_words(raw, words):
    assert parse_rule(raw, source="a.yaml", action="x", vocab=VOCAB).describe() == words


def test_a_rule_written_back_as_data_parses_to_the_same_rule():
    raw = {
        "all": [
            {"field": "rank", "at_least": "Manager"},
            {"not": {"course_done": "C02"}},
            {"any": [{"field": "market", "in": ["BR", "MX"]}, {"content_in_language": False}]},
            {"field": "rank_progress", "below": 1.0},
        ]
    }
    rule = parse_rule(raw, source="a.yaml", action="x", vocab=VOCAB)
    assert rule.to_raw() == raw
    assert parse_rule(rule.to_raw(), source="a.yaml", action="x", vocab=VOCAB) == rule


def _refusal(raw: object) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_rule(raw, source="actions.yaml", action="welcome_call", vocab=VOCAB)
    return info.value


@pytest.mark.parametrize(
    "raw, code, path, hint",
    [
        ({"all": [{"field": "status", "is": "active"}, {"field": "downline_new", "at_least": 1}]},
         "unknown_field", "eligible.all[1]", '"new_downline_30d"'),
        ({"field": "market", "at_least": "BR"}, "bad_operator", "eligible", "is, is_not, in"),
        ({"field": "status", "below": "new"}, "bad_operator", "eligible", "is, is_not, in"),
        ({"field": "courses_done", "is": "C01"}, "bad_operator", "eligible", "course_done"),
        ({"field": "frontline", "at_least": "three"}, "wrong_type", "eligible", "a number"),
        ({"field": "frontline", "at_least": True}, "wrong_type", "eligible", "a number"),
        ({"field": "market", "in": "BR"}, "wrong_type", "eligible", None),
        ({"field": "market", "is": False}, "wrong_type", "eligible", "quote it"),  # YAML: NO
        ({"content_in_language": "yes"}, "wrong_type", "eligible", None),
        ({"course_done": 4}, "wrong_type", "eligible", None),
        ({"all": {"field": "status", "is": "new"}}, "wrong_type", "eligible", None),
        ({"field": 3, "is": "new"}, "wrong_type", "eligible", None),
        ({"field": "market", "in": ["BR", "UK"]}, "unknown_market", "eligible", '"US"'),
        ({"field": "language", "is": "pt"}, "unknown_language", "eligible", '"pt-BR"'),
        ({"field": "status", "is": "activ"}, "unknown_status", "eligible", '"active"'),
        ({"field": "status", "is": "terminated"}, "unknown_status", "eligible", "new, active"),
        ({"field": "rank", "at_least": "manager"}, "unknown_rank", "eligible", '"Manager"'),
        ({"not": {"course_done": "C4"}}, "unknown_course", "eligible.not", '"C04"'),
        ({"any": []}, "empty_list", "eligible", None),
        ({"field": "market", "not_in": []}, "empty_list", "eligible", None),
        ({"all": [{"field": "status", "is": "new"}, "status is new"]}, "malformed_rule",
         "eligible.all[1]", "{field: status, is: active}"),
        ({"not": [{"course_done": "C01"}]}, "malformed_rule", "eligible.not", None),
        ({"field": "status", "is": "new", "course_done": "C01"}, "malformed_rule", "eligible",
         "all: [...]"),
        ({"fields": "status", "is": "new"}, "malformed_rule", "eligible", '"field"'),
        ({}, "malformed_rule", "eligible", None),
        ({"field": "status"}, "malformed_rule", "eligible", "at_least"),
        ({"field": "status", "is": "new", "in": ["new"]}, "malformed_rule", "eligible", None),
        ({"field": "status", "is": "new", "because": "x"}, "unknown_key", "eligible", None),
        ({"field": "frontline", "at_lest": 3}, "unknown_key", "eligible", '"at_least"'),
        ({"course_done": "C01", "content_in_language": True}, "malformed_rule", "eligible", None),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_with_its_code_path_and_hint(raw, code, path, hint):
    err = _refusal(raw)
    assert [(i.code, i.path) for i in err.issues] == [(code, path)]
    issue = err.issues[0]
    assert (issue.source, issue.action) == ("actions.yaml", "welcome_call")
    if hint is not None:
        assert hint in issue.hint


def test_the_message_names_file_action_path_value_and_suggestion():
    err = _refusal(
        {"all": [{"field": "status", "is": "active"}, {"field": "downline_new", "at_least": 1}]}
    )
    assert (
        str(err)
        .splitlines()[1]
        .startswith(
            'actions.yaml, action "welcome_call", eligible.all[1]: unknown field "downline_new" '
            '[unknown_field]; did you mean "new_downline_30d"'
        )
    )


def test_every_problem_comes_at_once_each_at_its_own_path():
    err = _refusal(
        {
            "any": [
                {"field": "markt", "is": "BR"},
                {"all": [{"course_done": "C99"}, {"not": {"field": "rank", "at_least": "Boss"}}]},
                {"field": "status", "is": "active"},
                {"field": "market", "above": "BR"},
            ]
        }
    )
    assert [(i.code, i.path) for i in err.issues] == [
        ("unknown_field", "eligible.any[0]"),
        ("unknown_course", "eligible.any[1].all[0]"),
        ("unknown_rank", "eligible.any[1].all[1].not"),
        ("bad_operator", "eligible.any[3]"),
    ]
    assert err.total == 4 and err.codes == {"unknown_field", "unknown_course", "unknown_rank",
                                            "bad_operator"}  # fmt: skip


def test_a_long_list_of_problems_is_capped_in_the_message_with_the_total():
    err = _refusal({"all": [{"field": f"nope_{i}", "is": 1} for i in range(30)]})
    lines = str(err).splitlines()
    # a head line, 20 problems, then the rest counted
    assert lines[0].startswith("Eligibility rule in actions.yaml rejected: 30 problems")
    assert len(lines) == 22 and lines[-1] == "... and 10 more."
    assert len(err.issues) == 30


def test_a_rule_error_is_a_catalog_error_and_a_cxm_error():
    err = _refusal({"field": "nope", "is": 1})
    assert isinstance(err, CatalogError) and isinstance(err, CxmError)


# A property: the compiled expression agrees with a plain Python reading of the same tree.
LEAVES = [
    ({"field": "status", "is": "active"}, lambda s: s[4] == "active"),
    ({"field": "market", "in": ["BR", "JP"]}, lambda s: s[2] in ("BR", "JP")),
    ({"field": "lapsed_customers", "at_least": 1}, lambda s: s[5] >= 1),
    ({"field": "frontline", "below": 3}, lambda s: s[6] < 3),
    ({"field": "rank_progress", "above": 0.8}, lambda s: s[7] > 0.8),
    ({"field": "rank", "at_least": "Senior Consultant"},
     lambda s: VOCAB.ranks.index(s[1]) >= 2),
    ({"course_done": "C02"}, lambda s: "C02" in s[8]),
    ({"content_in_language": True}, lambda s: s[3] in ("en", "ja")),
]  # fmt: skip


def _trees():
    leaf = st.sampled_from(LEAVES)

    def grow(kids):
        many = st.lists(kids, min_size=1, max_size=3)
        return st.one_of(
            many.map(lambda ks: ({"all": [k[0] for k in ks]},
                                 lambda s, ks=ks: all(k[1](s) for k in ks))),
            many.map(lambda ks: ({"any": [k[0] for k in ks]},
                                 lambda s, ks=ks: any(k[1](s) for k in ks))),
            kids.map(lambda k: ({"not": k[0]}, lambda s, k=k: not k[1](s))),
        )  # fmt: skip

    return st.recursive(leaf, grow, max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(_trees())
def test_a_compiled_rule_lets_through_exactly_the_sellers_a_plain_reading_does(tree):
    raw, plain = tree
    assert who(raw, ["en", "ja"]) == [s[0] for s in SELLERS if plain(s)]
