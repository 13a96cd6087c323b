"""Bodies of the omsetningsoppgave, gebyr and re-assessment routes.

The gebyr run's summary and the re-assessment are the models ``db.commands`` returns;
they are re-exported here so that the routes name one module for their bodies.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.soknader import IsoDate
from db.commands import (
    GebyrLineOut,
    GebyrRunSummary,
    LicenceRef,
    Reassessment,
    StoredGebyr,
    oppgave_litres,
)
from db.models import Omsetningsoppgave

__all__ = [
    "GebyrLineOut",
    "GebyrRunSummary",
    "LicenceRef",
    "OppgaveIn",
    "OppgaveKind",
    "OppgaveOut",
    "Reassessment",
    "StoredGebyr",
]

Litres = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, description="vareliter")]


class OppgaveKind(StrEnum):
    FORVENTET = "forventet"
    FAKTISK = "faktisk"


class OppgaveIn(BaseModel):
    """An omsetningsoppgave (alkoholforskriften § 6-3): vareliter per alkoholgruppe."""

    model_config = ConfigDict(extra="forbid")

    litres: dict[int, Litres] = Field(
        min_length=1,
        description='litres per group, e.g. {"1": 12000.5, "2": 800}; a group left out is 0',
    )
    submitted_on: IsoDate


class OppgaveOut(BaseModel):
    id: int
    bevilling_id: int
    kommune: str
    year: int
    kind: OppgaveKind
    litres: dict[int, Decimal]
    submitted_on: date
    version: int
    etag: str

    @classmethod
    def of(cls, oppgave: Omsetningsoppgave, etag: str) -> OppgaveOut:
        return cls(
            id=oppgave.id,
            bevilling_id=oppgave.bevilling_id,
            kommune=oppgave.kommune,
            year=oppgave.year,
            kind=OppgaveKind(oppgave.kind),
            litres=oppgave_litres(oppgave),
            submitted_on=oppgave.submitted_on,
            version=oppgave.version,
            etag=etag,
        )
