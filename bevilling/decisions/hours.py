"""Salgs- og skjenketider: is sale or serving allowed at an instant, and the window of a day.

Implements alkoholloven § 3-7 (salg av gruppe 1), § 3-4 (Vinmonopolet) and § 4-4
(skjenking) as the kommune's effective rules state them. The day kind and the minute
are computed here from the calendar (a serving day runs from 06:00 to 03:00 the next
morning; DST nights follow the municipal practice in ``bevilling.calendar``), never
taken from the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from bevilling.calendar import day_info, hhmm, sales_moment, serving_moment
from bevilling.decisions.common import (
    DecisionError,
    Frozen,
    NotAlcohol,
    Reason,
    RulesetRef,
    checked_facts,
    national_reason,
    reason,
    rules_for,
    ruleset_ref,
)
from bevilling.engine.evaluator import Evaluator
from bevilling.reference import Domain, RuleConflict
from bevilling.rules.book import EffectiveRules, RuleBook
from bevilling.rules.model import AlcoholGroupRule, Area
from bevilling.situation import Situation


class UnknownName(DecisionError):
    code = "unknown_name"


class HoursAnswer(Frozen):
    kind: Literal["salg", "skjenking"]
    at: datetime
    day: date
    minute: int
    allowed: bool
    summary: str
    reasons: list[Reason]
    ruleset: RulesetRef


class WindowAnswer(Frozen):
    kind: Literal["salg", "skjenking"]
    day: date
    from_: str | None
    to: str | None
    summary: str
    reasons: list[Reason]
    ruleset: RulesetRef


def group_of(book: RuleBook, abv: Decimal, on: date) -> int:
    """Alkoholforskriften § 1-1: the group of a drink by percent alcohol by volume."""
    rules = rules_for(book, "national", on)
    for placed in rules.of_kind(AlcoholGroupRule):
        assert isinstance(placed.rule, AlcoholGroupRule)
        if placed.rule.contains(abv):
            return placed.rule.group
    raise NotAlcohol(
        f"{abv} % is not alkoholholdig drikk in any group (groups cover above 2.5 % up to 60 %)", field="abv"
    )


def _known(kind: str, value: str | None, names: Mapping[str, object]) -> None:
    if value is not None and value not in names:
        raise UnknownName(
            f"{kind} '{value}' is not defined for this kommune ({', '.join(sorted(names))})", field=kind
        )


def _situation(
    rules: EffectiveRules,
    day: date,
    *,
    group: int,
    outlet: str | None = None,
    area: Area | None = None,
    venue: str | None = None,
    zone: str | None = None,
    facts: Mapping[str, object] | None = None,
) -> Situation:
    if group not in (1, 2, 3):
        raise DecisionError(f"group must be 1, 2 or 3, got {group}", field="group")
    _known("outlet", outlet, rules.outlets)
    _known("venue", venue, rules.venues)
    _known("zone", zone, rules.zones)
    return Situation(
        day=day_info(day),
        seasons=frozenset(k for k, s in rules.seasons.items() if s.contains(day)),
        group=group,
        outlet=outlet,
        area=area,
        venue=venue,
        zone=zone,
        facts=checked_facts(rules, facts or {}),
    )


def _decided(rules: EffectiveRules, rule_id: str, domain: Domain) -> Reason:
    if rule_id == domain.no_window_rule:
        what = "salgstid" if domain is Domain.SALG else "skjenketid"
        law = "alkoholloven § 3-7" if domain is Domain.SALG else "alkoholloven § 4-4"
        return national_reason(rule_id, f"Ingen {what} gjelder for dette tilfellet", law)
    return reason(rules.by_id(rule_id))


def _at(
    book: RuleBook,
    evaluator: Evaluator,
    kommune: str,
    domain: Domain,
    at: datetime,
    **situation_args: object,
) -> HoursAnswer:
    if domain is Domain.SALG:
        day, minute = sales_moment(at)
    else:
        moment = serving_moment(at)
        day, minute = moment.serving_date, moment.minute
    rules = rules_for(book, kommune, day)
    situation = _situation(rules, day, **situation_args)  # type: ignore[arg-type, unused-ignore]
    try:
        outcome = evaluator.at(rules, domain, situation, minute)
    except RuleConflict as conflict:
        raise DecisionError(str(conflict)) from None
    what = "Salg" if domain is Domain.SALG else "Skjenking"
    verdict = "er tillatt" if outcome.allowed else "er ikke tillatt"
    return HoursAnswer(
        kind=domain.value,
        at=at,
        day=day,
        minute=minute,
        allowed=outcome.allowed,
        summary=f"{what} av gruppe {situation.group} {verdict} {at.isoformat(timespec='minutes')}",
        reasons=[_decided(rules, outcome.rule_id, domain)],
        ruleset=ruleset_ref(rules, evaluator.name),
    )


def _window(
    book: RuleBook, evaluator: Evaluator, kommune: str, domain: Domain, day: date, **situation_args: object
) -> WindowAnswer:
    rules = rules_for(book, kommune, day)
    situation = _situation(rules, day, **situation_args)  # type: ignore[arg-type, unused-ignore]
    try:
        outcome = evaluator.window(rules, domain, situation)
    except RuleConflict as conflict:
        raise DecisionError(str(conflict)) from None
    reasons = [_decided(rules, outcome.window_rule or domain.no_window_rule, domain)]
    reasons += [reason(rules.by_id(limit)) for limit in outcome.limit_rules]
    what = "Salg" if domain is Domain.SALG else "Skjenking"
    if outcome.interval is None:
        summary = f"{what} av gruppe {situation.group} er ikke tillatt {day}"
        start = end = None
    else:
        start, end = hhmm(outcome.interval.start), hhmm(outcome.interval.end)
        summary = f"{what} av gruppe {situation.group} {day}: {start}–{end}"
    return WindowAnswer(
        kind=domain.value,
        day=day,
        from_=start,
        to=end,
        summary=summary,
        reasons=reasons,
        ruleset=ruleset_ref(rules, evaluator.name),
    )


def sales_allowed(
    book: RuleBook,
    evaluator: Evaluator,
    kommune: str,
    at: datetime,
    *,
    group: int,
    outlet: str = "butikk",
    facts: Mapping[str, object] | None = None,
) -> HoursAnswer:
    return _at(book, evaluator, kommune, Domain.SALG, at, group=group, outlet=outlet, facts=facts)


def serving_allowed(
    book: RuleBook,
    evaluator: Evaluator,
    kommune: str,
    at: datetime,
    *,
    group: int,
    area: Area,
    venue: str,
    zone: str | None = None,
    facts: Mapping[str, object] | None = None,
) -> HoursAnswer:
    return _at(
        book,
        evaluator,
        kommune,
        Domain.SKJENKING,
        at,
        group=group,
        area=area,
        venue=venue,
        zone=zone,
        facts=facts,
    )


def sales_window(
    book: RuleBook,
    evaluator: Evaluator,
    kommune: str,
    day: date,
    *,
    group: int = 1,
    outlet: str = "butikk",
    facts: Mapping[str, object] | None = None,
) -> WindowAnswer:
    return _window(book, evaluator, kommune, Domain.SALG, day, group=group, outlet=outlet, facts=facts)


def serving_window(
    book: RuleBook,
    evaluator: Evaluator,
    kommune: str,
    day: date,
    *,
    group: int,
    area: Area,
    venue: str,
    zone: str | None = None,
    facts: Mapping[str, object] | None = None,
) -> WindowAnswer:
    return _window(
        book,
        evaluator,
        kommune,
        Domain.SKJENKING,
        day,
        group=group,
        area=area,
        venue=venue,
        zone=zone,
        facts=facts,
    )
