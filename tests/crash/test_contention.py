"""Contention on one licence, against the real server (a subprocess on PostgreSQL).

Each round, on the same bevilling: two kontrollører store a control at the same instant
while two saksbehandlere change the licence with the ETag they read before the round
(PATCH /bevillinger/{id}, If-Match). Then the first saksbehandler writes again with that
old ETag. Expected: both controls stored and the total right (no lost update: controls of
one licence are serialised on its row), exactly one of the two concurrent changes wins and
the other is refused (412, or 409 when it lost the race after its If-Match check), the
stale second write gets 412, and the licence's version counts exactly the successful
changes.

Two kinds of rounds: "free" rounds release the four requests from a barrier (races as
they happen), "gated" rounds hold the bevilling's row lock from the test until all four
requests are waiting on it, then let go: every request is then certainly in flight at
once, and both PATCHes have passed their If-Match check before either writes.

The last tests send the same Idempotency-Key twice at the same instant (same body: one
control, one answer replayed; different bodies: one stored, the other refused) and load
the rule book from many cold requests at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from api import deps
from api.settings import Settings
from bevilling.decisions.common import rules_for
from bevilling.rules.book import RuleBook
from bevilling.rules.model import PrikkRule
from db.models import AuditEntry, IdempotencyRecord, Kontroll, Prikk
from db.session import session_factory
from tests.api.test_kontroller import control_body
from tests.crash.conftest import KOMMUNE, Server, add_bevilling, add_users, bearer, bevilling_row

FREE_ROUNDS = 12
GATED_ROUNDS = 6
USERS = {"k1": "kontrollor", "k2": "kontrollor", "s1": "saksbehandler", "s2": "saksbehandler"}
DAY = "2026-05-16"
# Violations per round: a different pair each time, so a lost control would show in the total.
PAIRS = [
    (["under_18"], ["utenfor_tid"]),
    (["apenbart_pavirket", "reklame"], ["internkontroll"]),
    (["medbrakt"], ["selger_alder", "vilkar"]),
    (["bistandsplikt"], []),
]


@pytest.fixture
def running(server: Server) -> Iterator[tuple[Server, dict[str, str]]]:
    tokens = add_users(server.database_url, USERS)
    server.start("uvicorn")
    yield server, tokens


def lock_waiters(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    with session_factory(url)() as session:
        return int(
            session.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
                    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                ),
                {"name": name},
            )
            or 0
        )


class RowGate:
    """Holds ``SELECT ... FOR UPDATE`` on bevilling rows until ``release``."""

    def __init__(self, url: str, bevilling_ids: list[int]) -> None:
        self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.connection = self.engine.connect()
        self.connection.execute(sa.text("BEGIN"))
        for bevilling_id in bevilling_ids:
            self.connection.execute(
                sa.text(f"SELECT id FROM bevillinger WHERE id = {int(bevilling_id)} FOR UPDATE")
            )

    def wait_for(self, url: str, waiters: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while lock_waiters(url) < waiters:
            assert time.monotonic() < deadline, (
                f"only {lock_waiters(url)} of {waiters} requests reached the lock"
            )
            time.sleep(0.01)

    def release(self) -> None:
        self.connection.execute(sa.text("COMMIT"))
        self.connection.close()
        self.engine.dispose()


def at_once(
    base_url: str, calls: dict[str, tuple[str, str, dict[str, Any], dict[str, str]]], gate: Any = None
) -> dict[str, tuple[httpx.Response | str, float, float]]:
    """Send every call from its own thread and connection at the same instant.
    ``gate(n)`` runs once all n threads have sent (it releases a RowGate)."""
    barrier = threading.Barrier(len(calls))
    results: dict[str, tuple[httpx.Response | str, float, float]] = {}

    def run(name: str) -> None:
        method, path, body, headers = calls[name]
        with httpx.Client(base_url=base_url, timeout=30.0) as http:
            http.get("/health")  # connected before the race starts
            barrier.wait(timeout=15)
            began = time.monotonic()
            try:
                response: httpx.Response | str = http.request(method, path, json=body, headers=headers)
            except httpx.HTTPError as error:
                response = f"{type(error).__name__}: {error}"
            results[name] = (response, began, time.monotonic())

    threads = [threading.Thread(target=run, args=(name,)) for name in calls]
    for thread in threads:
        thread.start()
    if gate is not None:
        gate(len(calls))
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == len(calls), f"requests did not come back: {set(calls) - set(results)}"
    return results


def test_two_controls_and_two_licence_changes_at_the_same_instant_lose_nothing(
    running: tuple[Server, dict[str, str]], book: RuleBook
) -> None:
    server, tokens = running
    url = server.database_url
    started = time.monotonic()
    placed = rules_for(book, KOMMUNE, date.fromisoformat(DAY))
    points = {p.rule.code: p.rule.points for p in placed.of_kind(PrikkRule) if isinstance(p.rule, PrikkRule)}
    bevilling = add_bevilling(url)
    expected_total = 0
    expected_version = bevilling_row(url, bevilling).version
    overlapping = refused_409 = refused_412 = stale_second = 0
    winners: list[str] = []

    for round_ in range(FREE_ROUNDS + GATED_ROUNDS):
        gated = round_ >= FREE_ROUNDS
        first, second = PAIRS[round_ % len(PAIRS)]
        with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
            read = http.get(f"/bevillinger/{bevilling}", headers=bearer(tokens["s1"]))
        assert read.status_code == 200, read.text
        old_etag = read.headers["ETag"]
        assert old_etag == f'W/"{expected_version}"', (round_, old_etag, expected_version)

        calls = {
            "k1": (
                "POST",
                "/kontroller",
                control_body(bevilling, first, at=f"{DAY}T22:15", place=f"Baren {round_}"),
                bearer(tokens["k1"], **{"Idempotency-Key": f"k1-{round_}"}),
            ),
            "k2": (
                "POST",
                "/kontroller",
                control_body(bevilling, second, at=f"{DAY}T22:15", place=f"Terrassen {round_}"),
                bearer(tokens["k2"], **{"Idempotency-Key": f"k2-{round_}"}),
            ),
            "s1": (
                "PATCH",
                f"/bevillinger/{bevilling}",
                {"styrer": f"Styrer s1 runde {round_}"},
                bearer(tokens["s1"], **{"If-Match": old_etag}),
            ),
            "s2": (
                "PATCH",
                f"/bevillinger/{bevilling}",
                {"stedfortreder": f"Stedfortreder s2 runde {round_}"},
                bearer(tokens["s2"], **{"If-Match": old_etag}),
            ),
        }
        if gated:
            row_gate = RowGate(url, [bevilling])

            def gate(n: int, row_gate: RowGate = row_gate) -> None:
                try:
                    row_gate.wait_for(url, n)  # both controls at FOR UPDATE, both PATCHes at UPDATE
                finally:
                    row_gate.release()

            results = at_once(server.base_url, calls, gate)
        else:
            results = at_once(server.base_url, calls)
        answers = {name: r for name, (r, _, _) in results.items()}
        context = {
            n: (a if isinstance(a, str) else (a.status_code, a.text[:300])) for n, a in answers.items()
        }
        assert all(not isinstance(a, str) for a in answers.values()), (round_, context)
        if max(b for _, b, _ in results.values()) < min(e for _, _, e in results.values()):
            overlapping += 1

        # Both controls are stored, and the later answer includes the earlier control.
        k1, k2 = answers["k1"], answers["k2"]
        assert isinstance(k1, httpx.Response) and isinstance(k2, httpx.Response)
        assert (k1.status_code, k2.status_code) == (201, 201), (round_, context)
        p1 = sum(points[c] for c in set(first))
        p2 = sum(points[c] for c in set(second))
        totals = sorted((k1.json()["bevilling"]["total"], k2.json()["bevilling"]["total"]))
        assert totals in (
            sorted((expected_total + p1, expected_total + p1 + p2)),
            sorted((expected_total + p2, expected_total + p1 + p2)),
        ), (round_, totals, expected_total, p1, p2)
        expected_total += p1 + p2

        # Exactly one of the two changes with the same ETag wins.
        statuses = {n: answers[n].status_code for n in ("s1", "s2")}  # type: ignore[union-attr]
        ok = [n for n, s in statuses.items() if s == 200]
        assert len(ok) == 1 and set(statuses.values()) - {200} <= {409, 412}, (round_, context)
        winner, loser = ok[0], ({"s1", "s2"} - set(ok)).pop()
        if statuses[loser] == 409:  # lost the race after its If-Match check: StaleDataError
            assert answers[loser].json()["title"] == "Changed meanwhile", (round_, context)  # type: ignore[union-attr]
        refused_409 += statuses[loser] == 409
        refused_412 += statuses[loser] == 412
        winners.append(winner)
        expected_version += 1
        won = answers[winner]
        assert isinstance(won, httpx.Response)
        assert won.headers["ETag"] == f'W/"{expected_version}"' and won.json()["version"] == expected_version

        # The officer's second write with the ETag read before the round is stale.
        with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
            again = http.patch(
                f"/bevillinger/{bevilling}",
                json={"styrer": f"Styrer s1 igjen {round_}"},
                headers=bearer(tokens["s1"], **{"If-Match": old_etag}),
            )
            assert again.status_code in (412, 409), (round_, again.status_code, again.text)
            stale_second += again.status_code == 412
            ledger = http.get(
                f"/bevillinger/{bevilling}/prikker", params={"dato": DAY}, headers=bearer(tokens["s1"])
            )
        assert ledger.status_code == 200 and ledger.json()["total"] == expected_total, (
            round_,
            ledger.text[:300],
        )

        row = bevilling_row(url, bevilling)
        assert row.version == expected_version, (round_, row.version, expected_version)
        if winner == "s1":
            assert row.styrer == f"Styrer s1 runde {round_}", (round_, row.styrer)
        else:
            assert row.stedfortreder == f"Stedfortreder s2 runde {round_}", (round_, row.stedfortreder)

    # The stored records: 2 controls and their prikker per round, one update entry per win.
    with session_factory(url)() as session:
        controls = list(session.scalars(select(Kontroll).where(Kontroll.bevilling_id == bevilling)))
        prikker = list(session.scalars(select(Prikk).where(Prikk.bevilling_id == bevilling)))
        updates = list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity == "bevilling",
                    AuditEntry.entity_id == str(bevilling),
                    AuditEntry.action == "update",
                )
            )
        )
    rounds = FREE_ROUNDS + GATED_ROUNDS
    assert len(controls) == 2 * rounds
    assert sum(p.points for p in prikker) == expected_total
    assert len(updates) == rounds
    assert [(u.after or {}).get("version") for u in sorted(updates, key=lambda u: u.id)] == list(
        range(2, rounds + 2)
    )
    assert bevilling_row(url, bevilling).version == 1 + rounds
    print(
        f"\ncontention report: rounds {rounds} ({FREE_ROUNDS} free, {GATED_ROUNDS} gated); "
        f"rounds with all four requests in flight at once {overlapping}; losers 409 {refused_409}, 412 {refused_412}; "
        f"stale second writes 412 {stale_second}/{rounds}; "
        f"winners {winners}; total {expected_total}; version {expected_version}; "
        f"server start {server.starts[0]:.2f} s; elapsed {time.monotonic() - started:.2f} s"
    )


def test_the_same_idempotency_key_at_the_same_instant_stores_one_control(
    running: tuple[Server, dict[str, str]], book: RuleBook
) -> None:
    server, tokens = running
    url = server.database_url
    first, other = add_bevilling(url), add_bevilling(url, place_name="Nabostua")
    same = control_body(first, ["under_18", "utenfor_tid"], at=f"{DAY}T22:15")
    calls = {
        # a client and its own retry, same key and body
        "same-a": ("POST", "/kontroller", same, bearer(tokens["k1"], **{"Idempotency-Key": "dup-1"})),
        "same-b": ("POST", "/kontroller", same, bearer(tokens["k1"], **{"Idempotency-Key": "dup-1"})),
        # the same key for two different controls (a client bug): one is stored, one refused
        "diff-a": (
            "POST",
            "/kontroller",
            control_body(first, ["reklame"], at=f"{DAY}T22:15"),
            bearer(tokens["k2"], **{"Idempotency-Key": "dup-2"}),
        ),
        "diff-b": (
            "POST",
            "/kontroller",
            control_body(other, ["medbrakt"], at=f"{DAY}T22:15"),
            bearer(tokens["k2"], **{"Idempotency-Key": "dup-2"}),
        ),
    }
    row_gate = RowGate(url, [first, other])

    def gate(n: int) -> None:
        try:
            row_gate.wait_for(url, n)
        finally:
            row_gate.release()

    answers = {name: r for name, (r, _, _) in at_once(server.base_url, calls, gate).items()}
    assert all(isinstance(a, httpx.Response) for a in answers.values()), answers
    got = {n: (a.status_code, a.headers.get("Idempotent-Replayed", "")) for n, a in answers.items()}  # type: ignore[union-attr]
    assert sorted(got[n] for n in ("same-a", "same-b")) == [(201, ""), (201, "true")], got
    assert answers["same-a"].json()["id"] == answers["same-b"].json()["id"]  # type: ignore[union-attr]
    assert sorted(got[n][0] for n in ("diff-a", "diff-b")) == [201, 422], got

    with session_factory(url)() as session:
        controls = list(session.scalars(select(Kontroll)))
        keys = list(session.scalars(select(IdempotencyRecord)))
        prikker = list(session.scalars(select(Prikk)))
    assert len(controls) == 2 and len(keys) == 2, (controls, keys)
    stored_for_dup2 = next(n for n in ("diff-a", "diff-b") if got[n][0] == 201)
    assert sorted(p.code for p in prikker) == sorted(
        ["under_18", "utenfor_tid", *calls[stored_for_dup2][2]["violations"]]
    )


def test_many_cold_requests_at_once_load_the_rule_book_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a restart every waiting client retries at once; the rule book (1-2 s of CPU to
    load) must be loaded once, not once per request."""
    real = RuleBook.load
    calls: list[object] = []

    def slow_load(root: Any) -> Any:
        calls.append(root)
        time.sleep(0.3)  # the real load takes 1-2 s of CPU; a sleep makes the overlap certain
        return real  # any object: only the number of loads is looked at

    monkeypatch.setattr(RuleBook, "load", staticmethod(slow_load))
    deps._load.cache_clear()
    settings = Settings()
    barrier = threading.Barrier(8)

    def first_request() -> None:
        barrier.wait(timeout=10)
        deps.get_book(settings)

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        deps._load.cache_clear()
    assert len(calls) == 1, f"the rule book was loaded {len(calls)} times by 8 concurrent first requests"
