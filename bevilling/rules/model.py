"""The rule language: what a rule file may say, as validated pydantic models.

A rule file is YAML that a case officer can read. It holds named sources, the facts,
zones, venue categories and seasons the file declares, and a list of labelled rules.
Every rule is dated (``valid_from``/``valid_to``), cites its ``source`` (a key into the
file's ``sources`` plus the section) and its ``hjemmel`` (the law paragraph it rests on).

Files inherit national -> region -> kommune. A rule in a lower file replaces the rule
with the same ``id`` (label) in a higher file; rule order in a file never matters.
The language itself is documented in ``docs/rule-language.md``.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

SERVING_DAY_START = 6 * 60
MINUTES_PER_DAY = 24 * 60

GroupNumber = Literal[1, 2, 3]
ALL_GROUPS: tuple[GroupNumber, ...] = (1, 2, 3)

_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Level(StrEnum):
    NATIONAL = "national"
    REGION = "region"
    KOMMUNE = "kommune"

    @property
    def rank(self) -> int:
        return {"national": 0, "region": 1, "kommune": 2}[self.value]


class Area(StrEnum):
    INNE = "inne"
    UTE = "ute"


class Licence(StrEnum):
    SALG = "salg"
    SKJENKING = "skjenking"
    ENKELTANLEDNING = "enkeltanledning"
    AMBULERENDE = "ambulerende"


class SourceStatus(StrEnum):
    VERIFIED = "verified"
    VERIFIED_SECONDARY = "verified_secondary"
    UNVERIFIED = "unverified"


class FactType(StrEnum):
    BOOL = "bool"
    INT = "int"
    TEXT = "text"


class Enforcement(StrEnum):
    """How a limit (grense) binds local rules.

    ``reject``: a national maximum; ``rules check`` rejects a local window beyond it.
    ``cap``: applies at evaluation time only (e.g. helligdagsloven § 5 closing shops at
    16:00 on julaften), because the local text may lawfully print a longer window.
    """

    REJECT = "reject"
    CAP = "cap"


class HearingBody(StrEnum):
    POLITI = "politi"
    SOSIALTJENESTEN = "sosialtjenesten"
    SKATTEETATEN = "skatteetaten"


class ConditionKind(StrEnum):
    ORDENSVAKTER = "ordensvakter"
    ALDERSGRENSE = "aldersgrense"
    AVGRENSET_UTESERVERING = "avgrenset_uteservering"
    ANNET = "annet"


def parse_clock(text: str) -> int:
    """Minutes after midnight of a ``HH:MM`` wall-clock time; ``24:00`` is 1440."""
    if not _HHMM.match(text):
        raise ValueError(f"'{text}' is not a time of day HH:MM (00:00-24:00)")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def serving_minute(text: str) -> int:
    """Minute of the skjenkedøgn: times before 06:00 belong to the night after the day.

    The skjenkedøgn runs 06:00 to 03:00 next day (alkoholloven § 4-4), so a closing time
    of 02:00 is 1560 and "24:00" is 1440.
    """
    minute = parse_clock(text)
    return minute + MINUTES_PER_DAY if minute < SERVING_DAY_START else minute


def _valid_clock(text: str) -> str:
    parse_clock(text)
    return text


Clock = Annotated[str, AfterValidator(_valid_clock)]
"""A ``HH:MM`` wall-clock time, kept as text so rule files round-trip as written."""


class SourceDoc(Strict):
    """A document rules cite: a law, a forskrift, a municipal plan or a web page."""

    title: str
    url: str | None = None
    seed: str | None = Field(default=None, description="file name in shared/seeds")
    lovdata: str | None = Field(default=None, description="e.g. FOR-2005-06-08-538")
    adopted: date | None = None
    status: SourceStatus = SourceStatus.VERIFIED
    note: str | None = None

    @model_validator(mode="after")
    def _locatable(self) -> SourceDoc:
        if not (self.url or self.seed or self.lovdata):
            raise ValueError("a source needs a url, a seed file name or a lovdata id")
        return self


class SourceRef(Strict):
    ref: str = Field(description="key into the file's sources")
    section: str | None = None
    quote: str | None = None


class FactDecl(Strict):
    """A fact a file declares so its rules (and case files) may use it.

    An undeclared key in a question is an error, never silently ignored; a declared
    fact the question leaves out takes its ``default`` (a bool fact defaults to false).
    """

    type: FactType
    meaning: str
    default: bool | int | str | None = None
    source: SourceRef

    @model_validator(mode="after")
    def _default_fits(self) -> FactDecl:
        expected = {FactType.BOOL: bool, FactType.INT: int, FactType.TEXT: str}[self.type]
        if self.default is not None and type(self.default) is not expected:
            raise ValueError(f"default {self.default!r} is not of type {self.type.value}")
        return self

    def default_value(self) -> bool | int | str | None:
        if self.default is None and self.type is FactType.BOOL:
            return False
        return self.default


class ZoneDecl(Strict):
    meaning: str
    source: SourceRef


class VenueDecl(Strict):
    meaning: str
    licence: list[Licence] = Field(default_factory=lambda: [Licence.SKJENKING])
    source: SourceRef


class SeasonDecl(Strict):
    """A recurring period of the year, inclusive: ``from: "11-15"``, ``to: "12-23"``.

    A period whose ``to`` is before its ``from`` wraps over New Year.
    """

    from_: str = Field(alias="from", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    to: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    meaning: str
    source: SourceRef

    def contains(self, day: date) -> bool:
        key = day.strftime("%m-%d")
        if self.from_ <= self.to:
            return self.from_ <= key <= self.to
        return key >= self.from_ or key <= self.to


class EventSelector(Strict):
    """Flags of an arrangement an application is for (case format: ``event``)."""

    under_18: bool | None = None
    age_limit_18: bool | None = None
    sports: bool | None = None
    family: bool | None = None
    named: list[str] | None = None


FactValue = bool | int | str


class Selector(Strict):
    """When a rule applies. Every listed dimension must match; an absent one matches all."""

    groups: list[GroupNumber] | None = None
    areas: list[Area] | None = None
    zones: list[str] | None = None
    venues: list[str] | None = None
    outlets: list[str] | None = None
    licences: list[Licence] | None = None
    days: list[str] | None = None
    seasons: list[str] | None = None
    facts: dict[str, FactValue] | None = None
    event: EventSelector | None = None
    application: dict[str, bool] | None = Field(
        default=None, description="application flags, e.g. serveringsbevilling: false"
    )

    @field_validator("groups", "areas", "zones", "venues", "outlets", "licences", "days", "seasons")
    @classmethod
    def _non_empty_unique(cls, value: list[object] | None) -> list[object] | None:
        if value is not None:
            if not value:
                raise ValueError("an empty list matches nothing; leave the key out to match all")
            if len(set(value)) != len(value):
                raise ValueError("a value is listed twice")
        return value


class Window(Strict):
    from_: Clock = Field(alias="from")
    to: Clock


class RuleBase(Strict):
    id: str = Field(description="the label; a lower file overrides a higher one's rule by this label")
    title: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    source: SourceRef
    hjemmel: str = Field(description="the law paragraph the rule rests on, e.g. 'alkoholloven § 4-4'")
    note: str | None = None

    @field_validator("id")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL.match(value):
            raise ValueError(f"label '{value}' must be lower-case letters, digits, '.', '_' or '-'")
        return value

    @model_validator(mode="after")
    def _dated(self) -> RuleBase:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class AlcoholGroupRule(RuleBase):
    """Alkoholforskriften § 1-1 / alkoholloven § 1-3: group by percent alcohol by volume."""

    kind: Literal["alkoholgruppe"]
    group: GroupNumber
    abv_gt: Decimal | None = None
    abv_gte: Decimal | None = None
    abv_lt: Decimal | None = None
    abv_lte: Decimal | None = None

    @model_validator(mode="after")
    def _bounded(self) -> AlcoholGroupRule:
        if (self.abv_gt is None) == (self.abv_gte is None) or (self.abv_lt is None) == (self.abv_lte is None):
            raise ValueError("give exactly one lower bound (abv_gt|abv_gte) and one upper (abv_lt|abv_lte)")
        return self

    def contains(self, abv: Decimal) -> bool:
        above = abv > self.abv_gt if self.abv_gt is not None else abv >= (self.abv_gte or Decimal(0))
        below = abv < self.abv_lt if self.abv_lt is not None else abv <= (self.abv_lte or Decimal(0))
        return above and below


class WindowRule(RuleBase):
    when: Selector = Field(default_factory=Selector)
    window: Window | None = None
    closed: bool = False
    overrides: list[str] = Field(
        default_factory=list, description="labels this rule wins over when both apply"
    )

    @model_validator(mode="after")
    def _window_or_closed(self) -> WindowRule:
        if (self.window is None) == (not self.closed):
            raise ValueError("give either a window (from/to) or closed: true")
        return self


class SalesWindowRule(WindowRule):
    """Salgstid: alkoholloven § 3-7 (group 1) and § 3-4 (Vinmonopolet)."""

    kind: Literal["salgstid"]

    @model_validator(mode="after")
    def _same_day(self) -> SalesWindowRule:
        if self.window is not None and parse_clock(self.window.to) <= parse_clock(self.window.from_):
            raise ValueError("a sales window ends after it starts on the same day")
        return self


class ServingWindowRule(WindowRule):
    """Skjenketid: alkoholloven § 4-4. Times before 06:00 are the night after the day."""

    kind: Literal["skjenketid"]

    @model_validator(mode="after")
    def _ordered(self) -> ServingWindowRule:
        if self.window is not None and serving_minute(self.window.to) <= serving_minute(self.window.from_):
            raise ValueError(
                "a serving window must end after it starts (times before 06:00 are the next night)"
            )
        return self


class LimitRule(RuleBase):
    """A grense: applies on top of whichever window was chosen. All applicable limits bind."""

    when: Selector = Field(default_factory=Selector)
    not_before: Clock | None = None
    not_after: Clock | None = None
    closed: bool = False
    enforcement: Enforcement = Enforcement.REJECT

    @model_validator(mode="after")
    def _something(self) -> LimitRule:
        if not (self.closed or self.not_before or self.not_after):
            raise ValueError("a limit needs not_before, not_after or closed: true")
        return self


class SalesLimitRule(LimitRule):
    kind: Literal["salgstid_grense"]


class ServingLimitRule(LimitRule):
    kind: Literal["skjenketid_grense"]


class MaxGroupRule(RuleBase):
    """The highest alcohol group a licence for these venues may cover."""

    kind: Literal["hoyeste_gruppe"]
    when: Selector = Field(default_factory=Selector)
    max_group: GroupNumber
    overrides: list[str] = Field(default_factory=list)


class RefusalRule(RuleBase):
    """An avslagsgrunn: applications matching ``when`` (and not ``unless``) are refused."""

    kind: Literal["avslag"]
    when: Selector
    unless: Selector | None = None
    reason: str


class PrerequisiteRule(RuleBase):
    """A forutsetning the application must document, e.g. serveringsbevilling."""

    kind: Literal["forutsetning"]
    when: Selector = Field(default_factory=Selector)
    requires: str = Field(description="an application flag that must be true")
    reason: str


class ConditionRule(RuleBase):
    """A vilkår attached to a grant; ``discretionary`` ones are proposed for the officer to weigh."""

    kind: Literal["vilkar"]
    when: Selector = Field(default_factory=Selector)
    condition: ConditionKind
    text: str
    discretionary: bool = False
    from_: Clock | None = Field(default=None, alias="from")
    to: Clock | None = None
    age: int | None = None


class DiscretionRule(RuleBase):
    """A point the case officer must weigh by free discretion (alkoholloven § 1-7a)."""

    kind: Literal["skjonn"]
    when: Selector = Field(default_factory=Selector)
    text: str


class HearingRule(RuleBase):
    kind: Literal["horing"]
    when: Selector = Field(default_factory=Selector)
    body: HearingBody
    required: bool


class PrikkRule(RuleBase):
    """Alkoholforskriften § 10-3: points for one kind of violation."""

    kind: Literal["prikk"]
    code: str
    points: int = Field(ge=1, le=8)
    text: str

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError(f"violation code '{value}' must be snake_case")
        return value


class ExtraDays(Strict):
    from_points: int = Field(ge=1)
    to_points: int = Field(ge=1)
    days: int = Field(ge=1)


class InndragningRule(RuleBase):
    """Alkoholforskriften § 10-2: 12 points in two years -> one week, more -> longer."""

    kind: Literal["inndragning"]
    threshold: int = Field(ge=1)
    window_years: int = Field(ge=1)
    base_days: int = Field(ge=1)
    extra_days: list[ExtraDays]
    applies_to: list[Licence]


class GroupRates(Strict):
    gruppe1: Decimal | None = None
    gruppe2: Decimal | None = None
    gruppe3: Decimal | None = None

    def rate(self, group: int) -> Decimal | None:
        return {1: self.gruppe1, 2: self.gruppe2, 3: self.gruppe3}[group]


class GebyrRule(RuleBase):
    """Alkoholforskriften § 6-2: kroner per vareliter and yearly minimums, for one year."""

    kind: Literal["gebyrsats"]
    year: int
    salg: GroupRates
    skjenking: GroupRates
    min_salg: Decimal
    min_skjenking: Decimal
    ambulerende_max: Decimal | None = None
    status: SourceStatus

    @model_validator(mode="after")
    def _one_year(self) -> GebyrRule:
        if self.valid_from != date(self.year, 1, 1) or self.valid_to != date(self.year, 12, 31):
            raise ValueError(
                f"a gebyrsats is valid for exactly its year: {self.year}-01-01 to {self.year}-12-31"
            )
        return self


class BevillingsperiodeRule(RuleBase):
    """Alkoholloven § 1-6: licences end 30 September the year after the kommunestyrevalg."""

    kind: Literal["bevillingsperiode"]
    valgaar: int = Field(description="a kommunestyrevalg year; elections repeat every interval_years")
    interval_years: int = Field(ge=1)
    ends_month_day: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    max_years: int = Field(ge=1)


Rule = Annotated[
    AlcoholGroupRule
    | SalesWindowRule
    | ServingWindowRule
    | SalesLimitRule
    | ServingLimitRule
    | MaxGroupRule
    | RefusalRule
    | PrerequisiteRule
    | ConditionRule
    | DiscretionRule
    | HearingRule
    | PrikkRule
    | InndragningRule
    | GebyrRule
    | BevillingsperiodeRule,
    Field(discriminator="kind"),
]


def selector_of(rule: RuleBase) -> Selector | None:
    """The ``when`` of a rule kind that has one (limits, windows, application rules)."""
    when = getattr(rule, "when", None)
    return when if isinstance(when, Selector) else None


APPLICATION_FLAGS = frozenset(
    {"serveringsbevilling", "delimited_area", "uklanderlig_vandel", "styrer_og_stedfortreder"}
)
"""Yes/no facts an application states, that prerequisites and selectors may test."""

NATIONAL_ONLY_KINDS = frozenset({"alkoholgruppe", "prikk", "inndragning", "gebyrsats", "bevillingsperiode"})


class RuleFile(Strict):
    schema_: Literal["bevilling/rules/v1"] = Field(alias="schema")
    level: Level
    slug: str
    name: str
    kommunenummer: str | None = Field(default=None, pattern=r"^\d{4}$")
    former_kommunenummer: list[str] = Field(default_factory=list)
    inherits: str | None = Field(default=None, description="slug of the region file a kommune inherits")
    language: Literal["nb", "nn"] = "nb"
    valid_from: date
    valid_to: date | None = None
    sources: dict[str, SourceDoc]
    silent: list[str] = Field(
        default_factory=list, description="where the local text says nothing and national law applies"
    )
    facts: dict[str, FactDecl] = Field(default_factory=dict)
    zones: dict[str, ZoneDecl] = Field(default_factory=dict)
    venues: dict[str, VenueDecl] = Field(default_factory=dict)
    outlets: dict[str, VenueDecl] = Field(default_factory=dict)
    seasons: dict[str, SeasonDecl] = Field(default_factory=dict)
    rules: list[Rule]

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9\-]*$", value):
            raise ValueError(f"slug '{value}' must be lower-case ASCII letters, digits and '-'")
        return value

    @model_validator(mode="after")
    def _shape(self) -> RuleFile:
        if self.level is Level.KOMMUNE and not self.kommunenummer:
            raise ValueError("a kommune file needs its kommunenummer")
        if self.level is not Level.KOMMUNE and self.kommunenummer:
            raise ValueError("only a kommune file has a kommunenummer")
        if self.level is Level.NATIONAL and self.inherits:
            raise ValueError("the national file inherits nothing")
        if self.level is Level.REGION and self.inherits:
            raise ValueError("a region inherits the national file implicitly; drop 'inherits'")
        if self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self
