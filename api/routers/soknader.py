"""Søknader om salgs- og skjenkebevilling: filing, høring and vedtak (alkoholloven §§ 1-6, 1-7).

The engine proposes, the case officer decides. ``POST /soknader`` runs
``application.assess`` as of the day the søknad was received and stores the proposal
with the ruleset version it ran under, plus one høring per body the rules name.
``POST /soknader/{id}/vedtak`` turns the proposal into a decision: ``accept`` grants what
was proposed, ``change`` grants the officer's own groups/areas/hours (checked with
``application.reassess``: never beyond the rules), ``refuse`` grants nothing. A grant
becomes a ``Bevilling`` that runs to the end of the bevillingsperiode
(``application.period_end``, alkoholloven § 1-6). Routes parse, call ``bevilling``, store
and answer; no rule lives here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from api.deps import BookDep, EvaluatorDep, kommune_slug
from api.schemas.bevillinger import BevillingOut, VedtakOut
from api.schemas.soknader import (
    ConditionIn,
    ConditionOut,
    Decision,
    HoringOut,
    HoringPatch,
    HoursIn,
    SoknadIn,
    SoknadOut,
    SoknadStatus,
    VedtakIn,
)
from api.security import Principal, Saksbehandler, ensure_kommune, not_found
from api.uow import IdempotencyKey, UowDep, check_if_match, etag, idempotent_post
from bevilling.decisions import application
from bevilling.decisions.application import Assessment, Granted, GrantedHours, Outcome
from bevilling.decisions.common import BadFactValue, DecisionError, RulesUnavailable, UnknownFact
from bevilling.decisions.hours import sales_window, serving_window
from bevilling.engine.evaluator import Evaluator
from bevilling.rules.book import RuleBook, UnknownKommune
from bevilling.rules.model import Area, HearingBody, Licence
from db.models import Bevilling, Horing, Soknad

router = APIRouter(prefix="/soknader", tags=["søknader"])

RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=2**31)]


# --- shared by the søknad and bevilling routes ---------------------------------------------


def invalid(*issues: tuple[Sequence[str | int], str]) -> RequestValidationError:
    """A 422 problem naming each bad body field by its JSON pointer (``api/errors.py``)."""
    return RequestValidationError(
        [{"loc": ("body", *where), "msg": message, "type": "value_error"} for where, message in issues]
    )


def kommune_in_body(book: RuleBook, principal: Principal, key: str) -> str:
    """A kommune named in the body: unknown is 422 at ``/kommune``, another's is 403."""
    try:
        slug = book.slug_of(key)
    except UnknownKommune as error:
        raise invalid((["kommune"], str(error))) from None
    if slug not in {k.slug for k in book.kommuner()}:
        raise invalid((["kommune"], f"'{key}' is not a kommune"))
    ensure_kommune(principal, slug)
    return slug


def kommuner_asked(book: RuleBook, principal: Principal, kommune: str | None) -> list[str]:
    """The kommuner a list covers: the one asked for (403 if not yours) or all of yours."""
    if kommune is None:
        return sorted(principal.kommuner)
    slug = kommune_slug(book, kommune)
    ensure_kommune(principal, slug)
    return [slug]


def with_headers(response: JSONResponse, location: str | None = None) -> JSONResponse:
    """ETag (and Location) from the answer's ``version``/``id``: also on an idempotent replay."""
    if response.status_code < 300:
        payload = json.loads(bytes(response.body))
        if isinstance(payload, dict) and "version" in payload:
            response.headers["ETag"] = etag(payload["version"])
            if location is not None:
                response.headers["Location"] = f"{location}/{payload['id']}"
    return response


def answer(model: BaseModel, version: int, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable_encoder(model), status_code=status, headers={"ETag": etag(version)})


def now() -> datetime:
    return datetime.now(UTC)


# --- søknad records ------------------------------------------------------------------------


def _bevilling_ids(session: Session, soknad_ids: list[int]) -> dict[int, int]:
    if not soknad_ids:
        return {}
    rows = session.execute(
        select(Bevilling.soknad_id, Bevilling.id).where(Bevilling.soknad_id.in_(soknad_ids))
    )
    return {soknad_id: bevilling_id for soknad_id, bevilling_id in rows if soknad_id is not None}


def soknad_out(soknad: Soknad, bevilling_id: int | None) -> SoknadOut:
    stored = dict(soknad.request)
    vedtak = stored.pop("vedtak", None)
    return SoknadOut(
        id=soknad.id,
        kommune=soknad.kommune,
        licence=Licence(soknad.licence),
        applicant=soknad.applicant,
        orgnr=soknad.orgnr,
        place_name=soknad.place_name,
        address=soknad.address,
        received_on=soknad.received_on,
        status=soknad.status,
        application=stored,
        proposal=Assessment.model_validate(soknad.assessment),
        horinger=[HoringOut.model_validate(h, from_attributes=True) for h in soknad.horinger],
        vedtak=vedtak,
        bevilling_id=bevilling_id,
        ruleset_version=soknad.ruleset_version,
        created_by=soknad.created_by,
        created_at=soknad.created_at,
        version=soknad.version,
    )


def _visible(session: Session, principal: Principal, soknad_id: int) -> Soknad:
    soknad = session.get(Soknad, soknad_id)
    if soknad is None or not principal.may_see(soknad.kommune):
        raise not_found("søknad", soknad_id)
    return soknad


def _assess(book: RuleBook, evaluator: Evaluator, slug: str, body: SoknadIn) -> Assessment:
    request = application.Application.model_validate(
        {
            **body.model_dump(
                exclude={"kommune", "applicant", "orgnr", "place_name", "address", "received_on"}
            ),
            "kommune": slug,
            "decided_on": body.received_on,
        }
    )
    try:
        return application.assess(book, evaluator, request)
    except (UnknownFact, BadFactValue) as error:  # the domain names the fact, not its place in the body
        raise type(error)(str(error), field=f"facts/{error.field}") from None
    except RulesUnavailable as error:
        raise invalid((["received_on"], str(error))) from None


@router.post("", status_code=201, response_model=SoknadOut)
def create_soknad(
    body: SoknadIn,
    principal: Saksbehandler,
    uow: UowDep,
    book: BookDep,
    evaluator: EvaluatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """File a søknad: the engine's proposal (outcome, groups, areas, refusals, what to
    document, vilkår, høringer, points of discretion, hours, reasons with sources)."""
    slug = kommune_in_body(book, principal, body.kommune)

    def work() -> tuple[int, Any]:
        assessment = _assess(book, evaluator, slug, body)
        soknad = Soknad(
            kommune=slug,
            licence=body.licence.value,
            applicant=body.applicant,
            orgnr=body.orgnr,
            place_name=body.place_name,
            address=body.address,
            request=body.model_dump(
                mode="json",
                exclude={"kommune", "licence", "applicant", "orgnr", "place_name", "address", "received_on"},
            ),
            received_on=body.received_on,
            status=SoknadStatus.MOTTATT.value,
            assessment=assessment.model_dump(mode="json"),
            ruleset_version=assessment.ruleset.version,
            created_by=principal.username,
        )
        soknad.horinger = [Horing(body=h.body.value, required=h.required) for h in assessment.hearings]
        uow.session.add(soknad)
        uow.session.flush()
        out = soknad_out(soknad, None)
        uow.audit(principal.username, slug, "create", "soknad", soknad.id, after=out)
        return 201, out

    response = idempotent_post(uow, principal.username, key, body.model_dump(mode="json"), work)
    return with_headers(response, location="/soknader")


@router.get("", response_model=list[SoknadOut])
def list_soknader(
    principal: Saksbehandler,
    uow: UowDep,
    book: BookDep,
    kommune: Annotated[str | None, Query(description="kommunenummer or slug; default all of yours")] = None,
    status: SoknadStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[SoknadOut]:
    """The søknader of a kommune (saksbehandler and admin; a kontrollør has no need to)."""
    query = select(Soknad).where(Soknad.kommune.in_(kommuner_asked(book, principal, kommune)))
    if status is not None:
        query = query.where(Soknad.status == status.value)
    rows = list(uow.session.scalars(query.order_by(Soknad.id).limit(limit).offset(offset)))
    granted = _bevilling_ids(uow.session, [s.id for s in rows])
    return [soknad_out(s, granted.get(s.id)) for s in rows]


@router.get("/{soknad_id}", response_model=SoknadOut)
def get_soknad(soknad_id: RecordId, principal: Saksbehandler, uow: UowDep) -> JSONResponse:
    soknad = _visible(uow.session, principal, soknad_id)
    out = soknad_out(soknad, _bevilling_ids(uow.session, [soknad.id]).get(soknad.id))
    return answer(out, soknad.version)


@router.patch("/{soknad_id}/horinger/{body}", response_model=SoknadOut)
def record_hearing(
    soknad_id: RecordId,
    body: HearingBody,
    changes: HoringPatch,
    request: Request,
    principal: Saksbehandler,
    uow: UowDep,
) -> JSONResponse:
    """Record when a høringsinstans (alkoholloven § 1-7) was asked and what it answered.

    If-Match is the søknad's ETag: the hearings are part of the søknad, and recording one
    gives the søknad a new ETag."""
    soknad = _visible(uow.session, principal, soknad_id)
    check_if_match(request, soknad.version)
    if soknad.status != SoknadStatus.MOTTATT.value:
        raise HTTPException(409, f"søknad {soknad_id} is already decided ({soknad.status})")
    horing = next((h for h in soknad.horinger if h.body == body.value), None)
    if horing is None:
        raise not_found("høring", f"'{body.value}' of søknad {soknad_id}")
    before = HoringOut.model_validate(horing, from_attributes=True)
    after = before.model_copy(update=changes.model_dump(exclude_unset=True))
    if after.sent_on and after.answered_on and after.answered_on < after.sent_on:
        raise invalid((["answered_on"], f"answered {after.answered_on}, before it was sent {after.sent_on}"))
    for field in changes.model_fields_set:
        setattr(horing, field, getattr(after, field))
    flag_modified(soknad, "request")  # a new version (ETag) of the søknad
    uow.session.flush()
    uow.audit(principal.username, soknad.kommune, "update", "horing", horing.id, before=before, after=after)
    out = soknad_out(soknad, None)
    uow.commit()
    return answer(out, out.version)


# --- vedtak --------------------------------------------------------------------------------


def _rule_hours(
    book: RuleBook,
    evaluator: Evaluator,
    soknad: Soknad,
    pairs: list[tuple[int, Area]],
    windows_on: date,
    valid_from: date,
) -> list[GrantedHours]:
    """The rules' own windows on the assessment's date as granted hours, one per group and
    area, kept only where they hold on every kind of day from ``valid_from`` (``reassess``);
    a pair without them follows the kommune's hours as they stand (e.g. a salgsbevilling,
    whose weekday window is longer than Saturday's)."""
    stored = soknad.request
    found: list[GrantedHours] = []
    for group, area in pairs:
        if soknad.licence == Licence.SALG.value:
            window = sales_window(
                book, evaluator, soknad.kommune, windows_on, group=group, outlet=stored["venue"]
            )
        else:
            window = serving_window(
                book,
                evaluator,
                soknad.kommune,
                windows_on,
                group=group,
                area=area,
                venue=stored["venue"],
                zone=stored.get("zone"),
                facts=stored.get("facts") or {},
            )
        if window.from_ is not None and window.to is not None:
            found.append(
                GrantedHours.model_validate(
                    {"group": group, "area": area, "from": window.from_, "to": window.to}
                )
            )
    if not _hours_breaches(book, evaluator, soknad, valid_from, found):
        return found
    return [h for h in found if not _hours_breaches(book, evaluator, soknad, valid_from, [h])]


def _granted(
    soknad: Soknad, groups: Sequence[int], areas: Sequence[Area], hours: Sequence[GrantedHours]
) -> Granted:
    return Granted.model_validate(
        {
            "licence": soknad.licence,
            "venue": soknad.request["venue"],
            "zone": soknad.request.get("zone"),
            "groups": groups,
            "areas": areas,
            "hours": [h.model_dump(by_alias=True) for h in hours],
        }
    )


def _hours_breaches(
    book: RuleBook, evaluator: Evaluator, soknad: Soknad, on: date, hours: list[GrantedHours]
) -> list[application.Breach]:
    if not hours:
        return []
    groups = sorted({h.group for h in hours})
    areas = sorted({h.area for h in hours})
    granted = _granted(soknad, groups, areas, hours)
    return [
        b for b in application.reassess(book, evaluator, soknad.kommune, on, granted) if b.what == "hours"
    ]


def _changed_grant(
    book: RuleBook, evaluator: Evaluator, soknad: Soknad, proposal: Assessment, vedtak: VedtakIn, on: date
) -> tuple[list[int], list[Area], list[GrantedHours]]:
    """The officer's groups/areas/hours: within the søknad and within the rules as of ``on``."""
    applied_groups = set(soknad.request["groups"])
    applied_areas = {Area(a) for a in soknad.request["areas"]}
    groups = sorted(vedtak.groups or proposal.granted_groups)
    areas = list(vedtak.areas or proposal.granted_areas)
    issues: list[tuple[Sequence[str | int], str]] = []
    if not groups:
        issues.append((["groups"], "the proposal grants no group: give the groups to grant"))
    if not areas:
        issues.append((["areas"], "the proposal grants no area: give the areas to grant"))
    issues += [(["groups"], f"gruppe {g} was not applied for") for g in groups if g not in applied_groups]
    issues += [(["areas"], f"{a.value} was not applied for") for a in areas if a not in applied_areas]
    given: list[GrantedHours] = []
    seen: set[tuple[int, Area]] = set()
    for index, asked in enumerate(vedtak.hours or []):
        pair = (asked.group, asked.area)
        if asked.group not in groups or asked.area not in areas:
            issues.append((["hours", index], f"gruppe {asked.group} {asked.area.value} is not granted"))
        elif pair in seen:
            issues.append((["hours", index], f"gruppe {asked.group} {asked.area.value} is given twice"))
        seen.add(pair)
        given.append(_granted_hours(asked))
    if issues:
        raise invalid(*issues)
    breaches = application.reassess(book, evaluator, soknad.kommune, on, _granted(soknad, groups, areas, []))
    issues += [
        (
            ["groups" if b.what == "groups" else "decision"],
            f"{b.detail} ({b.reason.source}; {b.reason.rule_id})",
        )
        for b in breaches
    ]
    for index, hours in enumerate(given):
        issues += [
            (["hours", index], f"{b.detail} ({b.reason.source}; {b.reason.rule_id})")
            for b in _hours_breaches(book, evaluator, soknad, on, [hours])
        ]
    if issues:
        raise invalid(*issues)
    rest = [(g, a) for a in areas for g in groups if (g, a) not in seen]
    return groups, areas, given + _rule_hours(book, evaluator, soknad, rest, proposal.ruleset.as_of, on)


def _granted_hours(hours: HoursIn) -> GrantedHours:
    return GrantedHours.model_validate(hours.model_dump(by_alias=True))


def _conditions(proposal: Assessment, given: list[ConditionIn]) -> list[dict[str, Any]]:
    """The vilkår the rules require (not the discretionary ones: the officer gives those)
    plus the officer's own."""
    from_rules = [
        ConditionOut(
            condition=c.condition,
            text=c.text,
            from_=c.from_,
            to=c.to,
            age=c.age,
            discretionary=False,
            set_by="regel",
            reason=c.reason,
        )
        for c in proposal.conditions
        if not c.discretionary
    ]
    return [c.model_dump(mode="json", by_alias=True) for c in [*from_rules, *officer_conditions(given)]]


def officer_conditions(given: list[ConditionIn]) -> list[ConditionOut]:
    return [
        ConditionOut(
            condition=c.condition,
            text=c.text,
            from_=c.from_,
            to=c.to,
            age=c.age,
            discretionary=True,
            set_by="saksbehandler",
        )
        for c in given
    ]


def _period(book: RuleBook, soknad: Soknad, vedtak: VedtakIn) -> tuple[date, date]:
    assert vedtak.valid_from is not None
    try:
        end = application.period_end(book, soknad.kommune, vedtak.valid_from)
    except DecisionError as error:
        raise invalid((["valid_from"], str(error))) from None
    valid_to = vedtak.valid_to or end
    if valid_to > end:
        raise invalid((["valid_to"], f"the bevillingsperiode ends {end} (alkoholloven § 1-6)"))
    if valid_to < vedtak.valid_from:
        raise invalid((["valid_to"], f"ends before valid_from {vedtak.valid_from}"))
    return vedtak.valid_from, valid_to


@router.post(
    "/{soknad_id}/vedtak",
    status_code=201,
    response_model=VedtakOut,
    responses={200: {"model": VedtakOut, "description": "refused: no bevilling is granted"}},
)
def decide(
    soknad_id: RecordId,
    vedtak: VedtakIn,
    request: Request,
    principal: Saksbehandler,
    uow: UowDep,
    book: BookDep,
    evaluator: EvaluatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """The vedtak on a søknad (If-Match: the søknad's ETag). 201 with the new bevilling for
    accept/change, 200 for a refusal. Required høringer must be answered first."""

    def work() -> tuple[int, Any]:
        session = uow.session
        soknad = _visible(session, principal, soknad_id)
        check_if_match(request, soknad.version)
        if soknad.status != SoknadStatus.MOTTATT.value:
            raise HTTPException(409, f"søknad {soknad_id} is already decided ({soknad.status})")
        missing = [h.body for h in soknad.horinger if h.required and h.answered_on is None]
        if missing:
            raise HTTPException(
                409, f"required høringer are not answered: {', '.join(missing)} (alkoholloven § 1-7)"
            )
        proposal = Assessment.model_validate(soknad.assessment)
        if vedtak.decision is Decision.ACCEPT and proposal.outcome is Outcome.AVSLAS:
            raise HTTPException(409, "cannot accept a proposal to refuse; use change with a reason")
        if vedtak.decision is not Decision.REFUSE and proposal.binding_refusals:
            grounds = "; ".join(f"{r.text} ({r.hjemmel})" for r in proposal.binding_refusals)
            raise HTTPException(409, f"the law requires refusal, whatever the kommune's discretion: {grounds}")
        record: dict[str, Any] = {
            "decision": vedtak.decision.value,
            "reason": vedtak.reason,
            "decided_by": principal.username,
            "decided_at": now().isoformat(),
            "soknad_id": soknad.id,
            "proposal_outcome": proposal.outcome.value,
            "ruleset_version": soknad.ruleset_version,
            "ruleset": proposal.ruleset.model_dump(mode="json"),
        }
        before = {"status": soknad.status, "version": soknad.version}
        bevilling: Bevilling | None = None
        if vedtak.decision is Decision.REFUSE:
            soknad.status = SoknadStatus.AVSLATT.value
        else:
            assert vedtak.styrer is not None and vedtak.stedfortreder is not None
            valid_from, valid_to = _period(book, soknad, vedtak)
            if vedtak.decision is Decision.ACCEPT:
                groups, areas = proposal.granted_groups, proposal.granted_areas
                pairs = [(g, a) for a in areas for g in groups]
                hours = _rule_hours(book, evaluator, soknad, pairs, proposal.ruleset.as_of, valid_from)
            else:
                groups, areas, hours = _changed_grant(book, evaluator, soknad, proposal, vedtak, valid_from)
            bevilling = Bevilling(
                kommune=soknad.kommune,
                soknad_id=soknad.id,
                licence=soknad.licence,
                holder=vedtak.holder or soknad.applicant,
                orgnr=soknad.orgnr,
                place_name=soknad.place_name,
                address=soknad.address,
                venue=soknad.request["venue"],
                zone=soknad.request.get("zone"),
                styrer=vedtak.styrer,
                stedfortreder=vedtak.stedfortreder,
                groups=list(groups),
                areas=[a.value for a in areas],
                hours=[h.model_dump(mode="json", by_alias=True) for h in hours],
                conditions=_conditions(proposal, vedtak.conditions),
                valid_from=valid_from,
                valid_to=valid_to,
                status="aktiv",
                vedtak=record,
            )
            session.add(bevilling)
            session.flush()
            record = {**record, "bevilling_id": bevilling.id}
            soknad.status = SoknadStatus.VEDTATT.value
        soknad.request = {**soknad.request, "vedtak": record}
        session.flush()
        uow.audit(
            principal.username,
            soknad.kommune,
            "vedtak",
            "soknad",
            soknad.id,
            before=before,
            after={"status": soknad.status, "version": soknad.version, "vedtak": record},
        )
        granted = BevillingOut.of(bevilling) if bevilling is not None else None
        if bevilling is not None:
            uow.audit(principal.username, soknad.kommune, "create", "bevilling", bevilling.id, after=granted)
        out = VedtakOut(
            decision=vedtak.decision.value,
            soknad=soknad_out(soknad, bevilling.id if bevilling is not None else None),
            bevilling=granted,
        )
        return (201 if bevilling is not None else 200), out

    body = {"soknad_id": soknad_id, "vedtak": vedtak.model_dump(mode="json", by_alias=True)}
    response = idempotent_post(uow, principal.username, key, body, work)
    if response.status_code == 201:
        created = json.loads(bytes(response.body))["bevilling"]
        response.headers["Location"] = f"/bevillinger/{created['id']}"
        response.headers["ETag"] = etag(created["version"])
    return response
