"""Fuzzing the HTTP API against its own OpenAPI schema (schemathesis).

Every operation of ``/openapi.json`` is called with generated requests, valid ones and
invalid ones, authenticated: a saksbehandler of Nord-Aurdal for most routes, an admin
of Nord-Aurdal for ``/brukere`` and ``/audit``. The database is a migrated scratch
database (SQLite, and PostgreSQL) seeded through the API with real records (a granted
bevilling, an undecided søknad, a kontroll with its prikker, an omsetningsoppgave, a
gebyr run), and generated ids, kommuner and times are steered part of the time onto
those records, so that id-based routes reach existing rows and not only 404.

What must hold for every request:

* no server error (5xx), ever;
* the status code is one the operation documents (errors are declared once, for every
  operation, in ``api.errors.PROBLEM_RESPONSES``);
* the content type and the body conform to the documented response schema;
* the documented response headers are sent; invalid input is refused (4xx).

Two phases per operation, derandomized so that a CI run is reproducible:

* coverage: schemathesis's deterministic cases (boundary values, every parameter left
  out, of a wrong type or null, unexpected methods): about 55 requests per operation.
  It runs on the backends ``BEVILLING_FUZZ_COVERAGE`` names (default ``postgresql``,
  which refuses what SQLite lets through: NUL, integers beyond 64 bits);
* fuzzing: ``BEVILLING_FUZZ_EXAMPLES`` random requests per operation (default 25, the
  CI budget), on every backend.

``BEVILLING_FUZZ_BACKENDS`` picks the databases (default ``sqlite,postgresql``). A
nightly run: ``BEVILLING_FUZZ_EXAMPLES=500 BEVILLING_FUZZ_COVERAGE=sqlite,postgresql``,
with ``BEVILLING_FUZZ_RANDOM=1`` to draw new examples each night instead of CI's.
The request counts are printed after the run ("differential and property counts").
"""

from __future__ import annotations

import os
import shutil
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis import BaseSchema
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.main import app
from api.security import hash_token, new_token
from api.settings import Settings, get_settings
from db.models import Base, User
from db.session import engine_for, session_factory

EXAMPLES = int(os.environ.get("BEVILLING_FUZZ_EXAMPLES", "25"))
BACKENDS = [b.strip() for b in os.environ.get("BEVILLING_FUZZ_BACKENDS", "sqlite,postgresql").split(",")]
COVERAGE = [b.strip() for b in os.environ.get("BEVILLING_FUZZ_COVERAGE", "postgresql").split(",")]


# name -> (role, kommuner). The fuzzing principals also hold Vennesla, so that the admin
# (who may deactivate users within his own kommuner only) cannot lock them out mid-run.
PRINCIPALS = {
    "fuzz-saksbehandler": ("saksbehandler", ["nord-aurdal", "vennesla"]),
    "fuzz-admin": ("admin", ["nord-aurdal"]),
    "fuzz-kontrollor": ("kontrollor", ["nord-aurdal"]),
    "fuzz-target": ("saksbehandler", ["nord-aurdal"]),
}
ADMIN_PATHS = ("/brukere", "/audit")

SOKNAD: dict[str, Any] = {
    "kommune": "3451",
    "licence": "skjenking",
    "applicant": "Fjellcamp AS",
    "orgnr": "912345678",
    "place_name": "Fjellcamp",
    "address": "Fagernesvegen 1, 2900 Fagernes",
    "venue": "camping",
    "groups": [1, 2],
    "areas": ["inne", "ute"],
    "serveringsbevilling": True,
    "delimited_area": True,
    "uklanderlig_vandel": True,
    "styrer_og_stedfortreder": True,
    "received_on": "2024-09-02",
}
GRANT = {
    "decision": "accept",
    "styrer": "Kari Styrer",
    "stedfortreder": "Ola Stedfortreder",
    "valid_from": "2024-10-01",
}


@dataclass
class Seeded:
    """The records the fuzzing is steered onto, and who asks."""

    settings: Settings
    tokens: dict[str, str]
    ids: dict[str, list[int]] = field(default_factory=dict)
    protected_users: set[int] = field(default_factory=set)


def _add_principals(url: str) -> tuple[dict[str, str], dict[str, int]]:
    tokens: dict[str, str] = {}
    ids: dict[str, int] = {}
    session = session_factory(url)()
    try:
        for name, (role, kommuner) in PRINCIPALS.items():
            token = new_token()
            user = User(
                username=name, token_hash=hash_token(token), role=role, kommuner=kommuner, active=True
            )
            session.add(user)
            session.flush()
            tokens[name], ids[name] = token, user.id
        session.commit()
    finally:
        session.close()
    return tokens, ids


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _seed(client: TestClient, url: str) -> Seeded:
    tokens, user_ids = _add_principals(url)
    officer = {"Authorization": f"Bearer {tokens['fuzz-saksbehandler']}"}
    inspector = {"Authorization": f"Bearer {tokens['fuzz-kontrollor']}"}

    def file(body: dict[str, Any]) -> dict[str, Any]:
        return _ok(client.post("/soknader", json=body, headers=officer), 201)

    # A søknad heard and granted: a bevilling with hours and vilkår.
    soknad = file(SOKNAD)
    tag = f'W/"{soknad["version"]}"'
    for horing in soknad["horinger"]:
        answered = client.patch(
            f"/soknader/{soknad['id']}/horinger/{horing['body']}",
            json={"sent_on": "2024-09-03", "answered_on": "2024-09-20", "answer": "Ingen merknader"},
            headers={**officer, "If-Match": tag},
        )
        tag = answered.headers["ETag"]
        _ok(answered)
    vedtak = _ok(
        client.post(f"/soknader/{soknad['id']}/vedtak", json=GRANT, headers={**officer, "If-Match": tag}), 201
    )
    bevilling = vedtak["bevilling"]["id"]
    # A søknad left undecided (status mottatt), for the høring and vedtak routes.
    undecided = file(
        {**SOKNAD, "applicant": "Kafé Venter AS", "place_name": "Kafé Venter", "venue": "serveringssted"}
    )
    # A kontroll with two violations: two prikker (foreslatt).
    kontroll = _ok(
        client.post(
            "/kontroller",
            json={
                "bevilling_id": bevilling,
                "at": "2026-06-13T01:30",
                "kind": "skjenking",
                "place": "Baren",
                "kontrollorer": ["Kari Nordmann", "Ola Hansen"],
                "violations": ["under_18", "utenfor_tid"],
            },
            headers=inspector,
        ),
        201,
    )
    # An omsetningsoppgave and a gebyr run of its year.
    _ok(
        client.put(
            f"/bevillinger/{bevilling}/omsetningsoppgaver/2025/faktisk",
            json={"litres": {"1": 1200.5, "2": 300}, "submitted_on": "2026-01-20"},
            headers=officer,
        ),
        201,
    )
    _ok(client.post("/kommuner/3451/gebyr/2025/kjoring", headers=officer))
    protected = {user_ids[n] for n in ("fuzz-saksbehandler", "fuzz-admin", "fuzz-kontrollor")}
    return Seeded(
        settings=Settings(database_url=url),
        tokens=tokens,
        ids={
            "soknad_id": [soknad["id"], undecided["id"]],
            "bevilling_id": [bevilling],
            "kontroll_id": [kontroll["id"]],
            "prikk_id": [p["id"] for p in kontroll["prikker"]],
            "user_id": [user_ids["fuzz-target"]],
        },
        protected_users=protected,
    )


def _database(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("fuzz") / "bevilling.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine_for(url).begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return url


@contextmanager
def _seeded_app(
    backend: str, request: pytest.FixtureRequest, tmp: pytest.TempPathFactory
) -> Iterator[Seeded]:
    url = _database(backend, request, tmp)
    app.dependency_overrides[get_settings] = lambda: Settings(database_url=url)
    try:
        # Closed before the fuzzing: schemathesis reaches the app through its own client.
        with TestClient(app, raise_server_exceptions=False) as client:
            seeded = _seed(client, url)
        yield seeded
    finally:
        app.dependency_overrides.pop(get_settings, None)
        engine_for(url).dispose()  # no pooled connection outlives the module


@pytest.fixture(scope="module")
def on_sqlite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    if "sqlite" not in BACKENDS:
        pytest.skip("BEVILLING_FUZZ_BACKENDS leaves out sqlite")
    with _seeded_app("sqlite", request, tmp_path_factory) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def on_postgresql(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    if "postgresql" not in BACKENDS:
        pytest.skip("BEVILLING_FUZZ_BACKENDS leaves out postgresql")
    with _seeded_app("postgresql", request, tmp_path_factory) as seeded:
        yield seeded


# --- steering generated values onto the seeded records ------------------------------------------

KOMMUNER = ["3451", "nord-aurdal", "vennesla", "4223"]
INSTANTS = ["2026-06-13T01:30", "2026-03-29T02:30", "2026-10-25T02:30", "2026-10-25T02:30+01:00"]
MAX_ID = 2**63 - 1


def _pick(value: object, options: list[Any]) -> Any:
    """Half of the values stay as generated; the other half become one of ``options``
    (chosen from the value itself, so that a derandomized run stays reproducible)."""
    digest = zlib.crc32(repr(value).encode("utf-8", "surrogatepass"))
    if digest % 2 == 0 or not options:
        return value
    return options[(digest // 2) % len(options)]


def _steer(container: dict[str, Any] | None, seeded: Seeded) -> None:
    if not isinstance(container, dict):
        return
    for name, value in list(container.items()):
        if (
            name in seeded.ids
            and isinstance(value, int)
            and not isinstance(value, bool)
            and 1 <= value <= MAX_ID
        ):
            container[name] = _pick(value, seeded.ids[name])
            if name == "user_id" and container[name] in seeded.protected_users:
                container[name] = seeded.ids["user_id"][0]  # never lock the fuzzing principals out
        elif name == "kommune" and isinstance(value, str):
            container[name] = _pick(value, KOMMUNER)
        elif name == "at" and isinstance(value, str):
            container[name] = _pick(value, INSTANTS)


def _prepare(case: schemathesis.Case, seeded: Seeded) -> None:
    _steer(case.path_parameters, seeded)
    _steer(case.query, seeded)
    _steer(case.body if isinstance(case.body, dict) else None, seeded)
    user = "fuzz-admin" if case.path.startswith(ADMIN_PATHS) else "fuzz-saksbehandler"
    headers = {
        k: v for k, v in (case.headers or {}).items() if k.lower() not in ("authorization", "if-match")
    }
    headers["Authorization"] = f"Bearer {seeded.tokens[user]}"
    if (
        case.method.upper() in ("PATCH", "PUT", "POST")
        and zlib.crc32(repr(case.body).encode("utf-8", "surrogatepass")) % 3
    ):
        headers["If-Match"] = "*"  # past optimistic locking, into the update itself
    case.headers = headers


def _schema(backend: str) -> BaseSchema:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    # The coverage phase (boundary values, each parameter left out or of a wrong type,
    # unexpected methods: about 55 requests per operation) is deterministic; it runs on
    # the backends BEVILLING_FUZZ_COVERAGE names, the fuzzing phase on every backend.
    loaded.config.phases.coverage.enabled = backend in COVERAGE
    return loaded


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=os.environ.get("BEVILLING_FUZZ_RANDOM") != "1",  # 1: new examples each run
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, not shrunk
    suppress_health_check=list(HealthCheck),
)


def _run(case: schemathesis.Case, seeded: Seeded, stats: Counter[str]) -> None:
    app.dependency_overrides[get_settings] = lambda: seeded.settings  # this backend's database
    _prepare(case, seeded)
    # positive_data_acceptance is left out: a schema-valid request may rightly be refused
    # by the rules (409, 422: a søknad already decided, a date outside the bevilling).
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    phase = case.meta.phase.name.value if case.meta is not None else "explicit"
    stats["api fuzz: requests"] += 1
    stats[f"api fuzz: requests in phase {phase}"] += 1
    stats[f"api fuzz: requests answered {response.status_code // 100}xx"] += 1


@FUZZ
@_schema("sqlite").parametrize()
def test_api_conforms_to_its_schema_on_sqlite(
    case: schemathesis.Case, on_sqlite: Seeded, stats: Counter[str]
) -> None:
    _run(case, on_sqlite, stats)


@FUZZ
@_schema("postgresql").parametrize()
def test_api_conforms_to_its_schema_on_postgresql(
    case: schemathesis.Case, on_postgresql: Seeded, stats: Counter[str]
) -> None:
    _run(case, on_postgresql, stats)


# --- what the fuzzing found: one request each, on both databases -------------------------------

PROBLEM = "application/problem+json"


def test_every_operation_documents_its_problems() -> None:
    """Errors are declared once (``api.errors.PROBLEM_RESPONSES``): no route may drop one."""
    paths = app.openapi()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "409", "412", "413", "422", "428"):
                content = operation["responses"].get(status, {}).get("content", {})
                assert PROBLEM in content, f"{method.upper()} {path}: {status} is not a documented problem"


# One test per backend, not one per request: every ``api`` fixture is a new SQLite file,
# and db.session keeps 8 engines (more evict the PostgreSQL one with its pool still open).
FOUND_422: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = [
    # a date given as a number was read as a Unix timestamp (1970-01-01)
    ("GET", "/kommuner/3451/revurdering", {"dato": "0"}, None),
    ("GET", "/kommuner/3451/prikker/offentlig", {"til": "1700000000"}, None),
    # beyond the calendar's last year: ValueError from bevilling.calendar, a 500
    ("GET", "/kommuner/3451/salgstid", {"dato": "2100-01-01", "group": 1}, None),
    ("GET", "/kommuner/3451/skjenketid", {"dato": "9999-12-31", "group": 1}, None),
    ("GET", "/kommuner/3451/salg/tillatt", {"at": "9999-12-31T23:59"}, None),
    ("GET", "/kommuner/3451/skjenking/tillatt", {"at": "0001-01-01T00:00", "group": 1}, None),
    ("POST", "/soknader", None, {**SOKNAD, "received_on": "2100-01-01"}),
    # an instant no datetime can hold in Oslo: OverflowError, a 500
    ("GET", "/kommuner/3451/salg/tillatt", {"at": "0001-01-01T00:00+14:00"}, None),
    # an id beyond 64 bits: OverflowError in the database driver, a 500
    ("POST", f"/brukere/{2**64}/deaktiver", None, None),
]


def test_found_by_fuzzing_is_a_422_not_a_500(api: Any) -> None:
    for method, path, params, body in FOUND_422:
        user = "admin" if path.startswith(ADMIN_PATHS) else "saksbehandler"
        response = api.client.request(method, path, params=params, json=body, headers=api.headers(user))
        assert response.status_code == 422, (method, path, params, response.text)
        assert response.headers["content-type"] == PROBLEM


def test_a_kontroll_at_an_instant_no_datetime_can_hold_is_a_422(api: Any) -> None:
    body = {
        "bevilling_id": 1,
        "at": "0001-01-01T00:00+14:00",
        "kind": "skjenking",
        "place": "Baren",
        "kontrollorer": ["Kari Nordmann", "Ola Hansen"],
    }
    response = api.post("/kontroller", "kontrollor", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == "/at"


def test_a_body_that_is_not_utf_8_is_a_documented_400(api: Any) -> None:
    response = api.post(
        "/soknader", "saksbehandler", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/bad-request")


def test_405_names_every_method_of_the_path(api: Any) -> None:
    # Starlette named only the first route of the path (Allow: POST for /soknader).
    response = api.client.request("OPTIONS", "/soknader", headers=api.headers("saksbehandler"))
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}
    response = api.client.request("DELETE", "/bevillinger/1", headers=api.headers("saksbehandler"))
    assert set(response.headers["allow"].split(", ")) == {"GET", "PATCH"}


def test_stored_times_carry_their_offset(api: Any) -> None:
    # SQLite keeps no offset: created_at came back naive, not an RFC 3339 date-time.
    response = api.post("/soknader", "saksbehandler", json=SOKNAD)
    assert response.status_code == 201, response.text
    for found in (response, api.get(f"/soknader/{response.json()['id']}", "saksbehandler")):
        created = datetime.fromisoformat(found.json()["created_at"])
        assert created.utcoffset() is not None, found.json()["created_at"]
    entries = api.get("/audit", "admin", params={"kommune": "3451"}).json()
    assert entries and all(datetime.fromisoformat(e["at"]).utcoffset() is not None for e in entries)


def test_a_refusal_answers_a_documented_200() -> None:
    responses = app.openapi()["paths"]["/soknader/{soknad_id}/vedtak"]["post"]["responses"]
    assert {"200", "201"} <= set(responses)
