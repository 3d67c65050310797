"""Checks of a raw action catalog: every problem at once, each with its action and path.

Private to `cxm.whatif.catalog`, which builds its models from what `Check.catalog` returns and
raises `Check.raise_for`; the eligibility rules are checked by `cxm.whatif.rules.check_rule`.
"""

from __future__ import annotations

import re

import yaml

from cxm.errors import CatalogError
from cxm.whatif.need import PRIORITIES
from cxm.whatif.rules import Loc, Problem, Vocabulary, check_rule, is_number, suggest, to_issue

#: One bit per action in a uint64 eligibility mask.
#: The kernel's ranking keys hold an action's index in 6 bits (cxm.whatif.score).
MAX_ACTIONS = 63
#: Recommendation slots per seller (the top 3), each with a follow-through share.
SLOTS = 3
MAX_WEIGHT = 3.0
#: A seller's top 3 must hold every mandatory action they are eligible for, beside the first
#: slot a cap may give to another action (cxm.whatif.score): so two at most.
MAX_MANDATORY = SLOTS - 1
SNAKE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TOP = {
    "version": True,
    "baseline": True,
    "presets": False,
    "follow_through": True,
    "actions": True,
}
_ACTION = {
    "id": True, "label": True, "description": True, "impact": True,
    "content_languages": False, "eligible": False, "mandatory": False, "max_first_share": False,
}  # fmt: skip


class Check:
    """Walk a raw catalog, collecting every problem (with the action it is in) at once."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.found: list[tuple[str | None, Problem]] = []
        self.action: str | None = None

    def bad(self, at: Loc, code: str, message: str, hint: str | None = None) -> None:
        self.found.append((self.action, Problem(at, code, message, hint)))

    def raise_for(self, source: str, text: str | None) -> None:
        if not self.found:
            return
        locate = _locator(text)
        issues = []
        for action, p in self.found:
            shown = Problem(p.path[2:], p.code, p.message, p.hint) if action else p
            issues.append(to_issue(shown, source=source, action=action, lineno=locate(p.path)))
        issues.sort(key=lambda i: i.lineno or 0)  # stable: in file order when lines are known
        raise CatalogError(source, issues)

    def mapping(self, raw: object, at: Loc, keys: dict[str, bool]) -> bool:
        """Return whether ``raw`` is a mapping; report its missing and unknown keys."""
        if not isinstance(raw, dict):
            self.bad(at, "wrong_type", "is not a mapping of keys to values")
            return False
        for key in raw:
            if key not in keys:
                hint = suggest(key, tuple(keys)) or "keys are " + ", ".join(keys)
                self.bad((*at, str(key)), "unknown_key", f'unknown key "{key}"', hint)
        for key, required in keys.items():
            if required and key not in raw:
                self.bad(at, "missing_key", f'"{key}" is missing')
        return True

    def catalog(self, raw: object) -> dict | None:
        """Return the catalog's checked values as plain data (meaningful only with no problems)."""
        if not self.mapping(raw, (), _TOP):
            return None
        version = raw.get("version")
        if "version" in raw and not isinstance(version, str):
            self.bad(("version",), "wrong_type", f"{version} is not text", f'quote it: "{version}"')
        baseline = self.weights(raw["baseline"], ("baseline",)) if "baseline" in raw else None
        presets = self.presets(raw.get("presets") or {})
        follow = self.follow_through(raw["follow_through"]) if "follow_through" in raw else None
        actions = self.actions(raw["actions"]) if "actions" in raw else None
        return dict(
            version=version, baseline=baseline, presets=presets, follow_through=follow,
            actions=actions,
        )  # fmt: skip

    def presets(self, raw: object) -> dict[str, dict]:
        if not isinstance(raw, dict):
            self.bad(("presets",), "wrong_type", "is not a mapping of names to label and weights")
            return {}
        out = {}
        for name, preset in raw.items():
            at = ("presets", str(name))
            if not (isinstance(name, str) and SNAKE.match(name)):
                self.bad(at, "bad_id", f'preset name "{name}" is not snake_case')
            if self.mapping(preset, at, {"label": True, "weights": True}):
                label = self.text(preset.get("label"), (*at, "label"))
                weights = self.weights(preset.get("weights"), (*at, "weights"))
                if label is not None and weights is not None:
                    out[name] = {"label": label, "weights": weights}
        return out

    def weights(self, raw: object, at: Loc) -> dict[str, float] | None:
        if not isinstance(raw, dict):
            self.bad(at, "wrong_type", "is not a mapping of priority to weight")
            return None
        out = {}
        for key, w in raw.items():
            if key not in PRIORITIES:
                hint = suggest(key, PRIORITIES) or "priorities are " + ", ".join(PRIORITIES)
                self.bad((*at, str(key)), "unknown_priority", f'unknown priority "{key}"', hint)
            elif not is_number(w):
                self.bad((*at, key), "wrong_type", f'weight "{w}" is not a number')
            elif not 0 <= w <= MAX_WEIGHT:
                hint = f"weights lie between 0 and {MAX_WEIGHT:g}"
                self.bad((*at, key), "weight_out_of_range", f"weight {w:g} is out of range", hint)
            else:
                out[key] = float(w)
        missing = [p for p in PRIORITIES if p not in raw]
        if missing:
            hint = "give every priority a weight (0 ignores it)"
            self.bad(at, "missing_priority", "no weight for " + ", ".join(missing), hint)
        return out if len(out) == len(raw) and not missing else None

    def follow_through(self, raw: object) -> tuple[float, float, float] | None:
        at, eg = ("follow_through",), "write one share per slot, e.g. [0.30, 0.15, 0.08]"
        if not (isinstance(raw, list) and len(raw) == SLOTS and all(map(is_number, raw))):
            return self.bad(at, "bad_follow_through", f"{raw} is not {SLOTS} numbers", eg)
        if not all(0 <= x <= 1 for x in raw):
            return self.bad(at, "bad_follow_through", f"{raw} has a share outside 0..1", eg)
        if any(b > a for a, b in zip(raw, raw[1:], strict=False)):
            hint = "a later slot is acted on at most as often as the one before"
            return self.bad(at, "bad_follow_through", f"{raw} rises from a slot to the next", hint)
        return tuple(float(x) for x in raw)

    def actions(self, raw: object) -> list[dict | None] | None:
        at = ("actions",)
        if not isinstance(raw, list):
            return self.bad(at, "wrong_type", "is not a list of actions")
        if not raw:
            self.bad(at, "no_actions", "holds no action")
        if len(raw) > MAX_ACTIONS:
            hint = f"the ranking kernel tells {MAX_ACTIONS} actions apart, no more"
            self.bad(at, "too_many_actions", f"holds {len(raw)} actions", hint)
        seen: dict[str, int] = {}
        out = [self.action_at(a, i, seen) for i, a in enumerate(raw)]
        self.action = None
        mandatory = [str(a.get("id")) for a in raw if isinstance(a, dict) and a.get("mandatory")]
        if len(mandatory) > MAX_MANDATORY:
            what = f"{len(mandatory)} actions are mandatory ({', '.join(mandatory)})"
            hint = (
                f"at most {MAX_MANDATORY}: they must fit in a seller's top {SLOTS} beside the "
                "first slot a cap may give to another action"
            )
            self.bad(at, "too_many_mandatory", what, hint)
        return out

    def action_at(self, raw: object, i: int, seen: dict[str, int]) -> dict | None:
        at = ("actions", i)
        aid = raw.get("id") if isinstance(raw, dict) else None
        # a duplicate's problems are placed by position: the id alone would be ambiguous
        self.action = aid if isinstance(aid, str) and aid and aid not in seen else None
        before = len(self.found)
        if not self.mapping(raw, at, _ACTION):
            return None
        if "id" in raw:
            if not (isinstance(aid, str) and SNAKE.match(aid)):
                self.bad(
                    (*at, "id"), "bad_id", f'id "{aid}" is not snake_case', "e.g. welcome_call"
                )
            elif aid in seen:
                hint = f"action ids are unique; the first is actions[{seen[aid]}]"
                self.bad((*at, "id"), "duplicate_action", f'id "{aid}" is used twice', hint)
            else:
                seen[aid] = i
        label = self.text(raw.get("label"), (*at, "label")) if "label" in raw else None
        what = (
            self.text(raw.get("description"), (*at, "description"))
            if "description" in raw
            else None
        )
        impact = self.impact(raw["impact"], (*at, "impact")) if "impact" in raw else None
        langs = self.languages(raw.get("content_languages"), (*at, "content_languages"))
        rule = None
        if raw.get("eligible") is not None:
            rule, problems = check_rule(raw["eligible"], vocab=self.vocab, at=(*at, "eligible"))
            self.found += [(self.action, p) for p in problems]
        mandatory = raw.get("mandatory", False)
        if not isinstance(mandatory, bool):
            self.bad((*at, "mandatory"), "wrong_type", f"{mandatory} is not true or false")
        share = raw.get("max_first_share")
        if share is not None and not (is_number(share) and 0 < share <= 1):
            hint = "a share of sellers, e.g. 0.25; omit it for no cap"
            self.bad((*at, "max_first_share"), "bad_share", f"{share} is not in (0, 1]", hint)
        if len(self.found) > before:
            return None
        return dict(
            id=aid,
            label=label,
            description=what,
            impact=impact,
            content_languages=langs,
            eligible=rule,
            mandatory=mandatory,
            max_first_share=share,
        )

    def text(self, v: object, at: Loc) -> str | None:
        if not isinstance(v, str):
            return self.bad(at, "wrong_type", f"{v} is not text")
        if not v.strip() or "\n" in v.strip():
            what = "is empty" if not v.strip() else "spans several lines"
            return self.bad(at, "bad_text", what, "write one line")
        return v.strip()

    def impact(self, raw: object, at: Loc) -> dict[str, float] | None:
        if not isinstance(raw, dict):
            return self.bad(at, "wrong_type", "is not a mapping of priority to impact")
        before, out = len(self.found), {}
        for key, v in raw.items():
            if key not in PRIORITIES:
                hint = suggest(key, PRIORITIES) or "priorities are " + ", ".join(PRIORITIES)
                self.bad((*at, str(key)), "unknown_priority", f'unknown priority "{key}"', hint)
            elif not is_number(v):
                self.bad((*at, key), "wrong_type", f'impact "{v}" is not a number')
            elif not 0 <= v <= 1:
                hint = "impacts lie between 0 and 1"
                self.bad((*at, key), "impact_out_of_range", f"impact {v:g} is out of range", hint)
            else:
                out[key] = float(v)
        if len(self.found) == before and not any(v > 0 for v in out.values()):
            self.bad(at, "no_impact", "no priority has a positive impact", "e.g. {retention: 0.6}")
        return out

    def languages(self, raw: object, at: Loc) -> tuple[str, ...] | None:
        if raw is None:
            return None
        if not isinstance(raw, list):
            return self.bad(at, "wrong_type", "is not a list of languages such as [en, es]")
        if not raw:
            self.bad(at, "empty_list", "is empty", "omit it when content exists in every language")
        for j, lang in enumerate(raw):
            if not isinstance(lang, str):
                self.bad((*at, j), "wrong_type", f"{lang} is not a language tag")
            elif lang not in self.vocab.languages:
                hint = suggest(lang, self.vocab.languages) or "languages are " + ", ".join(
                    self.vocab.languages
                )
                what = f'"{lang}" is not a configured language'
                self.bad((*at, j), "unknown_language", what, hint)
            elif raw.index(lang) < j:
                self.bad((*at, j), "duplicate_language", f'"{lang}" is listed twice')
        return tuple(raw)


def _locator(text: str | None):
    """Return a function from a path to its YAML line (1-based), None when unknown."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader) if text else None
    except yaml.YAMLError:
        root = None

    def locate(path: Loc) -> int | None:
        node, line = root, None
        for part in path:
            if node is None:
                break
            line = node.start_mark.line + 1
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == str(part)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if part < len(node.value) else None
            else:
                node = None
        return line if node is None else node.start_mark.line + 1

    return locate
