"""The action catalog: what the field platform may recommend, its impacts, rules and guardrails.

Company configuration in YAML (default ``cxm/actions.yaml``, or ``$CXM_ACTIONS``), checked as a
whole: every problem comes back at once as a `CatalogError`, each naming file, line, action and
path. The scoring kernel reads the catalog as arrays (`Catalog.impact_matrix`,
`Catalog.eligibility`, `Catalog.mandatory_mask`, `Catalog.caps`); the rule language itself
lives in `cxm.whatif.rules`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field

from cxm.config import CompanyConfig
from cxm.errors import CatalogError
from cxm.settings import default, settings
from cxm.whatif._catalog_checks import MAX_ACTIONS, SNAKE, Check
from cxm.whatif.need import PRIORITIES
from cxm.whatif.rules import Problem, Rule, Vocabulary, to_issue

DEFAULT_CATALOG: Path = default("CXM_ACTIONS")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Preset(_Frozen):
    """A named set of priority weights the strategist can start from."""

    label: str
    weights: dict[str, float]


class Action(_Frozen):
    """One activity the field platform may recommend, with its impact and eligibility.

    ``impact``: priority id -> expected effect in [0, 1] (unnamed priorities: 0).
    ``content_languages`` None: content in every language. ``eligible`` None: everyone.
    ``mandatory``: stays in an eligible seller's top 3 whatever the weights.
    ``max_first_share``: cap on the share of sellers who get it first (None: no cap).
    """

    id: str = Field(pattern=SNAKE.pattern)
    label: str
    description: str
    impact: dict[str, float]
    content_languages: tuple[str, ...] | None = None
    eligible: Rule | None = None
    mandatory: bool = False
    max_first_share: float | None = Field(None, gt=0, le=1)

    def to_expr(self, vocab: Vocabulary) -> pl.Expr:
        """Return who may get the action, as one boolean Polars expression (null: not)."""
        if self.eligible is None:
            return pl.lit(True)
        return self.eligible.to_expr(content_languages=self.content_languages, vocab=vocab)

    def describe_eligible(self) -> str:
        """Return who may get the action, in words."""
        return "everyone" if self.eligible is None else self.eligible.describe()

    def to_raw(self) -> dict:
        """Return the action in its YAML/dict syntax, every key present."""
        raw = self.model_dump(exclude={"eligible"})
        raw["content_languages"] = (
            None if self.content_languages is None else list(raw["content_languages"])
        )
        raw["eligible"] = None if self.eligible is None else self.eligible.to_raw()
        return raw


class Catalog(_Frozen):
    """The validated action catalog. Build it with `load_catalog` or `parse_catalog`.

    Examples
    --------
    >>> from cxm.config import load_config
    >>> cat = load_catalog(cfg=load_config(), course_ids=[f"C{i:02d}" for i in range(1, 17)])
    >>> cat.impact_matrix().shape[1], len(cat.follow_through)
    (7, 3)
    """

    version: str
    baseline: dict[str, float]
    presets: dict[str, Preset] = {}
    follow_through: tuple[float, float, float]
    actions: tuple[Action, ...] = Field(min_length=1, max_length=MAX_ACTIONS)
    vocab: Vocabulary = Field(exclude=True, repr=False)

    @property
    def ids(self) -> tuple[str, ...]:
        """Return the action ids in catalog order (bit i of a mask is action i)."""
        return tuple(a.id for a in self.actions)

    def impact_matrix(self) -> np.ndarray:
        """Return impacts as float32, one row per action, one column per priority (PRIORITIES)."""
        return np.array(
            [[a.impact.get(p, 0.0) for p in PRIORITIES] for a in self.actions], dtype=np.float32
        ).reshape(len(self.actions), len(PRIORITIES))

    def eligibility(self, state: pl.DataFrame) -> np.ndarray:
        """Return one uint64 per seller of ``state``: bit i set when eligible for action i.

        ``state`` is the seller-state frame (`cxm.state.seller_state`); a null rule result
        counts as not eligible.
        """
        names = [f"__action_{i}" for i in range(len(self.actions))]
        exprs = [a.to_expr(self.vocab).fill_null(False) for a in self.actions]
        flags = state.with_columns(e.alias(n) for e, n in zip(exprs, names, strict=True))
        bits = np.zeros(state.height, dtype=np.uint64)
        for i, name in enumerate(names):
            bits |= flags[name].to_numpy().astype(np.uint64) << np.uint64(i)
        return bits

    def mandatory_mask(self) -> np.uint64:
        """Return the bits of the mandatory actions."""
        return np.uint64(sum(1 << i for i, a in enumerate(self.actions) if a.mandatory))

    def caps(self) -> np.ndarray:
        """Return each action's cap on the share of first slots, float32 (1.0: no cap)."""
        return np.array(
            [1.0 if a.max_first_share is None else a.max_first_share for a in self.actions],
            dtype=np.float32,
        )

    def to_dict(self) -> dict:
        """Return the catalog in its YAML/dict syntax (`parse_catalog` reads it back)."""
        return {
            "version": self.version,
            "baseline": dict(self.baseline),
            "presets": {k: p.model_dump() for k, p in self.presets.items()},
            "follow_through": list(self.follow_through),
            "actions": [a.to_raw() for a in self.actions],
        }

    def to_json(self, weights: Mapping[str, float] | None = None) -> str:
        """Return weights (baseline when None) and catalog as JSON for the field platform.

        Deterministic: sorted keys, actions in catalog order (their bit order).

        Raises
        ------
        CatalogError
            When ``weights`` miss a priority, name an unknown one or leave 0..3.
        """
        if weights is not None:
            check = Check(self.vocab)
            check.weights(dict(weights), ())
            check.raise_for("weights", None)
        payload = {
            "priorities": list(PRIORITIES),
            "weights": {p: float((weights or self.baseline)[p]) for p in PRIORITIES},
            "catalog": self.to_dict(),
        }
        return json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def catalog_path() -> Path:
    """Return the action catalog file in force: ``$CXM_ACTIONS``, else ``cxm/actions.yaml``."""
    return settings().actions


def load_catalog(
    path: str | Path | None = None, *, cfg: CompanyConfig, course_ids: Sequence[str]
) -> Catalog:
    """Return the action catalog read from ``path``, ``$CXM_ACTIONS`` or ``cxm/actions.yaml``.

    ``cfg`` and ``course_ids`` (the warehouse's ``courses`` table) say which ranks, markets,
    languages and courses the rules may name.

    Raises
    ------
    CatalogError
        With every problem found (a missing file and bad YAML come alone), each naming the
        file, line, action and path.
    """
    path = Path(path or catalog_path())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        p = Problem((), "no_file", "does not exist", "set CXM_ACTIONS to an action catalog file")
        raise CatalogError(str(path), [to_issue(p, source=str(path), action=None)]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or "cannot be read"
        hint = "check the indentation and quotes on this line and the one before"
        p = Problem((), "bad_yaml", f"is not valid YAML: {what}", hint)
        line = None if mark is None else mark.line + 1
        issue = to_issue(p, source=path.name, action=None, lineno=line)
        raise CatalogError(path.name, [issue]) from None
    return parse_catalog(raw, vocab=Vocabulary.of(cfg, course_ids), source=path.name, text=text)


def parse_catalog(
    raw: object, *, vocab: Vocabulary, source: str = "actions.yaml", text: str | None = None
) -> Catalog:
    """Return the catalog written as ``raw`` (the parsed YAML); ``text`` gives issues their line.

    Raises
    ------
    CatalogError
        With every problem found.
    """
    check = Check(vocab)
    clean = check.catalog(raw)
    check.raise_for(source, text)
    return Catalog.model_validate({**clean, "vocab": vocab})
