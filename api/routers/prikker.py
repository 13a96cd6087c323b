"""Prikker (alkoholforskriften kapittel 10): a bevilling's ledger and inndragning proposal,
a prikk's status, and the list a kommune may publish.

The total as of a date is ``bevilling.decisions.prikker.propose_inndragning`` over the
bevilling's prikker that count (every status but ``opphevet``); this module only picks the
rows and shows the answer.

Overdragelse (§ 10-2: a transfer starts a new period, a renewal does not). A bevilling
with ``overdratt_on`` D (``POST /bevillinger/{id}/overdragelse``: the business changed
hands on D; the new holder, recorded in ``vedtak.overdragelse``, may go on using this
bevilling until a new one is granted) has two holders and two periods:

* as of a date before D the ledger is the former holder's: no period start, every prikk
  up to that date counts;
* as of D or later it is the new holder's: D is given to the domain as the start of the
  period, and the former holder's prikker stay in the ledger with ``counted: false``.

A bevilling granted to the new holder is another row with its own ledger: the former
holder's prikker are not on it. (Prikker of the grace period, on the old row, are not
carried over to it; nothing links the two rows yet.) If ``overdratt_on`` is ever used as
a new row's own first day instead, the same rule gives the same answer: nothing lies
before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import BookDep, EvaluatorDep, kommune_slug
from api.errors import problem, problem_response
from api.schemas.prikker import (
    COUNTED_STATUSES,
    MAX_ID,
    TRANSITIONS,
    InndragningBlock,
    PrikkLedger,
    PrikkOut,
    PrikkStatus,
    PrikkStatusChange,
    PrikkSummary,
    PublicPrikk,
    PublicPrikkList,
)
from api.schemas.soknader import IsoDate
from api.security import AnyStaff, Principal, Saksbehandler, not_found
from api.uow import UowDep, check_if_match, etag
from bevilling.calendar import OSLO
from bevilling.decisions import prikker
from bevilling.decisions.common import rules_for
from bevilling.engine.evaluator import Evaluator
from bevilling.rules.book import RuleBook
from bevilling.rules.model import Licence
from db.models import Bevilling, Prikk

router = APIRouter(tags=["kontroll og prikker"])

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def today() -> date:
    return datetime.now(OSLO).date()


def prikk_out(row: Prikk, counted: bool | None = None) -> PrikkOut:
    return PrikkOut(
        id=row.id,
        kommune=row.kommune,
        bevilling_id=row.bevilling_id,
        kontroll_id=row.kontroll_id,
        code=row.code,
        points=row.points,
        violation_date=row.violation_date,
        status=row.status,
        status_note=row.status_note,
        reason=row.reason,
        version=row.version,
        etag=etag(row.version),
        counted=counted,
    )


def visible_bevilling(
    session: Session, principal: Principal, bevilling_id: int, lock: bool = False
) -> Bevilling:
    """The bevilling, or 404 when it does not exist or belongs to a kommune the caller cannot see."""
    query = select(Bevilling).where(Bevilling.id == bevilling_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None or not principal.may_see(row.kommune):
        raise not_found("bevilling", bevilling_id)
    return row


def period_start(bevilling: Bevilling, on: date) -> date | None:
    """The start of the holder's own period as of ``on``: the overdragelse, once it has happened."""
    start = bevilling.overdratt_on
    return start if start is not None and on >= start else None


def holder_on(bevilling: Bevilling, on: date) -> tuple[str, str | None]:
    """(holder, orgnr) of the bevilling on ``on``: the new holder from the overdragelse date."""
    if period_start(bevilling, on) is not None:
        transfer = (bevilling.vedtak or {}).get("overdragelse") or {}
        if transfer.get("new_holder"):
            return str(transfer["new_holder"]), transfer.get("new_orgnr")
    return bevilling.holder, bevilling.orgnr


def summarise(
    session: Session, book: RuleBook, evaluator: Evaluator, bevilling: Bevilling, on: date
) -> tuple[PrikkSummary, list[Prikk], set[int]]:
    """The bevilling's points as of ``on``: (summary, every prikk, ids of the counted ones)."""
    rows = list(
        session.scalars(
            select(Prikk).where(Prikk.bevilling_id == bevilling.id).order_by(Prikk.violation_date, Prikk.id)
        )
    )
    eligible = [p for p in rows if p.status in COUNTED_STATUSES]
    proposal = prikker.propose_inndragning(
        book,
        evaluator,
        bevilling.kommune,
        on,
        [prikker.Entry(date=p.violation_date, points=p.points) for p in eligible],
        overdragelse=period_start(bevilling, on),
    )
    counted = _counted_rows(eligible, proposal)
    block = _inndragning(book, bevilling, on, proposal, counted) if proposal.days > 0 else None
    summary = PrikkSummary(
        bevilling_id=bevilling.id,
        as_of=on,
        period_start=period_start(bevilling, on),
        total=proposal.total,
        threshold=proposal.threshold,
        counted=[p.id for p in counted],
        proposal=proposal,
        inndragning=block,
    )
    return summary, rows, {p.id for p in counted}


def _counted_rows(eligible: Sequence[Prikk], proposal: prikker.InndragningProposal) -> list[Prikk]:
    # The domain counts every eligible entry of one period, so the rows dated from its first
    # to its last counted entry are exactly the counted ones.
    if not proposal.counted:
        return []
    first = min(e.date for e in proposal.counted)
    last = max(e.date for e in proposal.counted)
    return [p for p in eligible if first <= p.violation_date <= last]


def _inndragning(
    book: RuleBook,
    bevilling: Bevilling,
    on: date,
    proposal: prikker.InndragningProposal,
    counted: list[Prikk],
) -> InndragningBlock:
    violations = [
        prikker.Violation(
            date=p.violation_date,
            code=p.code,
            points=p.points,
            text=str(p.reason.get("text", p.code)),
            hjemmel=str(p.reason.get("hjemmel", "")),
        )
        for p in counted
    ]
    name = rules_for(book, bevilling.kommune, on).name
    text = prikker.forhandsvarsel(
        proposal,
        kommune_name=f"{name} kommune",
        holder=holder_on(bevilling, on)[0],
        place_name=bevilling.place_name,
        licence=Licence(bevilling.licence),
        violations=violations,
    )
    return InndragningBlock(days=proposal.days, violations=violations, forhandsvarsel=text)


@router.get("/bevillinger/{bevilling_id}/prikker", response_model=PrikkLedger)
def ledger(
    bevilling_id: IdPath,
    principal: AnyStaff,
    uow: UowDep,
    book: BookDep,
    evaluator: EvaluatorDep,
    dato: Annotated[IsoDate | None, Query(description="as of (default today)")] = None,
) -> PrikkLedger:
    """Every prikk of the bevilling with its status, the two-year total as of ``dato``
    (alkoholforskriften § 10-2) and, from 12 points, the inndragning proposal with a
    drafted forhåndsvarsel."""
    bevilling = visible_bevilling(uow.session, principal, bevilling_id)
    summary, rows, counted = summarise(uow.session, book, evaluator, bevilling, dato or today())
    return PrikkLedger(**dict(summary), prikker=[prikk_out(p, counted=p.id in counted) for p in rows])


def _visible_prikk(uow: UowDep, principal: Principal, prikk_id: int) -> Prikk:
    row = uow.session.get(Prikk, prikk_id)
    if row is None or not principal.may_see(row.kommune):
        raise not_found("prikk", prikk_id)
    return row


@router.get("/prikker/{prikk_id}", response_model=PrikkOut)
def get_prikk(prikk_id: IdPath, principal: AnyStaff, uow: UowDep, response: Response) -> PrikkOut:
    row = _visible_prikk(uow, principal, prikk_id)
    response.headers["ETag"] = etag(row.version)
    return prikk_out(row)


def _state(row: Prikk) -> dict[str, object]:
    return {"status": row.status, "status_note": row.status_note, "version": row.version}


@router.patch(
    "/prikker/{prikk_id}",
    response_model=PrikkOut,
    responses={409: problem_response("the status cannot change that way (problems/status-transition)")},
)
def change_status(
    prikk_id: IdPath,
    change: PrikkStatusChange,
    principal: Saksbehandler,
    uow: UowDep,
    request: Request,
    response: Response,
) -> PrikkOut | JSONResponse:
    """foreslatt → vedtatt | paklaget | opphevet; vedtatt → paklaget | opphevet; paklaget → vedtatt | opphevet."""
    row = _visible_prikk(uow, principal, prikk_id)
    check_if_match(request, row.version)
    current = PrikkStatus(row.status)
    allowed = TRANSITIONS[current]
    if change.status not in allowed:
        names = ", ".join(f"{current.value} → {s.value}" for s in allowed) or "none (it is final)"
        return problem(
            409,
            "status-transition",
            "Status change not allowed",
            f"a prikk that is {current.value} cannot become {change.status.value}; allowed: {names}",
            allowed=[s.value for s in allowed],
            errors=[{"pointer": "/status", "detail": f"allowed from {current.value}: {names}"}],
        )
    before = _state(row)
    row.status = change.status.value
    if change.status_note is not None:
        row.status_note = change.status_note
    uow.session.flush()
    uow.audit(principal.username, row.kommune, "status", "prikk", row.id, before=before, after=_state(row))
    uow.commit()
    response.headers["ETag"] = etag(row.version)
    return prikk_out(row)


@router.get("/kommuner/{kommune}/prikker/offentlig", response_model=PublicPrikkList)
def public_list(
    kommune: str,
    uow: UowDep,
    book: BookDep,
    fra: Annotated[IsoDate | None, Query(description="violations from this date")] = None,
    til: Annotated[IsoDate | None, Query(description="violations up to this date")] = None,
) -> PublicPrikkList | JSONResponse:
    """Which venues received (decided) prikker and why: public information (alkoholforskriften
    kapittel 10). Only prikker with status ``vedtatt``; no kontrollør names, no observations."""
    if fra is not None and til is not None and til < fra:
        detail = f"til ({til}) is before fra ({fra})"
        return problem(
            422,
            "invalid-input",
            "Invalid input",
            detail,
            errors=[{"pointer": "/til", "in": "query", "detail": detail}],
        )
    slug = kommune_slug(book, kommune)
    query = (
        select(Prikk, Bevilling)
        .join(Bevilling, Bevilling.id == Prikk.bevilling_id)
        .where(Prikk.kommune == slug, Prikk.status == PrikkStatus.VEDTATT.value)
        .order_by(Prikk.violation_date.desc(), Prikk.id)
    )
    if fra is not None:
        query = query.where(Prikk.violation_date >= fra)
    if til is not None:
        query = query.where(Prikk.violation_date <= til)
    rows = uow.session.execute(query).all()
    return PublicPrikkList(
        kommune=slug,
        name=rules_for(book, slug, today()).name,
        generated_at=datetime.now(UTC).astimezone(OSLO),
        prikker=[_published(p, b) for p, b in rows],
    )


def _published(row: Prikk, bevilling: Bevilling) -> PublicPrikk:
    # Only a registered entity is named: a holder without orgnr may be a private person.
    holder, orgnr = holder_on(bevilling, row.violation_date)
    return PublicPrikk(
        place_name=bevilling.place_name,
        holder=holder if orgnr else None,
        orgnr=orgnr or None,
        date=row.violation_date,
        code=row.code,
        text=str(row.reason.get("text", row.code)),
        hjemmel=str(row.reason.get("hjemmel", "")),
        points=row.points,
    )
