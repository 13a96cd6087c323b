"""The service under test, on BOTH databases for real: an SQLite file and a scratch
PostgreSQL database (127.0.0.1:5432, user postgres; created per run, dropped after).

Every test gets an empty, fully migrated database: a copy of a migrated SQLite template,
or the PostgreSQL tables truncated (TRUNCATE does not fire the audit log's
append-only row triggers; nothing in the application can do it).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import app
from api.security import hash_token, new_token
from api.settings import Settings, get_settings
from db.migrate import upgrade
from db.models import Base, User
from db.session import engine_for, session_factory

POSTGRES_ADMIN_URL = os.environ.get(
    "BEVILLING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"bevilling_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    engine_for(url).dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "bevilling.sqlite3"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine_for(url).begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return url


@dataclass
class Api:
    """A TestClient plus a bearer token per named user."""

    client: TestClient
    database_url: str
    tokens: dict[str, str]

    def headers(self, user: str | None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        return headers

    def get(self, path: str, user: str | None = None, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers(user, **kwargs.pop("headers", {})), **kwargs)

    def post(self, path: str, user: str | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, headers=self.headers(user, **kwargs.pop("headers", {})), **kwargs)

    def patch(self, path: str, user: str | None = None, **kwargs: Any) -> Any:
        return self.client.patch(path, headers=self.headers(user, **kwargs.pop("headers", {})), **kwargs)

    def put(self, path: str, user: str | None = None, **kwargs: Any) -> Any:
        return self.client.put(path, headers=self.headers(user, **kwargs.pop("headers", {})), **kwargs)

    def delete(self, path: str, user: str | None = None, **kwargs: Any) -> Any:
        return self.client.delete(path, headers=self.headers(user, **kwargs.pop("headers", {})), **kwargs)


# name -> (role, kommuner). Nord-Aurdal (3451) is the kommune under test; Vennesla (4223)
# is "another kommune" whose users must never see or change Nord-Aurdal's records.
USERS = {
    "saksbehandler": ("saksbehandler", ["nord-aurdal"]),
    "kontrollor": ("kontrollor", ["nord-aurdal"]),
    "kontrollor2": ("kontrollor", ["nord-aurdal"]),
    "admin": ("admin", ["nord-aurdal"]),
    "vennesla_saksbehandler": ("saksbehandler", ["vennesla"]),
    "vennesla_kontrollor": ("kontrollor", ["vennesla"]),
    "vennesla_admin": ("admin", ["vennesla"]),
}


def add_users(url: str) -> dict[str, str]:
    tokens: dict[str, str] = {}
    session = session_factory(url)()
    try:
        for name, (role, kommuner) in USERS.items():
            token = new_token()
            session.add(
                User(username=name, token_hash=hash_token(token), role=role, kommuner=kommuner, active=True)
            )
            tokens[name] = token
        session.commit()
    finally:
        session.close()
    return tokens


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    app.dependency_overrides[get_settings] = lambda: Settings(database_url=database_url)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(client, database_url, add_users(database_url))
    finally:
        app.dependency_overrides.pop(get_settings, None)
