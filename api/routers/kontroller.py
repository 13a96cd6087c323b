"""Kontroller (alkoholforskriften kapittel 9) and the prikker they propose (kapittel 10).

Storing a control runs ``bevilling.decisions.prikker.assess_control`` on its violation codes
and stores, in one transaction with their audit entries, the control (the assessment as
JSON, with its ruleset version) and one ``foreslatt`` prikk per distinct code, dated on the
control's date in Europe/Oslo (likeartede brudd at one control count once, § 10-2). A
bevilling for en enkelt anledning or an ambulerende bevilling gets no prikker; the stored
assessment says why (§ 10-1).

Controls of one bevilling are serialised on its row (SELECT ... FOR UPDATE on PostgreSQL;
SQLite takes its write lock at BEGIN), so the total each answer shows includes every
control committed before it.

The rule of § 9-5 (two kontrollører at a skjenkested) is checked in
``api.schemas.kontroller``: the rule files have no kind for it yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import BookDep, EvaluatorDep, kommune_slug
from api.errors import problem_response
from api.routers.prikker import prikk_out, summarise, visible_bevilling
from api.schemas.kontroller import KontrollCreated, KontrollIn, KontrollOut
from api.schemas.prikker import MAX_ID, PrikkStatus
from api.security import AnyStaff, ensure_kommune, not_found
from api.uow import IdempotencyKey, UnitOfWork, UowDep, idempotent_post
from bevilling.calendar import OSLO
from bevilling.decisions import prikker
from bevilling.decisions.common import UnknownCode, rules_for
from bevilling.engine.evaluator import Evaluator
from bevilling.rules.book import RuleBook
from bevilling.rules.model import Licence, PrikkRule
from db.models import Bevilling, Kontroll, Prikk

router = APIRouter(prefix="/kontroller", tags=["kontroll og prikker"])

# Which control a licence gets: a salgsbevilling a salgskontroll, every kind of
# skjenkebevilling a skjenkekontroll (so § 9-5 cannot be avoided by naming the wrong kind).
CONTROL_KIND = {
    Licence.SALG: "salg",
    Licence.SKJENKING: "skjenking",
    Licence.ENKELTANLEDNING: "skjenking",
    Licence.AMBULERENDE: "skjenking",
}


def _invalid(field: str, detail: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": detail, "type": "value_error"}])


def _aware(moment: datetime) -> datetime:
    # SQLite keeps no offset: what is stored there is UTC (see _store).
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(OSLO)


def kontroll_out(row: Kontroll, rows: Sequence[Prikk]) -> KontrollOut:
    return KontrollOut(
        id=row.id,
        kommune=row.kommune,
        bevilling_id=row.bevilling_id,
        at=_aware(row.at),
        kind=row.kind,
        place=row.place,
        kontrollorer=row.kontrollorer,
        observations=row.observations,
        violations=row.violations,
        assessment=row.assessment,
        ruleset_version=row.ruleset_version,
        created_by=row.created_by,
        created_at=_aware(row.created_at) if row.created_at is not None else None,
        prikker=[prikk_out(p) for p in rows],
    )


def _check_codes(book: RuleBook, bevilling: Bevilling, body: KontrollIn) -> None:
    """Name the first unknown code by its index (the domain names only the field)."""
    day = body.at.date()
    placed = rules_for(book, bevilling.kommune, day).of_kind(PrikkRule)
    known = {p.rule.code for p in placed if isinstance(p.rule, PrikkRule)}
    for index, code in enumerate(body.violations):
        if code not in known:
            raise UnknownCode(
                f"'{code}' is not a violation code of alkoholforskriften § 10-3", field=f"violations/{index}"
            )


def _store(
    uow: UnitOfWork, actor: str, book: RuleBook, evaluator: Evaluator, bevilling: Bevilling, body: KontrollIn
) -> KontrollCreated:
    session = uow.session
    day = body.at.date()  # the control's date in Europe/Oslo: the violation date of its prikker
    licence = Licence(bevilling.licence)
    if body.kind != CONTROL_KIND[licence]:
        raise _invalid(
            "kind", f"a {licence.value}bevilling is controlled by a {CONTROL_KIND[licence]} control"
        )
    if not bevilling.valid_from <= day <= bevilling.valid_to:
        raise _invalid(
            "at",
            f"bevilling {bevilling.id} was not in force on {day} "
            f"(valid {bevilling.valid_from} to {bevilling.valid_to})",
        )
    _check_codes(book, bevilling, body)
    assessment = prikker.assess_control(book, evaluator, bevilling.kommune, day, licence, body.violations)
    kontroll = Kontroll(
        kommune=bevilling.kommune,
        bevilling_id=bevilling.id,
        at=body.at.astimezone(UTC),
        kind=body.kind,
        place=body.place,
        kontrollorer=body.kontrollorer,
        observations=body.observations,
        violations=body.violations,
        assessment=assessment.model_dump(mode="json"),
        ruleset_version=assessment.ruleset.version,
        created_by=actor,
    )
    session.add(kontroll)
    session.flush()
    uow.audit(actor, kontroll.kommune, "create", "kontroll", kontroll.id, after=kontroll_out(kontroll, []))
    rows = [
        Prikk(
            kommune=bevilling.kommune,
            bevilling_id=bevilling.id,
            kontroll_id=kontroll.id,
            code=line.code,
            points=line.points,
            violation_date=day,
            status=PrikkStatus.FORESLATT.value,
            reason=line.reason.model_dump(mode="json"),
        )
        for line in assessment.lines
    ]
    session.add_all(rows)
    session.flush()
    for row in rows:
        uow.audit(actor, row.kommune, "create", "prikk", row.id, after=prikk_out(row))
    summary, _, _ = summarise(session, book, evaluator, bevilling, day)
    return KontrollCreated(**dict(kontroll_out(kontroll, rows)), bevilling=summary)


@router.post(
    "",
    status_code=201,
    response_model=KontrollCreated,
    responses={404: problem_response("no such bevilling in your kommuner")},
)
def create_kontroll(
    body: KontrollIn,
    principal: AnyStaff,
    uow: UowDep,
    book: BookDep,
    evaluator: EvaluatorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register a control and the prikker it proposes. The answer carries the bevilling's
    total as of the control date and, from 12 points, the inndragning proposal."""
    bevilling = visible_bevilling(uow.session, principal, body.bevilling_id, lock=True)
    return idempotent_post(
        uow,
        principal.username,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda: (201, _store(uow, principal.username, book, evaluator, bevilling, body)),
    )


def _with_prikker(session: Session, rows: Sequence[Kontroll]) -> list[KontrollOut]:
    by_kontroll: dict[int, list[Prikk]] = {row.id: [] for row in rows}
    if by_kontroll:
        for prikk in session.scalars(
            select(Prikk).where(Prikk.kontroll_id.in_(list(by_kontroll))).order_by(Prikk.id)
        ):
            by_kontroll[prikk.kontroll_id].append(prikk)
    return [kontroll_out(row, by_kontroll[row.id]) for row in rows]


@router.get("", response_model=list[KontrollOut])
def list_kontroller(
    principal: AnyStaff,
    uow: UowDep,
    book: BookDep,
    bevilling_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    kommune: Annotated[str | None, Query(max_length=60, description="kommunenummer or slug")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """Controls in the caller's kommuner, newest first."""
    query = select(Kontroll)
    if kommune is not None:
        slug = kommune_slug(book, kommune)
        ensure_kommune(principal, slug)
        query = query.where(Kontroll.kommune == slug)
    else:
        query = query.where(Kontroll.kommune.in_(sorted(principal.kommuner)))
    if bevilling_id is not None:
        visible_bevilling(uow.session, principal, bevilling_id)
        query = query.where(Kontroll.bevilling_id == bevilling_id)
    rows = list(
        uow.session.scalars(
            query.order_by(Kontroll.at.desc(), Kontroll.id.desc()).limit(limit).offset(offset)
        )
    )
    return _with_prikker(uow.session, rows)


@router.get("/{kontroll_id}", response_model=KontrollOut)
def get_kontroll(
    kontroll_id: Annotated[int, Path(ge=1, le=MAX_ID)], principal: AnyStaff, uow: UowDep
) -> KontrollOut:
    row = uow.session.get(Kontroll, kontroll_id)
    if row is None or not principal.may_see(row.kommune):
        raise not_found("kontroll", kontroll_id)
    return _with_prikker(uow.session, [row])[0]
