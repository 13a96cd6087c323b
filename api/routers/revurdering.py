"""Re-assessment: which active bevillinger go beyond the kommune's rules as of a date
(after the rules changed): groups above the venue's highest group, a venue the rules now
refuse, granted hours outside the rules' window."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import BookDep, EvaluatorDep, kommune_slug
from api.schemas.gebyr import Reassessment
from api.schemas.soknader import IsoDate
from api.security import Saksbehandler, ensure_kommune
from api.uow import UowDep
from db.commands import reassess_in

router = APIRouter(tags=["revurdering"])


@router.get("/kommuner/{kommune}/revurdering", response_model=Reassessment)
def reassess(
    kommune: str,
    book: BookDep,
    evaluator: EvaluatorDep,
    uow: UowDep,
    principal: Saksbehandler,
    dato: Annotated[IsoDate | None, Query(description="rules as of (default today)")] = None,
) -> Reassessment:
    slug = kommune_slug(book, kommune)
    ensure_kommune(principal, slug)
    return reassess_in(uow.session, book, evaluator, slug, dato or date.today())
