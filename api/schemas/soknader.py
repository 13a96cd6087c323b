"""Bodies of the søknad routes: the application as filed, hearing answers, the vedtak.

Shape rules only (lengths, formats, which fields a kind of vedtak needs). Whether the
rules allow what is applied for or granted is decided by ``bevilling.decisions.application``.
Text is bounded by the columns it lands in and may not carry NUL (PostgreSQL refuses it),
and dates are bounded so that no computation on them can overflow: bad input is a 422
naming the field, never a 500.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bevilling.calendar import FIRST_YEAR, LAST_YEAR, OSLO, LocalTimeError, parse_instant
from bevilling.decisions.application import Assessment
from bevilling.decisions.common import Reason
from bevilling.rules.model import Area, Clock, ConditionKind, HearingBody, Licence


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), NoNul]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), NoNul]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000), NoNul]
FactText = Annotated[str, StringConstraints(max_length=500), NoNul]
Orgnr = Annotated[
    str, StringConstraints(pattern=r"^\d{9}$"), Field(description="organisasjonsnummer, 9 sifre")
]
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` text (or a date): pydantic would also read a number as a Unix
    timestamp, so ``?dato=0`` silently meant 1970-01-01."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        return value
    raise ValueError("give the date as YYYY-MM-DD")


def utc_if_naive(value: datetime) -> datetime:
    """SQLite keeps no offset: what it stores is UTC (``server_default=now()``)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Instant = Annotated[datetime, AfterValidator(utc_if_naive)]
Day = Annotated[IsoDate, Field(ge=date(1900, 1, 1), le=date(2199, 12, 31))]
# A date the calendar (day kinds, holidays) can answer for: what the rules are evaluated on.
CalendarDay = Annotated[IsoDate, Field(ge=date(FIRST_YEAR, 1, 1), le=date(LAST_YEAR, 12, 31))]


def calendar_instant(text: str) -> datetime:
    """``parse_instant``, refusing (``LocalTimeError``, a 422) an instant whose date in Oslo
    the calendar cannot answer for, or that no datetime can hold (0001-01-01T00:00+14:00)."""
    try:
        instant = parse_instant(text)
    except OverflowError:
        instant = None
    if instant is None or not FIRST_YEAR <= instant.astimezone(OSLO).year <= LAST_YEAR:
        raise LocalTimeError(f"{text!r} is outside the years {FIRST_YEAR}–{LAST_YEAR} the calendar knows")
    return instant


Group = Annotated[StrictInt, Field(ge=1, le=3, description="alkoholgruppe 1, 2 eller 3")]
FactInput = StrictBool | Annotated[StrictInt, Field(ge=-(10**9), le=10**9)] | FactText


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _unique(values: list[Any] | None) -> list[Any] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("each value may be given once")
    return values


class EventIn(Input):
    """The occasion of an enkeltanledning or ambulerende bevilling."""

    under_18: StrictBool = False
    age_limit_18: StrictBool = False
    sports: StrictBool = False
    family: StrictBool = False
    named: Name | None = None


class SoknadIn(Input):
    """A søknad as filed. Flags left out are 'not documented' and listed for the officer."""

    kommune: Label = Field(description="kommunenummer or slug")
    licence: Licence
    applicant: Name
    orgnr: Orgnr | None = None
    place_name: Name
    address: Address | None = None
    venue: Label = Field(description="venue category; for salg the outlet kind (butikk, gardsutsalg ...)")
    groups: list[Group] = Field(min_length=1, max_length=3)
    areas: list[Area] = Field(default_factory=lambda: [Area.INNE], min_length=1, max_length=2)
    zone: Label | None = None
    serveringsbevilling: StrictBool | None = None
    delimited_area: StrictBool | None = None
    uklanderlig_vandel: StrictBool | None = None
    styrer_og_stedfortreder: StrictBool | None = None
    event: EventIn | None = None
    facts: dict[Label, FactInput] = Field(default_factory=dict, max_length=100)
    received_on: CalendarDay

    _unique_groups = field_validator("groups", "areas")(_unique)


class HoringOut(BaseModel):
    body: HearingBody
    required: bool
    sent_on: date | None
    answered_on: date | None
    answer: str | None
    objection: bool | None


class HoringPatch(Input):
    """What a hearing body was sent and answered; fields left out stay as they are."""

    sent_on: Day | None = None
    answered_on: Day | None = None
    answer: LongText | None = None
    objection: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> HoringPatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give sent_on, answered_on, answer or objection")
        return self


class SoknadStatus(StrEnum):
    MOTTATT = "mottatt"
    VEDTATT = "vedtatt"
    AVSLATT = "avslatt"


class SoknadOut(BaseModel):
    """The søknad with the engine's proposal; ``vedtak`` once the officer has decided."""

    id: int
    kommune: str
    licence: Licence
    applicant: str
    orgnr: str | None
    place_name: str
    address: str | None
    received_on: date
    status: SoknadStatus
    application: dict[str, Any] = Field(description="venue, groups, areas, zone, flags, event, facts")
    proposal: Assessment
    horinger: list[HoringOut]
    vedtak: dict[str, Any] | None
    bevilling_id: int | None
    ruleset_version: str
    created_by: str
    created_at: Instant | None
    version: int


class HoursIn(Input):
    """Hours a vedtak grants for one group and area (at most what the rules allow)."""

    group: Group
    area: Area
    from_: Clock = Field(alias="from")
    to: Clock


class ConditionIn(Input):
    """A vilkår the officer sets (alkoholloven § 4-3 / § 3-2)."""

    condition: ConditionKind = ConditionKind.ANNET
    text: LongText
    from_: Clock | None = Field(default=None, alias="from")
    to: Clock | None = None
    age: Annotated[StrictInt, Field(ge=18, le=99)] | None = None


class ConditionOut(BaseModel):
    """A vilkår of a bevilling: from the rules (with its reason) or set by the officer."""

    model_config = ConfigDict(populate_by_name=True)

    condition: ConditionKind
    text: str
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    age: int | None = None
    discretionary: bool = False
    set_by: Literal["regel", "saksbehandler"] = "regel"
    reason: Reason | None = None


class Decision(StrEnum):
    ACCEPT = "accept"
    CHANGE = "change"
    REFUSE = "refuse"


class VedtakIn(Input):
    """The officer's decision on the proposal.

    ``accept`` grants what the assessment proposed; ``change`` grants the officer's own
    groups/areas/hours within the rules; ``refuse`` grants nothing. ``change`` and
    ``refuse`` need a ``reason``; a grant needs ``styrer``, ``stedfortreder`` and
    ``valid_from``. ``holder`` defaults to the applicant; ``valid_to`` to the end of the
    bevillingsperiode (alkoholloven § 1-6) and may only be earlier (part of the period).
    """

    decision: Decision
    reason: LongText | None = Field(default=None, validate_default=True)
    holder: Name | None = None
    styrer: Name | None = Field(default=None, validate_default=True)
    stedfortreder: Name | None = Field(default=None, validate_default=True)
    groups: list[Group] | None = Field(default=None, min_length=1, max_length=3, validate_default=True)
    areas: list[Area] | None = Field(default=None, min_length=1, max_length=2, validate_default=True)
    hours: list[HoursIn] | None = Field(default=None, max_length=6, validate_default=True)
    conditions: list[ConditionIn] = Field(default_factory=list, max_length=50)
    valid_from: Day | None = Field(default=None, validate_default=True)
    valid_to: Day | None = None

    @field_validator("reason")
    @classmethod
    def _reason_for_change_or_refuse(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("decision") in (Decision.CHANGE, Decision.REFUSE):
            raise ValueError("a change or a refusal needs a reason (forvaltningsloven § 24)")
        return value

    @field_validator("styrer", "stedfortreder", "valid_from")
    @classmethod
    def _needed_for_a_grant(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.data.get("decision") in (Decision.ACCEPT, Decision.CHANGE):
            raise ValueError(f"a grant needs {info.field_name}")
        return value

    @field_validator("groups", "areas", "hours")
    @classmethod
    def _only_for_change(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("decision") in (Decision.ACCEPT, Decision.REFUSE):
            raise ValueError(
                f"{info.field_name} can only be given with decision 'change' "
                "(accept grants the proposal, refuse grants nothing)"
            )
        return _unique(value) if info.field_name != "hours" else value
