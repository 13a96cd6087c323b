"""Bodies of the prikk routes: the ledger, a status change, the public list.

A prikk's status is the case officer's workflow around the enkeltvedtak of
alkoholforskriften § 10-5: proposed by a control (``foreslatt``), decided (``vedtatt``),
appealed (``paklaget``) or set aside (``opphevet``). Every status but ``opphevet`` counts
towards inndragning (§ 10-2). Status codes are ASCII like the violation codes
(``påklaget`` and ``paaklaget`` are accepted as input and stored as ``paklaget``).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from bevilling.decisions.prikker import InndragningProposal, Violation

MAX_ID = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite: both 64-bit


def _clean_text(value: str) -> str:
    """Text the databases can store: PostgreSQL refuses NUL, neither encodes a lone surrogate."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


CleanText = Annotated[str, AfterValidator(_clean_text)]
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]


class PrikkStatus(StrEnum):
    FORESLATT = "foreslatt"
    VEDTATT = "vedtatt"
    PAKLAGET = "paklaget"
    OPPHEVET = "opphevet"


# What counts towards the two-year total (alkoholforskriften § 10-2): all but set-aside prikker.
COUNTED_STATUSES = frozenset({PrikkStatus.FORESLATT, PrikkStatus.VEDTATT, PrikkStatus.PAKLAGET})

TRANSITIONS: dict[PrikkStatus, tuple[PrikkStatus, ...]] = {
    PrikkStatus.FORESLATT: (PrikkStatus.VEDTATT, PrikkStatus.PAKLAGET, PrikkStatus.OPPHEVET),
    PrikkStatus.PAKLAGET: (PrikkStatus.VEDTATT, PrikkStatus.OPPHEVET),
    # A prikktildeling is an enkeltvedtak and can be appealed after it is made (law.md § 4.6).
    PrikkStatus.VEDTATT: (PrikkStatus.PAKLAGET, PrikkStatus.OPPHEVET),
    PrikkStatus.OPPHEVET: (),
}

_STATUS_ALIASES = {"påklaget": PrikkStatus.PAKLAGET.value, "paaklaget": PrikkStatus.PAKLAGET.value}


def _status_alias(value: object) -> object:
    return _STATUS_ALIASES.get(value, value) if isinstance(value, str) else value


class PrikkStatusChange(BaseModel):
    """PATCH /prikker/{id}; send the ETag you read as If-Match."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Annotated[PrikkStatus, BeforeValidator(_status_alias)]
    status_note: CleanText | None = Field(
        default=None,
        max_length=4000,
        validate_default=True,
        description="why; required when a prikk is set aside (opphevet)",
    )

    @field_validator("status_note")
    @classmethod
    def _note_for_opphevet(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("status") is PrikkStatus.OPPHEVET and not value:
            raise ValueError("a prikk that is set aside (opphevet) needs a status_note saying why")
        return value or None


class PrikkOut(BaseModel):
    id: int
    kommune: str
    bevilling_id: int
    kontroll_id: int
    code: str
    points: int
    violation_date: date
    status: str
    status_note: str | None
    reason: dict[str, Any]
    version: int
    etag: str
    counted: bool | None = Field(
        default=None, description="in the ledger: whether the prikk is in the counted two-year period"
    )


class InndragningBlock(BaseModel):
    """Present when the counted points lead to inndragning (alkoholforskriften § 10-2)."""

    days: int
    violations: list[Violation]
    forhandsvarsel: str = Field(description="draft of the advance notice (forvaltningsloven § 16)")


class PrikkSummary(BaseModel):
    """A bevilling's points as of a date and what they lead to."""

    bevilling_id: int
    as_of: date
    period_start: date | None = Field(
        description="the overdragelse date when it lies on or before as_of: the holder's own period "
        "starts there, and prikker before it belong to the former holder"
    )
    total: int
    threshold: int
    counted: list[int] = Field(description="ids of the prikker in the counted two-year period")
    proposal: InndragningProposal
    inndragning: InndragningBlock | None


class PrikkLedger(PrikkSummary):
    prikker: list[PrikkOut]


class PublicPrikk(BaseModel):
    """One published prikk: the venue and why, no personal data (no kontrollører, no observations)."""

    place_name: str
    holder: str | None = Field(
        description="who held the bevilling on that date, when it is a registered entity (has an orgnr)"
    )
    orgnr: str | None
    date: date
    code: str
    text: str
    hjemmel: str
    points: int


class PublicPrikkList(BaseModel):
    kommune: str
    name: str
    generated_at: datetime
    prikker: list[PublicPrikk]
