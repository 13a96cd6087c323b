"""Security of the HTTP API, on both databases.

* Every API route is classified here (``ROUTES``: public, or the roles that may call it).
  A route added without being classified, or whose enforced roles differ from its class,
  fails ``test_every_api_route_is_classified_and_enforces_the_roles_classified``.
* Every protected route refuses a missing, tampered or garbage token (401 problem with
  ``WWW-Authenticate: Bearer``) and the wrong role (403). A user of another kommune gets
  403 or 404, answered exactly as for a record that does not exist; no answer carries
  anything of Nord-Aurdal's records and nothing changes. Those records are made through
  the API by Nord-Aurdal's users (``nord_aurdal``): a søknad, a granted bevilling, a
  kontroll with a vedtatt prikk, an omsetningsoppgave, a gebyr run and a user.
* SQL injection in paths, queries, headers and JSON fields, and ids beyond the integer
  columns, are a 4xx, never a 500; every table is still there, unchanged. Free text is
  stored as given; text no database can hold (NUL, half a surrogate pair) is a 422.
* Oversized and deeply nested bodies are refused by ``api.limits.RequestLimits`` (413
  ``payload-too-large``, 422 ``json-too-deep``) before anything is parsed or stored.
* The audit log cannot be changed through the API, nor by SQL (the database refuses it).
* A deactivated user's token is refused like an unknown one; only token hashes are stored.

The 401/403 checks need no records (the token and the role are checked first), so only
three tests per database make the whole set; the file runs in well under a minute.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import fastapi.routing
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from starlette.routing import Mount

from api.errors import TYPE_BASE
from api.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, RequestLimits, has_lone_surrogate, json_depth_exceeds
from api.main import app
from api.security import Role, current_principal
from db.models import AuditEntry, Base
from db.session import engine_for
from db.tokens import hash_token
from tests.api.conftest import USERS, Api

PROBLEM = "application/problem+json"
Key = tuple[str, str]

# --- the classification ------------------------------------------------------------------

S, K, A = Role.SAKSBEHANDLER, Role.KONTROLLOR, Role.ADMIN
STAFF = frozenset({S, K, A})  # anyone of the kommune's staff
OFFICE = frozenset({S, A})  # the case officer (and admin): not the kontrollør
ADMIN = frozenset({A})
PUBLIC = None  # anyone, no token: what the law makes public, and the health check

ROUTES: dict[Key, frozenset[Role] | None] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/kommuner"): PUBLIC,
    ("GET", "/kommuner/{kommune}/regler"): PUBLIC,
    ("GET", "/kommuner/{kommune}/salg/tillatt"): PUBLIC,
    ("GET", "/kommuner/{kommune}/skjenking/tillatt"): PUBLIC,
    ("GET", "/kommuner/{kommune}/salgstid"): PUBLIC,
    ("GET", "/kommuner/{kommune}/skjenketid"): PUBLIC,
    ("GET", "/kommuner/{kommune}/prikker/offentlig"): PUBLIC,
    ("POST", "/soknader"): OFFICE,
    ("GET", "/soknader"): OFFICE,
    ("GET", "/soknader/{soknad_id}"): OFFICE,
    ("PATCH", "/soknader/{soknad_id}/horinger/{body}"): OFFICE,
    ("POST", "/soknader/{soknad_id}/vedtak"): OFFICE,
    ("GET", "/bevillinger"): STAFF,
    ("GET", "/bevillinger/{bevilling_id}"): STAFF,
    ("PATCH", "/bevillinger/{bevilling_id}"): OFFICE,
    ("POST", "/bevillinger/{bevilling_id}/overdragelse"): OFFICE,
    ("POST", "/kontroller"): STAFF,
    ("GET", "/kontroller"): STAFF,
    ("GET", "/kontroller/{kontroll_id}"): STAFF,
    ("GET", "/bevillinger/{bevilling_id}/prikker"): STAFF,
    ("GET", "/prikker/{prikk_id}"): STAFF,
    ("PATCH", "/prikker/{prikk_id}"): OFFICE,
    ("PUT", "/bevillinger/{bevilling_id}/omsetningsoppgaver/{year}/{kind}"): OFFICE,
    ("GET", "/bevillinger/{bevilling_id}/omsetningsoppgaver"): OFFICE,
    ("POST", "/kommuner/{kommune}/gebyr/{year}/kjoring"): OFFICE,
    ("GET", "/kommuner/{kommune}/gebyr/{year}.csv"): OFFICE,
    ("GET", "/kommuner/{kommune}/gebyr/{year}"): OFFICE,
    ("GET", "/kommuner/{kommune}/revurdering"): OFFICE,
    ("POST", "/brukere"): ADMIN,
    ("GET", "/brukere"): ADMIN,
    ("POST", "/brukere/{user_id}/deaktiver"): ADMIN,
    ("GET", "/audit"): ADMIN,
}
PROTECTED = {key: roles for key, roles in ROUTES.items() if roles is not None}

# Not API routes: FastAPI's own documentation, and the server-rendered pages (their own tests).
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
WEB_MODULES = ("api.web",)


def _contexts() -> list[Any]:
    # FastAPI >= 0.16x keeps included routers unflattened in app.routes.
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(iterate(app.routes)) if iterate is not None else list(app.routes)


def api_routes() -> tuple[dict[Key, Any], list[str]]:
    """(method, path) -> route of every API route, and every route nobody classified."""
    found: dict[Key, Any] = {}
    unknown: list[str] = []
    for context in _contexts():
        route = getattr(context, "original_route", context)
        path = context.path
        if path in DOCS:
            continue
        if isinstance(route, APIRoute) and context.include_in_schema:
            for method in sorted(set(context.methods or ()) - {"HEAD"}):
                found[(method, path)] = context
            continue
        endpoint = getattr(context, "endpoint", None) or getattr(route, "app", None)
        module = getattr(endpoint, "__module__", "") or type(endpoint).__module__
        if module.startswith(WEB_MODULES):
            continue
        if isinstance(route, Mount) and type(route.app).__module__ == "starlette.staticfiles":
            continue
        unknown.append(f"{type(route).__name__} {sorted(context.methods or [])} {path} ({module})")
    return found, unknown


def _calls(dependant: Any) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def enforced_roles(context: Any) -> frozenset[Role] | None:
    """What the code enforces: None if no token is asked for, else the roles let through."""
    calls = list(_calls(context.dependant))
    if current_principal not in calls:
        return None
    allowed = set(STAFF)
    for call in calls:
        if getattr(call, "__qualname__", "") == "require.<locals>.check":
            allowed &= set(inspect.getclosurevars(call).nonlocals["allowed"])
    return frozenset(allowed)


def test_every_api_route_is_classified_and_enforces_the_roles_classified() -> None:
    found, unknown = api_routes()
    assert not unknown, f"routes that are neither API routes nor web pages: {unknown}"
    unclassified = sorted(set(found) - set(ROUTES))
    assert not unclassified, (
        f"classify every new route in ROUTES (tests/api/test_security.py) and give it a probe: {unclassified}"
    )
    assert not sorted(set(ROUTES) - set(found)), "ROUTES names routes that no longer exist"
    wrong = {
        key: (ROUTES[key], enforced_roles(context))
        for key, context in found.items()
        if enforced_roles(context) != ROUTES[key]
    }
    assert not wrong, f"(classified, enforced) roles differ: {wrong}"
    assert set(probes(Records.dummy())) == set(ROUTES), "every route needs a probe"


# --- Nord-Aurdal's records, made through the API --------------------------------------------

OPEN_SOKNAD = {
    "kommune": "3451",
    "licence": "skjenking",
    "applicant": "Hemmelig Drift AS",
    "orgnr": "918273645",
    "place_name": "Lekkasjetest Vertshus",
    "address": "Skjultvegen 7, 2900 Fagernes",
    "venue": "serveringssted",
    "groups": [1, 2, 3],
    "areas": ["inne"],
    "serveringsbevilling": True,
    "uklanderlig_vandel": True,
    "styrer_og_stedfortreder": True,
    "received_on": "2025-01-06",
}
GRANTED_SOKNAD = {
    **OPEN_SOKNAD,
    "applicant": "Konfidensiell Servering AS",
    "orgnr": "987123654",
    "place_name": "Fortrolig Kro",
    "address": "Lonnlia 3, 2900 Fagernes",
}
GRANT = {
    "decision": "accept",
    "styrer": "Sigrun Styrersen",
    "stedfortreder": "Trygve Stedfortredersen",
    "valid_from": "2025-02-01",
}
CONTROL = {
    "at": "2025-03-15T23:30",
    "kind": "skjenking",
    "place": "Bakrommet i kjelleren",
    "kontrollorer": ["Kari Kontrollorsen", "Per Kontrollorsen"],
    "observations": "Observasjon som ingen andre skal se",
    "violations": ["under_18"],
}
NEW_USER = {"username": "na_hemmelig_bruker", "role": "saksbehandler", "kommuner": ["3451"]}
SOKNAD_KEY = "security-soknad-1"
# What no one outside Nord-Aurdal may read (the public prikk list names the place, the
# holder and its orgnr of a vedtatt prikk by law: PUBLISHED).
PUBLISHED = ["Fortrolig Kro", "Konfidensiell Servering AS", "987123654"]
SECRETS = [
    *PUBLISHED,
    "Hemmelig Drift AS",
    "918273645",
    "Lekkasjetest Vertshus",
    "Skjultvegen 7",
    "Lonnlia 3",
    "Sigrun Styrersen",
    "Trygve Stedfortredersen",
    "Bakrommet i kjelleren",
    "Kari Kontrollorsen",
    "Per Kontrollorsen",
    "Observasjon som ingen andre skal se",
    "na_hemmelig_bruker",
]
GHOST = 987_654_321  # an id no record has


@dataclasses.dataclass(frozen=True)
class Records:
    soknad_id: int
    soknad_tag: str
    horing: str
    bevilling_id: int
    bevilling_tag: str
    kontroll_id: int
    prikk_id: int
    prikk_tag: str
    oppgave_tag: str
    user_id: int
    user_token: str

    @classmethod
    def dummy(cls) -> Records:
        return cls(GHOST, 'W/"1"', "politi", GHOST, 'W/"1"', GHOST, GHOST, 'W/"1"', 'W/"1"', GHOST, "x")

    def ghost(self) -> Records:
        """The same requests, about records that do not exist."""
        return dataclasses.replace(
            self, soknad_id=GHOST, bevilling_id=GHOST, kontroll_id=GHOST, prikk_id=GHOST, user_id=GHOST
        )

    @property
    def ids(self) -> list[int]:
        return [self.soknad_id, self.bevilling_id, self.kontroll_id, self.prikk_id, self.user_id]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response


def hear_all(api: Api, soknad: dict[str, Any], tag: str) -> str:
    for horing in soknad["horinger"]:
        if horing["required"]:
            answer = {"sent_on": "2025-01-07", "answered_on": "2025-01-20", "objection": False}
            response = api.patch(
                f"/soknader/{soknad['id']}/horinger/{horing['body']}",
                "saksbehandler",
                json=answer,
                headers={"If-Match": tag},
            )
            tag = ok(response).headers["ETag"]
    return tag


def nord_aurdal(api: Api) -> Records:
    """Every kind of record, made through the API by Nord-Aurdal's own users."""
    response = ok(
        api.post("/soknader", "saksbehandler", json=OPEN_SOKNAD, headers={"Idempotency-Key": SOKNAD_KEY}), 201
    )
    open_soknad = response.json()
    open_tag = hear_all(api, open_soknad, response.headers["ETag"])  # decidable, but not decided

    response = ok(api.post("/soknader", "saksbehandler", json=GRANTED_SOKNAD), 201)
    granted = response.json()
    tag = hear_all(api, granted, response.headers["ETag"])
    response = api.post(
        f"/soknader/{granted['id']}/vedtak", "saksbehandler", json=GRANT, headers={"If-Match": tag}
    )
    bevilling = ok(response, 201).json()["bevilling"]

    kontroll = ok(
        api.post("/kontroller", "kontrollor", json={**CONTROL, "bevilling_id": bevilling["id"]}), 201
    ).json()
    prikk = kontroll["prikker"][0]
    response = api.patch(
        f"/prikker/{prikk['id']}",
        "saksbehandler",
        json={"status": "vedtatt"},
        headers={"If-Match": prikk["etag"]},
    )
    prikk_tag = ok(response).headers["ETag"]

    oppgave = {"litres": {"1": 10000, "2": 2000, "3": 100}, "submitted_on": "2026-02-01"}
    path = f"/bevillinger/{bevilling['id']}/omsetningsoppgaver/2025/faktisk"
    oppgave_tag = ok(api.put(path, "saksbehandler", json=oppgave), 201).headers["ETag"]
    ok(api.post("/kommuner/3451/gebyr/2025/kjoring", "saksbehandler"))
    user = ok(api.post("/brukere", "admin", json=NEW_USER), 201).json()
    return Records(
        soknad_id=open_soknad["id"],
        soknad_tag=open_tag,
        horing=open_soknad["horinger"][0]["body"],
        bevilling_id=bevilling["id"],
        bevilling_tag=f'W/"{bevilling["version"]}"',
        kontroll_id=kontroll["id"],
        prikk_id=prikk["id"],
        prikk_tag=prikk_tag,
        oppgave_tag=oppgave_tag,
        user_id=user["id"],
        user_token=user["token"],
    )


# --- one or more requests per route ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Probe:
    path: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    # Another kommune's user may get 200 here: a list of their own kommuner (empty).
    own_list: bool = False

    def send(self, api: Api, method: str, authorization: str | None, **headers: str) -> Any:
        sent = {**self.headers, **headers}
        if authorization is not None:
            sent["Authorization"] = authorization
        return api.client.request(method, self.path, params=self.params, json=self.json, headers=sent)


def probes(r: Records) -> dict[Key, list[Probe]]:
    sid, bid, kid, pid, uid = r.soknad_id, r.bevilling_id, r.kontroll_id, r.prikk_id, r.user_id
    control = {**CONTROL, "bevilling_id": bid, "observations": "Inntrengerens observasjon"}
    return {
        ("GET", "/health"): [Probe("/health")],
        ("GET", "/kommuner"): [Probe("/kommuner")],
        ("GET", "/kommuner/{kommune}/regler"): [Probe("/kommuner/3451/regler", {"dato": "2026-05-16"})],
        ("GET", "/kommuner/{kommune}/salg/tillatt"): [
            Probe("/kommuner/3451/salg/tillatt", {"at": "2026-05-16T12:00"})
        ],
        ("GET", "/kommuner/{kommune}/skjenking/tillatt"): [
            Probe("/kommuner/3451/skjenking/tillatt", {"at": "2026-05-16T23:00", "group": 1})
        ],
        ("GET", "/kommuner/{kommune}/salgstid"): [Probe("/kommuner/3451/salgstid", {"dato": "2026-05-16"})],
        ("GET", "/kommuner/{kommune}/skjenketid"): [
            Probe("/kommuner/3451/skjenketid", {"dato": "2026-05-16", "group": 1})
        ],
        ("GET", "/kommuner/{kommune}/prikker/offentlig"): [Probe("/kommuner/3451/prikker/offentlig")],
        ("POST", "/soknader"): [
            Probe("/soknader", json=OPEN_SOKNAD, headers={"Idempotency-Key": SOKNAD_KEY})
        ],
        ("GET", "/soknader"): [
            Probe("/soknader", {"kommune": "3451"}),
            Probe("/soknader", {"kommune": "nord-aurdal", "status": "mottatt"}),
            Probe("/soknader", own_list=True),
        ],
        ("GET", "/soknader/{soknad_id}"): [Probe(f"/soknader/{sid}")],
        ("PATCH", "/soknader/{soknad_id}/horinger/{body}"): [
            Probe(
                f"/soknader/{sid}/horinger/{r.horing}",
                json={"answer": "Inntrengerens svar", "objection": True},
                headers={"If-Match": r.soknad_tag},
            )
        ],
        ("POST", "/soknader/{soknad_id}/vedtak"): [
            Probe(
                f"/soknader/{sid}/vedtak",
                json={"decision": "refuse", "reason": "Inntrengerens avslag"},
                headers={"If-Match": r.soknad_tag},
            )
        ],
        ("GET", "/bevillinger"): [
            Probe("/bevillinger", {"kommune": "3451"}),
            Probe("/bevillinger", {"status": "aktiv"}, own_list=True),
        ],
        ("GET", "/bevillinger/{bevilling_id}"): [Probe(f"/bevillinger/{bid}")],
        ("PATCH", "/bevillinger/{bevilling_id}"): [
            Probe(
                f"/bevillinger/{bid}", json={"styrer": "Inntrenger"}, headers={"If-Match": r.bevilling_tag}
            ),
            Probe(f"/bevillinger/{bid}", json={"status": "opphort"}, headers={"If-Match": "*"}),
        ],
        ("POST", "/bevillinger/{bevilling_id}/overdragelse"): [
            Probe(
                f"/bevillinger/{bid}/overdragelse",
                json={"new_holder": "Inntrenger AS", "date": "2025-06-01"},
                headers={"If-Match": r.bevilling_tag},
            )
        ],
        ("POST", "/kontroller"): [Probe("/kontroller", json=control)],
        ("GET", "/kontroller"): [
            Probe("/kontroller", {"bevilling_id": bid}),
            Probe("/kontroller", {"kommune": "3451"}),
            Probe("/kontroller", own_list=True),
        ],
        ("GET", "/kontroller/{kontroll_id}"): [Probe(f"/kontroller/{kid}")],
        ("GET", "/bevillinger/{bevilling_id}/prikker"): [Probe(f"/bevillinger/{bid}/prikker")],
        ("GET", "/prikker/{prikk_id}"): [Probe(f"/prikker/{pid}")],
        ("PATCH", "/prikker/{prikk_id}"): [
            Probe(
                f"/prikker/{pid}",
                json={"status": "opphevet", "status_note": "Inntrengeren"},
                headers={"If-Match": r.prikk_tag},
            )
        ],
        ("PUT", "/bevillinger/{bevilling_id}/omsetningsoppgaver/{year}/{kind}"): [
            Probe(
                f"/bevillinger/{bid}/omsetningsoppgaver/2025/faktisk",
                json={"litres": {"1": 1}, "submitted_on": "2026-02-02"},
                headers={"If-Match": r.oppgave_tag},
            ),
            Probe(
                f"/bevillinger/{bid}/omsetningsoppgaver/2026/forventet",
                json={"litres": {"1": 1}, "submitted_on": "2026-02-02"},
            ),
        ],
        ("GET", "/bevillinger/{bevilling_id}/omsetningsoppgaver"): [
            Probe(f"/bevillinger/{bid}/omsetningsoppgaver")
        ],
        ("POST", "/kommuner/{kommune}/gebyr/{year}/kjoring"): [Probe("/kommuner/3451/gebyr/2025/kjoring")],
        ("GET", "/kommuner/{kommune}/gebyr/{year}.csv"): [Probe("/kommuner/3451/gebyr/2025.csv")],
        ("GET", "/kommuner/{kommune}/gebyr/{year}"): [Probe("/kommuner/nord-aurdal/gebyr/2025")],
        ("GET", "/kommuner/{kommune}/revurdering"): [
            Probe("/kommuner/3451/revurdering", {"dato": "2026-05-16"})
        ],
        ("POST", "/brukere"): [
            Probe("/brukere", json={"username": "inntrenger", "role": "admin", "kommuner": ["3451"]}),
            Probe(
                "/brukere", json={"username": "inntrenger2", "role": "admin", "kommuner": ["4223", "3451"]}
            ),
        ],
        ("GET", "/brukere"): [Probe("/brukere", own_list=True)],
        ("POST", "/brukere/{user_id}/deaktiver"): [Probe(f"/brukere/{uid}/deaktiver")],
        ("GET", "/audit"): [
            Probe("/audit", {"kommune": "3451"}),
            Probe("/audit", {"kommune": "nord-aurdal", "entity": "soknad", "entity_id": str(sid)}),
        ],
    }


# --- what the database holds --------------------------------------------------------------


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order: equal snapshots mean nothing changed."""
    with engine_for(url).connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def tables(url: str) -> set[str]:
    return set(sa.inspect(engine_for(url)).get_table_names())


def changed(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


def is_problem(response: Any, status: int, code: str | None = None) -> bool:
    if response.status_code != status or not response.headers.get("content-type", "").startswith(PROBLEM):
        return False
    body = response.json()
    return body.get("status") == status and (code is None or body.get("type") == TYPE_BASE + code)


def leaks(response: Any, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in response.text]


def bearer(api: Api, user: str) -> str:
    return f"Bearer {api.tokens[user]}"


def tampered(token: str) -> str:
    """The token with one character changed."""
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


def rotation(items: list[Any], start: int, count: int) -> list[Any]:
    """``count`` of ``items`` from ``start`` on, wrapping: every item is used, none everywhere."""
    return [items[(start + i) % len(items)] for i in range(min(count, len(items)))]


def first_probes(records: Records) -> Iterator[tuple[Key, Probe]]:
    every = probes(records)
    for key in PROTECTED:
        yield key, every[key][0]


def user_made(api: Api) -> dict[str, Any]:
    """One audited write: Nord-Aurdal's admin makes a user."""
    return dict(ok(api.post("/brukere", "admin", json=NEW_USER), 201).json())


# --- public routes -------------------------------------------------------------------------


def test_public_routes_answer_anyone_and_publish_nothing_but_the_published(api: Api) -> None:
    nord_aurdal(api)
    unpublished = [s for s in SECRETS if s not in PUBLISHED]
    failures = []
    for key, roles in ROUTES.items():
        if roles is not None:
            continue
        for probe in probes(Records.dummy())[key]:
            response = probe.send(api, key[0], None)
            if response.status_code != 200 or leaks(response, unpublished):
                failures.append(f"{key} {probe.path}: {response.status_code} {leaks(response, unpublished)}")
    assert not failures, "\n".join(failures)
    # The vedtatt prikk is published (alkoholforskriften kapittel 10): place and holder only.
    published = api.get("/kommuner/3451/prikker/offentlig").json()["prikker"]
    assert [(p["place_name"], p["holder"]) for p in published] == [
        ("Fortrolig Kro", "Konfidensiell Servering AS")
    ]


# --- 401: no token, a tampered token, garbage ------------------------------------------------
# The token is checked before anything else: ids of records that do not exist will do.


def test_every_protected_route_refuses_a_missing_a_tampered_or_a_garbage_token(api: Api) -> None:
    before = snapshot(api.database_url)
    token = api.tokens["admin"]  # the role that may call every route
    garbage = [
        f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}",  # tampered at the end
        f"Bearer {token}x",
        "Bearer",
        "Bearer    ",
        token,  # no scheme
        f"Token {token}",
        "Basic YWRtaW46YWRtaW4=",
        f"Bearer {hash_token(token)}",  # the stored hash is no token
        "Bearer ' OR '1'='1",
        "Bearer " + "A" * 8000,
    ]
    failures = []
    for index, (key, probe) in enumerate(first_probes(Records.dummy())):
        # Every route: no token, a tampered one and two kinds of garbage; every kind on some route.
        for authorization in [None, f"Bearer {tampered(token)}", *rotation(garbage, 2 * index, 2)]:
            response = probe.send(api, key[0], authorization)
            if not (
                is_problem(response, 401, "unauthenticated")
                and response.headers.get("WWW-Authenticate") == "Bearer"
            ):
                failures.append(f"{key} {authorization!r:.40}: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)
    assert changed(before, snapshot(api.database_url)) == []


# --- 403: the wrong role -----------------------------------------------------------------


def test_every_protected_route_refuses_a_role_it_is_not_for(api: Api) -> None:
    before = snapshot(api.database_url)
    failures = []
    tried = 0
    for key, probe in first_probes(Records.dummy()):
        for user in ("saksbehandler", "kontrollor"):  # Nord-Aurdal's own users
            if Role(USERS[user][0]) in PROTECTED[key]:
                continue
            tried += 1
            response = probe.send(api, key[0], bearer(api, user))
            if not is_problem(response, 403, "forbidden"):
                failures.append(f"{key} as {user}: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)
    assert tried == sum(len({S, K} - roles) for roles in PROTECTED.values())
    assert changed(before, snapshot(api.database_url)) == []


def test_a_kontrollor_may_not_file_a_soknad_nor_decide_a_prikk(api: Api) -> None:
    assert is_problem(api.post("/soknader", "kontrollor", json=OPEN_SOKNAD), 403, "forbidden")
    response = api.patch("/prikker/1", "kontrollor", json={"status": "vedtatt"}, headers={"If-Match": "*"})
    assert is_problem(response, 403, "forbidden")
    assert "saksbehandler" in response.json()["detail"]


# --- 403/404: another kommune --------------------------------------------------------------

VENNESLA = {OFFICE: "vennesla_saksbehandler", STAFF: "vennesla_kontrollor", ADMIN: "vennesla_admin"}


def digitless(text: str) -> str:
    return re.sub(r"\d+", "#", text)


def test_another_kommune_can_neither_read_nor_change_any_record(api: Api) -> None:
    records = nord_aurdal(api)
    before = snapshot(api.database_url)
    na_users = {u for u in USERS if not u.startswith("vennesla")} | {NEW_USER["username"]}
    secrets = [*SECRETS, *(api.tokens[u] for u in na_users if u in api.tokens), records.user_token]
    real, ghost = probes(records), probes(records.ghost())
    failures = []
    for key, roles in PROTECTED.items():
        # Vennesla's admin (every role) and Vennesla's user of the role the route is for.
        for user in sorted({"vennesla_admin", VENNESLA[roles]}):
            for probe, nothing in zip(real[key], ghost[key], strict=True):
                response = probe.send(api, key[0], bearer(api, user))
                where = f"{key} {probe.path} {probe.params} as {user}"
                if leaks(response, secrets):
                    failures.append(f"{where} leaks {leaks(response, secrets)}")
                if probe.own_list and response.status_code == 200:
                    listed = response.json()
                    if key == ("GET", "/brukere"):
                        listed = [u for u in listed if u["username"] in na_users]
                    if listed:
                        failures.append(f"{where} lists {listed}")
                    continue
                if not (is_problem(response, 403, "forbidden") or is_problem(response, 404, "not-found")):
                    failures.append(f"{where}: {response.status_code} {response.text[:160]}")
                    continue
                # A record of another kommune is answered as one that does not exist.
                if nothing != probe and user == "vennesla_admin":
                    other = nothing.send(api, key[0], bearer(api, user))
                    if (other.status_code, digitless(other.text)) != (
                        response.status_code,
                        digitless(response.text),
                    ):
                        # e.g. a 403 for a record that exists, a 404 for one that does not
                        failures.append(f"{where}: {response.text} but for no record {other.text}")
    assert not failures, "\n".join(failures)
    assert changed(before, snapshot(api.database_url)) == []


def test_a_vennesla_admin_can_read_vennesla_but_not_nord_aurdal_in_the_audit_log(api: Api) -> None:
    user_made(api)
    made = {"username": "v_ny", "role": "kontrollor", "kommuner": ["4223"]}
    ok(api.post("/brukere", "vennesla_admin", json=made), 201)
    own = ok(api.get("/audit", "vennesla_admin", params={"kommune": "4223"})).json()
    assert [(e["entity"], e["after"]["username"]) for e in own] == [("user", "v_ny")]
    for kommune in ("3451", "nord-aurdal"):
        response = api.get("/audit", "vennesla_admin", params={"kommune": kommune})
        assert is_problem(response, 403, "forbidden") and "na_hemmelig_bruker" not in response.text
    assert is_problem(api.get("/audit", "saksbehandler", params={"kommune": "3451"}), 403, "forbidden")
    assert NEW_USER["username"] in api.get("/audit", "admin", params={"kommune": "3451"}).text


# --- SQL injection -------------------------------------------------------------------------

INJECTIONS = [
    "' OR '1'='1",
    "1 OR 1=1",
    "1; DROP TABLE bevillinger; --",
    "'); DELETE FROM audit_log; --",
    "3451' UNION SELECT token_hash, username FROM users --",
    "\uff07 OR \uff071\uff07=\uff071",  # fullwidth apostrophes
    "\u02bc; DROP TABLE users; --",  # modifier letter apostrophe
    "nord-aurdal\x00' OR 1=1 --",  # NUL: no column can hold it, PostgreSQL refuses it
    "%27%20OR%201%3D1",  # encoded twice
    "admin'/*",
    "\ud800' OR 1=1 --",  # half a surrogate pair: no Unicode text (JSON bodies only)
]
IN_URLS = [p for p in INJECTIONS if "\ud800" not in p]  # a URL carries UTF-8: it cannot hold one
PER_TARGET = 4  # payloads per injection point, rotated so that every payload is used


def _url_attacks(r: Records) -> list[tuple[str | None, str, Callable[[str], Probe], bool]]:
    """(user, method, probe for a payload, free-text filter) with the payload in the URL."""
    sid, bid = r.soknad_id, r.bevilling_id

    def at(path: str) -> Callable[[str], Probe]:
        return lambda payload: Probe(path.replace("{}", quote(payload, safe="")))

    def query(path: str, **params: Any) -> Callable[[str], Probe]:
        return lambda payload: Probe(path, {k: payload if v is None else v for k, v in params.items()})

    return [
        ("saksbehandler", "GET", at("/soknader/{}"), False),
        ("saksbehandler", "GET", at("/bevillinger/{}"), False),
        ("kontrollor", "GET", at("/kontroller/{}"), False),
        ("kontrollor", "GET", at("/prikker/{}"), False),
        ("kontrollor", "GET", at("/bevillinger/{}/prikker"), False),
        ("saksbehandler", "GET", at("/bevillinger/{}/omsetningsoppgaver"), False),
        ("saksbehandler", "GET", at("/kommuner/{}/revurdering"), False),
        ("saksbehandler", "GET", at("/kommuner/{}/gebyr/2025"), False),
        ("saksbehandler", "GET", at("/kommuner/3451/gebyr/{}"), False),
        ("saksbehandler", "POST", at("/kommuner/3451/gebyr/{}/kjoring"), False),
        ("admin", "POST", at("/brukere/{}/deaktiver"), False),
        (None, "GET", at("/kommuner/{}/regler"), False),
        (None, "GET", at("/kommuner/{}/prikker/offentlig"), False),
        ("saksbehandler", "PATCH", at(f"/soknader/{sid}/horinger/{{}}"), False),
        ("saksbehandler", "PUT", at(f"/bevillinger/{bid}/omsetningsoppgaver/{{}}/faktisk"), False),
        ("saksbehandler", "PUT", at(f"/bevillinger/{bid}/omsetningsoppgaver/2025/{{}}"), False),
        ("saksbehandler", "GET", query("/soknader", kommune=None), False),
        ("saksbehandler", "GET", query("/soknader", status=None), False),
        ("saksbehandler", "GET", query("/soknader", limit=None), False),
        ("kontrollor", "GET", query("/bevillinger", kommune=None), False),
        ("kontrollor", "GET", query("/bevillinger", status=None), False),
        ("kontrollor", "GET", query("/kontroller", kommune=None), False),
        ("kontrollor", "GET", query("/kontroller", bevilling_id=None), False),
        ("kontrollor", "GET", query(f"/bevillinger/{bid}/prikker", dato=None), False),
        ("saksbehandler", "GET", query("/kommuner/3451/revurdering", dato=None), False),
        ("admin", "GET", query("/audit", kommune=None), False),
        ("admin", "GET", query("/audit", kommune="3451", limit=None), False),
        (None, "GET", query("/kommuner/3451/regler", dato=None), False),
        (None, "GET", query("/kommuner/3451/salgstid", dato=None), False),
        (None, "GET", query("/kommuner/3451/salg/tillatt", at=None), False),
        (None, "GET", query("/kommuner/3451/salg/tillatt", at="2026-05-16T12:00", outlet=None), False),
        (None, "GET", query("/kommuner/3451/skjenketid", dato="2026-05-16", group=None), False),
        (None, "GET", query("/kommuner/3451/skjenketid", dato="2026-05-16", group=1, venue=None), False),
        (
            None,
            "GET",
            query("/kommuner/3451/skjenking/tillatt", at="2026-05-16T23:00", group=1, zone=None),
            False,
        ),
        (
            None,
            "GET",
            query("/kommuner/3451/skjenking/tillatt", at="2026-05-16T23:00", group=1, area=None),
            False,
        ),
        (None, "GET", query("/kommuner/3451/prikker/offentlig", fra=None), False),
        # Free-text filters: the payload is a value like any other, and matches nothing.
        ("admin", "GET", query("/audit", kommune="3451", entity=None), True),
        ("admin", "GET", query("/audit", kommune="3451", entity_id=None), True),
    ]


def _body_attacks(r: Records) -> list[tuple[str, str, str, Callable[[str], Any], dict[str, str]]]:
    """(user, method, path, body for a payload, headers): the payload in a field of a fixed format."""
    bid, pid, sid = r.bevilling_id, r.prikk_id, r.soknad_id
    oppgave = f"/bevillinger/{bid}/omsetningsoppgaver/2026/faktisk"
    litres = {"litres": {"1": 1}, "submitted_on": "2026-02-01"}

    def soknad(field: str) -> Callable[[str], Any]:
        return lambda p: {**OPEN_SOKNAD, field: p}

    def control(field: str) -> Callable[[str], Any]:
        return lambda p: {**CONTROL, "bevilling_id": bid, field: p}

    attacks: list[tuple[str, str, str, Callable[[str], Any], dict[str, str]]] = [
        ("saksbehandler", "POST", "/soknader", soknad(field), {})
        for field in ("kommune", "licence", "orgnr", "venue", "received_on", "zone")
    ]
    attacks += [
        ("saksbehandler", "POST", "/soknader", lambda p: {**OPEN_SOKNAD, "groups": [p]}, {}),
        ("saksbehandler", "POST", "/soknader", lambda p: {**OPEN_SOKNAD, "areas": [p]}, {}),
        ("saksbehandler", "POST", "/soknader", lambda p: {**OPEN_SOKNAD, "facts": {p: True}}, {}),
        ("saksbehandler", "POST", "/soknader", lambda p: {**OPEN_SOKNAD, p: True}, {}),
        ("kontrollor", "POST", "/kontroller", control("at"), {}),
        ("kontrollor", "POST", "/kontroller", control("kind"), {}),
        ("kontrollor", "POST", "/kontroller", control("bevilling_id"), {}),
        (
            "kontrollor",
            "POST",
            "/kontroller",
            lambda p: {**CONTROL, "bevilling_id": bid, "violations": [p]},
            {},
        ),
        ("saksbehandler", "PATCH", f"/prikker/{pid}", lambda p: {"status": p}, {"If-Match": r.prikk_tag}),
        ("saksbehandler", "PUT", oppgave, lambda p: {**litres, "litres": {p: 1}}, {}),
        ("saksbehandler", "PUT", oppgave, lambda p: {**litres, "litres": {"1": p}}, {}),
        ("saksbehandler", "PUT", oppgave, lambda p: {**litres, "submitted_on": p}, {}),
        (
            "saksbehandler",
            "POST",
            f"/soknader/{sid}/vedtak",
            lambda p: {**GRANT, "decision": p},
            {"If-Match": "*"},
        ),
        (
            "saksbehandler",
            "POST",
            f"/soknader/{sid}/vedtak",
            lambda p: {**GRANT, "valid_from": p},
            {"If-Match": "*"},
        ),
        (
            "saksbehandler",
            "POST",
            f"/bevillinger/{bid}/overdragelse",
            lambda p: {"new_holder": "Ny AS", "date": p},
            {"If-Match": r.bevilling_tag},
        ),
        ("admin", "POST", "/brukere", lambda p: {**NEW_USER, "username": p}, {}),
        ("admin", "POST", "/brukere", lambda p: {**NEW_USER, "username": "ny_bruker", "role": p}, {}),
        ("admin", "POST", "/brukere", lambda p: {**NEW_USER, "username": "ny_bruker", "kommuner": [p]}, {}),
    ]
    return attacks


def test_sql_injection_is_a_4xx_that_changes_nothing(api: Api) -> None:
    records = nord_aurdal(api)
    before, names = snapshot(api.database_url), tables(api.database_url)
    failures = []
    for index, (user, method, probe_for, free_text) in enumerate(_url_attacks(records)):
        for payload in rotation(IN_URLS, index, PER_TARGET):
            probe = probe_for(payload)
            response = probe.send(api, method, bearer(api, user) if user else None)
            where = f"{method} {probe.path} {probe.params} [{payload!r}]"
            if free_text and "\x00" not in payload:
                if response.status_code != 200 or response.json() != []:
                    failures.append(f"{where}: {response.status_code} {response.text[:160]}")
            elif not is_problem(response, response.status_code) or not 400 <= response.status_code < 500:
                failures.append(f"{where}: {response.status_code} {response.text[:160]}")
    for payload in (p for p in IN_URLS if p.isascii()):  # a header value is ASCII
        path = f"/bevillinger/{records.bevilling_id}"
        response = api.patch(path, "saksbehandler", json={"styrer": "X"}, headers={"If-Match": payload})
        if not is_problem(response, 412, "precondition-failed"):
            failures.append(f"If-Match {payload!r}: {response.status_code} {response.text[:160]}")
        response = api.client.get("/soknader", headers={"Authorization": f"Bearer {payload}"})
        if not is_problem(response, 401, "unauthenticated"):
            failures.append(f"Bearer {payload!r}: {response.status_code} {response.text[:160]}")
    for index, (user, method, path, body_for, headers) in enumerate(_body_attacks(records)):
        for payload in rotation(INJECTIONS, index, PER_TARGET):
            body = body_for(payload)
            response = api.client.request(
                method,
                path,
                content=json.dumps(body),  # ensure_ascii: half a surrogate pair is valid JSON text
                headers={**headers, "Authorization": bearer(api, user), "Content-Type": "application/json"},
            )
            if not is_problem(response, response.status_code) or not 400 <= response.status_code < 500:
                failures.append(
                    f"{method} {path} {body} [{payload!r}]: {response.status_code} {response.text[:160]}"
                )
    assert not failures, "\n".join(failures)
    assert tables(api.database_url) == names
    assert changed(before, snapshot(api.database_url)) == []


HUGE = 2**64  # beyond every integer column (BIGINT, SQLite INTEGER)


def _out_of_range() -> Iterator[tuple[Key, Probe]]:
    """Every request naming a record id, with the id out of the databases' range."""
    dummy = probes(Records.dummy())
    for sign in (1, -1):
        huge = dataclasses.replace(
            Records.dummy(),
            soknad_id=sign * HUGE,
            bevilling_id=sign * HUGE,
            kontroll_id=sign * HUGE,
            prikk_id=sign * HUGE,
            user_id=sign * HUGE,
        )
        for key, found in probes(huge).items():
            for probe, plain in zip(found, dummy[key], strict=True):
                if probe != plain:
                    yield key, probe


def test_ids_out_of_range_are_a_4xx_not_an_overflow(api: Api) -> None:
    failures = []
    for key, probe in _out_of_range():
        response = probe.send(api, key[0], bearer(api, "admin"))
        if key == ("GET", "/audit") and response.status_code == 200 and response.json() == []:
            continue  # entity_id is text: a number out of range is a value that matches nothing
        if not (400 <= response.status_code < 500 and is_problem(response, response.status_code)):
            failures.append(
                f"{key} {probe.path} {probe.params}: {response.status_code} {response.text[:160]}"
            )
    assert not failures, "\n".join(failures)


def test_sql_in_free_text_is_stored_as_text_and_text_no_database_can_hold_is_a_4xx(api: Api) -> None:
    names = tables(api.database_url)
    stored = []
    texts = [p for p in INJECTIONS if "\x00" not in p and "\ud800" not in p]
    for first, second, third in zip(texts[0::3], texts[1::3], texts[2::3], strict=False):
        body = {**OPEN_SOKNAD, "applicant": first, "place_name": second, "address": third}
        soknad = ok(api.post("/soknader", "saksbehandler", json=body), 201).json()
        again = ok(api.get(f"/soknader/{soknad['id']}", "saksbehandler")).json()
        assert (again["applicant"], again["place_name"], again["address"]) == (first, second, third)
        stored.append(soknad["id"])
    # Text no column can hold: half a surrogate pair (refused by api.limits) and NUL (by validation).
    for text in ("\ud800", "a\udfffb", "x\x00y"):
        attempts: list[tuple[str, str, str, dict[str, Any]]] = [
            ("saksbehandler", "POST", "/soknader", {**OPEN_SOKNAD, "applicant": text}),
            ("kontrollor", "POST", "/kontroller", {**CONTROL, "bevilling_id": 1, "observations": text}),
            ("saksbehandler", "PATCH", "/bevillinger/1", {"styrer": text}),
            ("saksbehandler", "PATCH", "/prikker/1", {"status": "paklaget", "status_note": text}),
            ("saksbehandler", "PATCH", "/soknader/1/horinger/politi", {"answer": text}),
            (
                "saksbehandler",
                "POST",
                "/bevillinger/1/overdragelse",
                {"new_holder": text, "date": "2025-06-01"},
            ),
        ]
        for user, method, path, sent in attempts:
            response = api.client.request(
                method,
                path,
                content=json.dumps(sent),
                headers={
                    "If-Match": "*",
                    "Authorization": bearer(api, user),
                    "Content-Type": "application/json",
                },
            )
            assert is_problem(response, 422, "invalid-input"), f"{method} {path} {text!r}: {response.text}"
    assert tables(api.database_url) == names
    listed = ok(api.get("/soknader", "saksbehandler")).json()
    assert [s["id"] for s in listed] == stored


# --- oversized and deeply nested bodies ----------------------------------------------------
# Refused before the body is parsed, so no record is needed: the ids name none.


def test_oversized_bodies_are_a_413_problem_and_nothing_is_stored(api: Api) -> None:
    before = snapshot(api.database_url)
    token = {"Authorization": bearer(api, "saksbehandler"), "Content-Type": "application/json"}
    five_mb = json.dumps({**OPEN_SOKNAD, "applicant": "x" * (5 * 1024 * 1024)}).encode()

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length at all
        for start in range(0, len(five_mb), 256 * 1024):
            yield five_mb[start : start + 256 * 1024]

    violations = {**CONTROL, "bevilling_id": 1, "violations": ["under_18"] * 100_000}  # 1.2 MB
    answers = [
        api.client.post("/soknader", content=five_mb, headers=token),
        api.client.post("/soknader", content=chunks(), headers=token),
        api.client.post(
            "/soknader", content=five_mb, headers={"Content-Type": "application/json"}
        ),  # no token
        api.post("/kontroller", "kontrollor", json=violations),
        api.client.put(
            "/bevillinger/1/omsetningsoppgaver/2025/faktisk",
            content=b"{" + b" " * MAX_BODY_BYTES,
            headers=token,
        ),
    ]
    for response in answers:
        assert is_problem(response, 413, "payload-too-large"), response.text[:300]
        assert response.json()["max_bytes"] == MAX_BODY_BYTES
    assert changed(before, snapshot(api.database_url)) == []


def test_large_values_within_the_size_limit_are_a_422_naming_the_field(api: Api) -> None:
    before = snapshot(api.database_url)
    megabyte = "x" * 1_000_000  # under the 1 MiB limit with its JSON around it
    cases = [
        (
            "kontrollor",
            "POST",
            "/kontroller",
            {**CONTROL, "bevilling_id": 1, "violations": ["a"] * 100_000},
            "/violations",
        ),
        (
            "kontrollor",
            "POST",
            "/kontroller",
            {**CONTROL, "bevilling_id": 1, "observations": megabyte},
            "/observations",
        ),
        ("saksbehandler", "POST", "/soknader", {**OPEN_SOKNAD, "place_name": megabyte}, "/place_name"),
        (
            "saksbehandler",
            "POST",
            "/soknader",
            {**OPEN_SOKNAD, "facts": {f"f{i}": True for i in range(50_000)}},
            "/facts",
        ),
        ("saksbehandler", "PATCH", "/soknader/1/horinger/politi", {"answer": megabyte}, "/answer"),
        ("saksbehandler", "PATCH", "/bevillinger/1", {"conditions": [{"text": "v"}] * 20_000}, "/conditions"),
        (
            "saksbehandler",
            "PATCH",
            "/prikker/1",
            {"status": "opphevet", "status_note": megabyte},
            "/status_note",
        ),
    ]
    for user, method, path, body, pointer in cases:
        content = json.dumps(body)
        assert len(content) <= MAX_BODY_BYTES, path
        response = api.client.request(
            method,
            path,
            content=content,
            headers={"If-Match": "*", "Authorization": bearer(api, user), "Content-Type": "application/json"},
        )
        assert is_problem(response, 422, "invalid-input"), f"{path}: {response.text[:300]}"
        assert response.json()["errors"][0]["pointer"] == pointer
        assert len(response.content) < 10_000  # the problem does not echo the value
    assert changed(before, snapshot(api.database_url)) == []


def test_deeply_nested_json_is_a_422_problem_and_nothing_is_stored(api: Api) -> None:
    before = snapshot(api.database_url)
    deep = 10_000
    bodies = [
        "[" * deep + "]" * deep,
        '{"a":' * deep + "1" + "}" * deep,
        json.dumps({**OPEN_SOKNAD, "facts": {"x": 0}}).replace("0}", "[" * deep + "]" * deep + "}"),
        "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
        "[" * deep,  # not even closed
    ]
    for user, path in (("saksbehandler", "/soknader"), ("kontrollor", "/kontroller"), (None, "/soknader")):
        for body in bodies:
            headers = {"Content-Type": "application/json"}
            if user:
                headers["Authorization"] = bearer(api, user)
            response = api.client.post(path, content=body, headers=headers)
            assert is_problem(response, 422, "json-too-deep"), f"{path} {body[:40]}: {response.text[:300]}"
            assert response.json()["max_depth"] == MAX_JSON_DEPTH
    # At the limit the body goes on to validation, which names what is wrong with it.
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    response = api.client.post(
        "/soknader", content=at_limit, headers={"Authorization": bearer(api, "saksbehandler")}
    )
    assert is_problem(response, 422, "invalid-input"), response.text
    response = api.post("/kontroller", "kontrollor", json={**CONTROL, "bevilling_id": 1, "place": "[" * deep})
    assert is_problem(response, 422, "invalid-input"), response.text  # brackets in a string are text
    assert response.json()["errors"][0]["pointer"] == "/place"
    assert changed(before, snapshot(api.database_url)) == []


# --- api/limits.py on its own (plain ASGI, no database) ------------------------------------


def _asgi(
    middleware: Callable[..., Any], messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]]
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Run one request through ``middleware`` around an app that reads the whole body."""
    seen: list[bytes] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        more = True
        while more:
            message = await receive()
            seen.append(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    queue = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/x", "query_string": b"", "headers": headers}
    asyncio.run(middleware(inner)(scope, receive, send))
    return sent, seen


def _chunks(*sizes: int) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": b" " * size, "more_body": i < len(sizes) - 1}
        for i, size in enumerate(sizes)
    ]


def test_the_limit_counts_the_bytes_that_arrive_not_the_declared_length() -> None:
    limit = 1000

    def middleware(inner: Any) -> RequestLimits:
        return RequestLimits(inner, max_body_bytes=limit)

    json_type = (b"content-type", b"application/json")
    # Chunked, no Content-Length: refused once the bytes pass the limit; the app never runs.
    sent, seen = _asgi(middleware, _chunks(400, 400, 400), [json_type])
    assert sent[0]["status"] == 413 and seen == []
    problem = json.loads(sent[1]["body"])
    assert problem["type"] == TYPE_BASE + "payload-too-large" and problem["max_bytes"] == limit
    assert (b"content-type", PROBLEM.encode()) in sent[0]["headers"]
    # A Content-Length that lies (says 10, sends more) changes nothing.
    sent, seen = _asgi(middleware, _chunks(600, 600), [json_type, (b"content-length", b"10")])
    assert sent[0]["status"] == 413 and seen == []
    # A declared length above the limit is refused before anything is read.
    sent, seen = _asgi(middleware, [], [json_type, (b"content-length", b"5000000")])
    assert sent[0]["status"] == 413
    # Up to the limit the app gets the very bytes that were sent, however they were chunked.
    messages = _chunks(300, 300, 400)
    sent, seen = _asgi(middleware, messages, [json_type])
    assert sent[0]["status"] == 200 and b"".join(seen) == b"".join(m["body"] for m in messages)
    # A client that goes away mid-body gets no answer and the app is not run.
    sent, seen = _asgi(middleware, _chunks(100, 100)[:1], [json_type])
    assert sent == [] and seen == []


def test_the_default_limit_is_1_mib_and_can_be_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RequestLimits(app).max_body_bytes == MAX_BODY_BYTES == 1024 * 1024
    monkeypatch.setenv("BEVILLING_MAX_BODY_BYTES", "2048")
    assert RequestLimits(app).max_body_bytes == 2048
    assert RequestLimits(app, max_body_bytes=10).max_body_bytes == 10


def test_json_depth_counts_structure_not_brackets_in_strings() -> None:
    assert not json_depth_exceeds(b"[" * 32 + b"]" * 32, 32)
    assert json_depth_exceeds(b"[" * 33 + b"]" * 33, 32)
    assert json_depth_exceeds(b'{"a":' * 33 + b"1" + b"}" * 33, 32)
    assert not json_depth_exceeds(json.dumps({"a": "[" * 1000, "b": '"{' * 1000}).encode(), 32)
    assert not json_depth_exceeds(json.dumps([[1, 2]] * 10_000).encode(), 32)  # wide, not deep
    # An escaped backslash ends no string: "\\" is a whole string, the brackets after it count.
    assert json_depth_exceeds(json.dumps({"a": "\\", "b": [[[[1]]]]}).encode(), 3)


def test_half_a_surrogate_pair_is_refused_but_a_whole_pair_is_text() -> None:
    assert has_lone_surrogate(json.dumps({"a": "\ud800"}).encode())
    assert has_lone_surrogate(json.dumps(["x\udfffy"]).encode())
    assert has_lone_surrogate(json.dumps({"\udbff": 1}).encode())
    assert not has_lone_surrogate(json.dumps({"a": "\U0001f37a"}).encode())  # an escaped pair: 🍺
    assert not has_lone_surrogate(json.dumps({"a": "\\ud800"}).encode())  # a backslash, then text
    assert not has_lone_surrogate(b'{"a": "\\ud800"')  # not JSON: the app's parser answers


# --- the audit log ---------------------------------------------------------------------------


def test_no_route_changes_the_audit_log(api: Api) -> None:
    user_made(api)
    before = snapshot(api.database_url)["audit_log"]
    entry = before[-1][0]
    admin = {"Authorization": bearer(api, "admin")}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = api.client.request(
            method, "/audit", params={"kommune": "3451"}, json={"actor": "ingen"}, headers=admin
        )
        assert is_problem(response, 405, "method-not-allowed"), response.text
        for path in (f"/audit/{entry}", "/audit/"):
            response = api.client.request(method, path, json={"actor": "ingen"}, headers=admin)
            assert response.status_code in (404, 405) and is_problem(response, response.status_code)
    assert snapshot(api.database_url)["audit_log"] == before


def test_the_database_refuses_to_update_or_delete_the_audit_log(api: Api) -> None:
    user_made(api)
    before = snapshot(api.database_url)["audit_log"]
    for statement in (
        sa.update(AuditEntry).values(actor="ingen"),
        sa.update(AuditEntry).where(AuditEntry.id == before[0][0]).values(after=None),
        sa.delete(AuditEntry),
        sa.delete(AuditEntry).where(AuditEntry.id == before[-1][0]),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine_for(api.database_url).begin() as c:
            c.execute(statement)
    assert snapshot(api.database_url)["audit_log"] == before


# --- tokens ----------------------------------------------------------------------------------


def test_a_deactivated_users_token_is_refused_as_an_unknown_one(api: Api) -> None:
    user = user_made(api)
    mine = {"Authorization": f"Bearer {user['token']}"}
    assert ok(api.client.get("/soknader", headers=mine)).json() == []
    # Another kommune's admin cannot revoke it.
    assert is_problem(api.post(f"/brukere/{user['id']}/deaktiver", "vennesla_admin"), 404, "not-found")
    ok(api.client.get("/soknader", headers=mine))
    assert ok(api.post(f"/brukere/{user['id']}/deaktiver", "admin")).json()["active"] is False
    revoked = api.client.get("/soknader", headers=mine)
    unknown = api.client.get("/soknader", headers={"Authorization": f"Bearer {tampered(user['token'])}"})
    assert is_problem(revoked, 401, "unauthenticated") and revoked.headers["WWW-Authenticate"] == "Bearer"
    assert revoked.json() == unknown.json()  # revoked and unknown look the same
    assert is_problem(api.client.post("/soknader", json=OPEN_SOKNAD, headers=mine), 401)


def _everything_stored(url: str) -> str:
    return json.dumps(snapshot(url), default=str)


def test_only_the_hash_of_a_token_is_stored(api: Api) -> None:
    user = user_made(api)
    token = user["token"]
    ok(api.client.post("/soknader", json=OPEN_SOKNAD, headers={"Authorization": f"Bearer {token}"}), 201)
    stored = _everything_stored(api.database_url)  # users, audit_log, every other table
    assert hash_token(token) in stored
    for plain in (token, *api.tokens.values()):
        assert plain not in stored
    audit = ok(api.get("/audit", "admin", params={"kommune": "3451"})).text
    assert NEW_USER["username"] in audit and token not in audit and "token" not in audit
    assert token not in ok(api.get("/brukere", "admin")).text


def test_a_token_is_not_stored_when_the_user_is_made_with_an_idempotency_key(api: Api) -> None:
    made = api.post("/brukere", "admin", json=NEW_USER, headers={"Idempotency-Key": "ny-bruker-1"})
    token = ok(made, 201).json()["token"]
    assert token not in _everything_stored(api.database_url)
    replay = api.post("/brukere", "admin", json=NEW_USER, headers={"Idempotency-Key": "ny-bruker-1"})
    assert replay.json()["token"] is None  # shown once; a retry creates no second user and shows no token
