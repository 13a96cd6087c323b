"""Properties that hold for every bundled kommune, date and situation (hypothesis).

* hours: no local window, after the limits, goes beyond the national maxima of
  alkoholloven §§ 3-7 and 4-4; and a minute is allowed exactly when it lies in the day's
  window (the engine's two answers agree with each other);
* prikker and inndragning (alkoholforskriften kapittel 10): totals grow with violations and
  ignore their order and repetition; inndragning days grow with points;
* omsetningsgebyr (alkoholforskriften § 6-2): grows with litres, never below the minimum.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bevilling.calendar import DayTag, day_info
from bevilling.decisions.common import RatesMissing
from bevilling.decisions.gebyr import known_years, omsetningsgebyr
from bevilling.decisions.prikker import Entry, assess_control, inndragning_days, propose_inndragning
from bevilling.engine.evaluator import EngineEvaluator, ReferenceEvaluator
from bevilling.reference import Domain
from bevilling.rules.book import EffectiveRules, NoRulesInForce, RuleBook
from bevilling.rules.model import (
    ALL_GROUPS,
    SERVING_DAY_START,
    Area,
    FactType,
    GebyrRule,
    InndragningRule,
    Level,
    Licence,
    PrikkRule,
    parse_clock,
)
from bevilling.situation import Situation

FIRST, LAST = date(2026, 1, 1), date(2027, 12, 31)
SERVING_END = parse_clock("03:00") + 24 * 60
GROUP3_START = parse_clock("13:00")
SALES_END = parse_clock("20:00")
SALES_END_BEFORE_REST_DAY = parse_clock("18:00")
NO_SALES_DAYS = frozenset({DayTag.SONDAG, DayTag.HELLIGDAG, DayTag.HOYTIDSDAG})
PRIKK_LICENCES = (Licence.SALG, Licence.SKJENKING)


def bundled_keys(book: RuleBook) -> list[str]:
    """Every kommune, every region and the national file."""
    regions = sorted(slug for slug, files in book.by_slug.items() if files[0].model.level is Level.REGION)
    return [k.slug for k in book.kommuner()] + regions + ["national"]


@pytest.fixture(scope="module")
def keys(book: RuleBook) -> list[str]:
    return bundled_keys(book)


def in_force(book: RuleBook, keys: list[str], day: date) -> list[str]:
    """The keys with rules in force on ``day`` (merged kommuner have none in 2026-2027)."""
    found = []
    for key in keys:
        try:
            book.chain(key, day)
        except NoRulesInForce:
            continue
        found.append(key)
    return found


_effective: dict[tuple[int, str, date], EffectiveRules] = {}


def effective(book: RuleBook, key: str, day: date) -> EffectiveRules:
    cache_key = (id(book), key, day)
    if cache_key not in _effective:
        _effective[cache_key] = book.effective(key, day)
    return _effective[cache_key]


@st.composite
def situations(draw: st.DrawFn, rules: EffectiveRules, day: date, domain: Domain) -> Situation:
    """A situation a decision could ask about: declared names and names no rule knows,
    every declared fact given (left-out facts take their default in the decisions)."""
    facts: dict[str, object] = {}
    for name, decl in sorted(rules.facts.items()):
        if decl.type is FactType.BOOL:
            facts[name] = draw(st.booleans())
        elif decl.type is FactType.INT:
            facts[name] = draw(st.integers(-1000, 10_000))
        else:
            facts[name] = draw(st.text(st.characters(codec="utf-8"), max_size=6))
    common = {
        "day": day_info(day),
        "seasons": frozenset(k for k, s in rules.seasons.items() if s.contains(day)),
        "group": draw(st.sampled_from(ALL_GROUPS)),
        "zone": draw(st.sampled_from([None, "ukjent_sone", *sorted(rules.zones)])),
        "facts": facts,
    }
    if domain is Domain.SALG:
        outlet = draw(st.sampled_from([*sorted(rules.outlets), "nettbutikk"]))
        return Situation(outlet=outlet, **common)  # type: ignore[arg-type]
    venue = draw(st.sampled_from([*sorted(rules.venues), "foodtruck"]))
    return Situation(area=draw(st.sampled_from(list(Area))), venue=venue, **common)  # type: ignore[arg-type]


dates = st.dates(FIRST, LAST)
domains = st.sampled_from(list(Domain))


# --- hours -------------------------------------------------------------------------------


@given(data=st.data(), day=dates, domain=domains)
def test_no_local_window_goes_beyond_the_national_maxima(
    book: RuleBook,
    keys: list[str],
    reference: ReferenceEvaluator,
    stats: Counter[str],
    data: st.DataObject,
    day: date,
    domain: Domain,
) -> None:
    key = data.draw(st.sampled_from(in_force(book, keys, day)), label="kommune")
    rules = effective(book, key, day)
    situation = data.draw(situations(rules, day, domain), label="situation")
    window = reference.window(rules, domain, situation).interval
    stats["property examples: national maxima"] += 1
    if window is None:
        return
    assert situation.day is not None
    tags = situation.day.tags
    if domain is Domain.SKJENKING:
        assert window.start >= SERVING_DAY_START and window.end <= SERVING_END, (key, day, window)
        if situation.group == 3:
            assert window.start >= GROUP3_START, (key, day, window)
    else:
        assert not tags & NO_SALES_DAYS, f"{key}: sale on {day} ({sorted(tags)}): {window}"
        latest = SALES_END_BEFORE_REST_DAY if DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG in tags else SALES_END
        assert window.end <= latest, (key, day, sorted(tags), window)


@given(data=st.data(), day=dates, domain=domains, minute=st.integers(0, 1800))
def test_a_minute_is_allowed_exactly_when_it_lies_in_the_days_window(
    book: RuleBook,
    keys: list[str],
    engine: EngineEvaluator,
    stats: Counter[str],
    data: st.DataObject,
    day: date,
    domain: Domain,
    minute: int,
) -> None:
    key = data.draw(st.sampled_from(in_force(book, keys, day)), label="kommune")
    rules = effective(book, key, day)
    situation = data.draw(situations(rules, day, domain), label="situation")
    window = engine.window(rules, domain, situation)
    at = engine.at(rules, domain, situation, minute)
    stats["property examples: window and at agree"] += 1
    inside = window.interval is not None and minute in window.interval
    assert at.allowed == inside, (key, day, minute, at, window)
    if at.allowed:
        assert at.rule_id == window.window_rule


# --- prikker and inndragning -----------------------------------------------------------------


@pytest.fixture(scope="module")
def codes(book: RuleBook) -> list[str]:
    rules = book.effective("national", FIRST)
    return sorted({p.rule.code for p in rules.rules if isinstance(p.rule, PrikkRule)})


def points(
    book: RuleBook,
    evaluator: EngineEvaluator | ReferenceEvaluator,
    key: str,
    day: date,
    licence: Licence,
    violations: list[str],
) -> int:
    assessment = assess_control(book, evaluator, key, day, licence, violations)
    assert assessment.applies and assessment.points is not None
    return assessment.points


@given(data=st.data(), day=dates, licence=st.sampled_from(PRIKK_LICENCES))
def test_prikk_totals_never_drop_when_a_violation_is_added(
    book: RuleBook,
    keys: list[str],
    codes: list[str],
    engine: EngineEvaluator,
    reference: ReferenceEvaluator,
    stats: Counter[str],
    data: st.DataObject,
    day: date,
    licence: Licence,
) -> None:
    key = data.draw(st.sampled_from(in_force(book, keys, day)), label="kommune")
    found = data.draw(st.lists(st.sampled_from(codes), max_size=6), label="violations")
    extra = data.draw(st.sampled_from(codes), label="one more")
    before = points(book, engine, key, day, licence, found)
    assert points(book, engine, key, day, licence, [*found, extra]) >= before
    assert points(book, reference, key, day, licence, found) == before
    stats["property examples: prikker monotone"] += 1


@given(data=st.data(), day=dates, licence=st.sampled_from(PRIKK_LICENCES))
def test_prikk_totals_ignore_order_and_repetition(
    book: RuleBook,
    keys: list[str],
    codes: list[str],
    engine: EngineEvaluator,
    stats: Counter[str],
    data: st.DataObject,
    day: date,
    licence: Licence,
) -> None:
    key = data.draw(st.sampled_from(in_force(book, keys, day)), label="kommune")
    found = data.draw(st.lists(st.sampled_from(codes), min_size=1, max_size=6), label="violations")
    shuffled = data.draw(st.permutations(found), label="shuffled")
    repeated = data.draw(st.lists(st.sampled_from(found), max_size=6), label="repeated")
    total = points(book, engine, key, day, licence, found)
    assert points(book, engine, key, day, licence, shuffled) == total
    assert points(book, engine, key, day, licence, [*found, *repeated]) == total
    stats["property examples: prikker order-free"] += 1


@pytest.fixture(scope="module")
def scheme(book: RuleBook) -> InndragningRule:
    (placed,) = book.effective("national", FIRST).of_kind(InndragningRule)
    assert isinstance(placed.rule, InndragningRule)
    return placed.rule


@given(low=st.integers(0, 200), high=st.integers(0, 200))
def test_inndragning_days_never_drop_as_points_grow(
    scheme: InndragningRule, stats: Counter[str], low: int, high: int
) -> None:
    low, high = sorted((low, high))
    assert inndragning_days(scheme, low) <= inndragning_days(scheme, high)
    assert (inndragning_days(scheme, high) > 0) == (high >= scheme.threshold)
    stats["property examples: inndragning days monotone"] += 1


entries = st.builds(Entry, date=st.dates(date(2022, 1, 1), LAST), points=st.integers(0, 12))


@given(history=st.lists(entries, max_size=8), extra=entries, on=dates)
def test_a_further_violation_never_lowers_the_inndragning_proposal(
    book: RuleBook, engine: EngineEvaluator, stats: Counter[str], history: list[Entry], extra: Entry, on: date
) -> None:
    before = propose_inndragning(book, engine, "national", on, history)
    after = propose_inndragning(book, engine, "national", on, [*history, extra])
    assert after.total >= before.total
    assert after.days >= before.days
    assert propose_inndragning(book, engine, "national", on, list(reversed(history))).total == before.total
    stats["property examples: inndragning proposal monotone"] += 1


# --- gebyr -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gebyr_years(book: RuleBook) -> dict[int, GebyrRule]:
    rules = {}
    for year in known_years(book):
        (placed,) = [
            p
            for p in book.effective("national", date(year, 1, 1)).of_kind(GebyrRule)
            if isinstance(p.rule, GebyrRule) and p.rule.year == year
        ]
        assert isinstance(placed.rule, GebyrRule)
        rules[year] = placed.rule
    return rules


litres = st.integers(0, 5_000_000).map(Decimal) | st.decimals(0, 100_000, places=2)


@given(data=st.data(), licence=st.sampled_from([Licence.SALG, Licence.SKJENKING]))
def test_gebyr_grows_with_litres_and_is_never_below_the_minimum(
    book: RuleBook,
    gebyr_years: dict[int, GebyrRule],
    stats: Counter[str],
    data: st.DataObject,
    licence: Licence,
) -> None:
    year = data.draw(st.sampled_from(sorted(gebyr_years)), label="year")
    rule = gebyr_years[year]
    rates = rule.salg if licence is Licence.SALG else rule.skjenking
    groups = [g for g in ((1, 2) if licence is Licence.SALG else (1, 2, 3)) if rates.rate(g) is not None]
    volumes = {g: data.draw(litres, label=f"gruppe {g}") for g in groups}
    first = omsetningsgebyr(book, year, licence, volumes)
    minimum = rule.min_salg if licence is Licence.SALG else rule.min_skjenking
    assert first.amount >= minimum
    stats["property examples: gebyr"] += 1
    if not groups:
        assert first.amount == minimum
        return
    group = data.draw(st.sampled_from(groups), label="more of")
    more = data.draw(litres, label="more litres")
    assume(more > 0)
    second = omsetningsgebyr(book, year, licence, {**volumes, group: volumes[group] + more})
    assert second.amount >= first.amount


def test_gebyr_for_a_group_without_a_known_rate_is_refused(
    book: RuleBook, gebyr_years: dict[int, GebyrRule]
) -> None:
    for year, rule in gebyr_years.items():
        for licence, rates, groups in (
            (Licence.SALG, rule.salg, (1, 2)),
            (Licence.SKJENKING, rule.skjenking, (1, 2, 3)),
        ):
            for group in groups:
                if rates.rate(group) is None:
                    with pytest.raises(RatesMissing):
                        omsetningsgebyr(book, year, licence, {group: 1000})
