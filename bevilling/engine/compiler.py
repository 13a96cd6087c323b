"""Compile a kommune's effective rules into one durable-rules ruleset (JSON data, no code).

One ruleset per kommune and rule version, named ``<slug>-<version>``: reloading rules
never re-registers a name, and a decision names the exact ruleset it ran under.

Messages carry a question ``q`` and flat, typed facts computed in Python:
``d_<daytag>`` and ``s_<season>`` flags, ``group``, ``area``, ``zone``, ``venue``,
``outlet``, ``licence``, ``f_<fact>``, ``a_<application flag>``, ``e_<event flag>`` and
``minute`` (minute of the sales day or the skjenkedøgn). Every key is always present, so
the engine's "``$neq`` never matches a missing key" cannot change an answer.

Action names are ``<verdict>|<rule id>``; the rule id points back to the rule file.

Questions (``q``):
* ``at_salg`` / ``at_skjenking`` (posted as an event, lowest ``pri`` wins): limits that
  forbid the minute come first (by label), then every window by rank — its "inside" rule
  allows, its "outside" rule denies — then a default "no window" rule;
* ``pick_salg`` / ``pick_skjenking`` (a fact: every applicable window and limit fires, in
  rank order) for the window of a day;
* ``soknad`` (a fact) for the application rules; ``prikk`` (a fact) for violation codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bevilling.calendar import DayTag
from bevilling.reference import Domain
from bevilling.rules.book import EffectiveRules, PlacedRule
from bevilling.rules.model import (
    ALL_GROUPS,
    APPLICATION_FLAGS,
    ConditionRule,
    DiscretionRule,
    HearingRule,
    LimitRule,
    MaxGroupRule,
    PrerequisiteRule,
    PrikkRule,
    RefusalRule,
    Selector,
    WindowRule,
    selector_of,
)
from bevilling.situation import Situation

TEXT_UNSET = ""
INT_UNSET = -(2**31)
EVENT_FLAGS = ("under_18", "age_limit_18", "sports", "family")

Condition = dict[str, Any]
ALWAYS: Condition = {"$ex": {"q": 1}}


def day_key(tag: str) -> str:
    return f"d_{tag}"


def season_key(name: str) -> str:
    return f"s_{name}"


def fact_key(name: str) -> str:
    return f"f_{name}"


def application_key(name: str) -> str:
    return f"a_{name}"


def event_key(name: str) -> str:
    return f"e_{name}"


def _any_of(key: str, values: list[Any]) -> Condition:
    options: list[Condition] = [{key: v} for v in values]
    return options[0] if len(options) == 1 else {"$or": options}


def _all_of(parts: list[Condition]) -> Condition:
    parts = [p for p in parts if p is not ALWAYS]
    if not parts:
        return ALWAYS
    return parts[0] if len(parts) == 1 else {"$and": parts}


def selector_condition(selector: Selector | None) -> Condition:
    if selector is None:
        return ALWAYS
    parts: list[Condition] = []
    if selector.days is not None:
        parts.append({"$or": [{day_key(d): True} for d in selector.days]})
    if selector.seasons is not None:
        parts.append({"$or": [{season_key(s): True} for s in selector.seasons]})
    if selector.groups is not None and set(selector.groups) != set(ALL_GROUPS):
        parts.append(_any_of("group", list(selector.groups)))
    for key, values in (
        ("area", selector.areas),
        ("zone", selector.zones),
        ("venue", selector.venues),
        ("outlet", selector.outlets),
        ("licence", selector.licences),
    ):
        if values is not None:
            parts.append(_any_of(key, [str(v) for v in values]))
    for name, value in (selector.facts or {}).items():
        parts.append({fact_key(name): value})
    for name, flag in (selector.application or {}).items():
        parts.append({application_key(name): flag})
    if selector.event is not None:
        for name, value in selector.event.model_dump(exclude_none=True).items():
            if name == "named":
                parts.append(_any_of(event_key("named"), list(value)))
            else:
                parts.append({event_key(name): value})
    return _all_of(parts)


_NEGATED_COMPARISON = {
    "$lt": "$gte",
    "$gte": "$lt",
    "$lte": "$gt",
    "$gt": "$lte",
    "$eq": "$neq",
    "$neq": "$eq",
}


def negate(condition: Condition) -> Condition:
    """The complement of a condition, pushed down to comparisons (De Morgan).

    Sound here because every message carries every key the ruleset tests.
    """
    if condition is ALWAYS:
        return {"$nex": {"q": 1}}
    ((operator, operand),) = condition.items()
    if operator == "$and":
        return {"$or": [negate(c) for c in operand]}
    if operator == "$or":
        return {"$and": [negate(c) for c in operand]}
    if operator in _NEGATED_COMPARISON:
        return {_NEGATED_COMPARISON[operator]: operand}
    if operator in ("$ex", "$nex"):
        return {"$nex" if operator == "$ex" else "$ex": operand}
    return {"$neq": {operator: operand}}


def rank_key(placed: PlacedRule) -> tuple[int, int, str]:
    """Sort key: lower fires first — lowest file level first, then most specific, then label."""
    return (-placed.origin.level.rank, -placed.specificity, placed.id)


def _applies(placed: PlacedRule, overriders: dict[str, list[PlacedRule]]) -> Condition:
    """The rule's selector, minus situations where a rule that overrides it applies too."""
    own = selector_condition(selector_of(placed.rule))
    blockers = [negate(selector_condition(selector_of(o.rule))) for o in overriders.get(placed.id, [])]
    return _all_of([own, *blockers])


QUESTIONS = ("at_salg", "at_skjenking", "pick_salg", "pick_skjenking", "soknad", "prikk")


@dataclass(frozen=True, slots=True)
class CompiledRuleset:
    """One durable-rules ruleset per question: a session's set-up cost grows with the
    number of rules in its ruleset, so small rulesets keep every decision fast."""

    name: str
    definitions: dict[str, dict[str, Any]]
    tested: dict[str, frozenset[str]]
    """Per question, the message keys its conditions test: only those are sent."""

    def ruleset_name(self, question: str) -> str:
        return f"{self.name}-{question}"


def tested_keys(condition: Condition) -> set[str]:
    ((operator, operand),) = condition.items()
    if operator in ("$and", "$or"):
        return set().union(*(tested_keys(c) for c in operand))
    if operator.startswith("$"):
        return set(operand)
    return {operator}


class _Builder:
    def __init__(self) -> None:
        self.rules: dict[str, dict[str, Any]] = {q: {} for q in QUESTIONS}

    def add(self, question: str, condition: Condition, action: str) -> None:
        rules = self.rules[question]
        pri = len(rules) + 1
        rules[f"r{pri}"] = {"all": [{"m": _all_of([{"q": question}, condition])}], "pri": pri, "run": action}


def _window_bounds(domain: Domain, rule: WindowRule) -> Condition:
    assert rule.window is not None
    return {
        "$and": [
            {"$gte": {"minute": domain.minute(rule.window.from_)}},
            {"$lt": {"minute": domain.minute(rule.window.to)}},
        ]
    }


def _outside_limit(domain: Domain, rule: LimitRule) -> Condition:
    if rule.closed:
        return ALWAYS
    outside: list[Condition] = []
    if rule.not_before:
        outside.append({"$lt": {"minute": domain.minute(rule.not_before)}})
    if rule.not_after:
        outside.append({"$gte": {"minute": domain.minute(rule.not_after)}})
    return outside[0] if len(outside) == 1 else {"$or": outside}


def compile_rules(rules: EffectiveRules) -> CompiledRuleset:
    builder = _Builder()
    overriders: dict[str, list[PlacedRule]] = {}
    kinds = {p.id: p.kind for p in rules.rules}
    for placed in rules.rules:
        for label in getattr(placed.rule, "overrides", ()):
            if kinds.get(label) == placed.kind:  # an override weighs only rules of its own kind
                overriders.setdefault(label, []).append(placed)

    for domain in Domain:
        windows = sorted((p for p in rules.rules if isinstance(p.rule, domain.window_kind)), key=rank_key)
        limits = sorted((p for p in rules.rules if isinstance(p.rule, domain.limit_kind)), key=lambda p: p.id)
        at, pick = f"at_{domain.value}", f"pick_{domain.value}"
        for placed in limits:
            assert isinstance(placed.rule, LimitRule)
            condition = _all_of([selector_condition(placed.rule.when), _outside_limit(domain, placed.rule)])
            builder.add(at, condition, f"deny|{placed.id}")
        for placed in windows:
            assert isinstance(placed.rule, WindowRule)
            applies = _applies(placed, overriders)
            if placed.rule.window is not None:
                builder.add(at, _all_of([applies, _window_bounds(domain, placed.rule)]), f"allow|{placed.id}")
            builder.add(at, applies, f"deny|{placed.id}")
        builder.add(at, ALWAYS, f"deny|{domain.no_window_rule}")
        for placed in windows:
            builder.add(pick, _applies(placed, overriders), f"window|{placed.id}")
        for placed in limits:
            builder.add(pick, selector_condition(selector_of(placed.rule)), f"limit|{placed.id}")

    max_groups = sorted((p for p in rules.rules if isinstance(p.rule, MaxGroupRule)), key=rank_key)
    for placed in max_groups:
        builder.add("soknad", _applies(placed, overriders), f"max_group|{placed.id}")
    for placed in sorted(rules.rules, key=lambda p: p.id):
        rule = placed.rule
        if isinstance(rule, RefusalRule):
            condition = selector_condition(rule.when)
            if rule.unless is not None:
                condition = _all_of([condition, negate(selector_condition(rule.unless))])
            builder.add("soknad", condition, f"refuse|{placed.id}")
        elif isinstance(rule, PrerequisiteRule):
            builder.add("soknad", selector_condition(rule.when), f"requires|{placed.id}")
        elif isinstance(rule, ConditionRule):
            builder.add("soknad", selector_condition(rule.when), f"condition|{placed.id}")
        elif isinstance(rule, DiscretionRule):
            builder.add("soknad", selector_condition(rule.when), f"discretion|{placed.id}")
        elif isinstance(rule, HearingRule):
            builder.add("soknad", selector_condition(rule.when), f"hearing|{placed.id}")
        elif isinstance(rule, PrikkRule):
            builder.add("prikk", {"code": rule.code}, f"points|{placed.id}")

    tested = {
        question: frozenset(key for rule in definition.values() for key in tested_keys(rule["all"][0]["m"]))
        for question, definition in builder.rules.items()
    }
    return CompiledRuleset(f"{rules.slug}-{rules.version}", builder.rules, tested)


@lru_cache(maxsize=4096)
def _day_flags(tags: frozenset[DayTag], wanted: frozenset[str]) -> dict[str, bool]:
    return {key: tag in tags for tag in DayTag if (key := day_key(tag.value)) in wanted}


@dataclass(frozen=True, slots=True)
class _MessagePlan:
    """The keys one question's message carries, worked out once per rule version."""

    wanted: frozenset[str]
    seasons: tuple[tuple[str, str], ...]  # (message key, season)
    facts: tuple[tuple[str, str, Any, Any], ...]  # (message key, fact, declared default, "unset" value)
    application: tuple[tuple[str, str], ...]  # (message key, flag)
    event: tuple[tuple[str, str], ...]  # (message key, flag)


_PLANS: dict[tuple[str, str, frozenset[str]], _MessagePlan] = {}


def _message_plan(rules: EffectiveRules, question: str, wanted: frozenset[str]) -> _MessagePlan:
    key = (rules.version, question, wanted)
    plan = _PLANS.get(key)
    if plan is None:
        facts = tuple(
            (k, name, decl.default_value(), INT_UNSET if decl.type.value == "int" else TEXT_UNSET)
            for name, decl in rules.facts.items()
            if (k := fact_key(name)) in wanted
        )
        plan = _MessagePlan(
            wanted=wanted,
            seasons=tuple((k, s) for s in rules.seasons if (k := season_key(s)) in wanted),
            facts=facts,
            application=tuple((k, f) for f in APPLICATION_FLAGS if (k := application_key(f)) in wanted),
            event=tuple((k, f) for f in EVENT_FLAGS if (k := event_key(f)) in wanted),
        )
        if len(_PLANS) > 4096:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


def message(
    rules: EffectiveRules,
    question: str,
    situation: Situation,
    wanted: frozenset[str],
    *,
    minute: int = 0,
    code: str = "",
) -> dict[str, str | int | bool]:
    """The flat, strictly typed message for one question: every key in ``wanted`` (the keys
    the question's ruleset tests) is present, nothing else is sent."""
    plan = _message_plan(rules, question, wanted)
    day_tags = situation.day.tags if situation.day is not None else frozenset()
    event = situation.event
    sent: dict[str, str | int | bool] = {}
    if "q" in wanted:
        sent["q"] = question
    if "group" in wanted:
        sent["group"] = situation.group or 0
    if "area" in wanted:
        sent["area"] = str(situation.area or TEXT_UNSET)
    if "zone" in wanted:
        sent["zone"] = situation.zone or TEXT_UNSET
    if "venue" in wanted:
        sent["venue"] = situation.venue or TEXT_UNSET
    if "outlet" in wanted:
        sent["outlet"] = situation.outlet or TEXT_UNSET
    if "licence" in wanted:
        sent["licence"] = str(situation.licence or TEXT_UNSET)
    if "minute" in wanted:
        sent["minute"] = minute
    if "code" in wanted:
        sent["code"] = code
    if (named := event_key("named")) in wanted:
        sent[named] = event.named if event and event.named else TEXT_UNSET
    for key, season in plan.seasons:
        sent[key] = season in situation.seasons
    for key, name, default, unset in plan.facts:
        value = situation.facts.get(name, default)
        sent[key] = unset if value is None else value
    for key, flag in plan.application:
        sent[key] = bool(situation.application.get(flag, False))
    for key, flag in plan.event:
        sent[key] = bool(getattr(event, flag)) if event is not None else False
    sent.update(_day_flags(day_tags, wanted))
    return sent
