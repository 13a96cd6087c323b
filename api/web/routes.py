"""Server-rendered pages for inspectors and case officers (``/web``), in bokmål or nynorsk.

Every page calls the JSON API's own route functions and the domain functions they call;
nothing here decides a rule. Writes go through the same code as the JSON API: a control
through ``api.routers.kontroller.create_kontroll``, a vedtak through
``api.routers.soknader.decide``, a høring through ``record_hearing``, the gebyr run
through ``idempotent_post`` + ``run_gebyr_in`` (``api.web.jobs``). Each form carries an
idempotency key (controls, vedtak, gebyr run) and this session's CSRF token
(``api.web.auth``). Since the route functions are called directly, the role check
their dependencies would do is done here with ``ensure_role``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData

from api.deps import BookDep, EvaluatorDep, kommune_slug
from api.routers import bevillinger as bevilling_api
from api.routers import gebyr as gebyr_api
from api.routers import kommuner as kommune_api
from api.routers import kontroller as kontroll_api
from api.routers import prikker as prikk_api
from api.routers import soknader as soknad_api
from api.schemas.bevillinger import BevillingOut
from api.schemas.kontroller import KontrollIn, KontrollOut
from api.schemas.soknader import HoringPatch, SoknadOut, VedtakIn
from api.security import Principal, Role, ensure_kommune
from api.settings import Settings, get_settings
from api.uow import MAX_KEY_LENGTH, UowDep, etag
from api.web import jobs
from api.web.auth import (
    CheckedForm,
    LoginForm,
    OptionalUser,
    WebUser,
    end_session,
    ensure_role,
    new_login_csrf,
    principal_for,
    session_key,
    set_login_csrf,
    start_session,
)
from api.web.i18n import MONTHS, Labels, language_of
from api.web.render import STATIC, WebRoute, page
from api.web.views import calendar_year, day_chart, timeline, week_view
from bevilling.calendar import OSLO
from bevilling.decisions.application import Assessment
from bevilling.decisions.common import DecisionError, Reason, rules_for
from bevilling.rules.book import RuleBook
from bevilling.rules.model import Area, HearingBody, Licence, PrikkRule
from db.models import Bevilling, Kontroll, Soknad

router = APIRouter(include_in_schema=False, route_class=WebRoute)

STAFF = (Role.SAKSBEHANDLER, Role.KONTROLLOR)
LICENCE_LIMIT = 500
RULE_KIND_ORDER = (
    "salgstid", "salgstid_grense", "skjenketid", "skjenketid_grense", "hoyeste_gruppe", "avslag",
    "forutsetning", "vilkar", "skjonn", "horing", "prikk", "inndragning", "bevillingsperiode",
    "gebyrsats", "alkoholgruppe",
)  # fmt: skip


# --- helpers ----------------------------------------------------------------------------------


def today() -> date:
    return datetime.now(OSLO).date()


def kommune_lang(book: RuleBook, slug: str, on: date | None = None) -> str:
    try:
        return rules_for(book, slug, on or today()).language
    except DecisionError:
        return "nb"


def kommune_name(book: RuleBook, slug: str) -> str:
    try:
        return rules_for(book, slug, today()).name
    except DecisionError:
        return slug


def user_lang(book: RuleBook, user: Principal | None) -> str:
    if user is None or not user.kommuner:
        return "nb"
    return language_of(kommune_lang(book, k) for k in user.kommuner)


def user_kommuner(book: RuleBook, user: Principal) -> list[tuple[str, str]]:
    return sorted(((k, kommune_name(book, k)) for k in user.kommuner), key=lambda kn: kn[1])


def chosen_kommune(book: RuleBook, user: Principal, asked: str | None) -> str:
    if asked:
        slug = kommune_slug(book, asked)
        ensure_kommune(user, slug)
        return slug
    mine = user_kommuner(book, user)
    if not mine:
        raise HTTPException(403, "you have no kommune")
    return mine[0][0]


def new_key() -> str:
    return uuid.uuid4().hex


def form_key(form: FormData) -> str:
    key = str(form.get("idempotency_key", "")).strip()
    return key[:MAX_KEY_LENGTH] if key else new_key()


def json_body(response: Response) -> Any:
    return json.loads(bytes(response.body))


def if_match(version: int) -> Request:
    """A request carrying ``If-Match`` for the route functions that check it."""
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/",
            "query_string": b"",
            "headers": [(b"if-match", etag(version).encode())],
        }
    )


def field_errors(errors: Iterable[Any], prefix: str = "body") -> dict[str, str]:
    """``{"kontrollorer": "...", ...}`` from pydantic or FastAPI validation errors."""
    found: dict[str, str] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] in (prefix, "path", "query"):
            loc = loc[1:]
        name = loc[0] if loc else "_"
        message = str(error.get("msg", "invalid"))
        empty = "input" in error and error["input"] in (None, "", [])
        if empty or error.get("type") in ("missing", "string_too_short", "too_short"):
            message = "missing"
        found.setdefault(name, message.removeprefix("Value error, "))
    return found


def matches(query: str, *texts: str | None) -> bool:
    words = query.casefold().split()
    haystack = " ".join(t for t in texts if t).casefold()
    return all(w in haystack for w in words)


# --- frame, static files, login -----------------------------------------------------------------


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/web/", status_code=307)


@router.get("/web")
@router.get("/web/")
def home(user: OptionalUser) -> Response:
    if user is None:
        return RedirectResponse("/web/logg-inn", status_code=303)
    target = "/web/soknader" if user.role in (Role.SAKSBEHANDLER, Role.ADMIN) else "/web/kontroll"
    return RedirectResponse(target, status_code=303)


STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@router.get("/web/static/{name}")
def static(name: str) -> Response:
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file() or path.suffix not in STATIC_TYPES:
        raise HTTPException(404, "no such file")
    return FileResponse(
        path,
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/web") and not target.startswith("//"):
        return target
    return "/web/"


@router.get("/web/logg-inn")
def login_page(request: Request, user: OptionalUser, neste: str | None = None) -> Response:
    value = new_login_csrf()
    response = page(request, "login.html", None, login_csrf=value, neste=_safe_next(neste), failed=False)
    set_login_csrf(response, request, value)
    return response


@router.post("/web/logg-inn")
def login(request: Request, form: LoginForm, uow: UowDep) -> Response:
    token = str(form.get("token", "")).strip()
    target = _safe_next(str(form.get("neste", "")) or None)
    principal = principal_for(uow, token) if token and len(token) <= 500 else None
    if principal is None:
        value = new_login_csrf()
        failed = page(
            request, "login.html", None, status_code=401, login_csrf=value, neste=target, failed=True
        )
        set_login_csrf(failed, request, value)
        return failed
    response = RedirectResponse(target, status_code=303)
    start_session(response, request, token)
    return response


@router.post("/web/logg-ut")
def logout(request: Request, form: CheckedForm) -> Response:
    response = RedirectResponse("/web/logg-inn", status_code=303)
    end_session(response, request)
    return response


# --- the inspector's control form -----------------------------------------------------------------


def _prikk_rules(book: RuleBook, slug: str, on: date) -> list[dict[str, Any]]:
    """The violation codes of alkoholforskriften § 10-3 as the kommune's rules state them."""
    rules = rules_for(book, slug, on)
    found = [(p, p.rule) for p in rules.of_kind(PrikkRule) if isinstance(p.rule, PrikkRule)]
    return [
        {
            "code": rule.code,
            "points": rule.points,
            "text": rule.text,
            "hjemmel": rule.hjemmel,
            "source": placed.citation(),
        }
        for placed, rule in sorted(found, key=lambda pr: (-pr[1].points, pr[1].text))
    ]


def _last_kontrollorer(uow: UowDep, user: Principal) -> list[str]:
    last = uow.session.scalar(
        select(Kontroll)
        .where(Kontroll.created_by == user.username)
        .order_by(Kontroll.created_at.desc(), Kontroll.id.desc())
        .limit(1)
    )
    return [str(n) for n in last.kontrollorer] if last is not None else []


def _licences(uow: UowDep, book: RuleBook, user: Principal, slug: str) -> list[BevillingOut]:
    rows = bevilling_api.list_bevillinger(
        user, uow, book, kommune=slug, status=None, limit=LICENCE_LIMIT, offset=0
    )
    return sorted((b for b in rows if b.status != "opphort"), key=lambda b: b.place_name.casefold())


def _control_form(
    request: Request,
    user: Principal,
    uow: UowDep,
    book: RuleBook,
    slug: str,
    values: dict[str, Any],
    errors: dict[str, str],
    q: str = "",
    status_code: int = 200,
) -> Response:
    lang = kommune_lang(book, slug)
    licences = _licences(uow, book, user, slug)
    shown = [b for b in licences if matches(q, b.place_name, b.holder, b.address)] if q else licences
    chosen = values.get("bevilling_id")
    if chosen and all(str(b.id) != str(chosen) for b in shown):
        shown = [b for b in licences if str(b.id) == str(chosen)] + shown
    return page(
        request,
        "kontroll_form.html",
        user,
        lang=lang,
        status_code=status_code,
        kommune=slug,
        kommune_name=kommune_name(book, slug),
        kommuner=user_kommuner(book, user),
        licences=shown,
        licence_count=len(licences),
        q=q,
        kinds={b.id: kontroll_api.CONTROL_KIND[b.licence] for b in licences},
        violations=_prikk_rules(book, slug, today()),
        values=values,
        errors=errors,
        posted=status_code != 200,
    )


@router.get("/web/kontroll")
def control_form(
    request: Request,
    user: WebUser,
    uow: UowDep,
    book: BookDep,
    kommune: Annotated[str | None, Query(max_length=60)] = None,
    q: Annotated[str, Query(max_length=200)] = "",
    bevilling: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    ensure_role(user, *STAFF)
    kind = ""
    if bevilling is not None:
        row = prikk_api.visible_bevilling(uow.session, user, bevilling)
        kommune = row.kommune
        kind = kontroll_api.CONTROL_KIND[Licence(row.licence)]
    slug = chosen_kommune(book, user, kommune)
    names = _last_kontrollorer(uow, user)
    now = datetime.now(OSLO).replace(second=0, microsecond=0, tzinfo=None)
    values = {
        "bevilling_id": str(bevilling) if bevilling else "",
        "at": now.isoformat(timespec="minutes"),
        "kind": kind,
        "place": "",
        "kontrollor1": names[0] if names else "",
        "kontrollor2": names[1] if len(names) > 1 else "",
        "observations": "",
        "violations": [],
        "idempotency_key": new_key(),
    }
    return _control_form(request, user, uow, book, slug, values, {}, q=q)


def _control_values(form: FormData) -> dict[str, Any]:
    return {
        "bevilling_id": str(form.get("bevilling_id", "")).strip(),
        "at": str(form.get("at", "")).strip(),
        "kind": str(form.get("kind", "")).strip(),
        "place": str(form.get("place", "")).strip(),
        "kontrollor1": str(form.get("kontrollor1", "")).strip(),
        "kontrollor2": str(form.get("kontrollor2", "")).strip(),
        "observations": str(form.get("observations", "")),
        "violations": [str(v) for v in form.getlist("violations")],
        "idempotency_key": form_key(form),
    }


# The JSON API's messages are English; the ones an inspector meets most, in the page's language.
CONTROL_MESSAGES = (
    ("kontrollorer", "different kontrollører", "k.err.two"),
    ("kind", "is controlled by a", "k.err.kind"),
    ("at", "before it has taken place", "k.err.future"),
    ("at", "was not in force", "k.err.not_in_force"),
    ("at", "", "k.err.at"),
)


def _control_message(field: str, message: str, t: Labels) -> str:
    if message == "missing":
        return t("missing")
    for name, fragment, key in CONTROL_MESSAGES:
        if name == field and fragment in message:
            return t(key) if fragment else f"{t(key)} ({message})"
    return message


@router.post("/web/kontroll")
def record_control(
    request: Request, user: WebUser, form: CheckedForm, uow: UowDep, book: BookDep, evaluator: EvaluatorDep
) -> Response:
    ensure_role(user, *STAFF)
    slug = chosen_kommune(book, user, str(form.get("kommune", "")) or None)
    values = _control_values(form)
    t = Labels(kommune_lang(book, slug))
    if not values["kind"] and values["bevilling_id"].isdigit():
        # Without script the kind follows the licence, as the JSON API requires it to.
        chosen = uow.session.get(Bevilling, int(values["bevilling_id"]))
        if chosen is not None and user.may_see(chosen.kommune):
            values["kind"] = kontroll_api.CONTROL_KIND[Licence(chosen.licence)]
    kind = values["kind"]
    place = values["place"] or (t("k.place.salg") if kind == "salg" else t("k.place.skjenking"))
    body: dict[str, Any] = {
        "bevilling_id": values["bevilling_id"] or None,
        "at": values["at"] or None,
        "kind": kind or None,
        "place": place,
        "kontrollorer": [n for n in (values["kontrollor1"], values["kontrollor2"]) if n],
        "observations": values["observations"],
        "violations": values["violations"],
    }
    errors: dict[str, str] = {}
    try:
        kontroll = KontrollIn.model_validate(body)
        response = kontroll_api.create_kontroll(
            body=kontroll,
            principal=user,
            uow=uow,
            book=book,
            evaluator=evaluator,
            idempotency_key=values["idempotency_key"],
        )
    except ValidationError as error:
        errors = field_errors(error.errors(), prefix="")
    except RequestValidationError as error:
        errors = field_errors(error.errors())
    except DecisionError as error:
        errors = {(error.field or "_").split("/")[0]: str(error)}
    except HTTPException as error:
        if error.status_code == 404:
            errors = {"bevilling_id": "missing"}
        elif error.status_code == 422 and "Idempotency-Key" in str(error.detail):
            errors = {"_": t("k.used_key")}
        else:
            raise
    if errors:
        uow.session.rollback()
        errors = {k: _control_message(k, v, t) for k, v in errors.items()}
        return _control_form(request, user, uow, book, slug, values, errors, status_code=422)
    created = json_body(response)
    replayed = response.headers.get("Idempotent-Replayed") == "true"
    return RedirectResponse(
        f"/web/kontroller/{created['id']}?{'gjentatt' if replayed else 'ny'}=1", status_code=303
    )


@router.get("/web/kontroller/{kontroll_id}")
def control_receipt(
    request: Request,
    kontroll_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    user: WebUser,
    uow: UowDep,
    book: BookDep,
    evaluator: EvaluatorDep,
    ny: bool = False,
    gjentatt: bool = False,
) -> Response:
    ensure_role(user, *STAFF)
    kontroll: KontrollOut = kontroll_api.get_kontroll(kontroll_id, user, uow)
    bevilling = prikk_api.visible_bevilling(uow.session, user, kontroll.bevilling_id)
    summary, _, _ = prikk_api.summarise(uow.session, book, evaluator, bevilling, kontroll.at.date())
    return page(
        request,
        "kontroll_receipt.html",
        user,
        lang=kommune_lang(book, kontroll.kommune),
        kontroll=kontroll,
        bevilling=bevilling,
        summary=summary,
        new=ny,
        replayed=gjentatt,
    )


@router.get("/web/kontroller")
def control_list(
    request: Request,
    user: WebUser,
    uow: UowDep,
    book: BookDep,
    kommune: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    ensure_role(user, *STAFF)
    rows = kontroll_api.list_kontroller(
        user, uow, book, bevilling_id=None, kommune=kommune, limit=100, offset=0
    )
    places = _places(uow, [k.bevilling_id for k in rows])
    lang = kommune_lang(book, kommune_slug(book, kommune)) if kommune else user_lang(book, user)
    return page(request, "kontroll_list.html", user, lang=lang, kontroller=rows, places=places)


def _places(uow: UowDep, ids: Sequence[int]) -> dict[int, Bevilling]:
    if not ids:
        return {}
    return {b.id: b for b in uow.session.scalars(select(Bevilling).where(Bevilling.id.in_(set(ids))))}


# --- licences ----------------------------------------------------------------------------------------


@router.get("/web/bevillinger")
def licence_list(
    request: Request,
    user: WebUser,
    uow: UowDep,
    book: BookDep,
    kommune: Annotated[str | None, Query(max_length=60)] = None,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    ensure_role(user, *STAFF)
    slug = chosen_kommune(book, user, kommune)
    rows = bevilling_api.list_bevillinger(
        user, uow, book, kommune=slug, status=None, limit=LICENCE_LIMIT, offset=0
    )
    shown = [b for b in rows if matches(q, b.place_name, b.holder, b.address)] if q else list(rows)
    shown.sort(key=lambda b: (b.status != "aktiv", b.place_name.casefold()))
    return page(
        request,
        "bevilling_list.html",
        user,
        lang=kommune_lang(book, slug),
        kommune=slug,
        kommune_name=kommune_name(book, slug),
        kommuner=user_kommuner(book, user),
        licences=shown,
        q=q,
    )


@router.get("/web/bevillinger/{bevilling_id}")
def licence_page(
    request: Request,
    bevilling_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    user: WebUser,
    uow: UowDep,
    book: BookDep,
    evaluator: EvaluatorDep,
) -> Response:
    ensure_role(user, *STAFF)
    licence = BevillingOut.model_validate_json(
        bytes(bevilling_api.get_bevilling(bevilling_id, user, uow).body)
    )
    row = prikk_api.visible_bevilling(uow.session, user, bevilling_id)
    on = today()
    ledger = prikk_api.ledger(bevilling_id, user, uow, book, evaluator, dato=on)
    lang = kommune_lang(book, licence.kommune)
    t = Labels(lang)
    plot = timeline(
        ledger.prikker, lambda d: prikk_api.summarise(uow.session, book, evaluator, row, d)[0], on
    )
    soknad = uow.session.get(Soknad, licence.soknad_id) if licence.soknad_id else None
    facts = dict((soknad.request.get("facts") or {}) if soknad is not None else {})
    week, named = week_view(book, evaluator, licence, on, facts, t)
    serving = licence.licence is not Licence.SALG
    kontroller = kontroll_api.list_kontroller(
        user, uow, book, bevilling_id=bevilling_id, kommune=None, limit=100, offset=0
    )
    return page(
        request,
        "bevilling.html",
        user,
        lang=lang,
        licence=licence,
        kommune_name=kommune_name(book, licence.kommune),
        ledger=ledger,
        plot=plot,
        week=[(r, day_chart(r.tracks, serving)) for r in week],
        named=[(r, day_chart(r.tracks, serving)) for r in named],
        serving=serving,
        kontroller=kontroller,
        may_decide=user.role in (Role.SAKSBEHANDLER, Role.ADMIN),
    )


# --- applications and the vedtak ----------------------------------------------------------------------


@router.get("/web/soknader")
def application_list(
    request: Request,
    user: WebUser,
    uow: UowDep,
    book: BookDep,
    kommune: Annotated[str | None, Query(max_length=60)] = None,
    status: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    ensure_role(user, Role.SAKSBEHANDLER)
    slug = chosen_kommune(book, user, kommune)
    rows = soknad_api.list_soknader(user, uow, book, kommune=slug, status=None, limit=500, offset=0)
    shown = [s for s in rows if not status or s.status.value == status]
    shown.sort(key=lambda s: (s.status.value != "mottatt", -s.id))
    return page(
        request,
        "soknad_list.html",
        user,
        lang=kommune_lang(book, slug),
        kommune=slug,
        kommune_name=kommune_name(book, slug),
        kommuner=user_kommuner(book, user),
        soknader=shown,
        status=status,
        counts={s: sum(1 for r in rows if r.status.value == s) for s in ("mottatt", "vedtatt", "avslatt")},
    )


def _soknad(uow: UowDep, user: Principal, soknad_id: int) -> SoknadOut:
    return SoknadOut.model_validate_json(bytes(soknad_api.get_soknad(soknad_id, user, uow).body))


def _application_page(
    request: Request,
    user: Principal,
    uow: UowDep,
    book: RuleBook,
    soknad_id: int,
    vedtak_values: dict[str, Any] | None = None,
    vedtak_errors: dict[str, str] | None = None,
    horing_errors: dict[str, dict[str, str]] | None = None,
    horing_values: dict[str, dict[str, str]] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    soknad = _soknad(uow, user, soknad_id)
    proposal = soknad.proposal
    values = vedtak_values or {
        "decision": "accept" if proposal.outcome.value != "avslas" else "refuse",
        "reason": "",
        "holder": soknad.applicant,
        "styrer": "",
        "stedfortreder": "",
        "valid_from": (today() + timedelta(days=1)).isoformat(),
        "valid_to": "",
        "groups": [str(g) for g in proposal.granted_groups],
        "areas": [a.value for a in proposal.granted_areas],
        "conditions": "",
        "idempotency_key": new_key(),
    }
    return page(
        request,
        "soknad.html",
        user,
        lang=kommune_lang(book, soknad.kommune),
        status_code=status_code,
        soknad=soknad,
        proposal=proposal,
        kommune_name=kommune_name(book, soknad.kommune),
        values=values,
        errors=vedtak_errors or {},
        horing_errors=horing_errors or {},
        horing_values=horing_values or {},
        notice=notice,
        applied_groups=soknad.application.get("groups", []),
        applied_areas=soknad.application.get("areas", []),
        missing_horinger=[h.body.value for h in soknad.horinger if h.required and h.answered_on is None],
        all_reasons=_all_reasons(proposal),
        hours=_labelled_hours(proposal),
    )


def _all_reasons(proposal: Assessment) -> list[Reason]:
    """Every reason the proposal gives, once each: what decided, what limits, what to weigh."""
    found: dict[str, Reason] = {}
    groups: list[Iterable[Reason]] = [
        proposal.reasons,
        proposal.binding_refusals,
        proposal.refusals,
        proposal.to_document,
        (c.reason for c in proposal.conditions),
        (h.reason for h in proposal.hearings),
        proposal.discretion,
        (r for w in proposal.hours for r in w.reasons),
    ]
    for reasons in groups:
        for reason in reasons:
            found.setdefault(reason.rule_id, reason)
    return list(found.values())


def _labelled_hours(proposal: Assessment) -> list[tuple[str, Any]]:
    """The proposal's windows with their group and area (``application.assess`` lists them
    area by area, group by group)."""
    pairs: list[tuple[int, Area | None]]
    if proposal.licence is Licence.SALG:
        pairs = [(g, None) for g in proposal.granted_groups]
    else:
        pairs = [(g, a) for a in proposal.granted_areas for g in proposal.granted_groups]
    if len(pairs) != len(proposal.hours):
        return [("", w) for w in proposal.hours]
    return [
        (f"{g} {a.value}" if a is not None else str(g), w)
        for (g, a), w in zip(pairs, proposal.hours, strict=True)
    ]


@router.get("/web/soknader/{soknad_id}")
def application_page(
    request: Request,
    soknad_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    user: WebUser,
    uow: UowDep,
    book: BookDep,
    lagret: str = "",
) -> Response:
    ensure_role(user, Role.SAKSBEHANDLER)
    notice = {"horing": "s.horing.saved", "vedtak": "s.vedtak.done"}.get(lagret)
    return _application_page(request, user, uow, book, soknad_id, notice=notice)


@router.post("/web/soknader/{soknad_id}/horinger/{body}")
def record_hearing(
    request: Request,
    soknad_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: HearingBody,
    user: WebUser,
    form: CheckedForm,
    uow: UowDep,
    book: BookDep,
) -> Response:
    ensure_role(user, Role.SAKSBEHANDLER)
    values = {
        k: str(form.get(k, "")).strip() for k in ("sent_on", "answered_on", "answer", "objection", "version")
    }
    changes: dict[str, Any] = {k: values[k] for k in ("sent_on", "answered_on", "answer") if values[k]}
    if values["objection"] in ("ja", "nei"):
        changes["objection"] = values["objection"] == "ja"
    errors: dict[str, str] = {}
    try:
        patch = HoringPatch.model_validate(changes)
        soknad_api.record_hearing(soknad_id, body, patch, if_match(int(values["version"] or 0)), user, uow)
    except ValidationError as error:
        errors = field_errors(error.errors(), prefix="")
    except RequestValidationError as error:
        errors = field_errors(error.errors())
    except HTTPException as error:
        if error.status_code not in (409, 412):
            raise
        errors = {"_": str(error.detail)}
    if errors:
        uow.session.rollback()
        return _application_page(
            request,
            user,
            uow,
            book,
            soknad_id,
            horing_errors={body.value: errors},
            horing_values={body.value: values},
            status_code=422,
        )
    return RedirectResponse(f"/web/soknader/{soknad_id}?lagret=horing#horinger", status_code=303)


def _vedtak_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: str(form.get(k, "")).strip()
        for k in (
            "decision",
            "reason",
            "holder",
            "styrer",
            "stedfortreder",
            "valid_from",
            "valid_to",
            "conditions",
            "version",
        )
    }
    values["groups"] = [str(g) for g in form.getlist("groups")]
    values["areas"] = [str(a) for a in form.getlist("areas")]
    values["idempotency_key"] = form_key(form)
    return values


def _vedtak_body(values: dict[str, Any]) -> dict[str, Any]:
    decision = values["decision"] or None
    body: dict[str, Any] = {"decision": decision, "reason": values["reason"] or None}
    if decision in ("accept", "change"):
        body.update(
            holder=values["holder"] or None,
            styrer=values["styrer"] or None,
            stedfortreder=values["stedfortreder"] or None,
            valid_from=values["valid_from"] or None,
            valid_to=values["valid_to"] or None,
            conditions=[{"text": line.strip()} for line in values["conditions"].splitlines() if line.strip()],
        )
    if decision == "change":
        body["groups"] = [int(g) for g in values["groups"] if g.isdigit()] or None
        body["areas"] = values["areas"] or None
    return body


def _vedtak_message(message: str, t: Labels) -> str:
    if message.startswith("a grant needs"):
        return "missing"
    if message.startswith("a change or a refusal needs a reason"):
        return t("s.vedtak.reason.hint")
    return message


@router.post("/web/soknader/{soknad_id}/vedtak")
def decide(
    request: Request,
    soknad_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    user: WebUser,
    form: CheckedForm,
    uow: UowDep,
    book: BookDep,
    evaluator: EvaluatorDep,
) -> Response:
    ensure_role(user, Role.SAKSBEHANDLER)
    values = _vedtak_values(form)
    errors: dict[str, str] = {}
    try:
        vedtak = VedtakIn.model_validate(_vedtak_body(values))
        version = int(values["version"]) if values["version"].isdigit() else 0
        soknad_api.decide(
            soknad_id, vedtak, if_match(version), user, uow, book, evaluator, key=values["idempotency_key"]
        )
    except ValidationError as error:
        errors = field_errors(error.errors(), prefix="")
    except RequestValidationError as error:
        errors = field_errors(error.errors())
    except DecisionError as error:
        errors = {"_": str(error)}
    except HTTPException as error:
        if error.status_code not in (409, 412, 422):
            raise
        errors = {"_": str(error.detail)}
    if errors:
        uow.session.rollback()
        t = Labels(user_lang(book, user))
        errors = {k: _vedtak_message(v, t) for k, v in errors.items()}
        return _application_page(
            request, user, uow, book, soknad_id, vedtak_values=values, vedtak_errors=errors, status_code=422
        )
    return RedirectResponse(f"/web/soknader/{soknad_id}?lagret=vedtak", status_code=303)


# --- the yearly gebyr run --------------------------------------------------------------------------------


def _gebyr_years() -> list[int]:
    return list(range(today().year, 2015, -1))


@router.get("/web/gebyr")
def gebyr_page(
    request: Request,
    user: WebUser,
    uow: UowDep,
    book: BookDep,
    kommune: Annotated[str | None, Query(max_length=60)] = None,
    aar: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    jobb: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    ensure_role(user, Role.SAKSBEHANDLER)
    slug = chosen_kommune(book, user, kommune)
    year = aar or today().year - 1
    job = jobs.find(jobb, session_key(request)) if jobb else None
    stored = gebyr_api.stored(slug, year, book, uow, user)
    return page(
        request,
        "gebyr.html",
        user,
        lang=kommune_lang(book, slug),
        kommune=slug,
        kommune_name=kommune_name(book, slug),
        kommuner=user_kommuner(book, user),
        year=year,
        years=_gebyr_years(),
        stored=stored,
        job=job,
        idempotency_key=new_key(),
    )


@router.post("/web/gebyr")
def gebyr_run(
    request: Request,
    user: WebUser,
    form: CheckedForm,
    uow: UowDep,
    book: BookDep,
    settings: Annotated[Settings, Depends(get_settings)],
) -> Response:
    ensure_role(user, Role.SAKSBEHANDLER)
    slug = chosen_kommune(book, user, str(form.get("kommune", "")) or None)
    year_text = str(form.get("year", ""))
    year = int(year_text) if year_text.isdigit() and 2000 <= int(year_text) <= 2100 else today().year - 1
    owner = session_key(request)
    assert owner is not None  # CheckedForm needs a session
    uow.session.rollback()  # release SQLite's write lock before the run takes it
    job = jobs.start(settings.database_url, book, user, owner, slug, year, form_key(form))
    return RedirectResponse(f"/web/gebyr?kommune={slug}&aar={year}&jobb={job.id}", status_code=303)


@router.get("/web/gebyr/jobb/{job_id}")
def gebyr_progress(request: Request, job_id: str) -> JSONResponse:
    """Polled by the page: no database, so it answers while the run holds SQLite's lock."""
    job = jobs.find(job_id, session_key(request))
    if job is None:
        return JSONResponse({"state": "unknown"}, status_code=404, headers={"Cache-Control": "no-store"})
    return JSONResponse(job.public(), headers={"Cache-Control": "no-store"})


@router.get("/web/gebyr/{kommune}/{year}.csv")
def gebyr_csv(
    kommune: str, year: Annotated[int, Path(ge=2000, le=2100)], user: WebUser, uow: UowDep, book: BookDep
) -> Response:
    ensure_role(user, Role.SAKSBEHANDLER)
    return gebyr_api.stored_csv(kommune, year, book, uow, user)


# --- rules and the calendar (public) ------------------------------------------------------------------------


@router.get("/web/regler")
def rule_index(request: Request, user: OptionalUser, book: BookDep) -> Response:
    kommuner = kommune_api.list_kommuner(book)
    langs = {k["slug"]: kommune_lang(book, k["slug"]) for k in kommuner}
    return page(
        request,
        "regler_index.html",
        user,
        lang=user_lang(book, user),
        kommuner=kommuner,
        langs=langs,
        this_year=today().year,
    )


def _rule_summary(rule: dict[str, Any]) -> str:
    for key in ("title", "text", "reason"):
        if rule.get(key):
            return str(rule[key])
    return str(rule.get("id", ""))


HIDDEN_RULE_FIELDS = {"id", "kind", "source", "hjemmel", "title", "valid_from", "valid_to", "text", "reason"}


def _rule_details(rule: dict[str, Any], t: Labels) -> list[tuple[str, str]]:
    """A rule's fields as a case officer reads them: Norwegian names, windows as times."""

    def show(value: Any) -> str:
        if isinstance(value, bool):
            return t("yes") if value else t("no")
        if isinstance(value, dict):
            if set(value) == {"from", "to"}:
                return f"{value['from']}–{value['to']}"
            return "; ".join(f"{t.field(k)}: {show(v)}" for k, v in value.items())
        if isinstance(value, list):
            return ", ".join(show(v) for v in value)
        return str(value)

    shown = []
    for key, value in rule.items():
        if key in HIDDEN_RULE_FIELDS or value in (None, [], {}, False):
            continue
        shown.append((t.field(key), show(value)))
    return shown


@router.get("/web/regler/{kommune}")
def rule_page(
    request: Request, kommune: str, user: OptionalUser, book: BookDep, dato: date | None = None
) -> Response:
    slug = kommune_slug(book, kommune)
    on = dato or today()
    rules = kommune_api.effective_rules(slug, book, on)
    lang = kommune_lang(book, slug, on)
    t = Labels(lang)
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in rules["rules"]:
        item = {**item, "summary": _rule_summary(item["rule"]), "details": _rule_details(item["rule"], t)}
        groups.setdefault(item["kind"], []).append(item)
    ordered = sorted(
        groups.items(), key=lambda kv: RULE_KIND_ORDER.index(kv[0]) if kv[0] in RULE_KIND_ORDER else 99
    )
    return page(request, "regler.html", user, lang=lang, rules=rules, groups=ordered, on=on)


@router.get("/web/regler/{kommune}/kalender/{year}")
def calendar_page(
    request: Request,
    kommune: str,
    year: Annotated[int, Path(ge=1947, le=2099)],
    user: OptionalUser,
    book: BookDep,
    evaluator: EvaluatorDep,
) -> Response:
    slug = kommune_slug(book, kommune)
    on = date(year, 7, 1)
    lang = kommune_lang(book, slug, on) if year != today().year else kommune_lang(book, slug)
    days = calendar_year(book, evaluator, slug, year, lang)
    months = [[d for d in days if d.day.month == m] for m in range(1, 13)]
    special = [d for d in days if d.name or d.holiday]
    return page(
        request,
        "kalender.html",
        user,
        lang=lang,
        kommune=slug,
        kommune_name=kommune_name(book, slug),
        year=year,
        months=months,
        special=special,
        this_month=today().month if year == today().year else 1,
        months_names=MONTHS,
    )
