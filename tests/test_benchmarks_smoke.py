"""Smoke tests for the service benchmarks (``benchmarks/``, ``bevilling bench api|national|memory``):
tiny runs report every row once and find no errors and no disagreements.

Timings are never asserted: the machines are shared and noisy. The API and national
benchmarks need PostgreSQL (127.0.0.1:5432, user postgres, or BEVILLING_BENCH_POSTGRES_URL)
and are skipped without it.
"""

from __future__ import annotations

import io
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from benchmarks import api, memory, national, proposals
from benchmarks._support import postgres_available, table
from bevilling.bench import BenchResult
from bevilling.calendar import day_info
from bevilling.cli import app
from bevilling.engine.evaluator import EngineEvaluator
from bevilling.reference import Domain
from bevilling.rules.book import RuleBook
from bevilling.rules.model import Area
from bevilling.situation import Situation

RULES = Path(__file__).resolve().parents[1] / "rules"
needs_postgres = pytest.mark.skipif(not postgres_available(), reason="PostgreSQL is not reachable")


def _rows(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in payload["rows"]}


def _renders(result: BenchResult) -> None:
    out = io.StringIO()
    Console(file=out, width=200).print(table(result, "smoke"))
    assert result.rows[0].name in out.getvalue()


def _no_failed_zero_targets(rows: dict[str, dict[str, Any]]) -> None:
    """Every row whose target is 0 (errors, disagreements) is 0."""
    for name, row in rows.items():
        if row["target"] == "0":
            assert row["value"] == 0, (name, row)


@pytest.fixture(scope="module")
def national_json() -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["bench", "national", "--licences", "50", "--kommuner", "6", "--sample-every", "2", "--json"],
    )
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


@pytest.fixture(scope="module")
def api_json() -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["bench", "api", "--workers", "1", "--clients", "2", "--duration", "1", "--licences", "5", "--json"],
    )
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


@needs_postgres
def test_national_reports_every_row_and_the_proposals_agree_with_the_current_code(
    national_json: dict[str, Any],
) -> None:
    rows = _rows(national_json)
    assert list(rows) == list(national.ROW_NAMES)
    assert rows[national.GEN_LICENCES]["value"] == 50
    assert rows[national.GEN_KOMMUNER]["value"] == 6
    assert rows[national.REASSESS_CHECKED]["value"] == 50
    assert rows[national.GEBYR_LINES]["value"] > 0
    _no_failed_zero_targets(rows)
    for name in (national.GEBYR_DIFF, national.GEBYR_NATIONAL_DIFF, national.REASSESS_DIFF):
        assert rows[name]["value"] == 0, name
    assert national_json["meta"]["rule_change"].startswith("national:")


@needs_postgres
def test_api_reports_every_row_and_no_request_failed(api_json: dict[str, Any]) -> None:
    rows = _rows(api_json)
    assert list(rows) == api.row_names((1,), (2,))
    head = api.prefix(1, 2)
    assert rows[f"{head}: errors"]["value"] == 0, api_json["meta"]
    assert rows["kontroll: rows stored minus 201 answers"]["value"] == 0
    for endpoint in api.ENDPOINTS:
        assert rows[f"{head}: {endpoint} requests/s"]["value"] > 0, endpoint
    _no_failed_zero_targets(rows)
    assert "share" in api_json["meta"]["note"]  # says that generator and server share the CPUs


def test_memory_reports_every_row_from_fresh_processes() -> None:
    result = memory.run_memory_bench(day_step=91)
    assert [row.name for row in result.rows] == list(memory.ROW_NAMES)
    values = {row.name: row.value for row in result.rows}
    assert values[memory.VERSIONS] >= values[memory.KOMMUNER] > 0
    assert values[memory.COMPILED] > values[memory.BARE] > 0
    _renders(result)


def test_the_engine_memo_answers_as_the_engine_does(book: RuleBook) -> None:
    """The memo keys on the message, so equal messages must mean equal answers: compare the
    memoised evaluator with a plain one on random windows of several kommuner."""
    plain, memo = EngineEvaluator(), proposals.MemoEngineEvaluator()
    rng = random.Random(7)
    kinds = proposals.kinds_of_day(date(2026, 1, 1))
    for slug in ("oslo", "nord-aurdal", "alta", "bergen"):
        rules = book.effective(slug, date(2026, 1, 1))
        for _ in range(60):
            _, day = rng.choice(kinds)
            situation = Situation(
                day=day_info(day),
                seasons=frozenset(k for k, s in rules.seasons.items() if s.contains(day)),
                group=rng.choice((1, 2, 3)),
                area=rng.choice(list(Area)),
                venue=rng.choice(("serveringssted", "bar", "nattklubb")),
            )
            assert memo.window(rules, Domain.SKJENKING, situation) == plain.window(
                rules, Domain.SKJENKING, situation
            )


def test_reassess_cache_gives_the_breaches_reassess_gives(book: RuleBook, engine: EngineEvaluator) -> None:
    from bevilling.decisions import application

    granted = application.Granted.model_validate(
        {
            "licence": "skjenking",
            "venue": "serveringssted",
            "groups": [1, 2, 3],
            "areas": ["inne", "ute"],
            "hours": [
                {"group": 1, "area": "inne", "from": "08:00", "to": "03:00"},
                {"group": 3, "area": "ute", "from": "13:00", "to": "01:00"},
            ],
        }
    )
    for slug in ("oslo", "bergen", "alta", "vennesla"):
        cache = proposals.ReassessCache(book, engine, slug, date(2026, 1, 1))
        assert cache.reassess(granted) == application.reassess(book, engine, slug, date(2026, 1, 1), granted)
        assert cache.reassess(granted) == cache.reassess(granted)  # from the cache the second time
