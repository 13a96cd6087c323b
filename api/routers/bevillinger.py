"""Bevillinger: the licences a vedtak granted, their changes and their end.

A bevilling is created only by a vedtak on a søknad (``POST /soknader/{id}/vedtak``).
Here staff read them (a kontrollør too: an inspector needs to know what a place holds),
and a saksbehandler records approved changes of styrer/stedfortreder (alkoholloven
§ 1-7c), changes the officer's own vilkår, ends a bevilling (``opphort``) or records an
overdragelse.

Overdragelse (alkoholloven § 1-10): a bevilling lapses when the business is transferred.
This route marks the old bevilling ``overdratt`` from the transfer date and records the
new holder on it; it does NOT create a bevilling for the new holder. The new holder must
apply (``POST /soknader``); that søknad is assessed and decided like any other. The
statutory grace periods (continued operation on the old bevilling for up to 3 months
when the kommune is notified; the new søknad within 30 days) are not in the rule book
yet, so this route computes no deadline from them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import BookDep
from api.routers.soknader import (
    Limit,
    Offset,
    RecordId,
    answer,
    invalid,
    kommuner_asked,
    now,
    officer_conditions,
    with_headers,
)
from api.schemas.bevillinger import BevillingOut, BevillingPatch, BevillingStatus, OverdragelseIn
from api.security import AnyStaff, Principal, Saksbehandler, not_found
from api.uow import IdempotencyKey, UowDep, check_if_match, idempotent_post
from db.models import Bevilling

router = APIRouter(prefix="/bevillinger", tags=["bevillinger"])


def _visible(session: Session, principal: Principal, bevilling_id: int) -> Bevilling:
    bevilling = session.get(Bevilling, bevilling_id)
    if bevilling is None or not principal.may_see(bevilling.kommune):
        raise not_found("bevilling", bevilling_id)
    return bevilling


@router.get("", response_model=list[BevillingOut])
def list_bevillinger(
    principal: AnyStaff,
    uow: UowDep,
    book: BookDep,
    kommune: Annotated[str | None, Query(description="kommunenummer or slug; default all of yours")] = None,
    status: BevillingStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[BevillingOut]:
    query = select(Bevilling).where(Bevilling.kommune.in_(kommuner_asked(book, principal, kommune)))
    if status is not None:
        query = query.where(Bevilling.status == status.value)
    rows = uow.session.scalars(query.order_by(Bevilling.id).limit(limit).offset(offset))
    return [BevillingOut.of(b) for b in rows]


@router.get("/{bevilling_id}", response_model=BevillingOut)
def get_bevilling(bevilling_id: RecordId, principal: AnyStaff, uow: UowDep) -> JSONResponse:
    bevilling = _visible(uow.session, principal, bevilling_id)
    return answer(BevillingOut.of(bevilling), bevilling.version)


@router.patch("/{bevilling_id}", response_model=BevillingOut)
def change_bevilling(
    bevilling_id: RecordId,
    changes: BevillingPatch,
    request: Request,
    principal: Saksbehandler,
    uow: UowDep,
) -> JSONResponse:
    """Record an approved new styrer or stedfortreder, replace the officer's vilkår (the
    vilkår the rules require stay), or end the bevilling (``status: opphort``)."""
    bevilling = _visible(uow.session, principal, bevilling_id)
    check_if_match(request, bevilling.version)
    if bevilling.status == BevillingStatus.OPPHORT.value:
        raise HTTPException(409, f"bevilling {bevilling_id} has ended (opphort)")
    before = BevillingOut.of(bevilling)
    if changes.styrer is not None:
        bevilling.styrer = changes.styrer
    if changes.stedfortreder is not None:
        bevilling.stedfortreder = changes.stedfortreder
    if changes.conditions is not None:
        kept = [c for c in before.conditions if c.set_by == "regel"]
        bevilling.conditions = [
            c.model_dump(mode="json", by_alias=True) for c in [*kept, *officer_conditions(changes.conditions)]
        ]
    if changes.status is not None:
        bevilling.status = changes.status
    uow.session.flush()
    after = BevillingOut.of(bevilling)
    uow.audit(principal.username, bevilling.kommune, "update", "bevilling", bevilling.id, before, after)
    uow.commit()
    return answer(after, after.version)


@router.post("/{bevilling_id}/overdragelse", response_model=BevillingOut)
def transfer(
    bevilling_id: RecordId,
    body: OverdragelseIn,
    request: Request,
    principal: Saksbehandler,
    uow: UowDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Record that the business was transferred (alkoholloven § 1-10): the bevilling is
    ``overdratt`` from that date. The new holder must file a new søknad; see the module doc."""

    def work() -> tuple[int, Any]:
        bevilling = _visible(uow.session, principal, bevilling_id)
        check_if_match(request, bevilling.version)
        if bevilling.status != BevillingStatus.AKTIV.value:
            raise HTTPException(409, f"bevilling {bevilling_id} is {bevilling.status}, not aktiv")
        if not bevilling.valid_from <= body.on <= bevilling.valid_to:
            raise invalid((["date"], f"the bevilling runs {bevilling.valid_from} to {bevilling.valid_to}"))
        before = BevillingOut.of(bevilling)
        bevilling.status = BevillingStatus.OVERDRATT.value
        bevilling.overdratt_on = body.on
        bevilling.vedtak = {
            **bevilling.vedtak,
            "overdragelse": {
                "new_holder": body.new_holder,
                "new_orgnr": body.new_orgnr,
                "date": body.on.isoformat(),
                "recorded_by": principal.username,
                "recorded_at": now().isoformat(),
            },
        }
        uow.session.flush()
        after = BevillingOut.of(bevilling)
        uow.audit(
            principal.username, bevilling.kommune, "overdragelse", "bevilling", bevilling.id, before, after
        )
        return 200, after

    request_body = {"bevilling_id": bevilling_id, **body.model_dump(mode="json", by_alias=True)}
    return with_headers(idempotent_post(uow, principal.username, key, request_body, work))
