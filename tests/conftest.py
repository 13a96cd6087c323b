"""Shared test set-up: hypothesis profiles, the bundled rule book and one shared engine.

Profiles (``BEVILLING_THOROUGH=1`` selects ``thorough``, anything else ``ci``):

* ``ci``: a few hundred examples per test, derandomized so a CI run is reproducible;
  a failure prints the blob to replay it with ``@reproduce_failure``.
* ``thorough``: 100,000 examples per test, for a nightly or pre-release run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from bevilling.engine.durable_adapter import DurableEngine
from bevilling.engine.evaluator import EngineEvaluator, ReferenceEvaluator
from bevilling.rules.book import RuleBook

RULES = Path(__file__).resolve().parents[1] / "rules"
_STATS = pytest.StashKey[Counter[str]]()

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=100_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("thorough" if os.environ.get("BEVILLING_THOROUGH") == "1" else "ci")


@pytest.fixture(scope="session")
def book() -> RuleBook:
    """The bundled rule book (``rules/``)."""
    return RuleBook.load(RULES)


@pytest.fixture(scope="session")
def engine() -> Iterator[EngineEvaluator]:
    """One EngineEvaluator for the whole run: registering rulesets is the costly part."""
    yield EngineEvaluator(DurableEngine())


@pytest.fixture(scope="session")
def reference() -> ReferenceEvaluator:
    return ReferenceEvaluator()


@pytest.fixture(scope="session")
def stats(request: pytest.FixtureRequest) -> Counter[str]:
    """Counts tests report (comparisons made, examples run); printed after the run."""
    return request.config.stash.setdefault(_STATS, Counter())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    counts = config.stash.get(_STATS, None)
    if counts:
        terminalreporter.section("differential and property counts")
        for name, value in sorted(counts.items()):
            terminalreporter.write_line(f"{name}: {value}")
