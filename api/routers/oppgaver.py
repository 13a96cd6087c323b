"""Omsetningsoppgaver (alkoholforskriften § 6-3): the holder's expected and actual volumes
per year, which the yearly omsetningsgebyr is computed from (§ 6-1, § 6-2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select

from api.schemas.gebyr import OppgaveIn, OppgaveKind, OppgaveOut
from api.security import Saksbehandler, not_found
from api.uow import UnitOfWork, UowDep, check_if_match, etag
from bevilling.decisions.common import DecisionError
from db.commands import checked_litres
from db.models import Bevilling, Omsetningsoppgave

router = APIRouter(tags=["omsetningsoppgaver og gebyr"])

Year = Annotated[int, Path(ge=2000, le=2100, description="kalenderår")]
BevillingId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # BIGINT on PostgreSQL


def _bevilling(uow: UnitOfWork, principal: Saksbehandler, bevilling_id: int) -> Bevilling:
    bevilling = uow.session.get(Bevilling, bevilling_id)
    if bevilling is None or not principal.may_see(bevilling.kommune):
        raise not_found("bevilling", bevilling_id)
    return bevilling


def _out(oppgave: Omsetningsoppgave) -> OppgaveOut:
    return OppgaveOut.of(oppgave, etag(oppgave.version))


@router.put(
    "/bevillinger/{bevilling_id}/omsetningsoppgaver/{year}/{kind}",
    response_model=OppgaveOut,
    responses={201: {"model": OppgaveOut, "description": "created"}},
)
def put_oppgave(
    bevilling_id: BevillingId,
    year: Year,
    kind: OppgaveKind,
    body: OppgaveIn,
    request: Request,
    response: Response,
    uow: UowDep,
    principal: Saksbehandler,
) -> OppgaveOut:
    """Create (201) or replace (200, with If-Match) the bevilling's oppgave of a year."""
    bevilling = _bevilling(uow, principal, bevilling_id)
    try:
        litres = checked_litres(bevilling, year, body.litres)
    except DecisionError as error:  # bad input for this bevilling: an invalid-input problem
        where = ("path", "year") if error.field == "year" else ("body", *(error.field or "").split("/"))
        raise RequestValidationError([{"loc": where, "msg": str(error), "type": "value_error"}]) from None
    oppgave = uow.session.scalar(
        select(Omsetningsoppgave).where(
            Omsetningsoppgave.bevilling_id == bevilling.id,
            Omsetningsoppgave.year == year,
            Omsetningsoppgave.kind == kind.value,
        )
    )
    values = {"litres_1": litres[1], "litres_2": litres[2], "litres_3": litres[3]}
    if oppgave is None:
        if request.headers.get("If-Match") is not None:
            raise HTTPException(412, f"there is no {kind.value} oppgave for {year} to replace yet")
        oppgave = Omsetningsoppgave(
            kommune=bevilling.kommune,
            bevilling_id=bevilling.id,
            year=year,
            kind=kind.value,
            submitted_on=body.submitted_on,
            **values,
        )
        uow.session.add(oppgave)
        uow.session.flush()
        uow.audit(
            principal.username,
            bevilling.kommune,
            "create",
            "omsetningsoppgave",
            oppgave.id,
            None,
            _out(oppgave),
        )
        response.status_code = 201
    else:
        check_if_match(request, oppgave.version)
        before = _out(oppgave)
        for key, value in {**values, "submitted_on": body.submitted_on}.items():
            setattr(oppgave, key, value)
        uow.session.flush()
        uow.audit(
            principal.username,
            bevilling.kommune,
            "update",
            "omsetningsoppgave",
            oppgave.id,
            before,
            _out(oppgave),
        )
    uow.commit()
    result = _out(oppgave)
    response.headers["ETag"] = result.etag
    response.headers["Location"] = f"/bevillinger/{bevilling.id}/omsetningsoppgaver/{year}/{kind.value}"
    return result


@router.get("/bevillinger/{bevilling_id}/omsetningsoppgaver", response_model=list[OppgaveOut])
def list_oppgaver(bevilling_id: BevillingId, uow: UowDep, principal: Saksbehandler) -> list[OppgaveOut]:
    bevilling = _bevilling(uow, principal, bevilling_id)
    oppgaver = uow.session.scalars(
        select(Omsetningsoppgave)
        .where(Omsetningsoppgave.bevilling_id == bevilling.id)
        .order_by(Omsetningsoppgave.year, Omsetningsoppgave.kind)
    )
    return [_out(o) for o in oppgaver]
