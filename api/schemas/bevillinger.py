"""Bodies of the bevilling routes: the licence as granted, its changes and its transfer."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.schemas.soknader import ConditionIn, ConditionOut, Day, Input, Instant, Name, Orgnr, SoknadOut
from bevilling.rules.model import Area, Licence
from db.models import Bevilling


class BevillingStatus(StrEnum):
    AKTIV = "aktiv"
    OVERDRATT = "overdratt"
    OPPHORT = "opphort"


class HoursOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    group: int
    area: Area
    from_: str = Field(alias="from")
    to: str


class OverdragelseOut(BaseModel):
    new_holder: str
    new_orgnr: str | None
    date: date
    recorded_by: str
    recorded_at: datetime


class BevillingOut(BaseModel):
    id: int
    kommune: str
    soknad_id: int | None
    licence: Licence
    holder: str
    orgnr: str | None
    place_name: str
    address: str | None
    venue: str
    zone: str | None
    styrer: str
    stedfortreder: str
    groups: list[int]
    areas: list[Area]
    hours: list[HoursOut]
    conditions: list[ConditionOut]
    valid_from: date
    valid_to: date
    status: str = Field(description="aktiv, overdratt or opphort")
    overdratt_on: date | None
    overdragelse: OverdragelseOut | None = Field(
        description="the transfer that ended this bevilling; the new holder must apply (alkoholloven § 1-10)"
    )
    vedtak: dict[str, Any]
    created_at: Instant | None
    version: int

    @classmethod
    def of(cls, row: Bevilling) -> BevillingOut:
        transfer = row.vedtak.get("overdragelse")
        return cls(
            id=row.id,
            kommune=row.kommune,
            soknad_id=row.soknad_id,
            licence=Licence(row.licence),
            holder=row.holder,
            orgnr=row.orgnr,
            place_name=row.place_name,
            address=row.address,
            venue=row.venue,
            zone=row.zone,
            styrer=row.styrer,
            stedfortreder=row.stedfortreder,
            groups=[int(g) for g in row.groups],
            areas=[Area(a) for a in row.areas],
            hours=[HoursOut.model_validate(h) for h in row.hours],
            conditions=[ConditionOut.model_validate(c) for c in row.conditions],
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            status=row.status,
            overdratt_on=row.overdratt_on,
            overdragelse=OverdragelseOut.model_validate(transfer) if transfer else None,
            vedtak={k: v for k, v in row.vedtak.items() if k != "overdragelse"},
            created_at=row.created_at,
            version=row.version,
        )


class BevillingPatch(Input):
    """Approved changes of styrer/stedfortreder, the officer's vilkår, or ending the bevilling.

    ``conditions`` replaces the vilkår the officer set; the vilkår the rules require stay.
    """

    styrer: Name | None = None
    stedfortreder: Name | None = None
    conditions: list[ConditionIn] | None = Field(default=None, max_length=50)
    status: Literal["opphort"] | None = None

    @field_validator("styrer", "stedfortreder", "conditions", "status", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value

    @model_validator(mode="after")
    def _something(self) -> BevillingPatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give styrer, stedfortreder, conditions or status")
        return self


class OverdragelseIn(Input):
    """The business is transferred to a new holder on ``date``."""

    new_holder: Name
    new_orgnr: Orgnr | None = None
    on: Day = Field(alias="date")


class VedtakOut(BaseModel):
    decision: str
    soknad: SoknadOut
    bevilling: BevillingOut | None
