"""A weight vector: how much the quarter prioritises each KPI (0 = not at all, 3 = triple).

One validated object from slider, URL or saved scenario to kernel. A weight out of range, an
unknown priority or a value that is not a number is a `BadWeight` naming the priority, the
value and the allowed range; nothing is clipped or dropped silently.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict

from cxm.errors import CxmError
from cxm.whatif.need import LABELS, PRIORITIES

MAX_WEIGHT = 3.0
#: Sliders and URLs move in steps of this size.
STEP = 0.25


class BadWeight(CxmError):
    """A weight that cannot be used: ``where`` (e.g. a URL parameter), value, ``code``."""

    def __init__(self, where: str, value: object, code: str, message: str):
        self.where, self.value, self.code = where, value, code
        super().__init__(f'{where}: "{value}" {message} [{code}]')


class Weights(BaseModel):
    """Weight per priority, every priority present, each in [0, MAX_WEIGHT]."""

    model_config = ConfigDict(frozen=True)

    values: tuple[float, ...]

    @classmethod
    def of(cls, mapping: Mapping[str, object], *, where: str = "weights") -> Weights:
        """Validate ``mapping`` (priority -> weight); priorities left out weigh 0."""
        out = dict.fromkeys(PRIORITIES, 0.0)
        for key, raw in mapping.items():
            if key not in out:
                near = difflib.get_close_matches(key, PRIORITIES, n=1)
                hint = f'; did you mean "{near[0]}"?' if near else ""
                raise BadWeight(
                    where,
                    key,
                    "unknown_priority",
                    f"is not a priority{hint} Priorities: {', '.join(PRIORITIES)}.",
                )
            try:
                value = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise BadWeight(
                    f"{where}.{key}", raw, "weight_not_a_number", "is not a number."
                ) from None
            if not 0.0 <= value <= MAX_WEIGHT:  # also rejects nan
                raise BadWeight(
                    f"{where}.{key}",
                    raw,
                    "weight_out_of_range",
                    f"is outside 0 to {MAX_WEIGHT:g}.",
                )
            out[key] = value
        return cls(values=tuple(out[p] for p in PRIORITIES))

    @classmethod
    def parse(cls, text: str, *, where: str) -> Weights:
        """Read ``retention:2,cart_size:0.5`` (a link's ``w``, the CLI's --weights)."""
        pairs = {}
        for part in (p for p in text.split(",") if p):
            name, sep, value = part.partition(":")
            if not sep:
                raise BadWeight(where, part, "bad_weights", "is not priority:weight.")
            pairs[name] = value
        return cls.of(pairs, where=where)

    @classmethod
    def baseline(cls, catalog) -> Weights:
        """The catalog's published weights."""
        return cls.of(catalog.baseline, where="catalog baseline")

    def vector(self) -> np.ndarray:
        return np.asarray(self.values, np.float32)

    def as_dict(self) -> dict[str, float]:
        return dict(zip(PRIORITIES, self.values, strict=True))

    def describe(self) -> str:
        """The weights that are not 0, in words: "Customer retention x2, Cart size x0.5"."""
        parts = [f"{LABELS[p]} x{w:g}" for p, w in self.as_dict().items() if w > 0]
        return ", ".join(parts) or "no priorities"
