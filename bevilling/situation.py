"""The situation a question describes, and when a rule's selector applies to it.

This is the plain reading of the rule language that the reference evaluator uses and
that ``docs/rule-language.md`` documents. The durable-rules compiler translates the same
selectors on its own (``bevilling.engine.compiler``); the differential tests keep the two
readings in step.

Which rule wins when several apply (the same for every kind that picks one rule):
1. a rule listed in another applicable rule's ``overrides`` drops out;
2. the rule from the lowest file wins (kommune over region over national);
3. then the more specific selector wins (``specificity``);
4. two rules left with different values are a conflict, never "last one wins".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from bevilling.calendar import DayInfo, DayTag, day_info
from bevilling.rules.model import ALL_GROUPS, Area, FactValue, Licence, Selector

_WEEKDAY_TIER = frozenset(
    {
        DayTag.MANDAG,
        DayTag.TIRSDAG,
        DayTag.ONSDAG,
        DayTag.TORSDAG,
        DayTag.FREDAG,
        DayTag.LORDAG,
        DayTag.SONDAG,
        DayTag.HVERDAG,
    }
)
_KIND_TIER = frozenset(
    {
        DayTag.HELLIGDAG,
        DayTag.HOYTIDSDAG,
        DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG,
        DayTag.DAG_FOR_HOYTIDSDAG,
        DayTag.SISTE_HELLIGDAG_FOR_VIRKEDAG,
        DayTag.SOMMERTID_NATT,
        DayTag.VINTERTID_NATT,
    }
)
DAY_TAGS = frozenset(tag.value for tag in DayTag)


@lru_cache(maxsize=1)
def tag_implications() -> dict[str, frozenset[str]]:
    """For each day tag, every tag that holds on all its dates (lordag -> dag_for_sondag...).

    Read off the calendar over a span long enough to see every combination of Easter and
    weekday that matters, rather than written by hand.
    """
    seen: dict[str, frozenset[str]] = {}
    day = date(2000, 1, 1)
    while day.year < 2040:
        tags = frozenset(t.value for t in day_info(day).tags)
        for tag in tags:
            seen[tag] = seen[tag] & tags if tag in seen else tags
        day += timedelta(days=1)
    return seen


def days_within(inner: list[str], outer: list[str]) -> bool:
    """Whether every date any of ``inner`` names is a date one of ``outer`` names."""
    implied = tag_implications()
    return all(implied.get(tag, frozenset({tag})) & set(outer) for tag in inner)


def within(inner: Selector, outer: Selector) -> bool:
    """Whether ``inner`` is about ``outer``'s special case: its groups, days, seasons and facts
    lie inside ``outer``'s. Place dimensions (area, zone, venue, outlet) are left to
    per-situation matching, since a rule for "every outlet" is also a rule for a shop."""
    for name in ("groups", "seasons"):
        wanted = getattr(outer, name)
        if wanted is not None:
            have = getattr(inner, name)
            if have is None or not set(have) <= set(wanted):
                return False
    if outer.days is not None and (inner.days is None or not days_within(inner.days, outer.days)):
        return False
    return all((inner.facts or {}).get(key) == value for key, value in (outer.facts or {}).items())


def day_tier(tag: str) -> int:
    """Weekdays weigh 1, day kinds (helligdag, day before...) 2, named days (julaften...) 3."""
    day = DayTag(tag)
    if day in _WEEKDAY_TIER:
        return 1
    if day in _KIND_TIER:
        return 2
    return 3


def specificity(selector: Selector) -> int:
    """How narrowly a selector picks situations: the least specific listed day's tier,
    plus one for every other dimension that is narrowed."""
    score = min(day_tier(d) for d in selector.days) if selector.days else 0
    if selector.groups is not None and set(selector.groups) != set(ALL_GROUPS):
        score += 1
    if selector.areas is not None and set(selector.areas) != set(Area):
        score += 1
    narrowed = (selector.zones, selector.venues, selector.outlets, selector.licences, selector.seasons)
    score += sum(1 for dimension in narrowed if dimension is not None)
    score += len(selector.facts or {})
    score += len(selector.application or {})
    if selector.event is not None:
        score += len(selector.event.model_dump(exclude_none=True))
    return score


@dataclass(frozen=True, slots=True)
class EventFacts:
    under_18: bool = False
    age_limit_18: bool = False
    sports: bool = False
    family: bool = False
    named: str | None = None


@dataclass(frozen=True, slots=True)
class Situation:
    """Everything a selector can test. ``None`` means the question does not say."""

    day: DayInfo | None = None
    seasons: frozenset[str] = frozenset()
    group: int | None = None
    area: Area | None = None
    zone: str | None = None
    venue: str | None = None
    outlet: str | None = None
    licence: Licence | None = None
    facts: Mapping[str, FactValue] = field(default_factory=dict)
    event: EventFacts | None = None
    application: Mapping[str, bool] = field(default_factory=dict)


def matches(selector: Selector | None, situation: Situation) -> bool:
    """A dimension the selector lists must hold a value the situation has; absent = any."""
    if selector is None:
        return True
    if selector.days is not None and (
        situation.day is None or not any(DayTag(d) in situation.day.tags for d in selector.days)
    ):
        return False
    if selector.seasons is not None and not situation.seasons.intersection(selector.seasons):
        return False
    if (
        selector.groups is not None
        and set(selector.groups) != set(ALL_GROUPS)
        and situation.group not in selector.groups
    ):
        return False  # a rule for every group also answers a question that names no group
    if selector.areas is not None and situation.area not in selector.areas:
        return False
    if selector.zones is not None and situation.zone not in selector.zones:
        return False
    if selector.venues is not None and situation.venue not in selector.venues:
        return False
    if selector.outlets is not None and situation.outlet not in selector.outlets:
        return False
    if selector.licences is not None and situation.licence not in selector.licences:
        return False
    for key, wanted in (selector.facts or {}).items():
        if situation.facts.get(key) != wanted:
            return False
    for key, wanted_flag in (selector.application or {}).items():
        if situation.application.get(key, False) != wanted_flag:
            return False
    if selector.event is not None:
        event = situation.event or EventFacts()
        for name, wanted_value in selector.event.model_dump(exclude_none=True).items():
            if name == "named":
                if event.named not in wanted_value:
                    return False
            elif getattr(event, name) != wanted_value:
                return False
    return True
