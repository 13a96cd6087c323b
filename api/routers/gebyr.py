"""The yearly omsetningsgebyr (alkoholforskriften kapittel 6): run it for a kommune's
year, read the stored lines, download them as CSV for invoicing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response

from api.deps import BookDep, kommune_slug
from api.errors import problem_response
from api.schemas.gebyr import GebyrRunSummary, StoredGebyr
from api.security import Saksbehandler, ensure_kommune
from api.uow import IdempotencyKey, UowDep, idempotent_post
from db.commands import csv_text, run_gebyr_in, stored_gebyr

router = APIRouter(prefix="/kommuner/{kommune}/gebyr", tags=["omsetningsoppgaver og gebyr"])

Year = Annotated[int, Path(ge=2000, le=2100, description="kalenderår")]


def _slug(book: BookDep, principal: Saksbehandler, kommune: str) -> str:
    slug = kommune_slug(book, kommune)
    ensure_kommune(principal, slug)
    return slug


@router.post(
    "/{year}/kjoring",
    response_model=GebyrRunSummary,
    responses={422: problem_response("invalid input, or no rates for that year (gebyr-rates-missing)")},
)
def run_year(
    kommune: str,
    year: Year,
    book: BookDep,
    uow: UowDep,
    principal: Saksbehandler,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Compute and store the year's omsetningsgebyr of every bevilling of the kommune
    (re-running replaces the year's rows; a year without national rates stores nothing)."""
    slug = _slug(book, principal, kommune)
    return idempotent_post(
        uow,
        principal.username,
        idempotency_key,
        {"run": "gebyr", "kommune": slug, "year": year},
        lambda: (200, run_gebyr_in(uow.session, book, slug, year, principal.username)),
    )


@router.get("/{year}.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def stored_csv(kommune: str, year: Year, book: BookDep, uow: UowDep, principal: Saksbehandler) -> Response:
    """The stored lines as CSV (``;``-separated, UTF-8), one line per bevilling."""
    slug = _slug(book, principal, kommune)
    return Response(
        csv_text(stored_gebyr(uow.session, slug, year)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="omsetningsgebyr-{slug}-{year}.csv"'},
    )


@router.get("/{year}", response_model=StoredGebyr)
def stored(kommune: str, year: Year, book: BookDep, uow: UowDep, principal: Saksbehandler) -> StoredGebyr:
    """The stored lines of the year, each with the decision (rates, minimum, reasons)."""
    slug = _slug(book, principal, kommune)
    return stored_gebyr(uow.session, slug, year)
