"""Bodies of the control routes (alkoholforskriften kapittel 9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from api.schemas.prikker import CleanText, PrikkOut, PrikkSummary, RecordId
from api.schemas.soknader import calendar_instant
from bevilling.calendar import OSLO

# Alkoholforskriften § 9-5: a skjenkested is controlled by at least two kontrollører; a
# salgssted may be controlled by one. (Not in the rule files yet: see the module docstring
# of api.routers.kontroller.)
MIN_KONTROLLORER: dict[str, int] = {"salg": 1, "skjenking": 2}
HJEMMEL_KONTROLLORER = "alkoholforskriften § 9-5"

# How far ahead of the server's clock a control time may lie (clock skew of a handheld device).
CLOCK_SKEW = timedelta(minutes=10)


def _instant(value: object) -> datetime:
    """ISO 8601 text: with an offset it is that instant, without one it is Oslo wall time
    (refused when the clock shows it twice or never, e.g. on a DST night)."""
    if isinstance(value, datetime):
        instant = value if value.tzinfo is not None else calendar_instant(value.isoformat())
    elif isinstance(value, str):
        instant = calendar_instant(value)
    else:
        raise ValueError("give the time as ISO 8601 text, e.g. 2026-05-16T01:30 or 2026-10-25T02:30+01:00")
    if instant > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError("a control cannot be registered before it has taken place")
    return instant.astimezone(OSLO)


Name = Annotated[CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


def _same_name(name: str) -> str:
    return " ".join(name.split()).casefold()


class KontrollIn(BaseModel):
    """POST /kontroller: what the kontrollører found at one control."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    bevilling_id: RecordId
    at: Annotated[datetime, BeforeValidator(_instant)] = Field(
        description="when the control took place: local time (2026-05-16T01:30) or with an offset"
    )
    kind: Literal["salg", "skjenking"]
    place: CleanText = Field(min_length=1, max_length=300, description="where at the venue")
    kontrollorer: list[Name] = Field(min_length=1, max_length=10, description="the kontrollører's names")
    observations: CleanText = Field(default="", max_length=20_000)
    violations: list[Code] = Field(
        default_factory=list, max_length=50, description="violation codes (alkoholforskriften § 10-3)"
    )

    @field_validator("kontrollorer")
    @classmethod
    def _enough_kontrollorer(cls, names: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("kind")
        if kind is None:
            return names
        needed = MIN_KONTROLLORER[kind]
        different = len({_same_name(n) for n in names})
        if different < needed:
            raise ValueError(
                f"a {kind} control needs at least {needed} different kontrollører ({HJEMMEL_KONTROLLORER}); "
                f"{different} given"
            )
        return names


class KontrollOut(BaseModel):
    id: int
    kommune: str
    bevilling_id: int
    at: datetime
    kind: str
    place: str
    kontrollorer: list[str]
    observations: str
    violations: list[str]
    assessment: dict[str, Any] = Field(description="the prikk assessment as stored (replayable)")
    ruleset_version: str
    created_by: str
    created_at: datetime | None
    prikker: list[PrikkOut]


class KontrollCreated(KontrollOut):
    bevilling: PrikkSummary = Field(description="the bevilling's points as of the control date")
