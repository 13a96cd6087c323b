"""The real service as a subprocess on a scratch PostgreSQL database, for the crash and
contention tests.

``scratch_db`` creates an empty database per test (127.0.0.1:5432, user postgres; the same
admin URL as ``tests/api/conftest.py``), migrates it and drops it afterwards. ``server``
runs ``python -m uvicorn api.main:app`` (or ``bevilling serve``, which migrates first) on a
free loopback port against it, can ``kill -9`` it and start it again on the same port and
database; its teardown always SIGKILLs whatever is still running.

Only this test process's own children are ever signalled, by pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import sqlalchemy as sa

from db.commands import add_user
from db.migrate import upgrade
from db.models import Bevilling
from db.session import engine_for, session_factory
from tests.api.conftest import POSTGRES_ADMIN_URL, Api
from tests.api.test_kontroller import make_bevilling

ROOT = Path(__file__).resolve().parents[2]
KOMMUNE = "nord-aurdal"
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def scratch_db() -> Iterator[str]:
    """An empty, migrated PostgreSQL database of its own; dropped (FORCE) afterwards."""
    name = f"bevilling_crash_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        yield url
        engine_for(url).dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class Server:
    """One service process at a time on a fixed port and database."""

    database_url: str
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    starts: list[float] = field(default_factory=list)  # seconds until /health answered
    kills: int = 0
    generation: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, via: str = "uvicorn", warm: bool = True) -> None:
        """Start the service and wait for ``/health``. ``via="serve"`` uses ``bevilling serve``
        (migrations first, as production starts it). ``warm`` then asks ``/kommuner`` once, so
        that the rule book is loaded before the load arrives: the service loads it lazily on
        the first request, and concurrent first requests each load it again (see
        ``test_contention.py``), which would only make this test slow."""
        assert self.process is None, "already running"
        if via == "uvicorn":
            command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1"]
            command += ["--port", str(self.port), "--no-access-log"]
        else:
            command = [sys.executable, "-m", "bevilling.cli", "serve", "--host", "127.0.0.1"]
            command += ["--port", str(self.port)]
        self.generation += 1
        self.log = (self.log_dir / f"server-{self.generation}.log").open("wb")
        env = {**os.environ, "BEVILLING_DATABASE_URL": self.database_url, "PYTHONUNBUFFERED": "1"}
        began = time.monotonic()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"the server exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                if time.monotonic() - began > STARTUP_TIMEOUT:
                    raise AssertionError(f"the server did not answer /health in {STARTUP_TIMEOUT} s")
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            if warm:
                assert client.get("/kommuner", timeout=30.0).status_code == 200
        self.starts.append(time.monotonic() - began)

    def kill9(self) -> None:
        """SIGKILL: no shutdown handler, no flush, connections just drop."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.kills += 1
        self.process.wait(timeout=10)
        self.process = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def log_tail(self, lines: int = 40) -> str:
        path = self.log_dir / f"server-{self.generation}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("server-*.log")))


@pytest.fixture
def server(scratch_db: str, tmp_path: Path) -> Iterator[Server]:
    """A server (not started yet) on the scratch database; always killed at teardown."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    running = Server(scratch_db, log_dir)
    try:
        yield running
    finally:
        running.kill9()


def add_users(url: str, users: dict[str, str]) -> dict[str, str]:
    """name -> role, all in Nord-Aurdal; returns name -> bearer token (``db.commands.add_user``)."""
    return {name: add_user(url, name, role, [KOMMUNE]) for name, role in users.items()}


def add_bevilling(url: str, **changes: Any) -> int:
    """A skjenkebevilling in Nord-Aurdal written straight into the database."""
    return make_bevilling(Api(None, url, {}), **changes)  # type: ignore[arg-type]  # only .database_url is read


def bevilling_row(url: str, bevilling_id: int) -> Bevilling:
    session = session_factory(url)()
    try:
        row = session.get(Bevilling, bevilling_id)
        assert row is not None
        session.expunge(row)
        return row
    finally:
        session.close()


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}
