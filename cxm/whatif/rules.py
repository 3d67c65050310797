"""Eligibility rules: a small declarative language over the seller state, compiled to Polars.

A rule is YAML/dict data (``{all: [...]}``, ``{field: status, is: active}``,
``{course_done: C02}``, ``{content_in_language: true}``), parsed into frozen pydantic nodes
that can compile themselves to ONE Polars expression and describe themselves in words. Nothing
is ``eval``ed or templated. Which fields exist lives in `cxm.state.seller_state.FIELDS`; the
catalog that holds the rules lives in `cxm.whatif.catalog`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Literal, Union

import polars as pl
from pydantic import BaseModel, ConfigDict

from cxm.config import CompanyConfig
from cxm.errors import CatalogIssue, RuleError
from cxm.state.seller_state import FIELDS, LIVE_STATUSES

_BY_NAME = {f.name: f for f in FIELDS}
#: The keys that start a rule node; a node holds exactly one of them.
NODE_KEYS = ("all", "any", "not", "field", "course_done", "content_in_language")
#: Comparison operators of a ``field`` node; in words, "_" reads as a space.
OPERATORS = ("is", "is_not", "at_least", "at_most", "above", "below", "in", "not_in")
_NEGATION = dict(
    zip(
        OPERATORS,
        ("is_not", "is", "below", "above", "at_most", "at_least", "not_in", "in"),
        strict=True,
    )
)
#: Operators each field kind takes (``courses`` is asked with ``course_done``).
KIND_OPERATORS: dict[str, tuple[str, ...]] = {
    "rank": OPERATORS, "int": OPERATORS, "float": OPERATORS,
    "category": ("is", "is_not", "in", "not_in"), "courses": (),
}  # fmt: skip
#: How deep rules may nest (as path parts: all[1] counts 2), far beyond any real rule.
MAX_DEPTH = 64
_SINGULAR = {"ranks": "rank", "markets": "market", "languages": "language", "statuses": "status"}
#: Where a problem is: keys and list positions from the top of the file or rule.
Loc = tuple[str | int, ...]


class Vocabulary(BaseModel):
    """The names a rule may use beside the fields: ranks, markets, languages, statuses, courses.

    >>> from cxm.config import load_config
    >>> v = Vocabulary.of(load_config(), ["C01", "C02"])
    >>> v.rank_index("Manager"), v.values("statuses")
    (3, ('new', 'active', 'inactive'))
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ranks: tuple[str, ...]
    markets: tuple[str, ...]
    languages: tuple[str, ...]
    statuses: tuple[str, ...] = LIVE_STATUSES
    course_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, cfg: CompanyConfig, course_ids: Sequence[str]) -> Vocabulary:
        """Return the vocabulary of a company configuration and its course ids."""
        return cls(
            ranks=cfg.ranks,
            markets=cfg.market_codes,
            languages=cfg.languages,
            course_ids=tuple(sorted(course_ids)),
        )

    def values(self, values_from: str) -> tuple[str, ...]:
        """Return the allowed values of a category (``ranks``, ``markets``, ...)."""
        return getattr(self, values_from)

    def rank_index(self, rank: str) -> int:
        """Return the 0-based position of ``rank`` on the ladder."""
        return self.ranks.index(rank)


def _words(name: str) -> str:
    return name.replace("_", " ")


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


class _Node(BaseModel):
    """A rule node: compiles to a Polars expression, reads in words, writes back as YAML data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_expr(self, *, content_languages: Sequence[str] | None, vocab: Vocabulary) -> pl.Expr:
        """Return the rule as ONE boolean Polars expression over the seller-state columns.

        ``content_languages`` are the languages the action's content exists in (None: all);
        ``vocab`` turns rank names into ladder positions (the frame's ``rank_index``).
        """
        return self._expr(content_languages, vocab)

    def _expr(self, langs: Sequence[str] | None, vocab: Vocabulary) -> pl.Expr:
        raise NotImplementedError

    def describe(self) -> str:
        """Return the rule in words, for the page and exports."""
        raise NotImplementedError

    def to_raw(self) -> dict:
        """Return the rule in its YAML/dict syntax (``parse_rule`` reads it back)."""
        raise NotImplementedError

    def negated(self) -> Rule | None:
        """Return the node meaning the opposite, when one reads better than "not (...)"."""
        return None


class All(_Node):
    """True when every rule holds."""

    rules: tuple[Rule, ...]

    def _expr(self, langs, vocab):
        return reduce(lambda a, b: a & b, [r._expr(langs, vocab) for r in self.rules])

    def describe(self) -> str:
        return " and ".join(_nested(r) for r in self.rules)

    def to_raw(self) -> dict:
        return {"all": [r.to_raw() for r in self.rules]}


class Any(_Node):
    """True when at least one rule holds."""

    rules: tuple[Rule, ...]

    def _expr(self, langs, vocab):
        return reduce(lambda a, b: a | b, [r._expr(langs, vocab) for r in self.rules])

    def describe(self) -> str:
        return " or ".join(_nested(r) for r in self.rules)

    def to_raw(self) -> dict:
        return {"any": [r.to_raw() for r in self.rules]}


class Not(_Node):
    """True when the rule does not hold; a leaf reads negated ("market not in JP")."""

    rule: Rule

    def _expr(self, langs, vocab):
        return ~self.rule._expr(langs, vocab)

    def describe(self) -> str:
        flipped = self.rule.negated()
        return flipped.describe() if flipped is not None else f"not ({self.rule.describe()})"

    def negated(self) -> Rule | None:
        return self.rule

    def to_raw(self) -> dict:
        return {"not": self.rule.to_raw()}


class Compare(_Node):
    """A whitelisted field compared with one value; ``rank`` compares along the ladder."""

    field: str
    op: Literal["is", "is_not", "at_least", "at_most", "above", "below"]
    value: str | int | float

    def _expr(self, langs, vocab):
        col, value = pl.col(self.field), self.value
        if self.field == "rank":
            col, value = pl.col("rank_index"), vocab.rank_index(str(self.value))
        ops = {"is": "eq", "is_not": "ne", "at_least": "ge", "at_most": "le", "above": "gt"}
        return getattr(col, ops.get(self.op, "lt"))(value)

    def describe(self) -> str:
        return f"{_words(self.field)} {_words(self.op)} {_show(self.value)}"

    def negated(self) -> Rule | None:
        return self.model_copy(update={"op": _NEGATION[self.op]})

    def to_raw(self) -> dict:
        return {"field": self.field, self.op: self.value}


class InSet(_Node):
    """A whitelisted field in (or not in) a set of values."""

    field: str
    op: Literal["in", "not_in"]
    values: tuple[str | int | float, ...]

    def _expr(self, langs, vocab):
        col, values = pl.col(self.field), list(self.values)
        if self.field == "rank":
            col, values = pl.col("rank_index"), [vocab.rank_index(str(v)) for v in values]
        return col.is_in(values) if self.op == "in" else ~col.is_in(values)

    def describe(self) -> str:
        shown = ", ".join(_show(v) for v in self.values)
        return f"{_words(self.field)} {_words(self.op)} {shown}"

    def negated(self) -> Rule | None:
        return self.model_copy(update={"op": _NEGATION[self.op]})

    def to_raw(self) -> dict:
        return {"field": self.field, self.op: list(self.values)}


class CourseDone(_Node):
    """True when the seller completed the course (``done=False``: has not)."""

    course: str
    done: bool = True

    def _expr(self, langs, vocab):
        has = pl.col("courses_done").list.contains(self.course)
        return has if self.done else ~has

    def describe(self) -> str:
        return f"course {self.course} {'done' if self.done else 'not done'}"

    def negated(self) -> Rule | None:
        return self.model_copy(update={"done": not self.done})

    def to_raw(self) -> dict:
        return {"course_done": self.course} if self.done else {"not": {"course_done": self.course}}


class ContentInLanguage(_Node):
    """True when the action's content exists in the seller's language (``value=False``: not)."""

    value: bool = True

    def _expr(self, langs, vocab):
        has = pl.lit(True) if langs is None else pl.col("language").is_in(list(langs))
        return has if self.value else ~has

    def describe(self) -> str:
        return f"content {'' if self.value else 'not '}in the seller's language"

    def negated(self) -> Rule | None:
        return self.model_copy(update={"value": not self.value})

    def to_raw(self) -> dict:
        return {"content_in_language": self.value}


Rule = Union[All, Any, Not, Compare, InSet, CourseDone, ContentInLanguage]  # noqa: UP007
for _model in (All, Any, Not):
    _model.model_rebuild()


def _nested(rule: Rule) -> str:
    text = rule.describe()
    return f"({text})" if isinstance(rule, All | Any) and len(rule.rules) > 1 else text


@dataclass(frozen=True)
class Problem:
    """One problem found in a rule or catalog, before it is placed in a file."""

    path: Loc
    code: str
    message: str
    hint: str | None = None


def render_path(path: Loc) -> str:
    """Return a path as written in messages: ``("eligible", "all", 1)`` -> ``eligible.all[1]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def suggest(value: object, known: Sequence[str], *, many: bool = False) -> str | None:
    """Return 'did you mean "x"?' for the nearest known names, or None when nothing is near."""
    near = difflib.get_close_matches(str(value), list(known), n=3 if many else 1, cutoff=0.5)
    return "did you mean " + " or ".join(f'"{n}"' for n in near) + "?" if near else None


def is_number(value: object) -> bool:
    """Return True for a finite int or float (a YAML boolean is not a number)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_rule(raw: object, *, source: str, action: str | None, vocab: Vocabulary) -> Rule:
    """Return the rule written as ``raw`` (YAML/dict syntax), checked against ``vocab``.

    Raises
    ------
    RuleError
        With every problem found, each with its code and its path from ``eligible``.

    Examples
    --------
    >>> from cxm.config import load_config
    >>> vocab = Vocabulary.of(load_config(), ["C02"])
    >>> rule = parse_rule({"all": [{"field": "status", "is": "active"},
    ...                            {"not": {"field": "market", "in": ["JP"]}}]},
    ...                   source="actions.yaml", action="reorder_reminder", vocab=vocab)
    >>> rule.describe()
    'status is active and market not in JP'
    """
    rule, problems = check_rule(raw, vocab=vocab)
    if problems:
        raise RuleError(source, [to_issue(p, source=source, action=action) for p in problems])
    return rule


def to_issue(
    p: Problem, *, source: str, action: str | None, lineno: int | None = None
) -> CatalogIssue:
    """Return a problem placed in its file and action."""
    return CatalogIssue(
        source=source,
        action=action,
        path=render_path(p.path),
        code=p.code,
        message=p.message,
        hint=p.hint,
        lineno=lineno,
    )


def check_rule(raw: object, *, vocab: Vocabulary, at: Loc = ("eligible",)):
    """Return ``(rule, problems)``: the rule (None when there is any problem) and every problem.

    Paths start at ``at``; `parse_rule` raises what this returns, `cxm.whatif.catalog` places
    the problems in its file.
    """
    parser = _Parser(vocab)
    rule = parser.node(raw, at)
    return (None if parser.out else rule), parser.out


class _Parser:
    """Walk one raw rule, collecting every problem rather than stopping at the first."""

    def __init__(self, vocab: Vocabulary):
        self.vocab, self.out = vocab, []

    def bad(self, at: Loc, code: str, message: str, hint: str | None = None) -> None:
        self.out.append(Problem(at, code, message, hint))

    def node(self, raw: object, at: Loc) -> Rule | None:
        if len(at) > MAX_DEPTH:
            return self.bad(at, "malformed_rule", "is nested too deep", "flatten the rule")
        if not isinstance(raw, dict):
            eg = "a rule is a mapping such as {field: status, is: active}"
            return self.bad(at, "malformed_rule", f'"{raw}" is not a rule', eg)
        keys = [str(k) for k in raw]
        heads = [k for k in keys if k in NODE_KEYS]
        if len(heads) != 1:
            if heads:
                what, hint = " and ".join(heads), "combine rules with all: [...] or any: [...]"
                what += ", more than one of " + ", ".join(NODE_KEYS)
            else:
                what = ", ".join(keys) or "nothing"
                what += ", none of " + ", ".join(NODE_KEYS)
                hint = next(filter(None, (suggest(k, NODE_KEYS) for k in keys)), None)
            return self.bad(at, "malformed_rule", f"holds {what}", hint)
        head = heads[0]
        extra = [k for k in keys if k != head and not (head == "field" and k in OPERATORS)]
        for key in extra:
            hint = suggest(key, OPERATORS if head == "field" else NODE_KEYS)
            self.bad(at, "unknown_key", f'"{key}" does not belong in a {head} rule', hint)
        value = raw[head]
        if head in ("all", "any"):
            if not isinstance(value, list):
                return self.bad(at, "wrong_type", f"{head} takes a list of rules")
            if not value:
                return self.bad(at, "empty_list", f"{head} has no rules")
            kids = [self.node(r, (*at, head, i)) for i, r in enumerate(value)]
            return None if None in kids else (All if head == "all" else Any)(rules=tuple(kids))
        if head == "not":
            kid = self.node(value, (*at, "not"))
            return None if kid is None else Not(rule=kid)
        if head == "course_done":
            if not isinstance(value, str):
                return self.bad(at, "wrong_type", "course_done takes one course id such as C02")
            if value not in self.vocab.course_ids:
                hint = suggest(value, self.vocab.course_ids, many=True)
                return self.bad(at, "unknown_course", f'course "{value}" is not known', hint)
            return CourseDone(course=value)
        if head == "content_in_language":
            if not isinstance(value, bool):
                return self.bad(at, "wrong_type", "content_in_language takes true or false")
            return ContentInLanguage(value=value)
        return self.field(raw, at, quiet=bool(extra))

    def field(self, raw: dict, at: Loc, *, quiet: bool) -> Rule | None:
        """Parse a field node; ``quiet``: an unknown key was reported, say nothing of operators."""
        name, ops = raw["field"], [k for k in raw if k in OPERATORS]
        if not isinstance(name, str):
            return self.bad(at, "wrong_type", "field takes a field name such as status")
        if name not in _BY_NAME:
            hint = suggest(name, tuple(_BY_NAME), many=True)
            hint = hint or "known fields: " + ", ".join(_BY_NAME)
            return self.bad(at, "unknown_field", f'unknown field "{name}"', hint)
        if len(ops) != 1:
            what = " and ".join(ops) + ", more than one operator" if ops else "no operator"
            hint = "use one of " + ", ".join(OPERATORS)
            return None if quiet else self.bad(at, "malformed_rule", f"{name} has {what}", hint)
        spec, op = _BY_NAME[name], ops[0]
        allowed, value, many = KIND_OPERATORS[spec.kind], raw[op], op in ("in", "not_in")
        if op not in allowed:
            hint = f"{name} takes " + ", ".join(allowed) if allowed else "use course_done: C02"
            return self.bad(
                at, "bad_operator", f"{op} does not apply to {name} ({spec.kind})", hint
            )
        if many and not isinstance(value, list):
            return self.bad(at, "wrong_type", f"{name} {op} takes a list such as [BR, MX]")
        if many and not value:
            return self.bad(at, "empty_list", f"{name} {op} has no values")
        before = len(self.out)
        for v in value if many else [value]:
            self.value(name, spec.kind, spec.values_from or "", op, v, at)
        if len(self.out) > before:
            return None
        if many:
            return InSet(field=name, op=op, values=tuple(value))
        return Compare(field=name, op=op, value=value)

    def value(self, name: str, kind: str, values_from: str, op: str, v: object, at: Loc) -> None:
        takes = f"{name} {_words(op)} takes "
        if kind in ("int", "float"):
            if not is_number(v):
                self.bad(at, "wrong_type", f'"{_show(v)}" is not a number', takes + "a number")
        elif not isinstance(v, str):  # YAML reads an unquoted NO, on or yes as a boolean
            hint = "quote it" if isinstance(v, bool) else takes + "a name"
            self.bad(at, "wrong_type", f"{_show(v)} is not a name", hint)
        elif v not in (allowed := self.vocab.values(values_from)):
            what = _SINGULAR[values_from]
            hint = None if v == "terminated" else suggest(v, allowed)  # terminated: no state
            hint = hint or f"{name} is one of " + ", ".join(allowed)
            self.bad(at, f"unknown_{what}", f'"{v}" is not a configured {what}', hint)
