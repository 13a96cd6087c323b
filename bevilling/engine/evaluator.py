"""The evaluator interface the decisions use, with the engine and the reference behind it.

``EngineEvaluator`` runs the compiled durable-rules rulesets (the production path);
``ReferenceEvaluator`` reads the rule model directly (the oracle, and the exit path
should durable-rules become untenable). Both answer with rule ids only; the decision
modules turn ids into reasons with sources.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bevilling.engine.compiler import CompiledRuleset, compile_rules, message
from bevilling.engine.durable_adapter import DurableEngine, EngineError
from bevilling.reference import (
    AtOutcome,
    Domain,
    Interval,
    WindowOutcome,
    applicable,
    choose,
    decide_at,
    decide_window,
    with_defaults,
)
from bevilling.rules.book import EffectiveRules
from bevilling.rules.model import (
    ConditionRule,
    DiscretionRule,
    HearingRule,
    LimitRule,
    MaxGroupRule,
    PrerequisiteRule,
    PrikkRule,
    RefusalRule,
    RuleBase,
    WindowRule,
)
from bevilling.situation import Situation, matches

T = TypeVar("T")
_log = logging.getLogger("bevilling.shadow")
FIRED_CACHE_SIZE = 4096
"""How many fact-question answers (window, application, prikk) an EngineEvaluator keeps."""


@dataclass(frozen=True, slots=True)
class ApplicationMatch:
    """Ids of the application rules that apply to a situation."""

    max_group: str | None
    refusals: tuple[str, ...]
    prerequisites: tuple[str, ...]
    conditions: tuple[str, ...]
    discretion: tuple[str, ...]
    hearings: tuple[str, ...]


class Evaluator(Protocol):
    name: str

    def at(self, rules: EffectiveRules, domain: Domain, situation: Situation, minute: int) -> AtOutcome: ...

    def window(self, rules: EffectiveRules, domain: Domain, situation: Situation) -> WindowOutcome: ...

    def application(self, rules: EffectiveRules, situation: Situation) -> ApplicationMatch: ...

    def prikk_rules(self, rules: EffectiveRules, code: str) -> tuple[str, ...]: ...


class ReferenceEvaluator:
    name = "reference"

    def at(self, rules: EffectiveRules, domain: Domain, situation: Situation, minute: int) -> AtOutcome:
        return decide_at(rules, domain, situation, minute)

    def window(self, rules: EffectiveRules, domain: Domain, situation: Situation) -> WindowOutcome:
        return decide_window(rules, domain, situation)

    def application(self, rules: EffectiveRules, situation: Situation) -> ApplicationMatch:
        situation = with_defaults(rules, situation)

        def ids(kind: type[RuleBase]) -> tuple[str, ...]:
            return tuple(sorted(p.id for p in applicable(rules, kind, situation)))

        refusals = tuple(
            sorted(
                p.id
                for p in applicable(rules, RefusalRule, situation)
                if not (
                    isinstance(p.rule, RefusalRule) and p.rule.unless and matches(p.rule.unless, situation)
                )
            )
        )
        chosen = choose(applicable(rules, MaxGroupRule, situation))
        return ApplicationMatch(
            max_group=chosen.id if chosen else None,
            refusals=refusals,
            prerequisites=ids(PrerequisiteRule),
            conditions=ids(ConditionRule),
            discretion=ids(DiscretionRule),
            hearings=ids(HearingRule),
        )

    def prikk_rules(self, rules: EffectiveRules, code: str) -> tuple[str, ...]:
        return tuple(p.id for p in rules.rules if isinstance(p.rule, PrikkRule) and p.rule.code == code)


class EngineEvaluator:
    """Evaluates through durable-rules; rulesets are compiled once per rule version."""

    name = "engine"

    def __init__(self, engine: DurableEngine | None = None) -> None:
        self._engine = engine or DurableEngine()
        self._compiled: dict[str, CompiledRuleset] = {}
        self._lock = threading.Lock()
        # Answers of fact questions by exact message. The engine keeps no state between calls
        # and a ruleset name carries its content hash, so an answer is a pure function of
        # (ruleset name, message). The value's type is part of the key: 1 == True in Python.
        self._fired: dict[tuple[str, tuple[tuple[str, type, object], ...]], tuple[str, ...]] = {}

    def ruleset(self, rules: EffectiveRules) -> CompiledRuleset:
        key = f"{rules.slug}-{rules.version}"
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    compiled = compile_rules(rules)
                    for question, definition in compiled.definitions.items():
                        if definition:
                            self._engine.register(compiled.ruleset_name(question), definition)
                    self._compiled[key] = compiled
        return compiled

    def _all(self, rules: EffectiveRules, question: str, situation: Situation, code: str = "") -> list[str]:
        compiled = self.ruleset(rules)
        if not compiled.definitions[question]:
            return []
        sent = message(rules, question, situation, compiled.tested[question], code=code)
        name = compiled.ruleset_name(question)
        key = (name, tuple((k, type(v), v) for k, v in sent.items()))
        fired = self._fired.get(key)
        if fired is None:
            fired = tuple(self._engine.all(name, sent))
            with self._lock:
                if len(self._fired) >= FIRED_CACHE_SIZE:
                    del self._fired[next(iter(self._fired))]  # oldest first
                self._fired[key] = fired
        return list(fired)

    def at(self, rules: EffectiveRules, domain: Domain, situation: Situation, minute: int) -> AtOutcome:
        compiled = self.ruleset(rules)
        question = f"at_{domain.value}"
        sent = message(rules, question, situation, compiled.tested[question], minute=minute)
        action = self._engine.first(compiled.ruleset_name(question), sent)
        verdict, _, rule_id = action.partition("|")
        if verdict not in ("allow", "deny") or not rule_id:
            raise EngineError(f"ruleset {compiled.name} answered '{action}', which is no hours decision")
        return AtOutcome(verdict == "allow", rule_id)

    def window(self, rules: EffectiveRules, domain: Domain, situation: Situation) -> WindowOutcome:
        fired = self._all(rules, f"pick_{domain.value}", situation)
        windows = [a.partition("|")[2] for a in fired if a.startswith("window|")]
        limits = [a.partition("|")[2] for a in fired if a.startswith("limit|")]
        if not windows:
            return WindowOutcome(None, None, ())
        chosen = rules.by_id(windows[0]).rule
        assert isinstance(chosen, WindowRule)
        if chosen.window is None:
            return WindowOutcome(None, windows[0], ())
        start, end = domain.minute(chosen.window.from_), domain.minute(chosen.window.to)
        cut_by: list[str] = []
        for limit_id in sorted(limits):
            limit = rules.by_id(limit_id).rule
            assert isinstance(limit, LimitRule)
            new_start = max(start, domain.minute(limit.not_before)) if limit.not_before else start
            new_end = min(end, domain.minute(limit.not_after)) if limit.not_after else end
            if limit.closed or new_start >= new_end:
                cut_by.append(limit_id)
                return WindowOutcome(None, windows[0], tuple(cut_by))
            if (new_start, new_end) != (start, end):
                cut_by.append(limit_id)
                start, end = new_start, new_end
        return WindowOutcome(Interval(start, end), windows[0], tuple(cut_by))

    def application(self, rules: EffectiveRules, situation: Situation) -> ApplicationMatch:
        fired = self._all(rules, "soknad", situation)

        def ids(verdict: str) -> tuple[str, ...]:
            return tuple(sorted(a.partition("|")[2] for a in fired if a.startswith(verdict + "|")))

        max_groups = [a.partition("|")[2] for a in fired if a.startswith("max_group|")]
        return ApplicationMatch(
            max_group=max_groups[0] if max_groups else None,
            refusals=ids("refuse"),
            prerequisites=ids("requires"),
            conditions=ids("condition"),
            discretion=ids("discretion"),
            hearings=ids("hearing"),
        )

    def prikk_rules(self, rules: EffectiveRules, code: str) -> tuple[str, ...]:
        fired = self._all(rules, "prikk", Situation(), code=code)
        return tuple(a.partition("|")[2] for a in fired if a.startswith("points|"))


class ShadowMismatch(EngineError):
    """The engine and the reference evaluator disagreed: the decision is refused."""


class ShadowEvaluator:
    """Answers with ``primary`` and re-checks every ``period``-th question with ``oracle``.

    A disagreement is logged, counted, and fails closed (``ShadowMismatch``), so a wrong
    engine answer is never returned from a checked question.
    """

    def __init__(self, primary: Evaluator, oracle: Evaluator, sample_rate: float) -> None:
        if not 0 <= sample_rate <= 1:
            raise ValueError(f"sample rate must be within 0..1, got {sample_rate}")
        self.name = primary.name
        self._primary, self._oracle = primary, oracle
        self._period = 0 if sample_rate == 0 else max(1, round(1 / sample_rate))
        self._asked = itertools.count(1)
        self.checked = 0
        self.mismatches = 0

    def _compare(self, question: str, got: T, expected: Callable[[], T]) -> T:
        if self._period and next(self._asked) % self._period == 0:
            self.checked += 1
            want = expected()
            if want != got:
                self.mismatches += 1
                _log.error("shadow mismatch on %s: engine %r, reference %r", question, got, want)
                raise ShadowMismatch(
                    f"engine and reference evaluator disagree on {question}; decision refused"
                )
        return got

    def at(self, rules: EffectiveRules, domain: Domain, situation: Situation, minute: int) -> AtOutcome:
        got = self._primary.at(rules, domain, situation, minute)
        return self._compare("at", got, lambda: self._oracle.at(rules, domain, situation, minute))

    def window(self, rules: EffectiveRules, domain: Domain, situation: Situation) -> WindowOutcome:
        got = self._primary.window(rules, domain, situation)
        return self._compare("window", got, lambda: self._oracle.window(rules, domain, situation))

    def application(self, rules: EffectiveRules, situation: Situation) -> ApplicationMatch:
        got = self._primary.application(rules, situation)
        return self._compare("application", got, lambda: self._oracle.application(rules, situation))

    def prikk_rules(self, rules: EffectiveRules, code: str) -> tuple[str, ...]:
        got = self._primary.prikk_rules(rules, code)
        return self._compare("prikk", got, lambda: self._oracle.prikk_rules(rules, code))
