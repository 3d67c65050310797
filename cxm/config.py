"""The company's configuration: rank ladder, markets and languages, product lines, activity kinds.

These are configuration, not code: a company edits a YAML file (default: the demo company's
``cxm/company.yaml``; override with the ``CXM_CONFIG`` environment variable) and every enum
check in the import and every dimension in the dashboards follows it.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cxm.errors import ConfigError
from cxm.settings import default, settings

DEFAULT_CONFIG: Path = default("CXM_CONFIG")

_BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Market(_Frozen):
    """A country the company sells in, with the languages its field speaks (main one first)."""

    code: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code")
    name: str
    languages: tuple[str, ...] = Field(min_length=1)

    @field_validator("languages")
    @classmethod
    def _bcp47(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in tags if not _BCP47.match(t)]
        if bad:
            raise ValueError(f"{bad} are not BCP 47 tags like 'en' or 'pt-BR'")
        return tags


class ProductLine(_Frozen):
    """A product line and the markets where it is sold."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    markets: tuple[str, ...] = Field(min_length=1)


class AcquisitionChannel(_Frozen):
    """A way the company wins customers and sellers (docs/metrics.md, Acquisition).

    ``kind``: ``outbound`` (paid reach: ads, events, cold outreach), ``inbound`` (paid content
    people find: search, SEO, webinars) or ``seller_referred`` (won by a seller; what the company
    spends there is referral bonuses). Every channel but a seller-referred one is paid.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    kind: Literal["outbound", "inbound", "seller_referred"]


#: A company that configures no acquisition channels has the one every direct seller has.
_SELLER_REFERRED = AcquisitionChannel(
    id="seller_referred", label="Seller-referred", kind="seller_referred"
)


class CompanyConfig(_Frozen):
    """The validated company configuration.

    >>> cfg = load_config()
    >>> cfg.entry_rank, cfg.rank_index("Manager")
    ('Member', 3)
    >>> cfg.languages_of("US")
    ('en', 'es')
    """

    name: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    ranks: tuple[str, ...] = Field(min_length=1, description="lowest first")
    markets: tuple[Market, ...] = Field(min_length=1)
    product_lines: tuple[ProductLine, ...] = Field(min_length=1)
    activity_kinds: tuple[str, ...] = Field(min_length=1)
    order_channels: tuple[str, ...] = Field(min_length=1)
    ticket_channels: tuple[str, ...] = Field(min_length=1)
    acquisition_channels: tuple[AcquisitionChannel, ...] = Field((_SELLER_REFERRED,), min_length=1)
    gross_margin: float = Field(
        0.6,
        gt=0,
        le=1,
        description="share of revenue kept after the cost of goods and commissions: turns "
        "predicted customer spend into value for CLV/CAC and payback",
    )
    starter_incentive: float = Field(
        0.0,
        ge=0,
        description="what the company spends on each new seller's starter incentive (kit "
        "discount, first-order bonus), in the company currency; added to seller acquisition cost",
    )
    min_n: int = Field(
        10,
        ge=1,
        description="segments with a smaller base count are flagged (and suppressed in exports)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CompanyConfig:
        for what, values in [
            ("ranks", self.ranks),
            ("markets", self.market_codes),
            ("product_lines", tuple(p.id for p in self.product_lines)),
            ("activity_kinds", self.activity_kinds),
            ("acquisition_channels", self.acquisition_channel_ids),
        ]:
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"{what} lists {dupes} more than once")
        for line in self.product_lines:
            unknown = sorted(set(line.markets) - set(self.market_codes))
            if unknown:
                raise ValueError(f"product line {line.id!r} names unknown markets {unknown}")
        return self

    @cached_property
    def market_codes(self) -> tuple[str, ...]:
        """Return the market codes in configured order."""
        return tuple(m.code for m in self.markets)

    @cached_property
    def acquisition_channel_ids(self) -> tuple[str, ...]:
        """Return the acquisition channel ids in configured order."""
        return tuple(c.id for c in self.acquisition_channels)

    @cached_property
    def seller_referred_channels(self) -> tuple[str, ...]:
        """Return the channels whose customers and sellers were won by a seller."""
        return tuple(c.id for c in self.acquisition_channels if c.kind == "seller_referred")

    @cached_property
    def languages(self) -> tuple[str, ...]:
        """Return every language spoken in some market, in first-seen order."""
        seen: dict[str, None] = {}
        for m in self.markets:
            seen.update(dict.fromkeys(m.languages))
        return tuple(seen)

    @property
    def entry_rank(self) -> str:
        """Return the rank every new seller starts at."""
        return self.ranks[0]

    def rank_index(self, rank: str) -> int:
        """Return the 0-based position of ``rank`` on the ladder (entry rank = 0)."""
        return self.ranks.index(rank)

    def languages_of(self, market: str) -> tuple[str, ...]:
        """Return the languages of one market, main language first."""
        return next(m.languages for m in self.markets if m.code == market)

    def enum_values(self, name: str) -> tuple[str, ...]:
        """Return the allowed values of a configured enum, by the name the schema uses."""
        return {
            "ranks": self.ranks,
            "markets": self.market_codes,
            "languages": self.languages,
            "product_lines": tuple(p.id for p in self.product_lines),
            "activity_kinds": self.activity_kinds,
            "order_channels": self.order_channels,
            "ticket_channels": self.ticket_channels,
            "acquisition_channels": self.acquisition_channel_ids,
        }[name]


def config_path() -> Path:
    """Return the configuration file in force: ``$CXM_CONFIG``, else the demo company's."""
    return settings().config


def load_config(path: str | Path | None = None) -> CompanyConfig:
    """Return the company configuration read from ``path``, ``$CXM_CONFIG`` or the default.

    Raises
    ------
    ConfigError
        When the file is missing, is not YAML, or breaks a rule; the message names the file,
        the key path and the rule.
    """
    path = Path(path or config_path())
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise ConfigError(f"Company configuration {path} does not exist.") from exc
    # A page asks for the configuration a dozen times a run, and parsing the YAML again was
    # ~25 ms each; a configuration is frozen, so the one read of an unchanged file is shared.
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    # Kept in a local: sessions run on several threads, and another's read of a different
    # file may clear the cache between a lookup and a return.
    cfg = _READ.get(key)
    if cfg is None:
        cfg = _read(path)
        _READ.clear()  # one file in force at a time; an edited file is read again
        _READ[key] = cfg
    return cfg


_READ: dict[tuple[str, int, int], CompanyConfig] = {}


def _read(path: Path) -> CompanyConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Company configuration {path} does not exist.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"Company configuration {path} is not valid YAML: {exc}") from exc
    try:
        return CompanyConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"Company configuration {path} is invalid: {problems}") from exc
