"""The HTTP service under load: uvicorn as a subprocess on a scratch PostgreSQL database.

What ``run_api_bench`` measures, all in one run against one database:

For each worker count (default 1, then 2) a fresh ``uvicorn api.main:app`` is started
(migrated database, one kontrollør and ``licences`` skjenkebevillinger of Nord-Aurdal), and
for each number of concurrent clients (default 16, then 64; threads, one keep-alive
``httpx.Client`` each) three endpoints of the same app are driven:

* ``health``: ``GET /health``, the trivial endpoint (the HTTP stack alone);
* ``decision``: ``GET /kommuner/3451/skjenking/tillatt?at=...&group=1`` at times spread over
  the year (the rule lookup, the engine, the answer with its reasons), after every worker
  has answered for every day of the year once (as a long-running worker has);
* ``decision-national``: the same question for any of the bundled kommuner whose rules are
  in force all year, on any day: with 356 kommuner a worker meets 130,000 (kommune, day)
  pairs, more than ``RuleBook``'s 20,000-entry cache holds, so most questions pay for
  resolving the day's rules; this one shows that cost;
* ``kontroll``: ``POST /kontroller`` with a fresh ``Idempotency-Key`` (authentication, a
  row lock, the prikk assessment, the rows, audit and idempotency records, one commit),
  one control in ten with a violation.

Each endpoint gets ``duration`` seconds, in ``rounds`` slices that alternate between the
three endpoints (health, decision, kontroll, health, ...), so all three see the same
background load and their ratios stay meaningful when the absolute figures do not; each
slice is also bounded in requests. Reported: requests/s, p50 and p99 latency per endpoint,
the decision/health and kontroll/health throughput ratios, errors (any answer other than
200/201, or none), and the CPU the load generator and the server used per second of wall
time. The load generator, the server's workers and PostgreSQL share this machine's CPUs:
the generator's own cost is in the figures, and the table says so.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from benchmarks._support import SHARED_CPUS_NOTE, Rows, base_meta, percentile, ratio, scratch_database
from bevilling.bench import BenchResult

ROOT = Path(__file__).resolve().parent.parent
KOMMUNE = "3451"
KOMMUNE_SLUG = "nord-aurdal"
SEED = 16_64
TARGET_DECISION_RATIO = 0.70
ENDPOINTS = ("health", "decision", "decision-national", "kontroll")
YEAR = 2026
VIOLATION_SHARE = 0.1
MAX_REQUESTS_PER_SECOND = 20_000  # bounds every slice in count as well as in time
STARTUP_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 30.0
DST_DAYS = (date(2026, 3, 29), date(2026, 10, 25))


def prefix(workers: int, clients: int) -> str:
    return f"{workers} worker{'s' if workers > 1 else ''}, {clients} clients"


def row_names(workers: Sequence[int] = (1, 2), clients: Sequence[int] = (16, 64)) -> list[str]:
    """Every row ``run_api_bench`` reports for these worker and client counts, in order."""
    names = ["setup: scratch database migrated and seeded"]
    for count in workers:
        names.append(f"setup: {count} worker(s) up (until /health answers)")
        names.append(f"setup: {count} worker(s): every day's decision, warm-up")
        for concurrency in clients:
            head = prefix(count, concurrency)
            for endpoint in ENDPOINTS:
                names += [
                    f"{head}: {endpoint} requests/s",
                    f"{head}: {endpoint} p50",
                    f"{head}: {endpoint} p99",
                    f"{head}: {endpoint} server CPU per request",
                ]
            names += [
                f"{head}: decision / health requests/s",
                f"{head}: decision / health server CPU per request",
                f"{head}: decision-national / decision requests/s",
                f"{head}: kontroll / health requests/s",
                f"{head}: errors",
                f"{head}: load generator CPU",
                f"{head}: server CPU",
            ]
    if 1 in workers and 2 in workers:
        names += [f"{c} clients: decision, 2 workers / 1 worker requests/s" for c in clients]
    names.append("setup: warm-up answers other than 200")
    names.append("kontroll: rows stored minus 201 answers")
    return names


# -- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                found += [int(child) for child in handle.read().split()]
    except OSError:
        pass
    return found


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes (Linux ``/proc``; 0 where unreadable)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def pids(self) -> list[int]:
        return [self.process.pid, *_children(self.process.pid)]

    def cpu(self) -> float:
        return _cpu_seconds(self.pids())


@contextmanager
def serve(
    database_url: str, workers: int, log_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``uvicorn api.main:app`` on a free loopback port; stopped (only it and its workers) after."""
    port = _free_port()
    env = dict(os.environ, BEVILLING_DATABASE_URL=database_url, **(extra_env or {}))
    log = log_dir / f"uvicorn-{workers}w-{port}.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        yield server
    finally:
        workers_seen = {pid: _start_time(pid) for pid in _children(process.pid)}
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        for pid, started in workers_seen.items():  # a worker the supervisor failed to stop
            if started is not None and _start_time(pid) == started:  # the same process, not a reused id
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def wait_until_up(server: Server, timeout: float = STARTUP_TIMEOUT_S) -> float:
    """Seconds until ``/health`` answers 200 (raises if the server dies or never answers)."""
    started = time.perf_counter()
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.perf_counter() - started < timeout:
            if server.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {server.process.returncode}: see {server.log}")
            try:
                if client.get("/health").status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"uvicorn did not answer /health within {timeout:g} s: see {server.log}")


# -- the data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    token: str
    bevilling_ids: list[int]


def seed(url: str, licences: int) -> Seeded:
    """One kontrollør and ``licences`` skjenkebevillinger of Nord-Aurdal (rows written directly:
    what is measured is the controls, not the grants)."""
    from db.commands import add_user
    from db.models import Bevilling
    from db.session import unit_of_work

    token = add_user(url, "bench-kontrollor", "kontrollor", [KOMMUNE_SLUG])
    with unit_of_work(url) as session:
        rows = [
            Bevilling(
                kommune=KOMMUNE_SLUG,
                licence="skjenking",
                holder=f"Bench {n} AS",
                place_name=f"Benkestedet {n}",
                address=f"Fagernes {n}, 2900 Fagernes",
                venue="serveringssted",
                styrer=f"Styrer {n}",
                stedfortreder=f"Stedfortreder {n}",
                groups=[1, 2, 3],
                areas=["inne"],
                hours=[],
                conditions=[],
                valid_from=date(2024, 10, 1),
                valid_to=date(2028, 9, 30),
                status="aktiv",
                vedtak={"decision": "accept", "decided_by": "bench"},
            )
            for n in range(1, licences + 1)
        ]
        session.add_all(rows)
        session.flush()
        ids = [row.id for row in rows]
    return Seeded(token, ids)


def stored_controls(url: str) -> int:
    from db.session import engine_for

    with engine_for(url).connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM kontroller")).scalar_one())


# -- the requests -------------------------------------------------------------------------------


def _decision_path(kommune: str, day: date, minute: int) -> str:
    return f"/kommuner/{kommune}/skjenking/tillatt?at={day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}&group=1"


def decision_paths(
    count: int, rng: random.Random, kommuner: Sequence[str] = (KOMMUNE,), year: int = YEAR
) -> list[str]:
    """Local times spread over the year (minutes of the whole day; never the DST hour), each
    in one of ``kommuner``."""
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    paths: list[str] = []
    while len(paths) < count:
        day = first + timedelta(days=rng.randrange(days))
        minute = rng.randrange(24 * 60)
        if day in DST_DAYS and 120 <= minute < 180:
            continue
        paths.append(_decision_path(rng.choice(kommuner), day, minute))
    return paths


def every_day(kommune: str = KOMMUNE, year: int = YEAR) -> list[str]:
    """One decision (at 21:00) on every day of the year: a worker that has answered these has
    resolved and cached the kommune's rules for every day, as a long-running worker has."""
    first = date(year, 1, 1)
    return [
        _decision_path(kommune, first + timedelta(days=n), 21 * 60)
        for n in range((date(year + 1, 1, 1) - first).days)
    ]


def national_kommuner(year: int = YEAR) -> list[str]:
    """Kommunenummer of every bundled kommune whose rules are in force all year."""
    from api.settings import get_settings
    from bevilling.rules.book import RuleBook

    book = RuleBook.load(get_settings().rules_path)
    found = []
    for model in book.kommuner():
        try:
            for day in (date(year, 1, 1), date(year, 7, 1), date(year, 12, 31)):
                book.effective(model.slug, day)
        except LookupError:
            continue
        if model.kommunenummer:
            found.append(model.kommunenummer)
    return found


def _kontroll_body(rng: random.Random, bevilling_ids: Sequence[int]) -> dict[str, Any]:
    day = date(2025, 1, 1) + timedelta(days=rng.randrange(365))
    minute = rng.randrange(20 * 60, 24 * 60)  # an evening: never a DST hour
    return {
        "bevilling_id": rng.choice(bevilling_ids),
        "at": f"{day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}",
        "kind": "skjenking",
        "place": "skjenkelokalet",
        "kontrollorer": ["Kontrollør A", "Kontrollør B"],
        "observations": "Anonym kontroll.",
        "violations": ["medbrakt"] if rng.random() < VIOLATION_SHARE else [],
    }


Call = Callable[[httpx.Client, random.Random], httpx.Response]


def endpoint_calls(
    seeded: Seeded, rng: random.Random, kommuner: Sequence[str]
) -> dict[str, tuple[Call, int]]:
    paths = decision_paths(4096, rng)
    national = decision_paths(4096, rng, kommuner)
    auth = {"Authorization": f"Bearer {seeded.token}"}

    def health(client: httpx.Client, _: random.Random) -> httpx.Response:
        return client.get("/health")

    def decision(client: httpx.Client, local: random.Random) -> httpx.Response:
        return client.get(local.choice(paths))

    def decision_national(client: httpx.Client, local: random.Random) -> httpx.Response:
        return client.get(local.choice(national))

    def kontroll(client: httpx.Client, local: random.Random) -> httpx.Response:
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
        return client.post("/kontroller", json=_kontroll_body(local, seeded.bevilling_ids), headers=headers)

    return {
        "health": (health, 200),
        "decision": (decision, 200),
        "decision-national": (decision_national, 200),
        "kontroll": (kontroll, 201),
    }


def warm_every_day(clients: Sequence[httpx.Client], repeat: int) -> int:
    """Every day's decision ``repeat`` times, spread over the clients (so that every worker
    very likely sees every day); returns the answers other than 200."""
    paths = every_day() * repeat
    failures = [0] * len(clients)

    def work(index: int) -> None:
        for path in paths[index :: len(clients)]:
            try:
                if clients[index].get(path).status_code != 200:
                    failures[index] += 1
            except httpx.HTTPError:
                failures[index] += 1

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return sum(failures)


# -- the load -----------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    created: int = 0  # 201 answers
    wall_s: float = 0.0
    generator_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    first_error: str | None = None

    def rate(self) -> float:
        return ratio(self.requests, self.wall_s)

    def cpu_per_request(self) -> float:
        """Server CPU seconds per answered request (less disturbed by other load than rates)."""
        return ratio(self.server_cpu_s, self.requests)

    def p(self, fraction: float) -> float:
        return percentile(sorted(self.latencies_ns), fraction) / 1e6  # ms


def drive(
    clients: Sequence[httpx.Client],
    call: Call,
    expected: int,
    seconds: float,
    tally: Tally,
    server: Server | None,
    seed_base: int,
) -> None:
    """All clients call ``call`` as fast as answers come, for ``seconds`` (and at most
    ``MAX_REQUESTS_PER_SECOND * seconds`` requests); adds to ``tally``."""
    budget = itertools.count()
    limit = int(MAX_REQUESTS_PER_SECOND * seconds)
    barrier = threading.Barrier(len(clients) + 1)
    latencies: list[list[int]] = [[] for _ in clients]
    errors = [0] * len(clients)
    created = [0] * len(clients)
    first_error: list[str] = []
    deadline = [0.0]

    def work(index: int) -> None:
        client, rng = clients[index], random.Random(seed_base + index)
        mine = latencies[index]
        clock = time.perf_counter_ns
        barrier.wait()
        while time.perf_counter() < deadline[0] and next(budget) < limit:
            before = clock()
            try:
                response = call(client, rng)
                status = response.status_code
                if status == 201:
                    created[index] += 1
                if status != expected:
                    errors[index] += 1
                    if not first_error:
                        first_error.append(f"{status}: {response.text[:300]}")
            except Exception as exc:  # counted, never fatal: the load goes on
                errors[index] += 1
                if not first_error:
                    first_error.append(f"{type(exc).__name__}: {exc}")
            mine.append(clock() - before)

    threads = [
        threading.Thread(target=work, args=(k,), name=f"load-{k}", daemon=True) for k in range(len(clients))
    ]
    for thread in threads:
        thread.start()
    server_cpu = server.cpu() if server is not None else 0.0
    cpu = time.process_time()
    started = time.perf_counter()
    deadline[0] = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_S + 5)
    tally.wall_s += time.perf_counter() - started
    tally.generator_cpu_s += time.process_time() - cpu
    if server is not None:
        tally.server_cpu_s += server.cpu() - server_cpu
    for mine in latencies:
        tally.latencies_ns += mine
        tally.requests += len(mine)
    tally.errors += sum(errors)
    tally.created += sum(created)
    if first_error and tally.first_error is None:
        tally.first_error = first_error[0]


@contextmanager
def client_pool(base_url: str, count: int) -> Iterator[list[httpx.Client]]:
    clients = [
        httpx.Client(
            base_url=base_url,
            timeout=REQUEST_TIMEOUT_S,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        for _ in range(count)
    ]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


# -- the benchmark ------------------------------------------------------------------------------


def run_api_bench(
    *,
    workers: Sequence[int] = (1, 2),
    clients: Sequence[int] = (16, 64),
    duration: float = 5.0,
    rounds: int = 5,
    warmup: float = 1.0,
    licences: int = 50,
    admin_url: str | None = None,
    keep: bool = False,
    log_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchResult:
    """See the module docstring. ``duration`` seconds per endpoint and configuration."""
    if not workers or not clients or duration <= 0 or rounds < 1 or licences < 1:
        raise ValueError("workers, clients, a positive duration, rounds and licences are required")

    def say(text: str) -> None:
        if progress is not None:
            progress(text)

    rows = Rows()
    rng = random.Random(SEED)
    created = 0
    tallies: dict[tuple[int, int], dict[str, Tally]] = {}
    logs = log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
    with scratch_database("bevilling_bench_api", admin_url, keep=keep) as url:
        started = time.perf_counter()
        seeded = seed(url, licences)
        rows.add("setup: scratch database migrated and seeded", time.perf_counter() - started, "s")
        kommuner = national_kommuner()
        calls = endpoint_calls(seeded, rng, kommuner)
        warm_failures = 0
        for count in workers:
            say(f"starting uvicorn with {count} worker(s)")
            with serve(url, count, logs) as server:
                rows.add(f"setup: {count} worker(s) up (until /health answers)", wait_until_up(server), "s")
                say(f"{count} worker(s): a decision for every day of {YEAR}, {count + 1} times")
                with client_pool(server.base_url, max(clients)) as pool:
                    started = time.perf_counter()
                    warm_failures += warm_every_day(pool, count + 1)
                rows.add(
                    f"setup: {count} worker(s): every day's decision, warm-up",
                    time.perf_counter() - started,
                    "s",
                )
                for concurrency in clients:
                    head = prefix(count, concurrency)
                    say(f"{head}: warm-up, then {duration:g} s per endpoint in {rounds} rounds")
                    by_endpoint = {name: Tally() for name in ENDPOINTS}
                    with client_pool(server.base_url, concurrency) as pool:
                        for name in ENDPOINTS:  # every worker compiles its rulesets, fills its pool
                            warm = Tally()
                            call, expected = calls[name]
                            drive(pool, call, expected, warmup, warm, None, rng.randrange(1 << 30))
                            created += warm.created
                        for _ in range(rounds):
                            for name in ENDPOINTS:
                                call, expected = calls[name]
                                drive(
                                    pool,
                                    call,
                                    expected,
                                    duration / rounds,
                                    by_endpoint[name],
                                    server,
                                    rng.randrange(1 << 30),
                                )
                    created += by_endpoint["kontroll"].created
                    tallies[(count, concurrency)] = by_endpoint
                    _report(rows, head, by_endpoint)
        for concurrency in clients:
            if (1, concurrency) in tallies and (2, concurrency) in tallies:
                rows.add(
                    f"{concurrency} clients: decision, 2 workers / 1 worker requests/s",
                    ratio(
                        tallies[(2, concurrency)]["decision"].rate(),
                        tallies[(1, concurrency)]["decision"].rate(),
                    ),
                    "x",
                )
        rows.zero("setup: warm-up answers other than 200", warm_failures)
        rows.zero("kontroll: rows stored minus 201 answers", stored_controls(url) - created)

    first_errors = {
        f"{prefix(w, c)} {name}": tally.first_error
        for (w, c), by_endpoint in tallies.items()
        for name, tally in by_endpoint.items()
        if tally.first_error
    }
    meta = base_meta(
        workers=", ".join(str(w) for w in workers),
        clients=", ".join(str(c) for c in clients),
        duration=f"{duration:g} s per endpoint, {rounds} alternating rounds",
        licences=str(licences),
        kommune=f"{KOMMUNE} ({KOMMUNE_SLUG}); decision-national: {len(kommuner)} kommuner "
        f"({', '.join(kommuner)})",
        server="uvicorn api.main:app (subprocess), PostgreSQL scratch database",
        note=SHARED_CPUS_NOTE.format(cpus=os.cpu_count() or "?")
        + "; CPU rows are cores busy per second of wall time",
    )
    meta.update({f"first_error {key}": value for key, value in first_errors.items() if value})
    return BenchResult(rows.rows, meta)


def _report(rows: Rows, head: str, by_endpoint: dict[str, Tally]) -> None:
    for name in ENDPOINTS:
        tally = by_endpoint[name]
        rows.add(f"{head}: {name} requests/s", tally.rate(), "1/s")
        rows.add(f"{head}: {name} p50", tally.p(0.50), "ms")
        rows.add(f"{head}: {name} p99", tally.p(0.99), "ms")
        rows.add(f"{head}: {name} server CPU per request", tally.cpu_per_request() * 1e3, "ms")
    health, decision, national, kontroll = (by_endpoint[name] for name in ENDPOINTS)
    decision_ratio = ratio(decision.rate(), health.rate())
    rows.add(
        f"{head}: decision / health requests/s",
        decision_ratio,
        "x",
        f">= {TARGET_DECISION_RATIO:g}",
        decision_ratio >= TARGET_DECISION_RATIO,
    )
    rows.add(
        f"{head}: decision / health server CPU per request",
        ratio(decision.cpu_per_request(), health.cpu_per_request()),
        "x",
    )
    rows.add(f"{head}: decision-national / decision requests/s", ratio(national.rate(), decision.rate()), "x")
    rows.add(f"{head}: kontroll / health requests/s", ratio(kontroll.rate(), health.rate()), "x")
    rows.zero(f"{head}: errors", sum(t.errors for t in by_endpoint.values()))
    wall = sum(t.wall_s for t in by_endpoint.values())
    rows.add(
        f"{head}: load generator CPU",
        ratio(sum(t.generator_cpu_s for t in by_endpoint.values()), wall),
        "cores",
    )
    rows.add(f"{head}: server CPU", ratio(sum(t.server_cpu_s for t in by_endpoint.values()), wall), "cores")
