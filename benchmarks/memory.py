"""Resident memory of a fresh service worker, next to a bare Python process.

``run_memory_bench`` starts two fresh interpreters (this one's ``sys.executable``), one after
the other on the same machine:

1. a bare one, that only reads its own resident set size;
2. a worker, that does what a uvicorn worker of the service does before its first request
   and then more: imports ``api.main`` (the app and everything it pulls in), loads the rule
   book through ``api.deps`` (the book the routes use), and compiles every kommune's
   rulesets through the app's own evaluator: each distinct effective ruleset of every
   kommune, region and the national file, on every day of ``year`` and on the first day of
   every rule file (the versions a service answering for any date would meet).

RSS (``/proc/self/statm``) is read after each step; the rows are the figures, the growth of
each step and the worker/bare ratio. The worker runs a second time with the proposed
``benchmarks.proposals.IntervalRuleBook`` (one resolution per interval in which no file or
rule starts or ends, instead of one per day), which must answer every (kommune, day) as the
``RuleBook`` does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._support import Rows, base_meta, ratio
from bevilling.bench import MIB, BenchResult

ROOT = Path(__file__).resolve().parent.parent

BARE = "bare python: RSS"
IMPORTED = "worker: RSS after importing api.main"
BOOK = "worker: RSS after loading the rule book"
RESOLVED = "worker: RSS after resolving every day's effective rules"
COMPILED = "worker: RSS after compiling every kommune's rulesets"
RATIO = "worker (everything compiled) / bare python: RSS"
GROWTH_IMPORT = "worker: growth, importing the app"
GROWTH_BOOK = "worker: growth, loading the rule book"
GROWTH_RESOLVE = "worker: growth, resolving the effective rules (cached)"
GROWTH_COMPILE = "worker: growth, compiling the rulesets"
PER_RULESET = "worker: growth per compiled ruleset version"
KOMMUNER = "kommuner with rule files"
VERSIONS = "distinct ruleset versions compiled (kommuner, regions, national)"
NATIONAL = "extrapolated: compiled rulesets of 356 kommuner, per worker"
IMPORT_S = "worker: time to import api.main"
BOOK_S = "worker: time to load the rule book"
RESOLVE_S = "worker: time to resolve every day's effective rules"
COMPILE_S = "worker: time to compile every ruleset version"
INTERVAL_RESOLVED = "proposed IntervalRuleBook: RSS after resolving every day's rules"
INTERVAL_GROWTH = "proposed IntervalRuleBook: growth, resolving the effective rules"
INTERVAL_RESOLVE_S = "proposed IntervalRuleBook: time to resolve every day's rules"
INTERVAL_SPEEDUP = "resolving every day: RuleBook / IntervalRuleBook time"
INTERVAL_COMPILED = "proposed IntervalRuleBook: RSS after compiling every ruleset"
INTERVAL_DIFF = "IntervalRuleBook: (kommune, day) answered otherwise than RuleBook"

ROW_NAMES: tuple[str, ...] = (
    BARE,
    IMPORTED,
    BOOK,
    RESOLVED,
    COMPILED,
    RATIO,
    GROWTH_IMPORT,
    GROWTH_BOOK,
    GROWTH_RESOLVE,
    GROWTH_COMPILE,
    PER_RULESET,
    KOMMUNER,
    VERSIONS,
    NATIONAL,
    IMPORT_S,
    BOOK_S,
    RESOLVE_S,
    COMPILE_S,
    INTERVAL_RESOLVED,
    INTERVAL_GROWTH,
    INTERVAL_RESOLVE_S,
    INTERVAL_SPEEDUP,
    INTERVAL_COMPILED,
    INTERVAL_DIFF,
)

_RSS = """
import os
def rss():
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
"""

_BARE = (
    _RSS
    + """
import json
print(json.dumps({"rss": rss()}))
"""
)

_WORKER = (
    _RSS
    + """
import gc, json, sys, time
from datetime import date, timedelta
out = {"start": rss()}
started = time.perf_counter()
import api.main  # noqa: F401  (what a uvicorn worker imports)
out["import_s"] = time.perf_counter() - started
gc.collect()
out["imported"] = rss()

from api.deps import get_book, get_evaluator
from api.settings import get_settings
settings = get_settings()
started = time.perf_counter()
if sys.argv[3] == "interval":  # the proposal: one resolution per interval, not per day
    from benchmarks.proposals import IntervalRuleBook
    book = IntervalRuleBook.load(settings.rules_path)
else:
    book = get_book(settings)
out["book_s"] = time.perf_counter() - started
gc.collect()
out["book"] = rss()

year = int(sys.argv[1])
evaluator = get_evaluator(settings)
engine = evaluator._primary  # the app's EngineEvaluator behind its shadow
first = date(year, 1, 1)
step = int(sys.argv[2])
days = [first + timedelta(days=n) for n in range(0, (date(year + 1, 1, 1) - first).days, step)]
started = time.perf_counter()
versions = {}
for slug, files in book.by_slug.items():
    wanted = set(days) | {f.model.valid_from for f in files}
    for day in sorted(wanted):
        try:
            rules = book.effective(slug, day)
        except Exception:  # no rules in force that day (a merged or lapsed kommune)
            continue
        versions.setdefault((rules.slug, rules.version), rules)
out["resolve_s"] = time.perf_counter() - started
gc.collect()
out["resolved"] = rss()
started = time.perf_counter()
for rules in versions.values():
    engine.ruleset(rules)
out["compile_s"] = time.perf_counter() - started
out["slugs"] = len(book.by_slug)
out["kommuner"] = sum(1 for files in book.by_slug.values() if files[0].model.level.value == "kommune")
out["versions"] = len(versions)
gc.collect()
out["compiled"] = rss()
if sys.argv[3] == "interval":  # answers as RuleBook does, for every (slug, day) resolved
    from bevilling.rules.book import RuleBook
    plain, differ = RuleBook(book.files), 0
    for slug, files in book.by_slug.items():
        for day in sorted(set(days) | {f.model.valid_from for f in files}):
            try:
                want = plain.effective(slug, day)
            except Exception as error:
                want = type(error)
            try:
                got = book.effective(slug, day)
            except Exception as error:
                got = type(error)
            if isinstance(want, type) or isinstance(got, type):
                differ += want is not got
            elif (got.on, got.version, got.files, [p.id for p in got.rules]) != (
                want.on, want.version, want.files, [p.id for p in want.rules]
            ):
                differ += 1
    out["differ"] = differ
print(json.dumps(out))
"""
)


def _run(script: str, *args: str, env: dict[str, str] | None = None) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measuring process failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_memory_bench(*, year: int = 2026, day_step: int = 1, rules: Path | None = None) -> BenchResult:
    """See the module docstring (``day_step``: every n-th day of the year, for quick runs)."""
    import os

    env = dict(os.environ)
    if rules is not None:
        env["BEVILLING_RULES_PATH"] = str(rules)
    started = time.perf_counter()
    bare = _run(_BARE, env=env)["rss"]
    worker = _run(_WORKER, str(year), str(day_step), "current", env=env)
    interval = _run(_WORKER, str(year), str(day_step), "interval", env=env)
    rows = Rows()
    rows.add(BARE, bare / MIB, "MiB")
    rows.add(IMPORTED, worker["imported"] / MIB, "MiB")
    rows.add(BOOK, worker["book"] / MIB, "MiB")
    rows.add(RESOLVED, worker["resolved"] / MIB, "MiB")
    rows.add(COMPILED, worker["compiled"] / MIB, "MiB")
    rows.add(RATIO, ratio(worker["compiled"], bare), "x")
    rows.add(GROWTH_IMPORT, (worker["imported"] - worker["start"]) / MIB, "MiB")
    rows.add(GROWTH_BOOK, (worker["book"] - worker["imported"]) / MIB, "MiB")
    rows.add(GROWTH_RESOLVE, (worker["resolved"] - worker["book"]) / MIB, "MiB")
    per_version = ratio((worker["compiled"] - worker["resolved"]) / MIB, worker["versions"])
    rows.add(GROWTH_COMPILE, (worker["compiled"] - worker["resolved"]) / MIB, "MiB")
    rows.add(PER_RULESET, per_version, "MiB")
    rows.add(KOMMUNER, worker["kommuner"], "count")
    rows.add(VERSIONS, worker["versions"], "count")
    # As many versions per kommune as the bundled files have on average, for 356 kommuner.
    rows.add(NATIONAL, per_version * 356 * ratio(worker["versions"], worker["kommuner"]), "MiB")
    rows.add(IMPORT_S, worker["import_s"], "s")
    rows.add(BOOK_S, worker["book_s"], "s")
    rows.add(RESOLVE_S, worker["resolve_s"], "s")
    rows.add(COMPILE_S, worker["compile_s"], "s")
    rows.add(INTERVAL_RESOLVED, interval["resolved"] / MIB, "MiB")
    rows.add(INTERVAL_GROWTH, (interval["resolved"] - interval["book"]) / MIB, "MiB")
    rows.add(INTERVAL_RESOLVE_S, interval["resolve_s"], "s")
    rows.add(INTERVAL_SPEEDUP, ratio(worker["resolve_s"], interval["resolve_s"]), "x")
    rows.add(INTERVAL_COMPILED, interval["compiled"] / MIB, "MiB")
    rows.zero(INTERVAL_DIFF, interval["differ"])
    meta = base_meta(
        year=str(year),
        days=f"every {day_step}. day" if day_step > 1 else "every day",
        rules=str(rules or env.get("BEVILLING_RULES_PATH") or ROOT / "rules"),
        elapsed=f"{time.perf_counter() - started:.1f} s",
        note="fresh processes, RSS from /proc/self/statm after gc.collect()",
    )
    return BenchResult(rows.rows, meta)
