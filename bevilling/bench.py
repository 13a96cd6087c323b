"""Engine benchmark: durable-rules against the reference evaluator, side by side in one run.

What ``run_engine_bench`` measures (every figure in one process, on the same inputs):

1. single-thread ``EngineEvaluator.at`` on a realistic mix of situations (random dates over
   the year, groups 1-3, inne/ute, serving and sales, minutes over the whole (serving) day,
   declared facts completed as the decisions complete them, yes/no facts at random):
   decisions/s, p50/p99 latency; the same for ``ReferenceEvaluator.at``; the ratios; and
   the number of answers (allowed, rule id) on which the two disagree;
2. ``threads`` threads sharing one ``EngineEvaluator``: total decisions/s, answers that
   differ from the reference (computed beforehand) and exceptions;
3. a year's calendar for the kommune through ``window`` (one engine call per window, never
   one per minute): the sales window (butikk, group 1) and the serving window for each
   group x area, for every day, through the engine and through the reference;
4. resident memory growth over ``memory_decisions`` engine decisions after a warm-up (last,
   as it takes longest).

Rule lookup (``RuleBook.effective`` per day) and ruleset compilation happen before any
timing and are reported as rows of their own. Timings are wall-clock (``perf_counter``),
plus the thread's CPU time per decision, which other processes on a shared machine disturb
far less. Engine and reference run in alternating chunks of the same inputs, so both see the
same background load and their ratios stay meaningful even when absolute figures do not.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import random
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from importlib import metadata

from rich.table import Table

from bevilling.calendar import day_info
from bevilling.engine.evaluator import EngineEvaluator, Evaluator, ReferenceEvaluator
from bevilling.reference import AtOutcome, Domain, WindowOutcome
from bevilling.rules.book import EffectiveRules, RuleBook
from bevilling.rules.model import ALL_GROUPS, Area, FactType, FactValue, Licence
from bevilling.situation import Situation

__all__ = [
    "ROW_NAMES",
    "BenchResult",
    "BenchRow",
    "render_table",
    "rss_bytes",
    "run_engine_bench",
]

MIB = 1024 * 1024
WARMUP_DECISIONS = 1_000
SEED = 20_260_101

TARGET_P50_US = 100.0
TARGET_RATE = 10_000.0
TARGET_MEMORY_MIB = 5.0
TARGET_CALENDAR_MS = 200.0

# Row names (stable: the CLI's JSON output and the smoke test key on them).
SETUP_RULES = "setup: effective rules, one per day of the year"
SETUP_COMPILE = "setup: compile + register rulesets (first engine call)"
ENGINE_RATE = "engine: decisions/s (1 thread)"
ENGINE_P50 = "engine: p50 latency"
ENGINE_P99 = "engine: p99 latency"
ENGINE_CPU = "engine: CPU time per decision"
REFERENCE_RATE = "reference: decisions/s (1 thread)"
REFERENCE_P50 = "reference: p50 latency"
REFERENCE_P99 = "reference: p99 latency"
REFERENCE_CPU = "reference: CPU time per decision"
RATIO_RATE = "engine / reference: decisions/s"
RATIO_P50 = "engine / reference: p50 latency"
RATIO_P99 = "engine / reference: p99 latency"
DISAGREEMENTS = "disagreements engine vs reference"
THREADS_RATE = "threads: engine decisions/s (total)"
THREADS_RATIO = "threads / 1 thread: decisions/s"
THREADS_WRONG = "threads: wrong answers (vs reference)"
THREADS_UNSTABLE = "threads: answers differing from 1-thread engine"
THREADS_ERRORS = "threads: errors"
MEMORY_GROWTH = "memory: RSS growth over the memory run"
MEMORY_RSS = "memory: RSS before the memory run"
MEMORY_RATE = "memory run: engine decisions/s (sustained)"
CALENDAR_ENGINE = "calendar: engine"
CALENDAR_REFERENCE = "calendar: reference"
CALENDAR_RATIO = "calendar: engine / reference"
CALENDAR_WINDOW_US = "calendar: engine time per window"
CALENDAR_WINDOWS = "calendar: windows computed"
CALENDAR_DISAGREEMENTS = "calendar: disagreements engine vs reference"

ROW_NAMES: tuple[str, ...] = (
    SETUP_RULES,
    SETUP_COMPILE,
    ENGINE_RATE,
    ENGINE_P50,
    ENGINE_P99,
    ENGINE_CPU,
    REFERENCE_RATE,
    REFERENCE_P50,
    REFERENCE_P99,
    REFERENCE_CPU,
    RATIO_RATE,
    RATIO_P50,
    RATIO_P99,
    DISAGREEMENTS,
    THREADS_RATE,
    THREADS_RATIO,
    THREADS_WRONG,
    THREADS_UNSTABLE,
    THREADS_ERRORS,
    CALENDAR_ENGINE,
    CALENDAR_REFERENCE,
    CALENDAR_RATIO,
    CALENDAR_WINDOW_US,
    CALENDAR_WINDOWS,
    CALENDAR_DISAGREEMENTS,
    MEMORY_RSS,
    MEMORY_GROWTH,
    MEMORY_RATE,
)


@dataclass(frozen=True)
class BenchRow:
    name: str
    value: float
    unit: str
    target: str | None
    ok: bool | None


@dataclass(frozen=True)
class BenchResult:
    rows: list[BenchRow]
    meta: dict[str, str]

    def as_dict(self) -> dict[str, object]:
        """Plain JSON data; a value that could not be measured (NaN) becomes ``None``."""
        rows = [{**asdict(row), "value": None if math.isnan(row.value) else row.value} for row in self.rows]
        return {"meta": dict(self.meta), "rows": rows}

    def row(self, name: str) -> BenchRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    @property
    def ok(self) -> bool:
        """Whether no row missed its target."""
        return all(row.ok is not False for row in self.rows)


_Request = tuple[EffectiveRules, Domain, Situation]


@dataclass(frozen=True, slots=True)
class _Case:
    rules: EffectiveRules
    domain: Domain
    situation: Situation
    minute: int


# -- measuring helpers ----------------------------------------------------------------------


def rss_bytes() -> int:
    """Current resident set size of this process (Linux ``/proc``; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource  # not on Windows; only the fallback needs it

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks of an ascending sequence."""
    if not ordered:
        return float("nan")
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


@dataclass(frozen=True, slots=True)
class _Timing:
    rate: float
    p50_us: float
    p99_us: float
    cpu_us: float
    outcomes: list[AtOutcome | None]


class _Timer:
    """Accumulates one evaluator's latencies, wall time and CPU time over several chunks."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.latencies: list[int] = []
        self.outcomes: list[AtOutcome | None] = []
        self.wall_ns = 0
        self.cpu_ns = 0

    def run(self, cases: Sequence[_Case]) -> None:
        clock = time.perf_counter_ns
        at = self.evaluator.at
        cpu_started = time.thread_time_ns()
        started = clock()
        for case in cases:
            before = clock()
            try:
                outcome: AtOutcome | None = at(case.rules, case.domain, case.situation, case.minute)
            except Exception:  # counted as a disagreement; the engine fails closed
                outcome = None
            self.latencies.append(clock() - before)
            self.outcomes.append(outcome)
        self.wall_ns += clock() - started
        self.cpu_ns += time.thread_time_ns() - cpu_started

    def timing(self) -> _Timing:
        ordered = sorted(self.latencies)
        count = len(ordered)
        return _Timing(
            rate=_ratio(count, self.wall_ns / 1e9),
            p50_us=_percentile(ordered, 0.50) / 1e3,
            p99_us=_percentile(ordered, 0.99) / 1e3,
            cpu_us=_ratio(self.cpu_ns / 1e3, count),
            outcomes=self.outcomes,
        )


def _side_by_side(
    engine: Evaluator, reference: Evaluator, cases: Sequence[_Case], chunk: int = 500
) -> tuple[_Timing, _Timing]:
    """Time both evaluators on the same cases, alternating chunks so both see the same noise."""
    timers = _Timer(engine), _Timer(reference)
    for start in range(0, len(cases), chunk):
        for timer in timers:
            timer.run(cases[start : start + chunk])
    return timers[0].timing(), timers[1].timing()


# -- inputs -------------------------------------------------------------------------------------


def _days(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]


def _facts(rules: EffectiveRules, rng: random.Random | None = None) -> dict[str, FactValue]:
    """Every declared fact with its default, as the decisions complete them (``checked_facts``);
    with ``rng``, each yes/no fact is then set at random."""
    facts: dict[str, FactValue] = {}
    for name, decl in rules.facts.items():
        default = decl.default_value()
        if rng is not None and decl.type is FactType.BOOL:
            facts[name] = rng.random() < 0.5
        elif default is not None:
            facts[name] = default
    return facts


def _cases(by_day: dict[date, EffectiveRules], count: int, rng: random.Random) -> list[_Case]:
    """Random dates, groups 1-3, inne/ute, serving and sales, minutes over the whole day, and
    every declared yes/no fact at random (other facts at their defaults)."""
    days = sorted(by_day)
    cases: list[_Case] = []
    for _ in range(count):
        day = rng.choice(days)
        rules = by_day[day]
        info = day_info(day)
        group = rng.choice(ALL_GROUPS)
        if rng.random() < 0.5:
            outlets = sorted(rules.outlets) or ["butikk"]
            outlet = "butikk" if rng.random() < 0.5 else rng.choice(outlets)
            situation = Situation(
                day=info, group=group, outlet=outlet, licence=Licence.SALG, facts=_facts(rules, rng)
            )
            cases.append(_Case(rules, Domain.SALG, situation, rng.randrange(0, 24 * 60)))
        else:
            venues = sorted(rules.venues) or ["serveringssted"]
            venue = "serveringssted" if rng.random() < 0.5 else rng.choice(venues)
            situation = Situation(
                day=info,
                group=group,
                area=rng.choice(list(Area)),
                venue=venue,
                licence=Licence.SKJENKING,
                facts=_facts(rules, rng),
            )
            # The skjenkedøgn runs from 06:00 to 06:00 the next morning: minutes 360..1799.
            cases.append(_Case(rules, Domain.SKJENKING, situation, rng.randrange(6 * 60, 30 * 60)))
    return cases


def _calendar_requests(by_day: dict[date, EffectiveRules]) -> list[_Request]:
    """Per day: the sales window (butikk, group 1) and the serving window per group x area,
    with the declared facts at their defaults."""
    requests: list[_Request] = []
    for day in sorted(by_day):
        rules, info, facts = by_day[day], day_info(day), _facts(by_day[day])
        sales = Situation(day=info, group=1, outlet="butikk", licence=Licence.SALG, facts=facts)
        requests.append((rules, Domain.SALG, sales))
        for group in ALL_GROUPS:
            for area in Area:
                situation = Situation(
                    day=info,
                    group=group,
                    area=area,
                    venue="serveringssted",
                    licence=Licence.SKJENKING,
                    facts=facts,
                )
                requests.append((rules, Domain.SKJENKING, situation))
    return requests


def _time_calendar(
    engine: Evaluator, reference: Evaluator, requests: Sequence[_Request], chunk: int = 7 * 28
) -> tuple[tuple[float, list[WindowOutcome | None]], tuple[float, list[WindowOutcome | None]]]:
    """Seconds and windows per evaluator, alternating chunks of four weeks between the two."""
    seconds = [0.0, 0.0]
    outcomes: tuple[list[WindowOutcome | None], list[WindowOutcome | None]] = ([], [])
    for start in range(0, len(requests), chunk):
        for side, evaluator in enumerate((engine, reference)):
            started = time.perf_counter()
            for rules, domain, situation in requests[start : start + chunk]:
                try:
                    outcome: WindowOutcome | None = evaluator.window(rules, domain, situation)
                except Exception:  # counted as a disagreement
                    outcome = None
                outcomes[side].append(outcome)
            seconds[side] += time.perf_counter() - started
    return (seconds[0], outcomes[0]), (seconds[1], outcomes[1])


# -- phases -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Concurrent:
    rate: float
    wrong: int
    unstable: int
    errors: int
    first_error: str | None


def _concurrent(
    engine: EngineEvaluator,
    cases: Sequence[_Case],
    expected: Sequence[AtOutcome | None],
    alone: Sequence[AtOutcome | None],
    threads: int,
) -> _Concurrent:
    """``threads`` threads share ``engine``; thread k takes cases k, k + threads, ...

    Answers are checked against the reference (``expected``) and against the engine's own
    single-thread answers (``alone``): the second count isolates concurrency faults from
    disagreements between the engine and the reference."""
    barrier = threading.Barrier(threads + 1)
    wrong = [0] * threads
    unstable = [0] * threads
    errors = [0] * threads
    first_error: list[str] = []

    def work(index: int) -> None:
        barrier.wait()
        for position in range(index, len(cases), threads):
            case = cases[position]
            try:
                outcome = engine.at(case.rules, case.domain, case.situation, case.minute)
            except Exception as exc:
                errors[index] += 1
                if not first_error:
                    first_error.append(f"{type(exc).__name__}: {exc}")
                continue
            if outcome != expected[position]:
                wrong[index] += 1
            if outcome != alone[position]:
                unstable[index] += 1

    workers = [threading.Thread(target=work, args=(k,), name=f"bench-{k}") for k in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return _Concurrent(
        rate=_ratio(len(cases), elapsed),
        wrong=sum(wrong),
        unstable=sum(unstable),
        errors=sum(errors),
        first_error=first_error[0] if first_error else None,
    )


def _memory(engine: EngineEvaluator, cases: Sequence[_Case], decisions: int) -> tuple[int, int, float]:
    """RSS before and after ``decisions`` engine decisions (after a warm-up), and the rate."""

    def run(case: _Case) -> AtOutcome:
        return engine.at(case.rules, case.domain, case.situation, case.minute)

    for position in range(WARMUP_DECISIONS):
        run(cases[position % len(cases)])
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    for position in range(decisions):
        run(cases[position % len(cases)])
    elapsed = time.perf_counter() - started
    gc.collect()
    return before, rss_bytes(), _ratio(decisions, elapsed)


# -- the benchmark ------------------------------------------------------------------------------


def _load_average() -> str:
    """The 1/5/15-minute load averages: figures from a busy shared machine need reading so."""
    try:
        return " ".join(f"{load:.2f}" for load in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def _distribution_version() -> str:
    for name in ("durable_rules", "durable-rules"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def run_engine_bench(
    book: RuleBook,
    *,
    kommune: str = "3451",
    decisions: int = 20_000,
    threads: int = 8,
    memory_decisions: int = 1_000_000,
    calendar_year: int = 2026,
) -> BenchResult:
    """Measure the engine against the reference on one kommune; see the module docstring."""
    if decisions < 1 or threads < 1 or memory_decisions < 1:
        raise ValueError("decisions, threads and memory_decisions must be at least 1")
    load_at_start = _load_average()
    rng = random.Random(SEED)
    engine = EngineEvaluator()
    reference = ReferenceEvaluator()
    rows: list[BenchRow] = []

    def add(name: str, value: float, unit: str, target: str | None = None, ok: bool | None = None) -> None:
        rows.append(BenchRow(name, float(value), unit, target, ok))

    # Setup (timed separately, never part of a decision's figure).
    started = time.perf_counter()
    by_day = {day: book.effective(kommune, day) for day in _days(calendar_year)}
    for rules in by_day.values():
        _ = rules.version  # a cached property the engine keys its rulesets on
    add(SETUP_RULES, (time.perf_counter() - started) * 1e3, "ms")
    versions = sorted({rules.version for rules in by_day.values()})
    started = time.perf_counter()
    for rules in {rules.version: rules for rules in by_day.values()}.values():
        engine.ruleset(rules)
    add(SETUP_COMPILE, (time.perf_counter() - started) * 1e3, "ms")

    cases = _cases(by_day, decisions, rng)
    for case in cases[:WARMUP_DECISIONS]:  # warm caches (day flags, fnv hashes) on both sides
        engine.at(case.rules, case.domain, case.situation, case.minute)
        reference.at(case.rules, case.domain, case.situation, case.minute)

    # 1. One thread, same inputs, engine and reference in alternating chunks.
    gc.collect()
    engine_timing, reference_timing = _side_by_side(engine, reference, cases)
    disagreements = sum(
        1 for got, want in zip(engine_timing.outcomes, reference_timing.outcomes, strict=True) if got != want
    )
    example = next(
        (
            f"{case.domain.value} {case.situation.day.date if case.situation.day else '?'} "
            f"group {case.situation.group} minute {case.minute}: engine {got}, reference {want}"
            for case, got, want in zip(cases, engine_timing.outcomes, reference_timing.outcomes, strict=True)
            if got != want
        ),
        None,
    )
    add(ENGINE_RATE, engine_timing.rate, "1/s", f">= {TARGET_RATE:,.0f}", engine_timing.rate >= TARGET_RATE)
    add(
        ENGINE_P50,
        engine_timing.p50_us,
        "µs",
        f"<= {TARGET_P50_US:g}",
        engine_timing.p50_us <= TARGET_P50_US,
    )
    add(ENGINE_P99, engine_timing.p99_us, "µs")
    add(ENGINE_CPU, engine_timing.cpu_us, "µs")
    add(REFERENCE_RATE, reference_timing.rate, "1/s")
    add(REFERENCE_P50, reference_timing.p50_us, "µs")
    add(REFERENCE_P99, reference_timing.p99_us, "µs")
    add(REFERENCE_CPU, reference_timing.cpu_us, "µs")
    add(RATIO_RATE, _ratio(engine_timing.rate, reference_timing.rate), "x")
    add(RATIO_P50, _ratio(engine_timing.p50_us, reference_timing.p50_us), "x")
    add(RATIO_P99, _ratio(engine_timing.p99_us, reference_timing.p99_us), "x")
    add(DISAGREEMENTS, disagreements, "count", "0", disagreements == 0)

    # 2. Threads sharing one engine, checked against the reference answers from step 1.
    concurrent = _concurrent(engine, cases, reference_timing.outcomes, engine_timing.outcomes, threads)
    add(THREADS_RATE, concurrent.rate, "1/s")
    add(THREADS_RATIO, _ratio(concurrent.rate, engine_timing.rate), "x")
    add(THREADS_WRONG, concurrent.wrong, "count", "0", concurrent.wrong == 0)
    add(THREADS_UNSTABLE, concurrent.unstable, "count", "0", concurrent.unstable == 0)
    add(THREADS_ERRORS, concurrent.errors, "count", "0", concurrent.errors == 0)

    # 3. A calendar year through window(), engine and reference in alternating chunks. No
    # warm-up: the engine is warm from step 1, and every window is computed from scratch.
    requests = _calendar_requests(by_day)
    gc.collect()
    (engine_seconds, engine_windows), (reference_seconds, reference_windows) = _time_calendar(
        engine, reference, requests
    )
    calendar_disagreements = sum(
        1 for got, want in zip(engine_windows, reference_windows, strict=True) if got != want
    )
    calendar_example = next(
        (
            f"{domain.value} {situation.day.date if situation.day else '?'} group {situation.group} "
            f"{situation.area or situation.outlet}: engine {got}, reference {want}"
            for (_, domain, situation), got, want in zip(
                requests, engine_windows, reference_windows, strict=True
            )
            if got != want
        ),
        None,
    )
    add(
        CALENDAR_ENGINE,
        engine_seconds * 1e3,
        "ms",
        f"<= {TARGET_CALENDAR_MS:g}",
        engine_seconds * 1e3 <= TARGET_CALENDAR_MS,
    )
    add(CALENDAR_REFERENCE, reference_seconds * 1e3, "ms")
    add(CALENDAR_RATIO, _ratio(engine_seconds, reference_seconds), "x")
    add(CALENDAR_WINDOW_US, _ratio(engine_seconds * 1e6, len(requests)), "µs")
    add(CALENDAR_WINDOWS, len(requests), "count")
    add(CALENDAR_DISAGREEMENTS, calendar_disagreements, "count", "0", calendar_disagreements == 0)

    # 4. Memory, last: RSS growth over many decisions after a warm-up.
    before, after, memory_rate = _memory(engine, cases, memory_decisions)
    growth = (after - before) / MIB
    add(MEMORY_RSS, before / MIB, "MiB")
    add(
        MEMORY_GROWTH,
        growth,
        "MiB",
        f"<= {TARGET_MEMORY_MIB:g} (over {memory_decisions:,})",
        growth <= TARGET_MEMORY_MIB,
    )
    add(MEMORY_RATE, memory_rate, "1/s")

    order = {name: index for index, name in enumerate(ROW_NAMES)}
    rows.sort(key=lambda row: order.get(row.name, len(order)))
    meta = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "durable_rules": _distribution_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count() or "?"),
        "kommune": kommune,
        "slug": next(iter(by_day.values())).slug,
        "ruleset_versions": ", ".join(versions),
        "calendar_year": str(calendar_year),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "decisions": str(decisions),
        "threads": str(threads),
        "memory_decisions": str(memory_decisions),
        "seed": str(SEED),
        "load_average_start": load_at_start,
        "load_average_end": _load_average(),
    }
    if example is not None:
        meta["first_disagreement"] = example
    if calendar_example is not None:
        meta["first_calendar_disagreement"] = calendar_example
    if concurrent.first_error is not None:
        meta["first_thread_error"] = concurrent.first_error
    return BenchResult(rows, meta)


# -- presentation -------------------------------------------------------------------------------


def _format(row: BenchRow) -> str:
    value = row.value
    if math.isnan(value):
        return "n/a"
    if row.unit == "count":
        return f"{value:,.0f}"
    if row.unit == "1/s":
        return f"{value:,.0f}"
    if row.unit == "x":
        return f"{value:.3g}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def render_table(result: BenchResult) -> Table:
    meta = result.meta
    title = (
        f"Engine benchmark: kommune {meta.get('kommune', '?')} ({meta.get('slug', '?')}), "
        f"{meta.get('decisions', '?')} decisions, {meta.get('threads', '?')} threads, "
        f"calendar {meta.get('calendar_year', '?')}"
    )
    caption = (
        f"Python {meta.get('python', '?')}, durable-rules {meta.get('durable_rules', '?')}, "
        f"{meta.get('cpus', '?')} CPUs, load {meta.get('load_average_start', '?')} -> "
        f"{meta.get('load_average_end', '?')}, {meta.get('date', '?')}"
    )
    table = Table(title=title, caption=caption)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("target")
    table.add_column("ok", justify="center")
    for row in result.rows:
        verdict = "—" if row.ok is None else ("[green]yes[/]" if row.ok else "[bold red]NO[/]")
        table.add_row(row.name, _format(row), row.unit, row.target or "", verdict)
    return table
