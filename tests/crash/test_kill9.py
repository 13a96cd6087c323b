"""Crash safety of POST /kontroller: kill -9 the real server under load, restart it on the
same PostgreSQL database, let every client retry what got no answer with the SAME
Idempotency-Key, and check that the stored data are exactly what the answers promised.

The load is a few hundred controls from several client threads, each request with its own
key and violations drawn at random from the rule book's § 10-3 codes (sometimes a code
twice: likeartede brudd count once). The server is SIGKILLed after a number of successful
answers, several times; restarts go through ``bevilling serve`` (migrations first, as in
production). A request in flight when the server died may or may not have committed: its
retry must then either replay the stored answer or store it for the first time, never twice.

Checked afterwards, in the database and over HTTP:

* every request that ever got a 2xx is stored exactly once, as the control its answer named
  (the key is written into ``observations``, so controls are counted per key independently
  of the idempotency table);
* nothing is half-stored: every control has exactly one prikk per distinct violation, with
  the rule book's points, and one audit entry; every prikk has its audit entry; no prikk
  or audit entry without its control;
* retries created nothing twice: controls == idempotency records == distinct keys;
* per bevilling the prikk total (ledger and stored rows) is the sum of the violations'
  points, and the totals the answers showed are the prefix sums in commit order (controls
  of one bevilling are serialised on its row).

Seed: ``BEVILLING_CRASH_SEED`` (printed on failure).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import select

from bevilling.decisions.common import rules_for
from bevilling.rules.book import RuleBook
from bevilling.rules.model import PrikkRule
from db.models import AuditEntry, IdempotencyRecord, Kontroll, Prikk
from db.session import session_factory
from tests.api.test_kontroller import control_body
from tests.crash.conftest import KOMMUNE, Server, add_bevilling, add_users, bearer

REQUESTS = 200  # distinct controls (keys); with retries and re-sends the attempts stay < 300
CLIENTS = 8
KILL_AFTER = (40, 40, 40)  # kill -9 after this many 2xx answers in each of the first cycles
RESENDS = 16  # answered requests sent once more at the end: must replay, not store again
MAX_ATTEMPTS = 300  # about 4 server starts + 2-3 s of load per cycle: well under 90 s
# One date per bevilling (all within one two-year period): the total as of that date is
# then the plain sum of every control's points.
DATES = (date(2026, 3, 10), date(2026, 5, 16), date(2026, 8, 1), date(2026, 10, 20))
USERS = {"k1": "kontrollor", "k2": "kontrollor", "k3": "kontrollor", "saks": "saksbehandler"}


@dataclass
class Req:
    key: str
    user: str
    bevilling: int
    day: date
    violations: list[str]
    body: dict[str, Any]
    attempts: int = 0
    answers: list[tuple[int, int, dict[str, Any], bool]] = field(
        default_factory=list
    )  # cycle, status, body, replayed
    errors: list[tuple[int, str]] = field(default_factory=list)  # cycle, exception type

    @property
    def ok(self) -> dict[str, Any] | None:
        return next((b for _, s, b, _ in self.answers if 200 <= s < 300), None)

    @property
    def settled(self) -> bool:
        # Answered 2xx or refused with 4xx: a client does not retry those. 5xx and no
        # answer at all are retried with the same key.
        return any(s < 500 for _, s, _, _ in self.answers)


@dataclass
class Cycle:
    number: int
    attempts: int = 0
    ok: int = 0
    transport_errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    killed: bool = False
    busy_backends_after_kill: int = 0
    latencies: list[float] = field(default_factory=list)
    backends_gone_after: float = 0.0


def vocabulary(book: RuleBook, day: date) -> dict[str, int]:
    placed = rules_for(book, KOMMUNE, day).of_kind(PrikkRule)
    return {p.rule.code: p.rule.points for p in placed if isinstance(p.rule, PrikkRule)}


def plan(rng: random.Random, bevillinger: list[int], codes: list[str]) -> list[Req]:
    requests = []
    for index in range(REQUESTS):
        slot = rng.randrange(len(bevillinger))
        violations = rng.sample(codes, rng.randint(0, 3))
        if violations and rng.random() < 0.2:
            violations.append(violations[0])  # likeartede brudd at one control count once
        key = f"crash-{index:03d}-{uuid.uuid4().hex[:8]}"
        body = control_body(
            bevillinger[slot],
            violations,
            at=f"{DATES[slot].isoformat()}T22:15",
            observations=f"key={key}",
        )
        requests.append(
            Req(key, rng.choice(["k1", "k2", "k3"]), bevillinger[slot], DATES[slot], violations, body)
        )
    return requests


def busy_backends(url: str) -> int:
    """Backends on the test database other than idle ones (the killed server's open
    transactions that PostgreSQL has not yet rolled back)."""
    name = url.rsplit("/", 1)[1]
    with session_factory(url)() as session:
        return int(
            session.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
                    "AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'"
                ),
                {"name": name},
            )
            or 0
        )


def run_cycle(
    server: Server, cycle: Cycle, pending: list[Req], tokens: dict[str, str], kill_after: int | None
) -> None:
    queue = deque(pending)
    lock = threading.Lock()
    killed = threading.Event()
    began = time.monotonic()

    def client() -> None:
        with httpx.Client(base_url=server.base_url, timeout=20.0) as http:
            while True:
                with lock:
                    if killed.is_set() or not queue:
                        return
                    req = queue.popleft()
                    req.attempts += 1
                    cycle.attempts += 1
                sent = time.monotonic()
                try:
                    response = http.post(
                        "/kontroller",
                        json=req.body,
                        headers=bearer(tokens[req.user], **{"Idempotency-Key": req.key}),
                    )
                except httpx.TransportError as error:
                    with lock:
                        req.errors.append((cycle.number, type(error).__name__))
                        cycle.transport_errors[type(error).__name__] += 1
                    continue
                try:
                    payload = response.json()
                except ValueError:
                    payload = {"text": response.text}
                replayed = response.headers.get("Idempotent-Replayed") == "true"
                trigger = False
                with lock:
                    cycle.latencies.append(time.monotonic() - sent)
                    req.answers.append((cycle.number, response.status_code, payload, replayed))
                    if response.is_success:
                        cycle.ok += 1
                        trigger = kill_after is not None and cycle.ok == kill_after
                if trigger:
                    killed.set()  # no client takes a new request from here on
                    server.kill9()  # mid-load: the other clients are in flight right now

    threads = [threading.Thread(target=client, name=f"client-{n}") for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    cycle.seconds = time.monotonic() - began
    cycle.killed = killed.is_set()
    if cycle.killed:
        cycle.busy_backends_after_kill = busy_backends(server.database_url)
        waited = time.monotonic()
        while busy_backends(server.database_url) and time.monotonic() - waited < 10:
            time.sleep(0.02)
        cycle.backends_gone_after = time.monotonic() - waited


def latency(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "p50": round(ordered[len(ordered) // 2], 3),
        "p95": round(ordered[int(len(ordered) * 0.95)], 3),
        "max": round(ordered[-1], 3),
    }


def stored(url: str) -> tuple[list[Kontroll], list[Prikk], list[AuditEntry], list[IdempotencyRecord]]:
    with session_factory(url)() as session:
        return (
            list(session.scalars(select(Kontroll).order_by(Kontroll.id))),
            list(session.scalars(select(Prikk).order_by(Prikk.id))),
            list(session.scalars(select(AuditEntry).order_by(AuditEntry.id))),
            list(session.scalars(select(IdempotencyRecord).order_by(IdempotencyRecord.id))),
        )


def test_kill_9_under_load_then_retries_with_the_same_keys_store_every_control_exactly_once(
    server: Server, book: RuleBook
) -> None:
    started = time.monotonic()
    seed = int(os.environ.get("BEVILLING_CRASH_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    url = server.database_url
    tokens = add_users(url, USERS)
    bevillinger = [add_bevilling(url, place_name=f"Stad {n}") for n in range(len(DATES))]
    points = vocabulary(book, DATES[0])
    assert all(vocabulary(book, d) == points for d in DATES)
    requests = plan(rng, bevillinger, sorted(points))

    cycles: list[Cycle] = []
    pending = list(requests)
    server.start("uvicorn")
    while pending:
        cycle = Cycle(len(cycles) + 1)
        cycles.append(cycle)
        assert len(cycles) <= len(KILL_AFTER) + 3, f"seed {seed}: requests still unanswered: {len(pending)}"
        kill_after = KILL_AFTER[cycle.number - 1] if cycle.number <= len(KILL_AFTER) else None
        run_cycle(server, cycle, pending, tokens, kill_after)
        # Retry first what got no answer (or a 5xx), then what was never sent.
        tried = [r for r in requests if not r.settled and r.attempts]
        untried = [r for r in requests if not r.settled and not r.attempts]
        pending = tried + untried
        if cycle.killed:
            server.start("serve")  # the same port and database; migrations run first

    context = f"seed {seed}; server log:\n{server.logs()[-3000:]}"

    # A few answered requests once more (a client that lost the answer after all).
    resent = rng.sample([r for r in requests if r.ok is not None], RESENDS)
    with httpx.Client(base_url=server.base_url, timeout=20.0) as http:
        for req in resent:
            req.attempts += 1
            response = http.post(
                "/kontroller", json=req.body, headers=bearer(tokens[req.user], **{"Idempotency-Key": req.key})
            )
            assert response.status_code == 201, (req.key, response.text, context)
            assert response.headers.get("Idempotent-Replayed") == "true", (req.key, context)
            assert response.json() == req.ok, (req.key, context)
        ledgers = {
            b: http.get(
                f"/bevillinger/{b}/prikker", params={"dato": day.isoformat()}, headers=bearer(tokens["saks"])
            )
            for b, day in zip(bevillinger, DATES, strict=True)
        }

    # --- the answers ------------------------------------------------------------------
    refused = [(r.key, s, b) for r in requests for _, s, b, _ in r.answers if not 200 <= s < 300]
    assert not refused, (refused[:5], context)
    for req in requests:
        ids = {b["id"] for _, s, b, _ in req.answers}
        assert len(ids) == 1, (req.key, req.answers, context)  # every 2xx for a key names one control
    attempts = sum(r.attempts for r in requests)
    assert attempts <= MAX_ATTEMPTS

    # --- the database -----------------------------------------------------------------
    controls, prikker, audit, keys = stored(url)
    by_key: dict[str, list[Kontroll]] = defaultdict(list)
    for row in controls:
        assert row.observations.startswith("key="), row.observations
        by_key[row.observations.removeprefix("key=")].append(row)
    duplicated = {k: [r.id for r in rows] for k, rows in by_key.items() if len(rows) != 1}
    assert not duplicated, (duplicated, context)
    assert set(by_key) == {r.key for r in requests}, context
    assert len(controls) == len(keys) == len(requests), (len(controls), len(keys), len(requests), context)
    for req in requests:
        row = by_key[req.key][0]
        assert req.ok is not None and req.ok["id"] == row.id, (req.key, context)
        assert (row.bevilling_id, row.violations, row.created_by) == (req.bevilling, req.violations, req.user)
    record_of = {(k.actor, k.key): k for k in keys}
    for req in requests:
        record = record_of[(req.user, req.key)]
        assert (record.status_code, record.response["body"]["id"]) == (201, by_key[req.key][0].id)

    prikker_of: dict[int, list[Prikk]] = defaultdict(list)
    control_ids = {row.id for row in controls}
    for prikk in prikker:
        assert prikk.kontroll_id in control_ids, f"prikk {prikk.id} without its control"
        prikker_of[prikk.kontroll_id].append(prikk)
    for req in requests:
        row = by_key[req.key][0]
        got = sorted((p.code, p.points, p.violation_date, p.bevilling_id) for p in prikker_of[row.id])
        want = sorted((c, points[c], req.day, req.bevilling) for c in set(req.violations))
        assert got == want, (req.key, got, want, context)

    created = Counter((a.entity, a.entity_id) for a in audit if a.action == "create")
    for row in controls:
        assert created[("kontroll", str(row.id))] == 1, (row.id, context)
    for prikk in prikker:
        assert created[("prikk", str(prikk.id))] == 1, (prikk.id, context)
    prikk_ids = {str(p.id) for p in prikker}
    orphans = [
        a.id
        for a in audit
        if (a.entity == "kontroll" and int(a.entity_id) not in control_ids)
        or (a.entity == "prikk" and a.entity_id not in prikk_ids)
    ]
    assert not orphans, (orphans, context)
    assert sum(1 for a in audit if a.entity in ("kontroll", "prikk")) == len(controls) + len(prikker)

    # --- the totals -------------------------------------------------------------------
    for bevilling, day in zip(bevillinger, DATES, strict=True):
        mine = [r for r in requests if r.bevilling == bevilling]
        expected = sum(points[c] for r in mine for c in set(r.violations))
        assert sum(p.points for p in prikker if p.bevilling_id == bevilling) == expected
        ledger = ledgers[bevilling]
        assert ledger.status_code == 200, ledger.text
        assert ledger.json()["total"] == expected, (bevilling, ledger.json()["total"], expected, context)
        # In commit order (= id order: ids are drawn under the row lock) the totals the
        # answers showed are the running sums.
        running = 0
        for req in sorted(mine, key=lambda r: by_key[r.key][0].id):
            running += sum(points[c] for c in set(req.violations))
            assert req.ok is not None and req.ok["bevilling"]["total"] == running, (req.key, context)
            assert req.ok["bevilling"]["as_of"] == day.isoformat()

    # --- what happened ----------------------------------------------------------------
    retried = [r for r in requests if r.errors]
    in_flight = [r for r in retried if any(e != "ConnectError" for _, e in r.errors)]
    replayed_after_crash = [r for r in in_flight if any(rep for _, _, _, rep in r.answers)]
    elapsed = time.monotonic() - started
    report = {
        "seed": seed,
        "requests": len(requests),
        "attempts": attempts,
        "kills": server.kills,
        "cycles": [
            {
                "attempts": c.attempts,
                "2xx": c.ok,
                "transport_errors": dict(c.transport_errors),
                "seconds": round(c.seconds, 2),
                "latency_s": latency(c.latencies),
                "killed": c.killed,
                "busy_backends_after_kill": c.busy_backends_after_kill,
                "busy_backends_gone_after_s": round(c.backends_gone_after, 3),
            }
            for c in cycles
        ],
        "retried_with_same_key": len(retried),
        "in_flight_at_a_kill": len(in_flight),
        "of_those_committed_before_the_kill_and_replayed": len(replayed_after_crash),
        "resent_after_2xx_and_replayed": len(resent),
        "controls": len(controls),
        "prikker": len(prikker),
        "server_starts_s": [round(s, 2) for s in server.starts],
        "elapsed_s": round(elapsed, 2),
    }
    print(f"\nkill -9 report: {report}")
    assert server.kills == len(KILL_AFTER), report


# --- both sides of the kill, made certain ------------------------------------------------
#
# A random kill lands between COMMIT and the answer only now and then. Here a test-only
# deferred constraint trigger on the idempotency table (run by COMMIT itself) waits for an
# advisory lock the test holds, and a row lock the test holds on a second bevilling stops
# another request before it writes. With both requests parked the server is SIGKILLed and
# restarted, and the clients retry with the same keys while the dead server's two
# transactions are still open in PostgreSQL (its backends do not look at the dead client
# while they wait). Then the test lets go: the first COMMIT completes after the kill, the
# second transaction is rolled back. The retries must replay the first and store the
# second, once each, whatever order they run in.

GATE = 4242
GATE_SQL = (
    f"""
    CREATE FUNCTION crash_test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.key LIKE 'gate-%' THEN PERFORM pg_advisory_xact_lock_shared({GATE}); END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER crash_test_gate AFTER INSERT ON idempotency_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crash_test_gate()
    """,
)


def lock_waits(url: str) -> list[tuple[str, str]]:
    """(wait_event, query) of the backends on ``url`` waiting for a lock."""
    name = url.rsplit("/", 1)[1]
    with session_factory(url)() as session:
        rows = session.execute(
            sa.text(
                "SELECT wait_event, query FROM pg_stat_activity WHERE datname = :name "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            ),
            {"name": name},
        )
        return [(str(event), str(query)) for event, query in rows]


def wait_for(condition: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def post_in_threads(
    server: Server, token: str, bodies: dict[str, dict[str, Any]]
) -> tuple[list[threading.Thread], dict[str, httpx.Response | str]]:
    outcome: dict[str, httpx.Response | str] = {}

    def post(key: str) -> None:
        try:
            with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
                outcome[key] = http.post(
                    "/kontroller", json=bodies[key], headers=bearer(token, **{"Idempotency-Key": key})
                )
        except httpx.TransportError as error:
            outcome[key] = type(error).__name__

    threads = [threading.Thread(target=post, args=(key,)) for key in bodies]
    for thread in threads:
        thread.start()
    return threads, outcome


def test_a_kill_after_commit_is_replayed_and_a_kill_before_commit_is_stored_by_the_retry(
    server: Server, book: RuleBook
) -> None:
    started = time.monotonic()
    url = server.database_url
    tokens = add_users(url, {"k1": "kontrollor"})
    porten, lasen = add_bevilling(url, place_name="Porten"), add_bevilling(url, place_name="Låsen")
    points = vocabulary(book, DATES[1])
    bodies = {
        "gate-commit": control_body(porten, ["under_18", "utenfor_tid"], observations="gate-commit"),
        "gate-locked": control_body(lasen, ["apenbart_pavirket"], observations="gate-locked"),
    }
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for statement in GATE_SQL:
                connection.execute(sa.text(statement))
        server.start("uvicorn")
        with admin.connect() as gate, admin.connect() as row_lock:
            gate.execute(sa.text(f"SELECT pg_advisory_lock({GATE})"))
            row_lock.execute(sa.text("BEGIN"))
            row_lock.execute(sa.text(f"SELECT id FROM bevillinger WHERE id = {lasen} FOR UPDATE"))

            threads, first = post_in_threads(server, tokens["k1"], bodies)
            wait_for(
                lambda: sorted(e for e, _ in lock_waits(url)) == ["advisory", "transactionid"],
                "one COMMIT parked on the gate and one request on the row lock",
            )
            assert any(q.strip().upper() == "COMMIT" for e, q in lock_waits(url) if e == "advisory")
            server.kill9()
            for thread in threads:
                thread.join(timeout=15)
            assert first == {"gate-commit": "RemoteProtocolError", "gate-locked": "RemoteProtocolError"}

            # The dead server's transactions are still open: restart and retry meanwhile.
            server.start("serve")
            threads, retried = post_in_threads(server, tokens["k1"], bodies)
            wait_for(lambda: len(lock_waits(url)) == 4, "both retries to queue behind the dead server's work")
            assert stored(url)[0] == []  # nothing committed yet
            gate.execute(sa.text(f"SELECT pg_advisory_unlock({GATE})"))
            row_lock.execute(sa.text("COMMIT"))
            for thread in threads:
                thread.join(timeout=30)
        wait_for(lambda: busy_backends(url) == 0, "the dead server's backends to finish")

        answers = {k: a for k, a in retried.items() if isinstance(a, httpx.Response)}
        assert {k: a.status_code for k, a in answers.items()} == {"gate-commit": 201, "gate-locked": 201}, (
            retried
        )
        # The COMMIT under way when the server died went through: its retry is the replay.
        assert answers["gate-commit"].headers.get("Idempotent-Replayed") == "true"
        # The transaction that had not committed was rolled back: its retry stored it.
        assert "Idempotent-Replayed" not in answers["gate-locked"].headers

        controls, prikker, audit, keys = stored(url)
        assert sorted((c.observations, c.id) for c in controls) == sorted(
            (key, answer.json()["id"]) for key, answer in answers.items()
        )
        assert sorted(k.key for k in keys) == ["gate-commit", "gate-locked"]
        assert sorted((p.kontroll_id, p.code, p.points) for p in prikker) == sorted(
            (answers[key].json()["id"], code, points[code])
            for key, body in bodies.items()
            for code in set(body["violations"])
        )
        created = Counter((a.entity, a.entity_id) for a in audit if a.entity in ("kontroll", "prikk"))
        assert created == Counter(
            [("kontroll", str(c.id)) for c in controls] + [("prikk", str(p.id)) for p in prikker]
        )
        print(
            f"\ngate report: both requests parked and cut off by the kill; retries queued behind the "
            f"dead server's open transactions; server starts {[round(s, 2) for s in server.starts]} s; "
            f"elapsed {time.monotonic() - started:.2f} s"
        )
    finally:
        admin.dispose()
