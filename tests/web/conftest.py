"""The pages under test: the real app under uvicorn on a free loopback port, on a migrated
SQLite file with the demo data (``db/demo.py``), driven by the system Chromium.

No browser is ever downloaded: Playwright launches ``/usr/bin/chromium`` (the Debian
package). Without it the browser tests are skipped; the HTTP-level tests still run.
Screenshots land in ``tests/web/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bevilling.calendar import OSLO
from bevilling.engine.evaluator import EngineEvaluator
from bevilling.rules.book import RuleBook
from db.demo import load_demo
from db.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}

# A søknad still to be decided (the demo's søknader are all decided).
PENDING_SOKNAD = {
    "kommune": "4223",
    "licence": "skjenking",
    "applicant": "Elvekanten Servering AS",
    "orgnr": "912345678",
    "place_name": "Elvekanten Kafé",
    "address": "Elvegata 3, 4700 Vennesla",
    "venue": "serveringssted",
    "groups": [1, 2],
    "areas": ["inne"],
    "serveringsbevilling": True,
    "uklanderlig_vandel": True,
    "styrer_og_stedfortreder": True,
}


def today() -> date:
    return datetime.now(OSLO).date()


@dataclass
class Server:
    url: str
    database_url: str
    tokens: dict[str, str]
    ids: dict[str, int] = field(default_factory=dict)  # names of records the tests use

    def api(self, user: str | None = None) -> httpx.Client:
        """A JSON API client (bearer token), to check what the pages stored."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def controls_of(self, bevilling_id: int) -> list[dict[str, Any]]:
        with self.api("vennesla-saksbehandler") as client:
            response = client.get("/kontroller", params={"bevilling_id": bevilling_id, "limit": 500})
            response.raise_for_status()
            result: list[dict[str, Any]] = response.json()
            return result


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not answer /health in time")


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, book: RuleBook, engine: EngineEvaluator
) -> Iterator[Server]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'bevilling.sqlite3'}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "BEVILLING_DATABASE_URL": database_url,
        "BEVILLING_RULES_PATH": str(ROOT / "rules"),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    try:
        # The server starts while the database is made: it reads nothing before a request.
        upgrade(database_url)
        demo = load_demo(database_url, book, engine)
        assert demo.loaded
        _wait_until_up(url, process)
        running = Server(url, database_url, demo.tokens)
        with running.api("vennesla-saksbehandler") as client:
            for name, place in (("soknad", "Elvekanten Kafé"), ("soknad_open", "Bryggekaia")):
                body = {**PENDING_SOKNAD, "place_name": place, "received_on": today().isoformat()}
                created = client.post("/soknader", json=body)
                assert created.status_code == 201, created.text
                running.ids[name] = created.json()["id"]
            licences = client.get("/bevillinger", params={"kommune": "vennesla", "limit": 500}).json()
        by_name = {b["place_name"]: b["id"] for b in licences}
        running.ids.update(
            puben=by_name["Puben i Gågata"],
            kafe=by_name["Kafé Gågata"],
            torvet=by_name["Restaurant Torvet"],
            kiwi=by_name["Kiwi Vennesla sentrum"],
        )
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope: while Playwright's sync API runs, the main thread has a running event
    # loop, and a later test module that calls asyncio.run() must not find one.
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); no browser is downloaded")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Pages:
    """Opens pages at a viewport, signed in as a demo user; collects console errors."""

    browser: Any
    server: Server
    contexts: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def open(self, viewport: dict[str, int], user: str | None = None) -> Any:
        context = self.browser.new_context(
            viewport=viewport,
            base_url=self.server.url,
            locale="nb-NO",
            timezone_id="Europe/Oslo",
            accept_downloads=True,
            has_touch=viewport["width"] < 600,
            is_mobile=False,
        )
        self.contexts.append(context)
        if user is not None:
            context.add_cookies(
                [
                    {
                        "name": "bevilling_sesjon",
                        "value": self.server.tokens[user],
                        "url": f"{self.server.url}/web",
                    }
                ]
            )
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("response", self._response)
        return page

    def _console(self, message: Any) -> None:
        # A page answered 4xx on purpose (a form error, a 404 page) logs "Failed to load
        # resource"; a failing script, stylesheet or icon is caught by _response instead.
        if message.type == "error" and "the server responded with a status of 4" not in message.text:
            self.problems.append(f"console error: {message.text}")

    def _response(self, response: Any) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any, server: Server) -> Iterator[Pages]:
    opened = Pages(browser, server)
    try:
        yield opened
        # A script error or a CSP violation shows up in the console: none is allowed.
        assert not opened.problems, opened.problems
    finally:
        opened.close()


MAX_SHOT_HEIGHT = 4000  # the rules pages run to 20 000 px on a phone: their top is enough


def screenshot(page: Any, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    height = page.evaluate("document.documentElement.scrollHeight")
    width = page.viewport_size["width"]
    clip = {"x": 0, "y": 0, "width": width, "height": min(height, MAX_SHOT_HEIGHT)}
    page.screenshot(path=str(path), full_page=True, clip=clip, animations="disabled")
    return path
