"""Søknad om bevilling: what can be granted, what must be refused, and what the officer weighs.

The engine proposes; the case officer decides. Everything the law leaves to the kommune's
free discretion (alkoholloven § 1-7a) is listed as a point to weigh, never decided here.
Binding grounds (vandel § 1-7b, styrer § 1-7c, the kommune's refusal grounds and highest
group per venue) are applied; prerequisites the application does not document are
listed for the officer to obtain rather than assumed either way.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field

from bevilling.calendar import day_info, hhmm
from bevilling.decisions.common import (
    DecisionError,
    Frozen,
    Reason,
    RulesetRef,
    checked_facts,
    reason,
    rules_for,
    ruleset_ref,
)
from bevilling.decisions.hours import UnknownName, WindowAnswer, sales_window, serving_window
from bevilling.engine.evaluator import Evaluator
from bevilling.reference import Domain, WindowOutcome
from bevilling.rules.book import EffectiveRules, RuleBook
from bevilling.rules.model import (
    Area,
    BevillingsperiodeRule,
    ConditionKind,
    ConditionRule,
    FactValue,
    HearingBody,
    HearingRule,
    Level,
    Licence,
    MaxGroupRule,
    PrerequisiteRule,
)
from bevilling.situation import EventFacts, Situation


class Event(Frozen):
    under_18: bool = False
    age_limit_18: bool = False
    sports: bool = False
    family: bool = False
    named: str | None = None


class Application(Frozen):
    """A søknad as the assessment needs it. Flags left out are 'not documented'."""

    kommune: str
    licence: Licence
    venue: str = Field(description="venue category; for salg the outlet kind (butikk, gardsutsalg...)")
    groups: list[Literal[1, 2, 3]] = Field(min_length=1)
    areas: list[Area] = Field(default_factory=lambda: [Area.INNE], min_length=1)
    decided_on: date
    zone: str | None = None
    serveringsbevilling: bool | None = None
    delimited_area: bool | None = None
    uklanderlig_vandel: bool | None = None
    styrer_og_stedfortreder: bool | None = None
    event: Event | None = None
    facts: dict[str, FactValue] = Field(default_factory=dict)


class Outcome(StrEnum):
    INNVILGES = "innvilges"
    INNVILGES_DELVIS = "innvilges_delvis"
    AVSLAS = "avslas"


class ProposedCondition(Frozen):
    condition: ConditionKind
    text: str
    discretionary: bool
    from_: str | None = None
    to: str | None = None
    age: int | None = None
    reason: Reason


class Hearing(Frozen):
    body: HearingBody
    required: bool
    reason: Reason


class Assessment(Frozen):
    outcome: Outcome
    licence: Licence
    granted_groups: list[int]
    granted_areas: list[Area]
    max_group: int | None
    refusals: list[Reason]
    binding_refusals: list[Reason] = Field(
        default_factory=list,
        description="refusals the law itself requires (national rules, e.g. vandel § 1-7b): no vedtak may grant past them",
    )
    to_document: list[Reason]
    conditions: list[ProposedCondition]
    hearings: list[Hearing]
    discretion: list[Reason]
    hours: list[WindowAnswer]
    reasons: list[Reason]
    ruleset: RulesetRef

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.INNVILGES


def _situation(rules: EffectiveRules, application: Application, area: Area) -> Situation:
    salg = application.licence is Licence.SALG
    names = rules.outlets if salg else rules.venues
    if application.venue not in names:
        kind = "outlet" if salg else "venue"
        raise UnknownName(
            f"{kind} '{application.venue}' is not defined ({', '.join(sorted(names))})", field="venue"
        )
    if application.zone is not None and application.zone not in rules.zones:
        raise UnknownName(f"zone '{application.zone}' is not defined for {rules.name}", field="zone")
    flags = {
        name: value
        for name in ("serveringsbevilling", "delimited_area", "uklanderlig_vandel", "styrer_og_stedfortreder")
        if (value := getattr(application, name)) is not None
    }
    event = application.event
    return Situation(
        day=day_info(application.decided_on),
        seasons=frozenset(k for k, s in rules.seasons.items() if s.contains(application.decided_on)),
        area=area,
        zone=application.zone,
        venue=None if salg else application.venue,
        outlet=application.venue if salg else None,
        licence=application.licence,
        facts=checked_facts(rules, application.facts),
        event=EventFacts(**event.model_dump()) if event is not None else None,
        application=flags,
    )


def assess(book: RuleBook, evaluator: Evaluator, application: Application) -> Assessment:
    rules = rules_for(book, application.kommune, application.decided_on)
    if application.licence is Licence.SALG and Area.UTE in application.areas:
        raise DecisionError("a salgsbevilling has no uteservering area", field="areas")
    refusals: dict[str, Reason] = {}
    binding: dict[str, Reason] = {}
    to_document: dict[str, Reason] = {}
    conditions: dict[str, ProposedCondition] = {}
    hearings: dict[str, Hearing] = {}
    discretion: dict[str, Reason] = {}
    refused_areas: set[Area] = set()
    max_group: int | None = None
    max_reason: Reason | None = None

    for area in application.areas:
        match = evaluator.application(rules, _situation(rules, application, area))
        area_refused = False
        for rule_id in match.refusals:
            placed = rules.by_id(rule_id)
            refusals.setdefault(rule_id, reason(placed))
            if placed.origin.level is Level.NATIONAL:
                binding.setdefault(rule_id, refusals[rule_id])
            area_refused = True
        for rule_id in match.prerequisites:
            placed = rules.by_id(rule_id)
            assert isinstance(placed.rule, PrerequisiteRule)
            given = getattr(application, placed.rule.requires, None)
            if given is False:
                refusals.setdefault(rule_id, reason(placed, placed.rule.reason))
                if placed.origin.level is Level.NATIONAL:
                    binding.setdefault(rule_id, refusals[rule_id])
                area_refused = True
            elif given is None:
                to_document.setdefault(rule_id, reason(placed, placed.rule.reason))
        if area_refused:
            refused_areas.add(area)
        for rule_id in match.conditions:
            placed = rules.by_id(rule_id)
            rule = placed.rule
            assert isinstance(rule, ConditionRule)
            conditions.setdefault(
                rule_id,
                ProposedCondition(
                    condition=rule.condition,
                    text=rule.text,
                    discretionary=rule.discretionary,
                    from_=rule.from_,
                    to=rule.to,
                    age=rule.age,
                    reason=reason(placed),
                ),
            )
        for rule_id in match.hearings:
            placed = rules.by_id(rule_id)
            assert isinstance(placed.rule, HearingRule)
            hearings.setdefault(
                rule_id, Hearing(body=placed.rule.body, required=placed.rule.required, reason=reason(placed))
            )
        for rule_id in match.discretion:
            discretion.setdefault(rule_id, reason(rules.by_id(rule_id)))
        if match.max_group is not None:
            placed = rules.by_id(match.max_group)
            assert isinstance(placed.rule, MaxGroupRule)
            if max_group is None or placed.rule.max_group < max_group:
                max_group, max_reason = placed.rule.max_group, reason(placed)

    granted_areas = [a for a in application.areas if a not in refused_areas]
    granted_groups = sorted(g for g in application.groups if max_group is not None and g <= max_group)
    reasons = list(refusals.values())
    if len(granted_groups) < len(application.groups) and max_reason is not None:
        reasons.append(max_reason)
        refusals.setdefault(max_reason.rule_id, max_reason)
    if not granted_areas or not granted_groups:
        outcome = Outcome.AVSLAS
    elif len(granted_areas) < len(application.areas) or len(granted_groups) < len(application.groups):
        outcome = Outcome.INNVILGES_DELVIS
    else:
        outcome = Outcome.INNVILGES
    hours = (
        _hours(book, evaluator, application, granted_areas, granted_groups)
        if outcome is not Outcome.AVSLAS
        else []
    )
    return Assessment(
        outcome=outcome,
        licence=application.licence,
        granted_groups=granted_groups if outcome is not Outcome.AVSLAS else [],
        granted_areas=granted_areas if outcome is not Outcome.AVSLAS else [],
        max_group=max_group,
        refusals=list(refusals.values()),
        binding_refusals=list(binding.values()),
        to_document=list(to_document.values()),
        conditions=list(conditions.values()),
        hearings=list(hearings.values()),
        discretion=list(discretion.values()),
        hours=hours,
        reasons=reasons,
        ruleset=ruleset_ref(rules, evaluator.name),
    )


def _hours(
    book: RuleBook, evaluator: Evaluator, application: Application, areas: list[Area], groups: Sequence[int]
) -> list[WindowAnswer]:
    """The windows the grant would carry on the decision date (the officer sees real times)."""
    day = application.decided_on
    if application.licence is Licence.SALG:
        return [
            sales_window(book, evaluator, application.kommune, day, group=g, outlet=application.venue)
            for g in groups
        ]
    return [
        serving_window(
            book,
            evaluator,
            application.kommune,
            day,
            group=g,
            area=a,
            venue=application.venue,
            zone=application.zone,
            facts=application.facts,
        )
        for a in areas
        for g in groups
    ]


def max_group(
    book: RuleBook, evaluator: Evaluator, kommune: str, venue: str, licence: Licence, on: date
) -> int | None:
    """The highest group a licence for this kind of venue can cover; ``None`` when the
    kommune's rules refuse the venue outright (a refusal that no event or flag lifts)."""
    rules = rules_for(book, kommune, on)
    application = Application(kommune=kommune, licence=licence, venue=venue, groups=[1], decided_on=on)
    match = evaluator.application(rules, _situation(rules, application, Area.INNE))
    for rule_id in match.refusals:
        rule = rules.by_id(rule_id).rule
        when = getattr(rule, "when", None)
        unconditional = (
            getattr(rule, "unless", None) is None
            and when is not None
            and not (when.event or when.facts or when.application or when.areas or when.days or when.seasons)
        )
        if unconditional:
            return None
    if match.max_group is None:
        return None
    chosen = rules.by_id(match.max_group).rule
    assert isinstance(chosen, MaxGroupRule)
    return chosen.max_group


def period_end(book: RuleBook, kommune: str, granted_on: date) -> date:
    """Alkoholloven § 1-6: a bevilling ends at the latest 30 September in the year after
    the kommunestyrevalg; a grant made after that date runs to the next period's end."""
    rules = rules_for(book, kommune, granted_on)
    placed = rules.of_kind(BevillingsperiodeRule)
    if not placed:
        raise DecisionError(f"no bevillingsperiode rule is in force on {granted_on}")
    rule = placed[0].rule
    assert isinstance(rule, BevillingsperiodeRule)
    month, day = (int(part) for part in rule.ends_month_day.split("-"))
    election = rule.valgaar + ((granted_on.year - rule.valgaar) // rule.interval_years) * rule.interval_years
    end = date(election + 1, month, day)
    while end < granted_on:
        end = date(end.year + rule.interval_years, month, day)
    return end


class GrantedHours(Frozen):
    """Hours a vedtak granted for one group and area (a kommune may grant less than its rules)."""

    group: Literal[1, 2, 3]
    area: Area
    from_: str = Field(alias="from")
    to: str


class Granted(Frozen):
    """What a bevilling holds, as re-assessment needs it."""

    licence: Licence
    venue: str
    zone: str | None = None
    groups: list[Literal[1, 2, 3]]
    areas: list[Area]
    hours: list[GrantedHours] = Field(default_factory=list)


class Breach(Frozen):
    what: str
    detail: str
    reason: Reason


def reassess(book: RuleBook, evaluator: Evaluator, kommune: str, on: date, granted: Granted) -> list[Breach]:
    """Where a granted licence goes beyond the kommune's rules as of ``on``: groups above the
    venue's highest group, a venue the rules now refuse, and granted hours outside the
    window of any kind of day in the coming year."""
    return Reassessor(book, evaluator, kommune, on).reassess(granted)


@functools.lru_cache(maxsize=64)
def kinds_of_day(on: date) -> tuple[tuple[frozenset[str], date], ...]:
    """The first day of each kind of day (its set of day tags) in the 366 days from ``on``."""
    found: dict[frozenset[str], date] = {}
    for offset in range(366):
        day = date.fromordinal(on.toordinal() + offset)
        found.setdefault(frozenset(t.value for t in day_info(day).tags), day)
    return tuple(found.items())


def _day_tags_tested(rules: EffectiveRules, domain: Domain) -> frozenset[str]:
    """The day tags the selectors (``when``, ``unless``) of the domain's window and limit rules
    name: the reference matches them by membership, the engine gets one flag per tested tag."""
    kinds = (domain.window_kind, domain.limit_kind)
    tested: set[str] = set()
    for placed in rules.rules:
        if isinstance(placed.rule, kinds):
            for selector in (getattr(placed.rule, "when", None), getattr(placed.rule, "unless", None)):
                if selector is not None and selector.days:
                    tested.update(selector.days)
    return frozenset(tested)


class Reassessor:
    """``reassess`` for the bevillinger of one kommune on one date. What a breach depends on
    is shared by most of them (the venue and licence; per granted window its group, area,
    zone and times), so each is worked out once, in the order ``reassess`` asks for it."""

    def __init__(self, book: RuleBook, evaluator: Evaluator, kommune: str, on: date) -> None:
        self.book, self.evaluator, self.kommune, self.on = book, evaluator, kommune, on
        self.rules = rules = rules_for(book, kommune, on)
        # Per domain, the kinds of day its window rules tell apart (the day tags their selectors
        # name, and the seasons), each with its first day, in the order of the year: a window
        # depends on the day through nothing else, so one window per kind is asked for.
        self._kinds: dict[Domain, list[tuple[frozenset[str], date]]] = {}
        for domain in Domain:
            tested = _day_tags_tested(rules, domain)
            seen: dict[tuple[frozenset[str], frozenset[str]], tuple[frozenset[str], date]] = {}
            for signature, day in kinds_of_day(on):
                seasons = frozenset(k for k, s in rules.seasons.items() if s.contains(day))
                seen.setdefault((signature & tested, seasons), (signature, day))
            self._kinds[domain] = list(seen.values())
        self._venues: dict[tuple[str, Licence], tuple[int | None, Reason | None, Reason | None]] = {}
        self._windows: dict[tuple[object, ...], WindowOutcome] = {}
        self._hours: dict[tuple[object, ...], Breach | None] = {}

    def _venue(self, granted: Granted) -> tuple[int | None, Reason | None, Reason | None]:
        """(highest group, first refusal if refused, the max_group rule's reason)."""
        key = (granted.venue, granted.licence)
        found = self._venues.get(key)
        if found is None:
            rules, on = self.rules, self.on
            highest = max_group(self.book, self.evaluator, self.kommune, granted.venue, granted.licence, on)
            application = Application(
                kommune=self.kommune,
                licence=granted.licence,
                venue=granted.venue,
                groups=granted.groups,
                decided_on=on,
            )
            match = self.evaluator.application(rules, _situation(rules, application, Area.INNE))
            refusal = reason(rules.by_id(match.refusals[0])) if highest is None else None
            ruling = reason(rules.by_id(match.max_group)) if match.max_group is not None else None
            found = self._venues[key] = (highest, refusal, ruling)
        return found

    def _window(self, domain: Domain, granted: Granted, hours: GrantedHours, day: date) -> WindowOutcome:
        key = (domain, granted.venue, granted.zone, hours.group, hours.area, day)
        found = self._windows.get(key)
        if found is None:
            situation = Situation(
                day=day_info(day),
                seasons=frozenset(k for k, s in self.rules.seasons.items() if s.contains(day)),
                group=hours.group,
                area=hours.area,
                zone=granted.zone,
                venue=None if domain is Domain.SALG else granted.venue,
                outlet=granted.venue if domain is Domain.SALG else None,
            )
            found = self._windows[key] = self.evaluator.window(self.rules, domain, situation)
        return found

    def _hours_breach(self, domain: Domain, granted: Granted, hours: GrantedHours) -> Breach | None:
        key = (domain, granted.venue, granted.zone, hours.group, hours.area, hours.from_, hours.to)
        if key in self._hours:
            return self._hours[key]
        start, end = domain.minute(hours.from_), domain.minute(hours.to)
        found = None
        for signature, day in self._kinds[domain]:
            window = self._window(domain, granted, hours, day)
            inside = (
                window.interval is not None and window.interval.start <= start and end <= window.interval.end
            )
            if inside or window.interval is None or window.window_rule is None:
                continue  # a day the rules close entirely is not covered by any grant
            allowed = f"{hhmm(window.interval.start)}–{hhmm(window.interval.end)}"
            decided_by = window.limit_rules[-1] if window.limit_rules else window.window_rule
            found = Breach(
                what="hours",
                detail=f"gruppe {hours.group} {hours.area.value} {hours.from_}–{hours.to} granted; "
                f"on {day} ({', '.join(sorted(signature))}) the rules allow {allowed}",
                reason=reason(self.rules.by_id(decided_by)),
            )
            break
        self._hours[key] = found
        return found

    def reassess(self, granted: Granted) -> list[Breach]:
        breaches: list[Breach] = []
        highest, refusal, ruling = self._venue(granted)
        if highest is None:
            assert refusal is not None
            breaches.append(
                Breach(
                    what="venue",
                    detail=f"{granted.venue} can no longer get a {granted.licence.value}bevilling",
                    reason=refusal,
                )
            )
        elif max(granted.groups) > highest:
            assert ruling is not None
            breaches.append(
                Breach(
                    what="groups",
                    detail=f"gruppe {max(granted.groups)} granted, the rules allow up to gruppe {highest}",
                    reason=ruling,
                )
            )
        domain = Domain.SALG if granted.licence is Licence.SALG else Domain.SKJENKING
        for hours in granted.hours:
            breach = self._hours_breach(domain, granted, hours)
            if breach is not None:
                breaches.append(breach)
        return breaches
