"""The reference evaluator: the rule model read straight, by linear scan, in plain Python.

It is written independently of the durable-rules compiler and is the oracle the
differential tests hold the engine to; the service may shadow-check live decisions with
it. It answers the same questions as the engine with the same (outcome, rule id):

* at a minute: the first applicable limit (by label) that forbids the minute decides
  "no"; otherwise the chosen window decides (inside = yes, outside or closed = no);
  with no window at all, ``ingen_salgstid`` / ``ingen_skjenketid`` decides "no";
* for a day: the chosen window cut by every applicable limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from bevilling.rules.book import EffectiveRules, PlacedRule
from bevilling.rules.model import (
    LimitRule,
    MaxGroupRule,
    RuleBase,
    SalesLimitRule,
    SalesWindowRule,
    ServingLimitRule,
    ServingWindowRule,
    WindowRule,
    parse_clock,
    serving_minute,
)
from bevilling.situation import Situation, matches

_NO_END = 10**6


class Domain(StrEnum):
    SALG = "salg"
    SKJENKING = "skjenking"

    @property
    def window_kind(self) -> type[WindowRule]:
        return SalesWindowRule if self is Domain.SALG else ServingWindowRule

    @property
    def limit_kind(self) -> type[LimitRule]:
        return SalesLimitRule if self is Domain.SALG else ServingLimitRule

    @property
    def no_window_rule(self) -> str:
        return "ingen_salgstid" if self is Domain.SALG else "ingen_skjenketid"

    def minute(self, clock: str) -> int:
        return parse_clock(clock) if self is Domain.SALG else serving_minute(clock)


class RuleConflict(Exception):
    """Two applicable rules of the same rank give different values."""

    def __init__(self, rules: Sequence[PlacedRule]) -> None:
        self.rule_ids = [p.id for p in rules]
        where = ", ".join(f"{p.id} ({p.origin})" for p in rules)
        super().__init__(f"rules of the same rank contradict each other: {where}")


@dataclass(frozen=True, slots=True)
class Interval:
    """Half-open [start, end) in minutes of the (serving) day."""

    start: int
    end: int

    def __contains__(self, minute: object) -> bool:
        return isinstance(minute, int) and self.start <= minute < self.end


@dataclass(frozen=True, slots=True)
class AtOutcome:
    allowed: bool
    rule_id: str


@dataclass(frozen=True, slots=True)
class WindowOutcome:
    interval: Interval | None
    window_rule: str | None
    limit_rules: tuple[str, ...]


def rank(placed: PlacedRule) -> tuple[int, int]:
    return placed.origin.level.rank, placed.specificity


def _value(placed: PlacedRule) -> object:
    rule = placed.rule
    if isinstance(rule, WindowRule):
        return (rule.closed, rule.window.model_dump() if rule.window else None)
    if isinstance(rule, MaxGroupRule):
        return rule.max_group
    return rule.model_dump()


def choose(candidates: Sequence[PlacedRule]) -> PlacedRule | None:
    """Pick the winning rule among applicable ones (see ``bevilling.situation``)."""
    overridden = {label for p in candidates for label in getattr(p.rule, "overrides", ())}
    remaining = [p for p in candidates if p.id not in overridden]
    if not remaining:
        return None
    best = max(rank(p) for p in remaining)
    top = sorted((p for p in remaining if rank(p) == best), key=lambda p: p.id)
    if len({repr(_value(p)) for p in top}) > 1:
        raise RuleConflict(top)
    return top[0]


def applicable(rules: EffectiveRules, kind: type[RuleBase], situation: Situation) -> list[PlacedRule]:
    return [p for p in rules.of_kind(kind) if matches(getattr(p.rule, "when", None), situation)]


def limit_interval(domain: Domain, rule: LimitRule) -> Interval | None:
    if rule.closed:
        return None
    start = domain.minute(rule.not_before) if rule.not_before else 0
    end = domain.minute(rule.not_after) if rule.not_after else _NO_END
    return Interval(start, end)


def window_interval(domain: Domain, rule: WindowRule) -> Interval | None:
    if rule.window is None:
        return None
    return Interval(domain.minute(rule.window.from_), domain.minute(rule.window.to))


def chosen_window(rules: EffectiveRules, domain: Domain, situation: Situation) -> PlacedRule | None:
    return choose(applicable(rules, domain.window_kind, situation))


def limits(rules: EffectiveRules, domain: Domain, situation: Situation) -> list[PlacedRule]:
    return applicable(rules, domain.limit_kind, situation)


def with_defaults(rules: EffectiveRules, situation: Situation) -> Situation:
    """The situation with every declared fact it leaves out at its declared default."""
    missing = {
        key: value
        for key, decl in rules.facts.items()
        if key not in situation.facts and (value := decl.default_value()) is not None
    }
    return replace(situation, facts={**missing, **situation.facts}) if missing else situation


def decide_at(rules: EffectiveRules, domain: Domain, situation: Situation, minute: int) -> AtOutcome:
    situation = with_defaults(rules, situation)
    for placed in limits(rules, domain, situation):
        assert isinstance(placed.rule, LimitRule)
        allowed = limit_interval(domain, placed.rule)
        if allowed is None or minute not in allowed:
            return AtOutcome(False, placed.id)
    window = chosen_window(rules, domain, situation)
    if window is None:
        return AtOutcome(False, domain.no_window_rule)
    assert isinstance(window.rule, WindowRule)
    interval = window_interval(domain, window.rule)
    return AtOutcome(interval is not None and minute in interval, window.id)


def decide_window(rules: EffectiveRules, domain: Domain, situation: Situation) -> WindowOutcome:
    situation = with_defaults(rules, situation)
    window = chosen_window(rules, domain, situation)
    if window is None:
        return WindowOutcome(None, None, ())
    assert isinstance(window.rule, WindowRule)
    interval = window_interval(domain, window.rule)
    cut_by: list[str] = []
    for placed in limits(rules, domain, situation):
        if interval is None:
            break
        assert isinstance(placed.rule, LimitRule)
        allowed = limit_interval(domain, placed.rule)
        narrowed = None
        if allowed is not None:
            start, end = max(interval.start, allowed.start), min(interval.end, allowed.end)
            narrowed = Interval(start, end) if start < end else None
        if narrowed != interval:
            cut_by.append(placed.id)
            interval = narrowed
    return WindowOutcome(interval, window.id, tuple(cut_by))
