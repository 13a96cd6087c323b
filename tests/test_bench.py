"""Smoke test for bevilling.bench: a tiny run has every row and finds no wrong answers.

Timings are never asserted: the machines are shared and noisy.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from bevilling.bench import ROW_NAMES, BenchResult, render_table, run_engine_bench
from bevilling.rules.book import RuleBook


@pytest.fixture(scope="module")
def result(book: RuleBook) -> BenchResult:
    return run_engine_bench(book, kommune="3451", decisions=500, threads=2, memory_decisions=2_000)


def test_a_small_run_reports_every_row_once(result: BenchResult) -> None:
    assert [row.name for row in result.rows] == list(ROW_NAMES)
    for key in ("python", "durable_rules", "kommune", "date", "decisions", "calendar_year"):
        assert result.meta[key]
    assert result.meta["decisions"] == "500"


def test_the_engine_agrees_with_the_reference_at_every_minute_and_for_every_window(
    result: BenchResult,
) -> None:
    assert result.row("disagreements engine vs reference").value == 0, result.meta.get("first_disagreement")
    assert result.row("calendar: disagreements engine vs reference").value == 0, result.meta.get(
        "first_calendar_disagreement"
    )
    assert result.row("calendar: windows computed").value == 365 * 7


def test_threads_sharing_one_engine_give_no_wrong_answers_and_no_errors(result: BenchResult) -> None:
    assert result.row("threads: errors").value == 0, result.meta.get("first_thread_error")
    assert result.row("threads: answers differing from 1-thread engine").value == 0
    assert result.row("threads: wrong answers (vs reference)").value == 0


def test_rows_with_a_target_carry_a_verdict_and_the_result_renders(result: BenchResult) -> None:
    for row in result.rows:
        assert (row.target is None) == (row.ok is None), row
    assert json.loads(json.dumps(result.as_dict()))["rows"][0]["name"] == ROW_NAMES[0]
    console = Console(file=io.StringIO(), width=160)
    console.print(render_table(result))
    rendered = console.file.getvalue()  # type: ignore[attr-defined]
    assert "engine: p50 latency" in rendered
    assert "calendar: engine" in rendered
