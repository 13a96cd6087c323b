"""Proposed faster forms of the national use cases, measured next to the current ones.

Nothing here changes what is decided: ``benchmarks.national`` checks, in the same run, that
each proposal reports or stores exactly what the current code does (the same flagged
bevillinger with the same breaches; the same gebyr amounts, bases, decision JSON and
ruleset versions). They are written against the public functions of ``bevilling`` and
``db`` so that the benchmark can run them without touching those modules; the report
carries them as diffs to those modules.

* ``MemoEngineEvaluator``: ``EngineEvaluator`` that remembers ``window`` and
  ``application`` answers per compiled ruleset and message. The engine sees nothing but the
  message and evaluates each in a fresh session, so equal messages get equal answers; and
  the message holds only what the ruleset tests, so the 34 kinds of day of a year collapse
  to the few the kommune's rules tell apart.
* ``ReassessCache`` / ``reassess_in_cached``: ``application.reassess`` answers from
  (venue, licence) and, per granted window, from (group, area, zone, venue, from, to) only,
  and walks 366 days to find the kinds of day for every bevilling. Within one kommune and
  date those are shared by most bevillinger, so each is computed once per kommune.
* ``run_gebyr_national``: every kommune's yearly omsetningsgebyr in one transaction: one
  query for the bevillinger and one for their oppgaver, the year's rates looked up once
  instead of once per bevilling, the rows written with one multi-row upsert and one delete,
  one audit entry per kommune as now.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import json
import weakref
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from bevilling.calendar import DayInfo, day_info, hhmm
from bevilling.decisions import application, gebyr
from bevilling.decisions.application import Breach, Granted, GrantedHours
from bevilling.decisions.common import (
    DecisionError,
    RatesMissing,
    Reason,
    RulesetRef,
    reason,
    rules_for,
    ruleset_ref,
)
from bevilling.engine.compiler import message
from bevilling.engine.durable_adapter import DurableEngine
from bevilling.engine.evaluator import EngineEvaluator, Evaluator
from bevilling.reference import Domain, WindowOutcome
from bevilling.rules.book import EffectiveRules, RuleBook, placed_rules
from bevilling.rules.model import Area, GebyrRule, Licence
from bevilling.situation import Situation
from db import commands
from db.models import AuditEntry, Bevilling
from db.session import unit_of_work


def forget_answers(evaluator: object) -> None:
    """Clear the answers an ``EngineEvaluator`` keeps (its ``_fired`` cache, where it has one):
    the synthetic kommuner of the national benchmark share rulesets, real kommuner do not."""
    fired = getattr(evaluator, "_fired", None)
    if isinstance(fired, dict):
        fired.clear()


# -- the engine ---------------------------------------------------------------------------------


class MemoEngineEvaluator(EngineEvaluator):
    """``EngineEvaluator`` remembering ``window`` and ``application`` answers per compiled
    ruleset and message (bounded; cleared when full)."""

    def __init__(self, engine: DurableEngine | None = None, size: int = 65_536) -> None:
        super().__init__(engine)
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._size = size

    def forget(self) -> None:
        """Drop every remembered answer, the engine's own too (compiled rulesets stay)."""
        self._memo.clear()
        forget_answers(self)

    def _key(self, rules: EffectiveRules, question: str, situation: Situation) -> tuple[Any, ...] | None:
        compiled = self.ruleset(rules)
        if not compiled.definitions[question]:
            return None
        sent = message(rules, question, situation, compiled.tested[question])
        # The value's type is part of the key (1 == True in Python), as in EngineEvaluator.
        return (compiled.name, question, tuple((k, type(v), v) for k, v in sorted(sent.items())))

    def _remember(self, key: tuple[Any, ...], value: Any) -> Any:
        if len(self._memo) >= self._size:
            self._memo.clear()
        self._memo[key] = value
        return value

    def window(self, rules: EffectiveRules, domain: Domain, situation: Situation) -> WindowOutcome:
        key = self._key(rules, f"pick_{domain.value}", situation)
        if key is None:
            return super().window(rules, domain, situation)
        found = self._memo.get(key)
        if found is None:
            found = self._remember(key, super().window(rules, domain, situation))
        assert isinstance(found, WindowOutcome)
        return found

    def prikk_rules(self, rules: EffectiveRules, code: str) -> tuple[str, ...]:
        key = (self.ruleset(rules).name, "prikk", code)
        found = self._memo.get(key)
        if found is None:
            found = self._remember(key, super().prikk_rules(rules, code))
        assert isinstance(found, tuple)
        return found

    def application(self, rules: EffectiveRules, situation: Situation) -> Any:
        key = self._key(rules, "soknad", situation)
        if key is None:
            return super().application(rules, situation)
        found = self._memo.get(key)
        if found is None:
            found = self._remember(key, super().application(rules, situation))
        return found


# -- effective rules --------------------------------------------------------------------------


class IntervalRuleBook(RuleBook):
    """``RuleBook`` that resolves a kommune's effective rules once per interval in which none
    of its files and rules starts or ends, instead of once per day.

    ``RuleBook.effective`` caches per (kommune, day) and every new day costs a resolution and
    the content hash (``version``, which the engine keys its rulesets on): about 3 ms, and the
    20,000-entry cache holds 55 kommuner for a year. Here a day gets the interval's rules
    with its own date (a shallow copy: the rules, declarations and version are shared)."""

    def __init__(self, files: Any) -> None:
        super().__init__(files)
        self._bounds: dict[str, list[date]] = {}
        self._by_interval: dict[tuple[str, date], EffectiveRules] = {}

    def _boundaries(self, slug: str) -> list[date]:
        found = self._bounds.get(slug)
        if found is None:
            files = list(self.by_slug.get(slug, []))
            for inherited in {f.model.inherits for f in files if f.model.inherits}:
                files += self.by_slug.get(inherited, [])
            files += self.by_slug.get("national", []) if slug != "national" else []
            points: set[date] = set()
            for loaded in files:
                points.add(loaded.model.valid_from)
                if loaded.model.valid_to is not None:
                    points.add(loaded.model.valid_to + timedelta(days=1))
                for placed in placed_rules(loaded):
                    points.add(placed.valid_from)
                    if placed.valid_to is not None:
                        points.add(placed.valid_to + timedelta(days=1))
            found = self._bounds[slug] = sorted(points)
        return found

    def effective(self, key: str, on: date) -> EffectiveRules:
        slug = self.slug_of(key)
        bounds = self._boundaries(slug)
        index = bisect.bisect_right(bounds, on)
        start = bounds[index - 1] if index else date.min
        template = self._by_interval.get((slug, start))
        if template is None:
            template = self._resolve(slug, on)  # NoRulesInForce is raised, never cached
            for name in _SHARED:
                getattr(template, name)  # computed once for the whole interval
            self._by_interval[(slug, start)] = template
        if template.on == on:
            return template
        day = dataclasses.replace(template, on=on)
        day.__dict__.update({name: template.__dict__[name] for name in _SHARED})
        return day


_SHARED = ("version", "_by_kind", "_by_id")  # cached properties that do not depend on the day


# -- re-assessment ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def kinds_of_day(on: date) -> tuple[tuple[frozenset[str], date], ...]:
    """The first day of each kind of day (its tag signature) in the 366 days from ``on``,
    in the order ``application.reassess`` meets them."""
    found: dict[frozenset[str], date] = {}
    for offset in range(366):
        day = date.fromordinal(on.toordinal() + offset)
        found.setdefault(frozenset(t.value for t in day_info(day).tags), day)
    return tuple(found.items())


@dataclass(frozen=True)
class _Kind:
    """The first day of a kind of day, as the window rules of a domain see it."""

    signature: frozenset[str]  # every tag of the day
    day: date
    info: DayInfo
    seasons: frozenset[str]


def day_tags_tested(rules: EffectiveRules, domain: Domain) -> frozenset[str]:
    """Every day tag a selector (``when``, ``unless``) of the domain's window and limit rules
    names. A window depends on the day only through these and the seasons: the reference
    matches selectors by tag membership (``situation.matches``), the engine gets one flag
    per tag its compiled rules test."""
    kinds = (domain.window_kind, domain.limit_kind)
    tested: set[str] = set()
    for placed in rules.rules:
        if not isinstance(placed.rule, kinds):
            continue
        for selector in (getattr(placed.rule, "when", None), getattr(placed.rule, "unless", None)):
            if selector is not None and selector.days:
                tested.update(selector.days)
    return frozenset(tested)


@dataclass(frozen=True)
class _VenueVerdict:
    highest: int | None
    refusal: Reason | None  # the first refusal, when the venue is refused
    max_reason: Reason | None  # the max_group rule, when there is one


class ReassessCache:
    """``application.reassess`` for many bevillinger of one kommune on one date: the same
    breaches, each part computed once per distinct input instead of once per bevilling.
    Windows are asked for in the order ``reassess`` asks for them, once per kind of day as
    the rules see it (the day tags their selectors name, and the seasons): the 34 kinds of
    day of a year are a handful for most kommuner."""

    def __init__(self, book: RuleBook, evaluator: Evaluator, kommune: str, on: date) -> None:
        self.book = book
        self.evaluator = evaluator
        self.kommune = kommune
        self.on = on
        self.rules = rules = rules_for(book, kommune, on)
        # Per domain, the kinds of day the window rules tell apart, each with its first day, in
        # the order reassess meets them: the first breaching one is the day reassess names.
        self.kinds: dict[Domain, list[_Kind]] = {}
        for domain in Domain:
            tested = day_tags_tested(rules, domain)
            seen: dict[tuple[frozenset[str], frozenset[str]], _Kind] = {}
            for signature, day in kinds_of_day(on):
                seasons = frozenset(k for k, s in rules.seasons.items() if s.contains(day))
                seen.setdefault((signature & tested, seasons), _Kind(signature, day, day_info(day), seasons))
            self.kinds[domain] = list(seen.values())
        self._venues: dict[tuple[str, Licence], _VenueVerdict] = {}
        self._windows: dict[tuple[Any, ...], WindowOutcome] = {}
        self._hours: dict[tuple[Any, ...], Breach | None] = {}

    def _venue(self, venue: str, licence: Licence, groups: list[int]) -> _VenueVerdict:
        key = (venue, licence)
        found = self._venues.get(key)
        if found is None:
            rules, on = self.rules, self.on
            highest = application.max_group(self.book, self.evaluator, self.kommune, venue, licence, on)
            match = self.evaluator.application(
                rules,
                application._situation(
                    rules,
                    application.Application(
                        kommune=self.kommune, licence=licence, venue=venue, groups=groups, decided_on=on
                    ),
                    Area.INNE,
                ),
            )
            refusal = reason(rules.by_id(match.refusals[0])) if highest is None else None
            max_reason = reason(rules.by_id(match.max_group)) if match.max_group is not None else None
            found = self._venues[key] = _VenueVerdict(highest, refusal, max_reason)
        return found

    def _window(self, domain: Domain, granted: Granted, hours: GrantedHours, kind: _Kind) -> WindowOutcome:
        """The window on the first day of this kind (days the rules cannot tell apart share it)."""
        key = (domain, granted.venue, granted.zone, hours.group, hours.area, kind.day)
        found = self._windows.get(key)
        if found is None:
            situation = Situation(
                day=kind.info,
                seasons=kind.seasons,
                group=hours.group,
                area=hours.area,
                zone=granted.zone,
                venue=None if domain is Domain.SALG else granted.venue,
                outlet=granted.venue if domain is Domain.SALG else None,
            )
            found = self._windows[key] = self.evaluator.window(self.rules, domain, situation)
        return found

    def _hours_breach(self, granted: Granted, domain: Domain, hours: GrantedHours) -> Breach | None:
        key = (domain, granted.venue, granted.zone, hours.group, hours.area, hours.from_, hours.to)
        if key in self._hours:
            return self._hours[key]
        start, end = domain.minute(hours.from_), domain.minute(hours.to)
        found: Breach | None = None
        for kind in self.kinds[domain]:
            window = self._window(domain, granted, hours, kind)
            inside = (
                window.interval is not None and window.interval.start <= start and end <= window.interval.end
            )
            if inside or window.interval is None or window.window_rule is None:
                continue
            allowed = f"{hhmm(window.interval.start)}–{hhmm(window.interval.end)}"
            decided_by = window.limit_rules[-1] if window.limit_rules else window.window_rule
            found = Breach(
                what="hours",
                detail=f"gruppe {hours.group} {hours.area.value} {hours.from_}–{hours.to} granted; "
                f"on {kind.day} ({', '.join(sorted(kind.signature))}) the rules allow {allowed}",
                reason=reason(self.rules.by_id(decided_by)),
            )
            break
        self._hours[key] = found
        return found

    def reassess(self, granted: Granted) -> list[Breach]:
        breaches: list[Breach] = []
        verdict = self._venue(granted.venue, granted.licence, list(granted.groups))
        if verdict.highest is None:
            assert verdict.refusal is not None
            breaches.append(
                Breach(
                    what="venue",
                    detail=f"{granted.venue} can no longer get a {granted.licence.value}bevilling",
                    reason=verdict.refusal,
                )
            )
        elif max(granted.groups) > verdict.highest:
            assert verdict.max_reason is not None
            breaches.append(
                Breach(
                    what="groups",
                    detail=f"gruppe {max(granted.groups)} granted, the rules allow up to gruppe {verdict.highest}",
                    reason=verdict.max_reason,
                )
            )
        domain = Domain.SALG if granted.licence is Licence.SALG else Domain.SKJENKING
        for hours in granted.hours:
            breach = self._hours_breach(granted, domain, hours)
            if breach is not None:
                breaches.append(breach)
        return breaches


_REASSESS_COLUMNS = (
    Bevilling.id,
    Bevilling.holder,
    Bevilling.place_name,
    Bevilling.licence,
    Bevilling.venue,
    Bevilling.zone,
    Bevilling.groups,
    Bevilling.areas,
    Bevilling.hours,
    Bevilling.valid_to,
)


def active_on_slim(session: Session, kommune: str, on: date) -> list[Any]:
    """``commands.active_on`` with only the columns re-assessment reads (not vedtak and vilkår,
    the largest JSON of a row, decoded for nothing)."""
    return list(
        session.execute(
            select(*_REASSESS_COLUMNS)
            .where(
                Bevilling.kommune == kommune,
                Bevilling.status == "aktiv",
                Bevilling.valid_from <= on,
                Bevilling.valid_to >= on,
            )
            .order_by(Bevilling.id)
        )
    )


def reassess_in_cached(
    session: Session, book: RuleBook, evaluator: Evaluator, kommune: str, on: date
) -> commands.Reassessment:
    """``db.commands.reassess_in`` through one ``ReassessCache`` for the kommune."""
    flagged = []
    bevillinger = active_on_slim(session, kommune, on)
    cache: ReassessCache | None = None
    for bevilling in bevillinger:
        breaches: list[Breach] = []
        errors: list[str] = []
        try:
            if cache is None:
                cache = ReassessCache(book, evaluator, kommune, on)
            breaches = cache.reassess(commands.granted_of(bevilling))
        except (DecisionError, ValueError, KeyError, TypeError) as error:
            errors.append(str(error))
        if breaches or errors:
            flagged.append(
                commands.Flagged(
                    bevilling_id=bevilling.id,
                    holder=bevilling.holder,
                    place=bevilling.place_name,
                    licence=bevilling.licence,
                    venue=bevilling.venue,
                    groups=[int(g) for g in bevilling.groups],
                    valid_to=bevilling.valid_to,
                    breaches=breaches,
                    errors=errors,
                )
            )
    return commands.Reassessment(kommune=kommune, on=on, checked=len(bevillinger), flagged=flagged)


def reassess_all_cached(
    url: str, book: RuleBook, evaluator: Evaluator, kommune: str, on: date
) -> commands.Reassessment:
    slug = book.slug_of(kommune)
    with unit_of_work(url) as session:
        return reassess_in_cached(session, book, evaluator, slug, on)


# -- omsetningsgebyr ----------------------------------------------------------------------------


@dataclass(frozen=True)
class YearRates:
    """What ``gebyr.omsetningsgebyr`` looks up for a year, looked up once."""

    year: int
    rule: GebyrRule
    reasons: tuple[Reason, ...]
    ruleset: RulesetRef


_YEAR_RATES: weakref.WeakKeyDictionary[RuleBook, dict[tuple[int, str], YearRates]] = (
    weakref.WeakKeyDictionary()
)


def year_rates(book: RuleBook, year: int, evaluator_name: str = "python") -> YearRates:
    """The year's national rates (``RatesMissing`` as ``omsetningsgebyr`` raises it)."""
    per_book = _YEAR_RATES.setdefault(book, {})
    found = per_book.get((year, evaluator_name))
    if found is None:
        years = gebyr.known_years(book)
        if year not in years:
            gebyr.omsetningsgebyr(book, year, Licence.SALG, {})  # raises RatesMissing, same text
        rules = rules_for(book, "national", date(year, 1, 1))
        placed = next(
            p for p in rules.of_kind(GebyrRule) if isinstance(p.rule, GebyrRule) and p.rule.year == year
        )
        rule = placed.rule
        assert isinstance(rule, GebyrRule)
        found = per_book[(year, evaluator_name)] = YearRates(
            year=year,
            rule=rule,
            reasons=(reason(placed, f"Satser og minstegebyr for {year} (status: {rule.status.value})"),),
            ruleset=ruleset_ref(rules, evaluator_name),
        )
    return found


def omsetningsgebyr_with(
    rates: YearRates, licence: Licence, litres: dict[int, Decimal], *, estimate: bool
) -> gebyr.GebyrDecision:
    """``gebyr.omsetningsgebyr`` with the year's rates looked up beforehand."""
    if licence not in (Licence.SALG, Licence.SKJENKING):
        raise DecisionError("omsetningsgebyr by volume is for salgs- and skjenkebevilling", field="licence")
    rule, year = rates.rule, rates.year
    group_rates = rule.salg if licence is Licence.SALG else rule.skjenking
    allowed = (1, 2) if licence is Licence.SALG else (1, 2, 3)
    lines = []
    for group, amount in sorted(litres.items()):
        volume = Decimal(amount)
        if volume < 0:
            raise DecisionError(f"litres for gruppe {group} cannot be negative", field=f"litres/{group}")
        if volume == 0:
            continue
        if group not in allowed:
            raise DecisionError(f"a {licence.value}bevilling has no gruppe {group}", field=f"litres/{group}")
        rate = group_rates.rate(group)
        if rate is None:
            raise RatesMissing(
                f"the {year} rate for {licence.value} gruppe {group} is not in the national rule file",
                field="year",
            )
        # Built from checked values: validating them again is most of the old path's cost.
        lines.append(
            gebyr.GebyrLine.model_construct(group=group, litres=volume, rate=rate, amount=volume * rate)
        )
    by_volume = sum((line.amount for line in lines), Decimal(0))
    minimum = rule.min_salg if licence is Licence.SALG else rule.min_skjenking
    return gebyr.GebyrDecision.model_construct(
        year=year,
        licence=licence,
        lines=lines,
        by_volume=by_volume,
        minimum=minimum,
        amount=int(max(by_volume, minimum).quantize(Decimal(1), rounding=ROUND_HALF_UP)),
        estimate=estimate,
        rates_status=rule.status.value,
        reasons=list(rates.reasons),
        ruleset=rates.ruleset,
    )


_BEVILLINGER = sa.text(
    """
    SELECT id, kommune, licence, holder, place_name FROM bevillinger
    WHERE kommune = ANY(CAST(:kommuner AS text[])) AND valid_from <= :last AND valid_to >= :first
      AND status <> ALL(CAST(:not_granted AS text[]))
    ORDER BY id
    """
)
_OPPGAVER = sa.text(
    """
    SELECT o.bevilling_id, o.kind, o.litres_1, o.litres_2, o.litres_3
    FROM omsetningsoppgaver o JOIN bevillinger b ON b.id = o.bevilling_id
    WHERE b.kommune = ANY(CAST(:kommuner AS text[])) AND b.valid_from <= :last AND b.valid_to >= :first
      AND b.status <> ALL(CAST(:not_granted AS text[])) AND o.year = :year
    """
)
# One statement for every row: one JSON array in (PostgreSQL parses it far faster than six
# 12,000-element array parameters), upserted; a row that would not change is left alone.
_UPSERT = sa.text(
    """
    INSERT INTO gebyrer (kommune, bevilling_id, year, amount, basis, decision, ruleset_version)
    SELECT given.kommune, given.bevilling_id, :year, given.amount, given.basis, given.decision,
           given.ruleset_version
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS given(kommune text, bevilling_id bigint, amount int, basis text, decision jsonb,
                  ruleset_version text)
    ON CONFLICT (bevilling_id, year) DO UPDATE SET
      kommune = excluded.kommune, amount = excluded.amount, basis = excluded.basis,
      decision = excluded.decision, ruleset_version = excluded.ruleset_version
    WHERE (gebyrer.kommune, gebyrer.amount, gebyrer.basis, gebyrer.decision, gebyrer.ruleset_version)
      IS DISTINCT FROM (excluded.kommune, excluded.amount, excluded.basis, excluded.decision,
                        excluded.ruleset_version)
    """
)
_REMOVE = sa.text(
    """
    DELETE FROM gebyrer g WHERE g.kommune = ANY(CAST(:kommuner AS text[])) AND g.year = :year
      AND NOT EXISTS (SELECT 1 FROM unnest(CAST(:billed AS bigint[])) AS b(id) WHERE b.id = g.bevilling_id)
    RETURNING g.kommune, g.bevilling_id
    """
)


def run_gebyr_national_in(
    session: Session, book: RuleBook, kommuner: Sequence[str], year: int, actor: str
) -> dict[str, commands.GebyrRunSummary]:
    """``db.commands.run_gebyr_in`` for many kommuner at once (PostgreSQL), without committing:
    the same rows, the same audit entry per kommune, the same summaries."""
    rates = year_rates(book, year)  # RatesMissing before anything is written
    rates_status = rates.rule.status.value
    slugs = sorted(set(kommuner))
    # Queue behind (and block) a per-kommune run of the same year, taken in one fixed order.
    keys = [zlib.crc32(f"gebyr:{slug}:{year}".encode()) for slug in slugs]
    session.execute(
        sa.text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"),
        {"keys": keys},
    )
    params = {
        "kommuner": slugs,
        "first": date(year, 1, 1),
        "last": date(year, 12, 31),
        "not_granted": sorted(commands.NOT_GRANTED),
        "year": year,
    }
    bevillinger = session.execute(_BEVILLINGER, params).all()
    litres: dict[int, dict[str, dict[int, Decimal]]] = {}
    for row in session.execute(_OPPGAVER, params):
        volumes = {g: v for g, v in ((1, row.litres_1), (2, row.litres_2), (3, row.litres_3)) if v != 0}
        litres.setdefault(row.bevilling_id, {})[row.kind] = volumes

    per_kommune: dict[str, dict[str, list[Any]]] = {
        slug: {"lines": [], "missing": [], "not_by_volume": []} for slug in slugs
    }
    given: list[str] = []  # one JSON object per row
    billed: list[int] = []
    for row in bevillinger:
        licence = Licence(row.licence)
        target = per_kommune[row.kommune]
        if licence not in (Licence.SALG, Licence.SKJENKING):
            target["not_by_volume"].append(_ref(row))
            continue
        reported = litres.get(row.id, {})
        basis = "faktisk" if "faktisk" in reported else "forventet"
        chosen = reported.get(basis)
        if chosen is None:
            target["missing"].append(_ref(row))
            continue
        decision = omsetningsgebyr_with(rates, licence, chosen, estimate=basis == "forventet")
        given.append(
            f'{{"kommune":{json.dumps(row.kommune)},"bevilling_id":{row.id},"amount":{decision.amount},'
            f'"basis":"{basis}","ruleset_version":{json.dumps(decision.ruleset.version)},'
            f'"decision":{decision.model_dump_json()}}}'
        )
        billed.append(row.id)
        target["lines"].append(
            commands.GebyrLineOut.model_construct(
                bevilling_id=row.id,
                holder=row.holder,
                place=row.place_name,
                licence=row.licence,
                basis=basis,
                amount=decision.amount,
            )
        )
    removed: dict[str, list[int]] = {slug: [] for slug in slugs}
    for kommune, bevilling_id in session.execute(
        _REMOVE, {"kommuner": slugs, "year": year, "billed": billed}
    ):
        removed[kommune].append(bevilling_id)
    if given:
        session.execute(_UPSERT, {"year": year, "rows": "[" + ",".join(given) + "]"})

    summaries: dict[str, commands.GebyrRunSummary] = {}
    for slug in slugs:
        part = per_kommune[slug]
        summary = summaries[slug] = commands.GebyrRunSummary.model_construct(
            year=year,
            kommune=slug,
            lines=part["lines"],
            missing_oppgave=part["missing"],
            not_by_volume=part["not_by_volume"],
            total=sum(line.amount for line in part["lines"]),
            rates_status=rates_status,
        )
        session.add(
            AuditEntry(
                actor=actor,
                kommune=slug,
                action="gebyr_run",
                entity="gebyr",
                entity_id=f"{slug}/{year}",
                after={
                    "year": year,
                    "total": summary.total,
                    "rates_status": rates_status,
                    "amounts": {str(line.bevilling_id): line.amount for line in summary.lines},
                    "missing_oppgave": [r.bevilling_id for r in summary.missing_oppgave],
                    "not_by_volume": [r.bevilling_id for r in summary.not_by_volume],
                    "removed": sorted(removed[slug]),
                },
            )
        )
    session.flush()
    return summaries


def _ref(row: Any) -> commands.LicenceRef:
    return commands.LicenceRef.model_construct(
        bevilling_id=row.id, holder=row.holder, place=row.place_name, licence=row.licence
    )


def run_gebyr_national(
    url: str, book: RuleBook, kommuner: Sequence[str], year: int, actor: str
) -> dict[str, commands.GebyrRunSummary]:
    """``run_gebyr_national_in`` in one transaction."""
    with unit_of_work(url) as session:
        return run_gebyr_national_in(session, book, kommuner, year, actor)
