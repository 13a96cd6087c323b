"""The durable-rules engine against the reference evaluator (durable-rules.md § 5.2).

Both evaluators must give the same (decision, rule id) for the same situation:

* exhaustively at the edges: every bundled kommune (a file no longer in force in 2026-2027,
  such as a merged kommune or an earlier version, over the last two years of its validity),
  every region and the national file; every kind of day of 2026-2027, and for the national
  file every named day and clock-change night by its own date; every situation ``rules
  check`` can tell apart; both domains; the day's window, and the answers at start-1, start,
  end-1, end of that window, of the chosen window rule and of every applicable limit, and
  at the fixed probes 359, 360, 1439, 1440, 1619, 1620;
* the same over a synthetic book using what the bundled files do not (overrides, seasons,
  zones, int and text facts, closed limits) and the ``rules check`` good cases;
* on situations read off every rule's selector and their near misses (applications and
  prikk codes too);
* at random situations (hypothesis), including names no rule mentions and left-out facts;
* at random instants around the clock changes, through ``serving_moment``/``sales_moment``;
* mutation checks: a deliberately broken compiler must make the edge comparison fail;
* known disagreements, as strict xfails with a minimal rule book each.

Cost: a domain's answers depend on a day only through the tags its rules test, and on a
kommune only through the content of its rules, so each (content, tested tags, seasons) is
compared once (``run_edges``); engine answers are memoised per (ruleset, exact message),
since the adapter evaluates every message in a fresh session. The reference is asked
afresh for every situation. ``BEVILLING_THOROUGH=1`` shares nothing and probes more.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bevilling.calendar import OSLO, DayInfo, DayTag, day_info, sales_moment, serving_moment
from bevilling.engine import compiler
from bevilling.engine.compiler import message
from bevilling.engine.durable_adapter import DurableEngine
from bevilling.engine.evaluator import EngineEvaluator, ReferenceEvaluator
from bevilling.reference import AtOutcome, Domain, WindowOutcome, applicable, limit_interval, window_interval
from bevilling.rules import check
from bevilling.rules.book import EffectiveRules, NoRulesInForce, RuleBook, placed_rules
from bevilling.rules.model import (
    ALL_GROUPS,
    APPLICATION_FLAGS,
    Area,
    ConditionRule,
    DiscretionRule,
    FactType,
    FactValue,
    HearingRule,
    Level,
    Licence,
    LimitRule,
    MaxGroupRule,
    PrerequisiteRule,
    PrikkRule,
    RefusalRule,
    Selector,
    WindowRule,
)
from bevilling.situation import EventFacts, Situation, day_tier

FIRST, LAST = date(2026, 1, 1), date(2027, 12, 31)
THOROUGH = os.environ.get("BEVILLING_THOROUGH") == "1"
FIXED_PROBES = (359, 360, 1439, 1440, 1619, 1620)
DST_TAGS = frozenset({DayTag.SOMMERTID_NATT, DayTag.VINTERTID_NATT})
UNMENTIONED_VENUES = ("kantine", "kiosk", "foodtruck", "ukjent_sted")
UNMENTIONED_ZONES = ("ingen_sone", "sentrum_vest")
UNMENTIONED_OUTLETS = ("nettbutikk", "kiosk", "ukjent_utsalg")
UNMENTIONED_NAMED = ("sankthans", "marked", "bryllup", "")
CLOCK_CHANGES = (  # UTC instants of the changes in Europe/Oslo
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
    datetime(2027, 10, 31, 1, 0, tzinfo=UTC),
)
GOOD_CASES = Path(__file__).resolve().parents[1] / "rules" / "good"
RULES = Path(__file__).resolve().parents[2] / "rules"

# Two kommuner using what the bundled files do not. Prøveby: overrides that beat a better
# label, seasons (one over New Year), zones, a closed limit, a cap limit on sales,
# an unless with two event flags. Faktaby: limits on int, text and bool facts (apart, so the
# situations to compare add up instead of multiplying). Rank ties are avoided: no
# RuleConflict. What is known to make the evaluators disagree is in BUGBY below, not here.
PROVEBY = """\
schema: bevilling/rules/v1
level: kommune
slug: proveby
name: Prøveby
kommunenummer: "9990"
valid_from: 2020-01-01
sources:
  plan: {title: Prøveby retningslinjer, seed: test.txt}
zones:
  sentrum: {meaning: Sentrum, source: {ref: plan}}
  havna: {meaning: Havna, source: {ref: plan}}
venues:
  brygge: {meaning: Brygge, source: {ref: plan}}
outlets:
  gardsbutikk: {meaning: Gardsbutikk, licence: [salg], source: {ref: plan}}
seasons:
  sommer: {from: "06-01", to: "08-31", meaning: Sommer, source: {ref: plan}}
  vinter: {from: "12-01", to: "02-28", meaning: Vinter, source: {ref: plan}}
rules:
  - id: proveby.skjenketid.a_ute
    kind: skjenketid
    when: {groups: [1, 2], areas: [ute]}
    window: {from: "10:00", to: "00:00"}
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: proveby.skjenketid.b_sentrum
    kind: skjenketid
    when: {groups: [1, 2], zones: [sentrum]}
    window: {from: "08:00", to: "02:00"}
    overrides: [proveby.skjenketid.a_ute]
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: proveby.skjenketid.brygge_sommer
    kind: skjenketid
    when: {groups: [1, 2], venues: [brygge], seasons: [sommer]}
    window: {from: "11:00", to: "01:30"}
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: proveby.skjenketid.helg_vinter
    kind: skjenketid
    when: {groups: [1, 2], days: [fredag, lordag], seasons: [vinter]}
    window: {from: "09:00", to: "02:30"}
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: proveby.skjenketid.gruppe_3
    kind: skjenketid
    when: {groups: [3]}
    window: {from: "13:00", to: "00:30"}
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: proveby.skjenketid.nyttarsaften
    kind: skjenketid
    when: {groups: [1, 2], days: [nyttarsaften]}
    window: {from: "08:00", to: "03:00"}
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: proveby.grense.havna_ute
    kind: skjenketid_grense
    when: {zones: [havna], areas: [ute]}
    not_after: "23:00"
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: proveby.grense.havna_helligdag
    kind: skjenketid_grense
    when: {zones: [havna], days: [helligdag]}
    closed: true
    enforcement: cap
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: proveby.salgstid.gardsbutikk
    kind: salgstid
    when: {outlets: [gardsbutikk], groups: [1], days: [hverdag]}
    window: {from: "10:00", to: "17:00"}
    source: {ref: plan}
    hjemmel: alkoholloven § 3-7
  - id: proveby.salgstid.sommer
    kind: salgstid
    when: {outlets: [butikk], groups: [1], seasons: [sommer], days: [hverdag]}
    window: {from: "08:00", to: "20:00"}
    source: {ref: plan}
    hjemmel: alkoholloven § 3-7
  - id: proveby.salgsgrense.havna
    kind: salgstid_grense
    when: {zones: [havna], outlets: [butikk, gardsbutikk]}
    not_before: "09:00"
    enforcement: cap
    source: {ref: plan}
    hjemmel: alkoholloven § 3-7
  - id: proveby.hoyeste_gruppe.brygge
    kind: hoyeste_gruppe
    when: {venues: [brygge]}
    max_group: 2
    source: {ref: plan}
    hjemmel: alkoholloven § 4-2
  - id: proveby.hoyeste_gruppe.brygge_sentrum
    kind: hoyeste_gruppe
    when: {venues: [brygge], zones: [sentrum], application: {serveringsbevilling: true}}
    max_group: 3
    source: {ref: plan}
    hjemmel: alkoholloven § 4-2
  - id: proveby.avslag.havna_marked
    kind: avslag
    when: {zones: [havna], event: {named: [marked, sankthans]}}
    unless: {event: {age_limit_18: true, family: false}}
    reason: Ikke marked på havna uten 18-årsgrense.
    source: {ref: plan}
    hjemmel: alkoholloven § 1-7a
  - id: proveby.vilkar.ute
    kind: vilkar
    when: {groups: [1, 2], areas: [ute]}
    condition: ordensvakter
    text: Ordensvakter ute.
    source: {ref: plan}
    hjemmel: alkoholloven § 4-2
  - id: proveby.skjonn.sommer
    kind: skjonn
    when: {seasons: [sommer], days: [lordag, sondag]}
    text: Vurder sommerhelg.
    source: {ref: plan}
    hjemmel: alkoholloven § 1-7a
"""

FAKTABY = """\
schema: bevilling/rules/v1
level: kommune
slug: faktaby
name: Faktaby
kommunenummer: "9992"
valid_from: 2020-01-01
sources:
  plan: {title: Faktaby retningslinjer, seed: test.txt}
facts:
  kapasitet: {type: int, meaning: Antall gjester, default: 50, source: {ref: plan}}
  bydel: {type: text, meaning: Bydel, source: {ref: plan}}
  stor_scene: {type: bool, meaning: Stor scene, source: {ref: plan}}
rules:
  - id: faktaby.skjenketid.sentrum
    kind: skjenketid
    when: {groups: [1, 2], facts: {bydel: sentrum}}
    window: {from: "10:00", to: "01:30"}
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: faktaby.grense.kapasitet
    kind: skjenketid_grense
    when: {facts: {kapasitet: 500}}
    not_after: "01:00"
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: faktaby.grense.bydel_vest
    kind: skjenketid_grense
    when: {groups: [3], facts: {bydel: vest}}
    not_before: "15:00"
    not_after: "23:30"
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: faktaby.grense.stor_scene
    kind: skjenketid_grense
    when: {facts: {stor_scene: true}, days: [sondag]}
    not_before: "12:00"
    source: {ref: plan}
    hjemmel: alkoholloven § 4-4
  - id: faktaby.horing.stor_scene
    kind: horing
    when: {facts: {stor_scene: true}, licences: [skjenking, ambulerende]}
    body: politi
    required: true
    source: {ref: plan}
    hjemmel: alkoholloven § 1-7
"""


# --- books and days ------------------------------------------------------------------------


@dataclass(frozen=True)
class Kommune:
    """A key (slug, region or ``national``) of one book over a span of dates, cut into
    segments over which its effective rules do not change (dates without rules left out)."""

    book: RuleBook
    key: str
    segments: tuple[tuple[date, date, EffectiveRules], ...]

    def rules_on(self, day: date) -> EffectiveRules:
        for start, end, rules in self.segments:
            if start <= day <= end:
                return rules
        raise LookupError(f"{self.key}: no segment holds {day}")

    def has(self, day: date) -> bool:
        return any(start <= day <= end for start, end, _ in self.segments)

    def rule_sets(self) -> list[EffectiveRules]:
        return list({rules.version: rules for _, _, rules in self.segments}.values())

    def dates(self) -> st.SearchStrategy[date]:
        return st.sampled_from([(a, b) for a, b, _ in self.segments]).flatmap(lambda ab: st.dates(*ab))


def _change_dates(book: RuleBook) -> set[date]:
    """Every date on which some file or rule starts or stops being valid."""
    edges: set[date] = set()
    for loaded in book.files:
        model = loaded.model
        edges.add(model.valid_from)
        if model.valid_to is not None:
            edges.add(model.valid_to + timedelta(days=1))
        for placed in placed_rules(loaded):
            edges.add(placed.valid_from)
            if placed.valid_to is not None:
                edges.add(placed.valid_to + timedelta(days=1))
    return edges


def spans(book: RuleBook, key: str) -> list[tuple[date, date]]:
    """2026-2027 if any of the key's files is in force then; every file that is not (an
    earlier version, a merged kommune) over the last two calendar years of its validity."""
    result: list[tuple[date, date]] = []
    current = False
    for loaded in book.by_slug[book.slug_of(key)]:
        start, end = loaded.model.valid_from, loaded.model.valid_to or LAST
        if start <= LAST and end >= FIRST:
            current = True
        else:
            result.append((max(start, date(end.year - 1, 1, 1)), end))
    return [(FIRST, LAST)] * current + sorted(result)


def kommune(book: RuleBook, key: str, span: tuple[date, date] = (FIRST, LAST)) -> Kommune:
    first, last = span
    starts = sorted({first} | {d for d in _change_dates(book) if first < d <= last})
    ends = [d - timedelta(days=1) for d in starts[1:]] + [last]
    segments = []
    for start, end in zip(starts, ends, strict=True):
        try:
            rules = book.effective(key, start)
        except NoRulesInForce:
            continue
        assert book.effective(key, end).version == rules.version, f"{key}: rules change inside {start}..{end}"
        segments.append((start, end, rules))
    assert segments, f"{key} has no rules in force in {first}..{last}"
    return Kommune(book, key, tuple(segments))


def every_kommune(book: RuleBook, keys: Iterable[str]) -> list[Kommune]:
    return [kommune(book, key, span) for key in keys for span in spans(book, key)]


def day_cases(place: Kommune) -> list[tuple[EffectiveRules, DayInfo, frozenset[str]]]:
    """One day per (rules, tags, seasons); every named day and clock-change night by its date."""
    cases: dict[tuple[Any, ...], tuple[EffectiveRules, DayInfo, frozenset[str]]] = {}
    for start, end, rules in place.segments:
        day = start
        while day <= end:
            info = day_info(day)
            seasons = frozenset(k for k, s in rules.seasons.items() if s.contains(day))
            special = any(day_tier(t) == 3 for t in info.tags) or bool(info.tags & DST_TAGS)
            signature = (rules.version, info.tags, seasons, day if special else None)
            cases.setdefault(signature, (rules, info, seasons))
            day += timedelta(days=1)
    return list(cases.values())


def bundled_keys(book: RuleBook) -> list[str]:
    """Every kommune, every region and the national file."""
    regions = sorted(slug for slug, files in book.by_slug.items() if files[0].model.level is Level.REGION)
    return [k.slug for k in book.kommuner()] + regions + ["national"]


@pytest.fixture(scope="session")
def synthetic_book(tmp_path_factory: pytest.TempPathFactory) -> RuleBook:
    """Prøveby, Faktaby, the ``rules check`` good cases (renamed testby0, testby1...) and national."""
    root = tmp_path_factory.mktemp("synthetic")
    shutil.copy(RULES / "national.yaml", root / "national.yaml")
    (root / "proveby.yaml").write_text(PROVEBY, encoding="utf-8")
    (root / "faktaby.yaml").write_text(FAKTABY, encoding="utf-8")
    for n, case in enumerate(sorted(p for p in GOOD_CASES.iterdir() if p.is_dir())):
        for source in sorted(case.glob("*.yaml")):
            text = source.read_text(encoding="utf-8")
            text = text.replace("slug: testby", f"slug: testby{n}").replace('"9999"', f'"99{n:02d}"')
            (root / f"{case.name}-{source.name}").write_text(text, encoding="utf-8")
    return RuleBook.load(root)


def synthetic_keys(book: RuleBook) -> list[str]:
    return sorted(slug for slug in book.by_slug if slug != "national")


@pytest.fixture(scope="session")
def places(book: RuleBook, synthetic_book: RuleBook) -> list[Kommune]:
    return every_kommune(book, bundled_keys(book)) + every_kommune(
        synthetic_book, synthetic_keys(synthetic_book)
    )


# --- the comparison ------------------------------------------------------------------------


def describe(situation: Situation) -> str:
    parts = [str(situation.day.date) if situation.day else "no day"]
    parts += [
        f"{k}={v!r}"
        for k, v in (
            ("group", situation.group),
            ("area", situation.area),
            ("venue", situation.venue),
            ("zone", situation.zone),
            ("outlet", situation.outlet),
            ("licence", situation.licence),
        )
        if v is not None
    ]
    if situation.seasons:
        parts.append(f"seasons={sorted(situation.seasons)}")
    if situation.facts:
        parts.append(f"facts={dict(situation.facts)}")
    if situation.event is not None:
        parts.append(f"event={situation.event}")
    if situation.application:
        parts.append(f"application={dict(situation.application)}")
    return ", ".join(parts)


def with_defaults(rules: EffectiveRules, situation: Situation) -> Situation:
    """The situation with every declared fact it leaves out set to its default, as
    ``bevilling.decisions.common.checked_facts`` hands situations to the evaluators."""
    facts: dict[str, FactValue] = {
        k: default for k, d in rules.facts.items() if (default := d.default_value()) is not None
    }
    facts.update(situation.facts)
    return replace(situation, facts=facts)


@dataclass
class Differ:
    """Runs both evaluators; memoises engine answers per (ruleset, message); counts."""

    engine: EngineEvaluator
    reference: ReferenceEvaluator = field(default_factory=ReferenceEvaluator)
    counts: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)
    _at: dict[tuple[Any, ...], AtOutcome] = field(default_factory=dict)
    _window: dict[tuple[Any, ...], WindowOutcome] = field(default_factory=dict)
    _last: tuple[Any, ...] | None = None

    def _key(self, rules: EffectiveRules, question: str, situation: Situation) -> tuple[Any, ...]:
        """The message the engine gets, less its minute; the last one is cached (one
        situation's edges are asked in a row)."""
        if (
            self._last is not None
            and self._last[0] is rules
            and self._last[1] == question
            and self._last[2] is situation
        ):
            return tuple(self._last[3])
        compiled = self.engine.ruleset(rules)
        sent = message(rules, question, situation, compiled.tested[question])
        sent.pop("minute", None)
        key = (compiled.name, question, *sorted(sent.items()))
        self._last = (rules, question, situation, key)
        return key

    def engine_at(
        self, rules: EffectiveRules, domain: Domain, situation: Situation, minute: int
    ) -> AtOutcome:
        key = (*self._key(rules, f"at_{domain.value}", situation), minute)
        if key not in self._at:
            self._at[key] = self.engine.at(rules, domain, situation, minute)
            self.counts["engine at calls"] += 1
        return self._at[key]

    def engine_window(self, rules: EffectiveRules, domain: Domain, situation: Situation) -> WindowOutcome:
        key = self._key(rules, f"pick_{domain.value}", situation)
        if key not in self._window:
            self._window[key] = self.engine.window(rules, domain, situation)
            self.counts["engine window calls"] += 1
        return self._window[key]

    def differ(
        self, what: str, rules: EffectiveRules, situation: Situation, engine: object, ref: object
    ) -> None:
        if engine != ref:
            self.disagreements.append(
                f"{rules.slug} {what} [{describe(situation)}]: engine {engine} != reference {ref}"
            )

    def at(self, rules: EffectiveRules, domain: Domain, situation: Situation, minute: int) -> None:
        ref = self.reference.at(rules, domain, situation, minute)
        got = self.engine_at(rules, domain, situation, minute)
        self.counts["at comparisons"] += 1
        self.differ(f"{domain.value} at minute {minute}", rules, situation, got, ref)

    def window(self, rules: EffectiveRules, domain: Domain, situation: Situation) -> WindowOutcome:
        ref = self.reference.window(rules, domain, situation)
        self.counts["window comparisons"] += 1
        self.differ(
            f"{domain.value} window", rules, situation, self.engine_window(rules, domain, situation), ref
        )
        return ref

    def edges(
        self, rules: EffectiveRules, domain: Domain, situation: Situation, *, probes: bool = True
    ) -> None:
        """Compare the day's window, then the answers at every edge the situation has
        (and at the fixed probes unless ``probes`` is false)."""
        ref = self.window(rules, domain, situation)
        for minute in edge_minutes(rules, domain, situation, ref, probes=probes):
            self.at(rules, domain, situation, minute)

    def application(self, rules: EffectiveRules, situation: Situation) -> None:
        ref = self.reference.application(rules, situation)
        got = self.engine.application(rules, situation)
        self.counts["application comparisons"] += 1
        self.differ("application", rules, situation, got, ref)

    def report(self, limit: int = 15) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items()))
        shown = "\n".join(self.disagreements[:limit])
        return f"{len(self.disagreements)} disagreements ({counts}):\n{shown}"


def edge_minutes(
    rules: EffectiveRules, domain: Domain, situation: Situation, window: WindowOutcome, *, probes: bool = True
) -> list[int]:
    """start-1, start, end-1, end of the day's window, of the chosen window rule as written
    and of every applicable limit; plus the fixed probes."""
    edges: set[int] = set()
    if window.interval is not None:
        edges |= {window.interval.start, window.interval.end}
    if window.window_rule is not None:
        chosen = rules.by_id(window.window_rule).rule
        assert isinstance(chosen, WindowRule)
        interval = window_interval(domain, chosen)
        if interval is not None:
            edges |= {interval.start, interval.end}
    for placed in applicable(rules, domain.limit_kind, situation):
        assert isinstance(placed.rule, LimitRule)
        allowed = limit_interval(domain, placed.rule)
        if allowed is not None:
            edges |= {allowed.start, allowed.end}
    minutes = {e + d for e in edges for d in (-1, 0)} | set(FIXED_PROBES if probes else ())
    return sorted(m for m in minutes if 0 <= m <= 2000)


def hours_content(rules: EffectiveRules, domain: Domain) -> str:
    return str(per_rule_set("content", rules, domain, _hours_content))


def _hours_content(rules: EffectiveRules, domain: Domain) -> str:
    """Everything a domain's hours answers depend on, without the kommune's name: its window
    and limit rules (with label, level and specificity), the rules that override anything,
    and the declarations a message or a situation is built from."""
    relevant = [
        p
        for p in rules.rules
        if isinstance(p.rule, (domain.window_kind, domain.limit_kind)) or getattr(p.rule, "overrides", None)
    ]
    payload = [
        [p.id, p.origin.level.value, p.specificity, p.rule.model_dump(mode="json", by_alias=True)]
        for p in relevant
    ]
    declarations = {
        name: {k: v.model_dump(mode="json", by_alias=True) for k, v in sorted(getattr(rules, name).items())}
        for name in ("facts", "zones", "venues", "outlets", "seasons")
    }
    return json.dumps([payload, declarations], sort_keys=True, default=str)


_per_rule_set: dict[tuple[str, str, Domain], Any] = {}


def per_rule_set(name: str, rules: EffectiveRules, domain: Domain, compute: Any) -> Any:
    """``compute(rules, domain)``, once per rule set version (a content hash) and domain."""
    key = (name, rules.version, domain)
    if key not in _per_rule_set:
        _per_rule_set[key] = compute(rules, domain)
    return _per_rule_set[key]


def mentioned_days(rules: EffectiveRules, domain: Domain) -> frozenset[str]:
    return frozenset(per_rule_set("days", rules, domain, _mentioned_days))


def _mentioned_days(rules: EffectiveRules, domain: Domain) -> frozenset[str]:
    """The day tags the domain's windows and limits test: all that a day is to them."""
    return frozenset(
        tag
        for p in rules.rules
        if isinstance(p.rule, (domain.window_kind, domain.limit_kind))
        for tag in (p.rule.when.days or ())
    )


def run_edges(
    differ: Differ,
    places: Iterable[Kommune],
    *,
    special_dates_of: str | None = None,
    stop_at_first: bool = False,
) -> None:
    """Edge comparisons for every place, day and situation.

    A domain's answers depend on a day only through the tags its rules test, so days are
    compared once per (content, tested tags, seasons); for the key ``special_dates_of``
    every named day and clock-change night is compared by its own date as well.

    Places whose rules for a domain have the same content (the Valdres kommuner and their
    region; the kommuner without rules of their own and the national file) give the same
    answers: each (content, day) is compared once, and for every other place the test
    asserts that the compiler gave it the very same rulesets and compares its windows for
    one day, so every place's own rulesets are registered and asked.

    With ``BEVILLING_THOROUGH=1`` nothing is shared: every place and every distinct set of
    day tags is compared on its own.
    """
    compared: set[tuple[Any, ...]] = set()
    share = not THOROUGH  # thorough: every place and every kind of day on its own
    representative: dict[tuple[Domain, str], EffectiveRules] = {}
    same_checked: set[tuple[str, Domain]] = set()
    for place in places:
        for rules, info, seasons in day_cases(place):
            differ.counts["days"] += 1
            special = any(day_tier(t) == 3 for t in info.tags) or bool(info.tags & DST_TAGS)
            for domain in Domain:
                content = hours_content(rules, domain)
                first = representative.setdefault((domain, content), rules)
                if (rules.version, domain) not in same_checked:
                    same_checked.add((rules.version, domain))
                    if first.version != rules.version:
                        same_rulesets(differ.engine, first, rules, domain)
                        for situation in check.situations(rules, domain, info, seasons):
                            differ.window(rules, domain, situation)
                tags = frozenset(t for t in info.tags if not share or t in mentioned_days(rules, domain))
                by_date = info.date if special and (THOROUGH or place.key == special_dates_of) else None
                key = (domain, content if share else rules.version, tags, seasons, by_date)
                if key in compared:
                    differ.counts["day-domains answered by an identical comparison"] += 1
                    continue
                compared.add(key)
                differ.counts["day-domains compared"] += 1
                for situation in check.situations(rules, domain, info, seasons):
                    differ.counts["situations"] += 1
                    differ.edges(rules, domain, situation)
                    if stop_at_first and differ.disagreements:
                        return


def same_rulesets(
    engine: EngineEvaluator, first: EffectiveRules, other: EffectiveRules, domain: Domain
) -> None:
    a, b = engine.ruleset(first), engine.ruleset(other)
    for question in (f"at_{domain.value}", f"pick_{domain.value}"):
        assert a.definitions[question] == b.definitions[question], f"{first.slug}/{other.slug}: {question}"
        assert a.tested[question] == b.tested[question]


# --- exhaustive edges ----------------------------------------------------------------------


def test_engine_and_reference_agree_at_every_edge_of_every_bundled_kommune(
    book: RuleBook, engine: EngineEvaluator, stats: Counter[str]
) -> None:
    differ = Differ(engine)
    places = every_kommune(book, bundled_keys(book))
    run_edges(differ, places, special_dates_of="national")
    stats.update({f"bundled edges: {k}": v for k, v in differ.counts.items()})
    assert differ.counts["at comparisons"] > 0
    assert not differ.disagreements, differ.report()


def test_engine_and_reference_agree_at_every_edge_of_the_synthetic_book(
    synthetic_book: RuleBook, engine: EngineEvaluator, stats: Counter[str]
) -> None:
    differ = Differ(engine)
    places = every_kommune(synthetic_book, synthetic_keys(synthetic_book))
    run_edges(differ, places)
    stats.update({f"synthetic edges: {k}": v for k, v in differ.counts.items()})
    assert differ.counts["at comparisons"] > 0
    assert not differ.disagreements, differ.report()


def test_every_named_day_and_clock_change_night_is_among_the_edge_days(book: RuleBook) -> None:
    dates = {info.date for _, info, _ in day_cases(kommune(book, "national"))}
    day = FIRST
    while day <= LAST:
        tags = day_info(day).tags
        if any(day_tier(t) == 3 for t in tags) or tags & DST_TAGS:
            assert day in dates, day
        day += timedelta(days=1)
    assert {date(2026, 3, 28), date(2026, 10, 24), date(2027, 3, 27), date(2027, 10, 30)} <= dates


# --- situations read off each rule's selector ------------------------------------------------


@functools.cache
def first_date_with(tag: str) -> date:
    day = FIRST
    while DayTag(tag) not in day_info(day).tags:
        day += timedelta(days=1)
        assert day <= LAST, tag
    return day


def _first(values: list[Any] | None) -> Any:
    return values[0] if values else None


def fulfil(selector: Selector, situation: Situation) -> Situation:
    """``situation`` changed just enough that ``selector`` picks it (first listed values)."""
    changes: dict[str, Any] = {}
    for dimension, attribute in (
        ("groups", "group"),
        ("areas", "area"),
        ("zones", "zone"),
        ("venues", "venue"),
        ("outlets", "outlet"),
        ("licences", "licence"),
    ):
        if getattr(selector, dimension) is not None:
            changes[attribute] = getattr(selector, dimension)[0]
    if selector.days is not None:
        changes["day"] = day_info(first_date_with(selector.days[0]))
    if selector.seasons is not None:
        changes["seasons"] = situation.seasons | {selector.seasons[0]}
    if selector.facts:
        changes["facts"] = {**situation.facts, **selector.facts}
    if selector.application:
        changes["application"] = {**situation.application, **selector.application}
    if selector.event is not None:
        flags = selector.event.model_dump(exclude_none=True)
        named = flags.pop("named", None)
        event = situation.event or EventFacts()
        changes["event"] = replace(event, **flags, named=named[0] if named else event.named)
    return replace(situation, **changes)


def near_misses(situation: Situation) -> Iterator[Situation]:
    """The situation, every group and none, and each dimension left unsaid in turn."""
    yield situation
    for group in (*ALL_GROUPS, None):
        yield replace(situation, group=group)
    for attribute in ("area", "zone", "venue", "outlet", "licence", "event", "day"):
        if getattr(situation, attribute) is not None:
            yield replace(situation, **{attribute: None})  # type: ignore[arg-type]
    for name in situation.facts:
        yield replace(situation, facts={k: v for k, v in situation.facts.items() if k != name})
    for name, value in situation.facts.items():
        if isinstance(value, bool):
            yield replace(situation, facts={**situation.facts, name: not value})
    if situation.seasons:
        yield replace(situation, seasons=frozenset())
    for name, flag in situation.application.items():
        yield replace(situation, application={**situation.application, name: not flag})


def selector_cases(rules: EffectiveRules, kinds: tuple[type[Any], ...]) -> Iterator[Situation]:
    """For every rule of ``kinds``: situations its selector (and its ``unless``) just picks,
    and their near misses, on an ordinary Wednesday unless the selector names days."""
    plain = Situation(day=day_info(first_date_with("onsdag")))
    seen: set[str] = set()
    for placed in rules.rules:
        if not isinstance(placed.rule, kinds):
            continue
        picked = fulfil(placed.rule.when, plain)
        bases = [picked]
        unless = getattr(placed.rule, "unless", None)
        if unless is not None:
            bases.append(fulfil(unless, picked))
        for base in bases:
            for situation in near_misses(base):
                key = describe(situation) + repr(sorted(situation.seasons))
                if key not in seen:
                    seen.add(key)
                    yield situation


def test_engine_and_reference_agree_on_situations_read_off_every_selector(
    places: list[Kommune], engine: EngineEvaluator, stats: Counter[str]
) -> None:
    """Each rule's selector just fulfilled, and near misses: every group and no group, each
    dimension left unsaid (a left-out fact takes its declared default, as in the decisions)."""
    differ = Differ(engine)
    done: set[str] = set()
    application_kinds = (
        MaxGroupRule,
        RefusalRule,
        PrerequisiteRule,
        ConditionRule,
        DiscretionRule,
        HearingRule,
    )
    for rules in (rules for place in places for rules in place.rule_sets()):
        for domain in Domain:
            content = hours_content(rules, domain)
            if content in done:
                continue
            done.add(content)
            for situation in selector_cases(rules, (domain.window_kind, domain.limit_kind)):
                differ.counts["situations"] += 1
                differ.edges(rules, domain, with_defaults(rules, situation), probes=THOROUGH)
        for situation in selector_cases(rules, application_kinds):
            differ.application(rules, with_defaults(rules, situation))
        for code in sorted(
            {p.rule.code for p in rules.rules if isinstance(p.rule, PrikkRule)} | {"ukjent_kode"}
        ):
            differ.counts["prikk comparisons"] += 1
            differ.differ(
                f"prikk {code}",
                rules,
                Situation(),
                engine.prikk_rules(rules, code),
                differ.reference.prikk_rules(rules, code),
            )
    stats.update({f"selector situations: {k}": v for k, v in differ.counts.items()})
    assert not differ.disagreements, differ.report()


# --- random situations ---------------------------------------------------------------------


def _selectors(rules: EffectiveRules) -> Iterator[Selector]:
    for placed in rules.rules:
        for name in ("when", "unless"):
            selector = getattr(placed.rule, name, None)
            if isinstance(selector, Selector):
                yield selector


def mentioned_fact_values(rules: EffectiveRules) -> dict[str, set[object]]:
    values: dict[str, set[object]] = {}
    for selector in _selectors(rules):
        for key, value in (selector.facts or {}).items():
            values.setdefault(key, set()).add(value)
    return values


def mentioned_named_events(rules: EffectiveRules) -> set[str]:
    return {n for s in _selectors(rules) if s.event and s.event.named for n in s.event.named}


@st.composite
def facts_for(draw: st.DrawFn, rules: EffectiveRules) -> dict[str, FactValue]:
    """Each declared fact left out or given a value of its type (often one a rule tests)."""
    mentioned = mentioned_fact_values(rules)
    facts: dict[str, FactValue] = {}
    for name, decl in sorted(rules.facts.items()):
        known = sorted((v for v in mentioned.get(name, ()) if v is not None), key=repr)
        value: st.SearchStrategy[FactValue]
        if decl.type is FactType.BOOL:
            value = st.booleans()
        elif decl.type is FactType.INT:
            value = st.integers(-(2**31), 2**31) | st.sampled_from([*known, 0, 50])
        else:
            value = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from([*known, "", "vest"])
        given_value = draw(st.none() | value)
        if given_value is not None:
            facts[name] = given_value
    return facts


@st.composite
def situations_in(draw: st.DrawFn, rules: EffectiveRules, day: date | None) -> Situation:
    """Any situation a question could describe in ``rules``, names no rule mentions included."""
    event = draw(
        st.none()
        | st.builds(
            EventFacts,
            under_18=st.booleans(),
            age_limit_18=st.booleans(),
            sports=st.booleans(),
            family=st.booleans(),
            named=st.none() | st.sampled_from(sorted(mentioned_named_events(rules) | set(UNMENTIONED_NAMED))),
        )
    )
    return Situation(
        day=day_info(day) if day is not None else None,
        seasons=frozenset(draw(st.sets(st.sampled_from(sorted(rules.seasons)))))
        if rules.seasons
        else frozenset(),
        group=draw(st.sampled_from([*ALL_GROUPS, None])),
        area=draw(st.sampled_from([*Area, None])),
        zone=draw(st.sampled_from([*sorted(rules.zones), *UNMENTIONED_ZONES, None])),
        venue=draw(st.sampled_from([*sorted(rules.venues), *UNMENTIONED_VENUES, None])),
        outlet=draw(st.sampled_from([*sorted(rules.outlets), *UNMENTIONED_OUTLETS, None])),
        licence=draw(st.sampled_from([*Licence, None])),
        facts=draw(facts_for(rules)),
        event=event,
        application={f: draw(st.booleans()) for f in sorted(APPLICATION_FLAGS) if draw(st.booleans())},
    )


@given(data=st.data())
def test_engine_and_reference_agree_at_random_situations_and_minutes(
    places: list[Kommune], engine: EngineEvaluator, stats: Counter[str], data: st.DataObject
) -> None:
    place = data.draw(st.sampled_from(places), label="kommune")
    day = data.draw(place.dates(), label="date")
    rules = place.rules_on(day)
    domain = data.draw(st.sampled_from(list(Domain)), label="domain")
    situation = with_defaults(rules, data.draw(situations_in(rules, day), label="situation"))
    minute = data.draw(st.integers(0, 1800), label="minute")
    differ = Differ(engine)
    differ.at(rules, domain, situation, minute)
    differ.differ(
        f"{domain.value} window",
        rules,
        situation,
        engine.window(rules, domain, situation),
        differ.reference.window(rules, domain, situation),
    )
    stats["random at examples"] += 1
    assert not differ.disagreements, differ.report()


@given(data=st.data())
def test_engine_and_reference_agree_on_random_applications(
    places: list[Kommune], engine: EngineEvaluator, stats: Counter[str], data: st.DataObject
) -> None:
    place = data.draw(st.sampled_from(places), label="kommune")
    day = data.draw(place.dates(), label="date")
    rules = place.rules_on(day)
    situation = with_defaults(
        rules, data.draw(situations_in(rules, data.draw(st.none() | st.just(day), label="day")))
    )
    differ = Differ(engine)
    differ.application(rules, situation)
    stats["random application examples"] += 1
    assert not differ.disagreements, differ.report()


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """Aware instants, mostly within three hours of a clock change, in Oslo time or with a
    fixed +01:00/+02:00 offset (the same instant either way)."""
    near = draw(st.booleans())
    if near:
        change = draw(st.sampled_from(CLOCK_CHANGES))
        utc = change + timedelta(minutes=draw(st.integers(-180, 180)))
    else:
        utc = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 2 * 365 * 24 * 60)))
    zone = draw(st.sampled_from([OSLO, timezone(timedelta(hours=1)), timezone(timedelta(hours=2))]))
    return utc.astimezone(zone)


@given(data=st.data(), instant=instants())
def test_engine_and_reference_agree_at_random_instants(
    places: list[Kommune],
    engine: EngineEvaluator,
    stats: Counter[str],
    instant: datetime,
    data: st.DataObject,
) -> None:
    moment = serving_moment(instant)
    assert serving_moment(instant.astimezone(UTC)) == moment
    sales_day, sales_minute = sales_moment(instant)
    differ = Differ(engine)
    for domain, day, minute in (
        (Domain.SKJENKING, moment.serving_date, moment.minute),
        (Domain.SALG, sales_day, sales_minute),
    ):
        in_force = [p for p in places if p.has(day)]
        if not in_force:
            continue
        place = data.draw(st.sampled_from(in_force), label=f"{domain.value} kommune")
        rules = place.rules_on(day)
        situation = with_defaults(
            rules, data.draw(situations_in(rules, day), label=f"{domain.value} situation")
        )
        differ.at(rules, domain, situation, minute)
    stats["random instant examples"] += 1
    assert not differ.disagreements, differ.report()


# --- mutations: a broken compiler must fail the comparison -----------------------------------


def _inclusive_window_end(domain: Domain, rule: WindowRule) -> compiler.Condition:
    assert rule.window is not None
    return {
        "$and": [
            {"$gte": {"minute": domain.minute(rule.window.from_)}},
            {"$lte": {"minute": domain.minute(rule.window.to)}},
        ]
    }


def _label_order_only(placed: Any) -> tuple[int, int, str]:
    return (0, 0, placed.id)


def _overrides_ignored(placed: Any, overriders: dict[str, list[Any]]) -> compiler.Condition:
    return compiler.selector_condition(getattr(placed.rule, "when", None))


def _inclusive_limit_end(domain: Domain, rule: LimitRule) -> compiler.Condition:
    if rule.closed:
        return compiler.ALWAYS
    outside: list[compiler.Condition] = []
    if rule.not_before:
        outside.append({"$lt": {"minute": domain.minute(rule.not_before)}})
    if rule.not_after:
        outside.append({"$gt": {"minute": domain.minute(rule.not_after)}})
    return outside[0] if len(outside) == 1 else {"$or": outside}


MUTATIONS = {
    "window end inclusive ($lte)": ("_window_bounds", _inclusive_window_end),
    "kommune/region/national and specificity order dropped": ("rank_key", _label_order_only),
    "overrides ignored": ("_applies", _overrides_ignored),
    "limit end inclusive ($gt)": ("_outside_limit", _inclusive_limit_end),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_a_broken_compiler_is_caught_by_the_edge_comparison(
    mutation: str,
    book: RuleBook,
    synthetic_book: RuleBook,
    monkeypatch: pytest.MonkeyPatch,
    stats: Counter[str],
) -> None:
    name, replacement = MUTATIONS[mutation]
    monkeypatch.setattr(compiler, name, replacement)
    differ = Differ(EngineEvaluator(DurableEngine()))  # fresh engine: the shared one keeps good rulesets
    places = [kommune(synthetic_book, "proveby"), kommune(book, "valdres")]
    run_edges(differ, places, stop_at_first=True)
    assert differ.disagreements, f"mutation '{mutation}' went unnoticed: {differ.report()}"
    stats[f"mutation caught after {differ.counts['at comparisons']} at comparisons: {mutation}"] = 1
    print(f"{mutation}: {differ.disagreements[0]}")


# --- disagreements found by these tests, kept as regression tests ----------------------------

# Each rule here passed ``rules check`` (2026-11-23) and makes the engine and the reference disagree.
# Once a bug is fixed, drop its xfail and move its rule into PROVEBY.
BUGBY = """\
schema: bevilling/rules/v1
level: kommune
slug: bugby
name: Bugby
kommunenummer: "9991"
valid_from: 2020-01-01
sources:
  plan: {title: Bugby retningslinjer, seed: test.txt}
rules:
  - id: bugby.vilkar.alle_grupper
    kind: vilkar
    when: {groups: [1, 2, 3]}
    condition: ordensvakter
    text: Ordensvakter.
    source: {ref: plan}
    hjemmel: alkoholloven § 4-2
  - id: bugby.hoyeste_gruppe.bar
    kind: hoyeste_gruppe
    when: {venues: [bar]}
    max_group: 3
    overrides: [skjenketid.normal.gruppe_1_2]
    source: {ref: plan}
    hjemmel: alkoholloven § 4-2
"""


@pytest.fixture(scope="session")
def bugby(tmp_path_factory: pytest.TempPathFactory) -> EffectiveRules:
    root = tmp_path_factory.mktemp("bugby")
    shutil.copy(RULES / "national.yaml", root / "national.yaml")
    (root / "bugby.yaml").write_text(BUGBY, encoding="utf-8")
    return RuleBook.load(root).effective("bugby", date(2026, 6, 5))


def test_a_rule_for_every_group_applies_alike_when_the_question_names_no_group(
    bugby: EffectiveRules, engine: EngineEvaluator, reference: ReferenceEvaluator
) -> None:
    situation = Situation(venue="serveringssted", licence=Licence.SKJENKING)
    assert engine.application(bugby, situation) == reference.application(bugby, situation)


def test_an_override_from_another_kind_of_rule_is_read_alike(
    bugby: EffectiveRules, engine: EngineEvaluator, reference: ReferenceEvaluator
) -> None:
    situation = Situation(day=day_info(date(2026, 6, 5)), group=1, area=Area.INNE, venue="bar")
    assert engine.window(bugby, Domain.SKJENKING, situation) == reference.window(
        bugby, Domain.SKJENKING, situation
    )


def test_a_left_out_fact_is_read_alike(
    book: RuleBook, engine: EngineEvaluator, reference: ReferenceEvaluator
) -> None:
    day = date(2026, 4, 4)  # påskeaften; Valdres sells 08-18 the day before a helligdag
    rules = book.effective("3451", day)
    situation = Situation(day=day_info(day), group=1, outlet="butikk")  # unntatt_helligdagsloven left out
    minute = 16 * 60 + 30
    assert engine.at(rules, Domain.SALG, situation, minute) == reference.at(
        rules, Domain.SALG, situation, minute
    )
