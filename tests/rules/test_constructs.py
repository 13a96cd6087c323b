"""Every construct of the rule language, as docs/rule-language.md describes it.

The first tests keep the reference honest: every ```yaml block in it is a complete rule
file that must pass ``rules check``, and it shows every rule kind and explains every day
tag. The rest exercise each construct through the reference evaluator or the model.

Expected values come from the law or from the rule text cited beside each assertion
(the real files in rules/, or a fixture modelled on a kommune in
shared/domain/municipalities.md), never from running the code.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from textwrap import dedent
from typing import Any, TypeVar, get_args

import pytest
import yaml

from bevilling.calendar import DayTag, day_info, hhmm, parse_instant, serving_moment
from bevilling.decisions.hours import sales_window
from bevilling.engine.evaluator import ReferenceEvaluator
from bevilling.reference import Domain, RuleConflict, applicable, choose, decide_at, decide_window
from bevilling.rules.book import EffectiveRules, RuleBook
from bevilling.rules.check import check_book, check_path
from bevilling.rules.model import (
    AlcoholGroupRule,
    Area,
    BevillingsperiodeRule,
    ConditionKind,
    ConditionRule,
    GebyrRule,
    HearingRule,
    InndragningRule,
    Licence,
    MaxGroupRule,
    PrerequisiteRule,
    PrikkRule,
    RefusalRule,
    Rule,
    RuleBase,
    Selector,
)
from bevilling.situation import EventFacts, Situation, matches, specificity

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
NATIONAL = RULES / "national.yaml"
REFERENCE = ROOT / "docs" / "rule-language.md"
GLOSSARY = ROOT / "docs" / "glossary.md"

Window = tuple[str, str] | None
R = TypeVar("R", bound=RuleBase)


# --- the reference itself -------------------------------------------------------------


def _yaml_blocks() -> list[tuple[int, str]]:
    text = REFERENCE.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", text, re.MULTILINE | re.DOTALL):
        blocks.append((text.count("\n", 0, match.start()) + 1, match.group(1)))
    return blocks


BLOCKS = _yaml_blocks()


def _block_with_slug(slug: str) -> str:
    found = [text for _, text in BLOCKS if yaml.safe_load(text).get("slug") == slug]
    assert len(found) == 1, f"the reference needs exactly one example file with slug '{slug}'"
    return found[0]


def test_the_reference_has_yaml_examples() -> None:
    assert len(BLOCKS) >= 15


@pytest.mark.parametrize(("line", "text"), BLOCKS, ids=[f"line-{line}" for line, _ in BLOCKS])
def test_every_yaml_example_in_the_reference_passes_rules_check(tmp_path: Path, line: int, text: str) -> None:
    # docs/rule-language.md: every yaml block is a complete file; local examples need the
    # national file, and a kommune example that inherits a region needs that region's example.
    header = yaml.safe_load(text)
    (tmp_path / "example.yaml").write_text(text, encoding="utf-8")
    if header["level"] != "national":
        shutil.copy(NATIONAL, tmp_path / "national.yaml")
    if header.get("inherits"):
        (tmp_path / "region.yaml").write_text(_block_with_slug(header["inherits"]), encoding="utf-8")
    assert [str(problem) for problem in check_path(tmp_path)] == []


def test_the_reference_has_a_worked_example_of_every_rule_kind() -> None:
    every_kind = {get_args(cls.model_fields["kind"].annotation)[0] for cls in get_args(get_args(Rule)[0])}
    shown = {rule["kind"] for _, text in BLOCKS for rule in yaml.safe_load(text)["rules"]}
    assert every_kind - shown == set()


def test_the_reference_explains_every_day_tag() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert [tag.value for tag in DayTag if f"`{tag.value}`" not in text] == []


def test_the_glossary_names_the_identifier_of_every_rule_kind() -> None:
    text = GLOSSARY.read_text(encoding="utf-8")
    every_kind = {get_args(cls.model_fields["kind"].annotation)[0] for cls in get_args(get_args(Rule)[0])}
    assert sorted(kind for kind in every_kind if f"`{kind}`" not in text) == []


# --- helpers --------------------------------------------------------------------------

_HJEMMEL = {
    "salgstid": "alkoholloven § 3-7",
    "salgstid_grense": "alkoholloven § 3-7",
    "skjenketid": "alkoholloven § 4-4",
    "skjenketid_grense": "alkoholloven § 4-4",
}


def kommune(
    body: str, *, slug: str = "testkommune", number: str = "9990", inherits: str | None = None
) -> str:
    """A kommune file around ``body`` (declarations and rules), citing one source throughout."""
    data: dict[str, Any] = yaml.safe_load(dedent(body))
    for rule in data.get("rules", []):
        rule.setdefault("source", {"ref": "kilde"})
        rule.setdefault("hjemmel", _HJEMMEL.get(rule["kind"], "alkoholloven § 1-7a"))
    for section in ("facts", "zones", "venues", "outlets", "seasons"):
        for declaration in data.get(section, {}).values():
            declaration.setdefault("source", {"ref": "kilde"})
    document: dict[str, Any] = {
        "schema": "bevilling/rules/v1",
        "level": "kommune",
        "slug": slug,
        "name": slug,
        "kommunenummer": number,
        **({"inherits": inherits} if inherits else {}),
        "valid_from": date(2024, 1, 1),
        "sources": {"kilde": {"title": f"Fixture {slug}", "url": f"https://example.invalid/{slug}"}},
        **data,
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def book_with(tmp_path: Path, *files: str) -> RuleBook:
    shutil.copy(NATIONAL, tmp_path / "national.yaml")
    for index, text in enumerate(files):
        (tmp_path / f"local{index}.yaml").write_text(text, encoding="utf-8")
    return RuleBook.load(tmp_path)


def effective_of(tmp_path: Path, body: str, on: date, key: str = "9990") -> EffectiveRules:
    book = book_with(tmp_path, kommune(body))
    assert [str(problem) for problem in check_book(book)] == []
    return book.effective(key, on)


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return RuleBook.load(RULES)


def situation(
    rules: EffectiveRules, day: date, *, facts: dict[str, Any] | None = None, **given: Any
) -> Situation:
    """The question as the language reads it: seasons from the date, and every declared fact the
    question leaves out at its default (docs/rule-language.md § 1.4)."""
    seasons = frozenset(key for key, season in rules.seasons.items() if season.contains(day))
    defaults = {
        key: value for key, decl in rules.facts.items() if (value := decl.default_value()) is not None
    }
    return Situation(day=day_info(day), seasons=seasons, facts={**defaults, **(facts or {})}, **given)


def rules_of(rules: EffectiveRules, kind: type[R]) -> list[R]:
    return [placed.rule for placed in rules.of_kind(kind) if isinstance(placed.rule, kind)]


def _clock(rules: EffectiveRules, domain: Domain, where: Situation) -> Window:
    interval = decide_window(rules, domain, where).interval
    return None if interval is None else (hhmm(interval.start), hhmm(interval.end))


def sales(rules: EffectiveRules, day: date, *, group: int = 1, outlet: str = "butikk") -> Window:
    return _clock(rules, Domain.SALG, situation(rules, day, group=group, outlet=outlet))


def serving(
    rules: EffectiveRules,
    day: date,
    group: int,
    *,
    area: Area = Area.INNE,
    venue: str = "serveringssted",
    **given: Any,
) -> Window:
    where = situation(rules, day, group=group, area=area, venue=venue, **given)
    return _clock(rules, Domain.SKJENKING, where)


# --- alkoholgruppe --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("abv", "group"),
    [
        ("0.69", None),  # alkoholfri: under 0.7 (alkoholloven § 1-3)
        ("0.7", None),  # alkoholsvak: from and including 0.7 ...
        ("2.5", None),  # ... to and including 2.5: not alkoholholdig drikk, no group
        ("2.51", 1),  # gruppe 1: over 2.5 ...
        ("4.7", 1),  # ... and at most 4.7
        ("4.71", 2),  # gruppe 2: over 4.7 ...
        ("21.99", 2),  # ... and under 22
        ("22", 3),  # gruppe 3: from and including 22 ...
        ("60", 3),  # ... to and including 60
        ("60.01", None),  # over 60: in no group (law.md § 1)
    ],
)
def test_alcohol_groups_follow_the_boundaries_of_alkoholforskriften_1_1(
    book: RuleBook, abv: str, group: int | None
) -> None:
    national = book.effective("national", date(2026, 6, 1))
    groups = [rule.group for rule in rules_of(national, AlcoholGroupRule) if rule.contains(Decimal(abv))]
    assert groups == ([group] if group else [])


# --- salgstid and salgstid_grense -----------------------------------------------------


def test_national_sales_run_from_08_to_18_on_an_ordinary_weekday(book: RuleBook) -> None:
    # Alkoholloven § 3-7 første ledd: normal time 08-18. Tuesday 12 May 2026.
    assert sales(book.effective("national", date(2026, 5, 12)), date(2026, 5, 12)) == ("08:00", "18:00")


def test_national_sales_end_at_15_on_the_day_before_a_sunday(book: RuleBook) -> None:
    # § 3-7 første ledd: 08-15 on the day before a Sunday or helligdag. Saturday 9 May 2026.
    assert sales(book.effective("national", date(2026, 5, 9)), date(2026, 5, 9)) == ("08:00", "15:00")


def test_the_day_before_kristi_himmelfartsdag_keeps_weekday_sales_hours(book: RuleBook) -> None:
    # § 3-7: the 15:00 (and 18:00 maximum) rule does not apply to the day before Kristi
    # himmelfartsdag. Wednesday 13 May 2026; KHF is 14 May (law.md § 2.2).
    day = date(2026, 5, 13)
    assert sales(book.effective("national", day), day) == ("08:00", "18:00")
    # Valdres plan 3.3.1 pkt. 5: 08-20 on hverdager; the day before KHF is one.
    assert sales(book.effective("3451", day), day) == ("08:00", "20:00")


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 5, 10),  # an ordinary Sunday
        date(2026, 4, 3),  # langfredag
        date(2026, 5, 14),  # Kristi himmelfartsdag
        date(2026, 5, 1),  # 1 May, a Friday
        date(2027, 5, 17),  # 17 May, a Monday (and 2. pinsedag)
        date(2025, 5, 17),  # 17 May, a Saturday
        date(2026, 12, 25),  # 1. juledag
    ],
)
def test_there_is_no_sale_on_sundays_helligdager_and_1_and_17_may(book: RuleBook, day: date) -> None:
    # § 3-7 tredje ledd: no sale on Sundays, helligdager, 1 and 17 May.
    for key in ("national", "3451"):
        rules = book.effective(key, day)
        outcome = decide_window(rules, Domain.SALG, situation(rules, day, group=1, outlet="butikk"))
        assert outcome.interval is None
        assert "salgstid.grense.salgsfrie_dager" in outcome.limit_rules


def test_nord_aurdal_sells_08_to_20_on_weekdays_and_08_to_18_before_sundays(book: RuleBook) -> None:
    # Valdres plan 3.3.1 pkt. 5: "kl 08:00 til 20:00 på hverdager, og fra 08:00 – 18:00 på dager
    # før søndager og helligdager".
    assert sales(book.effective("3451", date(2026, 5, 12)), date(2026, 5, 12)) == ("08:00", "20:00")
    assert sales(book.effective("3451", date(2026, 5, 9)), date(2026, 5, 9)) == ("08:00", "18:00")


def test_the_weekday_before_17_may_is_an_ordinary_sales_day(book: RuleBook) -> None:
    # law.md § 2.1: the day before 1 and 17 May is an ordinary weekday with the 20:00 maximum.
    # Friday 16 May 2025 (17 May 2025 is a Saturday, not a helligdag).
    day = date(2025, 5, 16)
    assert sales(book.effective("3451", day), day) == ("08:00", "20:00")


@pytest.mark.parametrize("day", [date(2026, 12, 24), date(2026, 4, 4), date(2026, 5, 23)])
def test_shops_close_at_16_on_jul_paaske_and_pinseaften_even_where_the_kommune_allows_18(
    book: RuleBook, day: date
) -> None:
    # Helligdagsloven § 5: shops close at 16:00 on jul-, påske- and pinseaften (a cap).
    # Valdres prints 08-18 for days before helligdager; the answer is 08-16.
    rules = book.effective("3451", day)
    outcome = decide_window(rules, Domain.SALG, situation(rules, day, group=1, outlet="butikk"))
    assert outcome.window_rule == "valdres.salgstid.dag_for_sondag_eller_helligdag"
    assert outcome.interval is not None
    assert (hhmm(outcome.interval.start), hhmm(outcome.interval.end)) == ("08:00", "16:00")
    assert outcome.limit_rules == ("salgstid.grense.helligdagsloven_aftener",)


def test_the_reference_evaluator_applies_a_fact_the_question_leaves_out_at_its_default(
    book: RuleBook,
) -> None:
    # Helligdagsloven § 5: shops close at 16:00 on julaften. The national limit applies unless the
    # outlet is exempt (fact unntatt_helligdagsloven, default false); the question does not say.
    answer = sales_window(book, ReferenceEvaluator(), "3451", date(2026, 12, 24))
    assert (answer.from_, answer.to) == ("08:00", "16:00")


def test_vinmonopolet_is_closed_on_julaften(book: RuleBook) -> None:
    # Alkoholloven § 3-4 (Helsedirektoratet): Vinmonopolet is closed on julaften.
    day = date(2026, 12, 24)
    rules = book.effective("3451", day)
    outcome = decide_window(rules, Domain.SALG, situation(rules, day, group=3, outlet="vinmonopol"))
    assert outcome.interval is None
    assert "salgstid.grense.vinmonopol_julaften" in outcome.limit_rules


def test_a_sale_is_allowed_up_to_but_not_at_the_closing_minute(book: RuleBook) -> None:
    # docs/rule-language.md § 5: "to" is the first minute with no sale. Valdres: 08-20 on hverdager.
    day = date(2026, 5, 12)
    rules = book.effective("3451", day)
    where = situation(rules, day, group=1, outlet="butikk")
    assert decide_at(rules, Domain.SALG, where, 19 * 60 + 59).allowed
    # At 20:00 the national maximum (§ 3-7 andre ledd: never after 20:00) is the first limit that
    # forbids the minute, and limits are consulted before the window (docs/rule-language.md § 9).
    closed = decide_at(rules, Domain.SALG, where, 20 * 60)
    assert (closed.allowed, closed.rule_id) == (False, "salgstid.grense.kveld")
    sunday = situation(rules, date(2026, 5, 10), group=1, outlet="butikk")
    assert decide_at(rules, Domain.SALG, sunday, 12 * 60).rule_id == "salgstid.grense.salgsfrie_dager"


def test_a_local_sales_limit_cuts_the_national_window(tmp_path: Path) -> None:
    # Vadsø (municipalities.md, appendix B): sale from 09:00. § 3-7: 08-18 and 08-15 on Saturdays.
    body = """
        rules:
          - id: vadso.salgstid.grense.morgen
            kind: salgstid_grense
            when: {outlets: [butikk]}
            not_before: "09:00"
    """
    rules = effective_of(tmp_path, body, date(2026, 5, 12))
    assert sales(rules, date(2026, 5, 12)) == ("09:00", "18:00")
    assert sales(rules, date(2026, 5, 9)) == ("09:00", "15:00")


# --- skjenketid: groups, areas, zones, venues -----------------------------------------


def test_national_serving_is_08_to_01_for_groups_1_and_2_and_13_to_24_for_group_3(book: RuleBook) -> None:
    # Alkoholloven § 4-4 første ledd: normal time 08-01 for gruppe 1-2, 13-24 for gruppe 3.
    day = date(2026, 5, 12)
    rules = book.effective("national", day)
    assert serving(rules, day, 1) == ("08:00", "01:00")
    assert serving(rules, day, 2) == ("08:00", "01:00")
    assert serving(rules, day, 3) == ("13:00", "24:00")


STRANDA = """
    rules:
      - {id: stranda.inne.gruppe_1_2, kind: skjenketid, when: {areas: [inne], groups: [1, 2]},
         window: {from: "10:00", to: "02:00"}}
      - {id: stranda.inne.gruppe_3, kind: skjenketid, when: {areas: [inne], groups: [3]},
         window: {from: "13:00", to: "02:00"}}
      - {id: stranda.ute.gruppe_1_2, kind: skjenketid, when: {areas: [ute], groups: [1, 2]},
         window: {from: "10:00", to: "01:00"}}
      - {id: stranda.ute.gruppe_3, kind: skjenketid, when: {areas: [ute], groups: [3]},
         window: {from: "13:00", to: "01:00"}}
"""


def test_serving_times_differ_by_area(tmp_path: Path) -> None:
    # Stranda (municipalities.md § 21): indoors øl/vin 10-02, brennevin 13-02; outdoors 10-01, 13-01.
    day = date(2026, 5, 12)
    rules = effective_of(tmp_path, STRANDA, day)
    assert serving(rules, day, 2, area=Area.INNE) == ("10:00", "02:00")
    assert serving(rules, day, 2, area=Area.UTE) == ("10:00", "01:00")
    assert serving(rules, day, 3, area=Area.INNE) == ("13:00", "02:00")
    assert serving(rules, day, 3, area=Area.UTE) == ("13:00", "01:00")


OSLO_SONER = """
    zones:
      sentrum: {meaning: "Sentrum og noen hovedgater"}
    rules:
      - {id: oslo.gruppe_1_2, kind: skjenketid, when: {groups: [1, 2]}, window: {from: "08:00", to: "01:00"}}
      - {id: oslo.gruppe_3, kind: skjenketid, when: {groups: [3]}, window: {from: "13:00", to: "01:00"}}
      - {id: oslo.sentrum.gruppe_1_2, kind: skjenketid, when: {zones: [sentrum], groups: [1, 2]},
         window: {from: "08:00", to: "03:00"}}
      - {id: oslo.sentrum.gruppe_3, kind: skjenketid, when: {zones: [sentrum], groups: [3]},
         window: {from: "13:00", to: "03:00"}}
"""


def test_serving_times_differ_by_zone(tmp_path: Path) -> None:
    # Oslo (municipalities.md § 1, E): serving ends 03:00 in sentrum and 01:00 elsewhere.
    day = date(2026, 5, 12)
    rules = effective_of(tmp_path, OSLO_SONER, day)
    assert serving(rules, day, 2, zone="sentrum") == ("08:00", "03:00")
    assert serving(rules, day, 2) == ("08:00", "01:00")
    assert serving(rules, day, 3, zone="sentrum") == ("13:00", "03:00")


STAVANGER = """
    rules:
      - {id: st.gruppe_1_2, kind: skjenketid, when: {groups: [1, 2]}, window: {from: "10:00", to: "01:30"}}
      - {id: st.gruppe_1_2.sondag_helligdag, kind: skjenketid, when: {groups: [1, 2], days: [sondag, helligdag]},
         window: {from: "13:00", to: "01:30"}}
      - {id: st.gruppe_3, kind: skjenketid, when: {groups: [3]}, window: {from: "13:00", to: "01:30"}}
      - {id: st.nattklubb.gruppe_1_2, kind: skjenketid, when: {venues: [nattklubb], groups: [1, 2]},
         window: {from: "20:00", to: "03:00"}, overrides: [st.gruppe_1_2.sondag_helligdag]}
      - {id: st.nattklubb.gruppe_3, kind: skjenketid, when: {venues: [nattklubb], groups: [3]},
         window: {from: "20:00", to: "03:00"}}
"""


def test_serving_times_differ_by_venue_and_a_listed_override_wins_on_sundays(tmp_path: Path) -> None:
    # Stavanger (municipalities.md § 4, A): ordinary gr. 1-2 10:00-01:30, Sundays and helligdager
    # 13:00-01:30; nightclubs gr. 1-3 20:00-03:00 every day.
    tuesday, sunday = date(2026, 5, 12), date(2026, 5, 10)
    rules = effective_of(tmp_path, STAVANGER, tuesday)
    assert serving(rules, tuesday, 2, venue="bar") == ("10:00", "01:30")
    assert serving(rules, tuesday, 2, venue="nattklubb") == ("20:00", "03:00")
    assert serving(rules, tuesday, 3, venue="nattklubb") == ("20:00", "03:00")
    assert serving(rules, sunday, 2, venue="bar") == ("13:00", "01:30")
    assert serving(rules, sunday, 2, venue="nattklubb") == ("20:00", "03:00")


# --- skjenketid: named days -----------------------------------------------------------

RAKKESTAD = """
    rules:
      - {id: r.gruppe_1_2, kind: skjenketid, when: {groups: [1, 2]}, window: {from: "09:00", to: "01:30"}}
      - {id: r.gruppe_1_2.nyttarsaften, kind: skjenketid, when: {groups: [1, 2], days: [nyttarsaften]},
         window: {from: "09:00", to: "02:00"}}
      - {id: r.gruppe_3, kind: skjenketid, when: {groups: [3]}, window: {from: "13:00", to: "01:30"}}
      - {id: r.gruppe_3.nyttarsaften, kind: skjenketid, when: {groups: [3], days: [nyttarsaften]},
         window: {from: "13:00", to: "02:00"}}
"""


def test_nyttarsaften_has_its_own_serving_time(tmp_path: Path) -> None:
    # Rakkestad (municipalities.md § 24): under 22 % 09:00-01:30; nyttårsaften to 02:00.
    rules = effective_of(tmp_path, RAKKESTAD, date(2026, 12, 31))
    assert serving(rules, date(2026, 12, 31), 2) == ("09:00", "02:00")
    assert serving(rules, date(2026, 12, 30), 2) == ("09:00", "01:30")
    assert serving(rules, date(2026, 12, 31), 3) == ("13:00", "02:00")


ALESUND = """
    rules:
      - {id: a.gruppe_1_2, kind: skjenketid, when: {groups: [1, 2]}, window: {from: "08:00", to: "02:00"}}
      - {id: a.gruppe_1_2.sondag_helligdag, kind: skjenketid,
         when: {groups: [1, 2], days: [sondag, helligdag, hoytidsdag]}, window: {from: "12:00", to: "02:00"}}
      - {id: a.gruppe_1_2.aftener, kind: skjenketid, when: {groups: [1, 2], days: [julaften, nyttarsaften]},
         window: {from: "08:00", to: "02:00"}}
      - {id: a.gruppe_1_2.jul, kind: skjenketid, when: {groups: [1, 2], days: [1juledag, 2juledag, nyttarsdag]},
         window: {from: "12:00", to: "02:00"}}
      - {id: a.gruppe_1_2.paaske, kind: skjenketid,
         when: {groups: [1, 2], days: [skjaertorsdag, langfredag, 1paaskedag, 2paaskedag]},
         window: {from: "12:00", to: "02:00"}}
      - {id: a.gruppe_1_2.pinse, kind: skjenketid, when: {groups: [1, 2], days: [1pinsedag, 2pinsedag]},
         window: {from: "12:00", to: "02:00"}}
      - {id: a.gruppe_3, kind: skjenketid, when: {groups: [3]}, window: {from: "13:00", to: "02:00"}}
"""


def test_julaften_keeps_the_early_start_even_when_it_is_a_sunday(tmp_path: Path) -> None:
    # Ålesund (municipalities.md § 9, A and B): øl/vin 08-02, from 12:00 on Sundays, helligdager and
    # høytidsdager; "not before 08:00 on julaften". Julaften 2028 is a Sunday; a named day (tier 3)
    # beats a weekday (tier 1).
    rules = effective_of(tmp_path, ALESUND, date(2028, 12, 24))
    assert serving(rules, date(2028, 12, 24), 2) == ("08:00", "02:00")
    assert serving(rules, date(2026, 5, 10), 2) == ("12:00", "02:00")


def test_paaske_days_start_late_but_paaskeaften_has_normal_times(tmp_path: Path) -> None:
    # Ålesund (B): skjærtorsdag, langfredag, 1. and 2. påskedag from 12:00; påskeaften normal times.
    rules = effective_of(tmp_path, ALESUND, date(2026, 4, 5))
    assert serving(rules, date(2026, 4, 2), 2) == ("12:00", "02:00")  # skjærtorsdag
    assert serving(rules, date(2026, 4, 5), 2) == ("12:00", "02:00")  # 1. påskedag
    assert serving(rules, date(2026, 4, 4), 2) == ("08:00", "02:00")  # påskeaften
    assert serving(rules, date(2026, 4, 5), 3) == ("13:00", "02:00")  # over 22 % from 13:00


def test_1_pinsedag_starts_at_12(tmp_path: Path) -> None:
    # Ålesund (B): 1. and 2. pinsedag from 12:00 under 22 %. 1. pinsedag 2026 is 24 May.
    rules = effective_of(tmp_path, ALESUND, date(2026, 5, 24))
    assert serving(rules, date(2026, 5, 24), 2) == ("12:00", "02:00")
    assert serving(rules, date(2026, 5, 23), 2) == ("08:00", "02:00")  # pinseaften: normal


def test_kristi_himmelfartsdag_is_a_helligdag_for_a_helligdag_rule(tmp_path: Path) -> None:
    # Helligdagsloven § 2: Kristi himmelfartsdag is a helligdag. Ålesund (B): from 12:00 on helligdager.
    rules = effective_of(tmp_path, ALESUND, date(2026, 5, 14))
    assert serving(rules, date(2026, 5, 14), 2) == ("12:00", "02:00")


def test_the_kristi_himmelfartsdag_tag_names_easter_plus_39_days() -> None:
    # law.md § 2.2: Kristi himmelfartsdag = 1. påskedag + 39 days: 14 May 2026, 6 May 2027.
    khf = Selector(days=["kristi_himmelfartsdag"])
    assert matches(khf, Situation(day=day_info(date(2026, 5, 14))))
    assert matches(khf, Situation(day=day_info(date(2027, 5, 6))))
    assert not matches(khf, Situation(day=day_info(date(2026, 5, 13))))


BERGEN = """
    rules:
      - {id: b.gruppe_1_2, kind: skjenketid, when: {groups: [1, 2]}, window: {from: "08:00", to: "01:00"}}
      - {id: b.gruppe_1_2.sondag, kind: skjenketid, when: {groups: [1, 2], days: [sondag]},
         window: {from: "13:00", to: "01:00"}}
      - {id: b.gruppe_1_2.1_og_17_mai, kind: skjenketid, when: {groups: [1, 2], days: [1mai, 17mai]},
         window: {from: "07:00", to: "02:00"}}
"""


def test_17_may_has_its_own_serving_time_also_on_a_sunday(tmp_path: Path) -> None:
    # Bergen (municipalities.md § 2, A): øl/vin 08-01, 13-01 on Sundays; 1 and 17 May 07-02.
    # 17 May 2026 is a Sunday; 1 May 2026 a Friday.
    rules = effective_of(tmp_path, BERGEN, date(2026, 5, 17))
    assert serving(rules, date(2026, 5, 17), 2) == ("07:00", "02:00")
    assert serving(rules, date(2026, 5, 1), 2) == ("07:00", "02:00")
    assert serving(rules, date(2026, 5, 10), 2) == ("13:00", "01:00")


ALTA = """
    rules:
      - {id: alta.gruppe_1_2, kind: skjenketid, when: {groups: [1, 2]}, window: {from: "10:00", to: "01:00"}}
      - {id: alta.helg, kind: skjenketid, when: {groups: [1, 2], days: [fredag, lordag]},
         window: {from: "10:00", to: "03:00"}}
      - {id: alta.saerskilte_netter, kind: skjenketid,
         when: {groups: [1, 2], days: [dag_for_17mai, 2juledag, romjul, nyttarsaften]},
         window: {from: "10:00", to: "03:00"}}
      - {id: alta.grense.juledager, kind: skjenketid_grense,
         when: {groups: [1, 2], days: [1juledag, 2juledag, nyttarsdag]}, not_before: "12:00"}
"""


def test_the_night_to_17_may_runs_to_03_whatever_the_weekday(tmp_path: Path) -> None:
    # Alta (municipalities.md § 12): gr. 2 10:00-01:00 on weekdays; "the night to 17 May: 03:00
    # regardless of weekday". 16 May 2028 is a Tuesday.
    rules = effective_of(tmp_path, ALTA, date(2028, 5, 16))
    assert serving(rules, date(2028, 5, 16), 2) == ("10:00", "03:00")
    assert serving(rules, date(2028, 5, 15), 2) == ("10:00", "01:00")


def test_romjul_nights_run_to_03_and_juledager_start_at_12(tmp_path: Path) -> None:
    # Alta: "from the night to 27 Dec to the night to 1 Jan: 03:00 regardless of weekday"; not
    # before 12:00 on 1. and 2. juledag; the nights to Saturday and Sunday to 03:00.
    rules = effective_of(tmp_path, ALTA, date(2026, 12, 28))
    assert serving(rules, date(2026, 12, 28), 2) == ("10:00", "03:00")  # romjul, a Monday
    assert serving(rules, date(2026, 12, 26), 2) == ("12:00", "03:00")  # 2. juledag: the night to 27 Dec
    assert serving(rules, date(2026, 12, 25), 2) == ("12:00", "03:00")  # 1. juledag, a Friday
    assert serving(rules, date(2026, 12, 31), 2) == ("10:00", "03:00")  # nyttårsaften, a Thursday


TROMSO = """
    facts:
      festivalperiode: {type: bool, meaning: "Mellom første og siste festivaldag (over 10 000 deltakere)"}
    rules:
      - {id: t.gruppe_1_2, kind: skjenketid, when: {groups: [1, 2]}, window: {from: "09:00", to: "01:30"}}
      - id: t.helg
        kind: skjenketid
        when:
          groups: [1, 2]
          days: [fredag, lordag, dag_for_sondag_eller_helligdag, dag_for_hoytidsdag, dag_for_kristi_himmelfart]
        window: {from: "09:00", to: "03:00"}
      - {id: t.siste_helligdag, kind: skjenketid, when: {groups: [1, 2], days: [siste_helligdag_for_virkedag]},
         window: {from: "09:00", to: "01:30"}}
      - {id: t.festival, kind: skjenketid, when: {groups: [1, 2], facts: {festivalperiode: true}},
         window: {from: "09:00", to: "03:00"}, overrides: [t.siste_helligdag]}
"""


def test_the_last_helligdag_before_a_working_day_ends_early(tmp_path: Path) -> None:
    # Tromsø (municipalities.md § 6): under 22 % 09-01:30; Friday, Saturday and days before helligdager
    # and høytidsdager 09-03; "the last holiday or høytidsdag before a working day ends at 01:30".
    rules = effective_of(tmp_path, TROMSO, date(2026, 4, 6))
    no_festival = {"festivalperiode": False}
    assert serving(rules, date(2026, 4, 6), 2, facts=no_festival) == ("09:00", "01:30")  # 2. påskedag
    assert serving(rules, date(2026, 4, 5), 2, facts=no_festival) == ("09:00", "03:00")  # 1. påskedag
    assert serving(rules, date(2026, 5, 8), 2, facts=no_festival) == ("09:00", "03:00")  # a Friday
    assert serving(rules, date(2026, 5, 12), 2, facts=no_festival) == ("09:00", "01:30")  # a Tuesday


def test_a_day_kind_beats_a_weekday_so_langfredag_ends_early_although_it_is_a_friday(tmp_path: Path) -> None:
    # Tromsø: langfredag is a helligdag and påskeaften a working day, so langfredag is the last
    # helligdag before a working day (01:30), although Fridays run to 03:00. A kind of day (tier 2)
    # is more specific than a weekday (tier 1): docs/rule-language.md § 8.
    rules = effective_of(tmp_path, TROMSO, date(2026, 4, 3))
    assert serving(rules, date(2026, 4, 3), 2, facts={"festivalperiode": False}) == ("09:00", "01:30")


def test_overrides_lets_the_festival_rule_beat_the_more_specific_helligdag_rule(tmp_path: Path) -> None:
    # Tromsø (B, C): during the big festivals serving runs to 03:00 from the first to the last day.
    rules = effective_of(tmp_path, TROMSO, date(2026, 4, 6))
    assert serving(rules, date(2026, 4, 6), 2, facts={"festivalperiode": True}) == ("09:00", "03:00")
    assert serving(rules, date(2026, 5, 12), 2, facts={"festivalperiode": True}) == ("09:00", "03:00")


# --- skjenketid: seasons and facts ----------------------------------------------------

SESONGER = """
    seasons:
      julebord: {from: "11-15", to: "12-23", meaning: "Julebordsesongen"}
      vinter: {from: "12-01", to: "03-31", meaning: "Vintersesongen"}
    rules:
      - {id: s.julebord, kind: skjenketid, when: {seasons: [julebord], groups: [1, 2]},
         window: {from: "08:00", to: "02:00"}}
      - {id: s.grense.ute_vinter, kind: skjenketid_grense, when: {seasons: [vinter], areas: [ute]},
         not_after: "22:00"}
"""


def test_a_season_changes_the_serving_time_inside_its_dates(tmp_path: Path) -> None:
    # Fixture rule: in the julebord season (15 Nov - 23 Dec, inclusive) gr. 1-2 to 02:00; outside it
    # the national normal time 08-01 (alkoholloven § 4-4 første ledd).
    rules = effective_of(tmp_path, SESONGER, date(2026, 11, 20))
    assert serving(rules, date(2026, 11, 20), 2) == ("08:00", "02:00")
    assert serving(rules, date(2026, 11, 15), 2) == ("08:00", "02:00")
    assert serving(rules, date(2026, 12, 23), 2) == ("08:00", "02:00")
    assert serving(rules, date(2026, 11, 14), 2) == ("08:00", "01:00")
    assert serving(rules, date(2026, 12, 24), 2) == ("08:00", "01:00")


def test_a_season_that_wraps_new_year_holds_on_both_sides_of_it(tmp_path: Path) -> None:
    # Fixture rule: outdoors no serving after 22:00 from 1 December to 31 March (model: a season
    # whose "to" comes before its "from" runs over New Year, both ends inclusive).
    rules = effective_of(tmp_path, SESONGER, date(2027, 1, 10))
    assert serving(rules, date(2027, 1, 10), 2, area=Area.UTE) == ("08:00", "22:00")
    assert serving(rules, date(2027, 3, 31), 2, area=Area.UTE) == ("08:00", "22:00")
    assert serving(rules, date(2026, 12, 1), 2, area=Area.UTE) == ("08:00", "22:00")
    assert serving(rules, date(2027, 4, 1), 2, area=Area.UTE) == ("08:00", "01:00")
    # 30 November is in the julebord season but not yet in the winter season: 08-02 outdoors too.
    assert serving(rules, date(2026, 11, 30), 2, area=Area.UTE) == ("08:00", "02:00")
    # Both seasons hold on 20 December: the julebord window 08-02 is cut at 22:00 outdoors.
    assert serving(rules, date(2026, 12, 20), 2, area=Area.UTE) == ("08:00", "22:00")


NORDKAPP = """
    facts:
      hotellgjest: {type: bool, meaning: "Gjesten bor på overnattingsstedet (ikke offentlig sted)"}
    rules:
      - {id: n.gruppe_1_2, kind: skjenketid, when: {groups: [1, 2]}, window: {from: "12:00", to: "02:00"}}
      - {id: n.gruppe_3, kind: skjenketid, when: {groups: [3]}, window: {from: "13:00", to: "02:00"}}
      - {id: n.hotellgjest.gruppe_1_2, kind: skjenketid,
         when: {venues: [overnattingssted], facts: {hotellgjest: true}, groups: [1, 2]},
         window: {from: "12:00", to: "03:00"}}
      - {id: n.hotellgjest.gruppe_3, kind: skjenketid,
         when: {venues: [overnattingssted], facts: {hotellgjest: true}, groups: [3]},
         window: {from: "13:00", to: "03:00"}}
"""


def test_a_declared_fact_lets_hotel_guests_be_served_longer(tmp_path: Path) -> None:
    # Nordkapp (municipalities.md § 19): øl/vin 12-02, brennevin 13-02; overnight guests may be served
    # beyond these times (here up to the national maximum 03:00, alkoholloven § 4-4 andre ledd).
    day = date(2026, 5, 12)
    rules = effective_of(tmp_path, NORDKAPP, day)
    hotel = {"venue": "overnattingssted"}
    assert serving(rules, day, 2, facts={"hotellgjest": True}, **hotel) == ("12:00", "03:00")
    assert serving(rules, day, 3, facts={"hotellgjest": True}, **hotel) == ("13:00", "03:00")
    assert serving(rules, day, 2, facts={"hotellgjest": False}, **hotel) == ("12:00", "02:00")


def test_a_fact_the_files_do_not_declare_is_rejected(tmp_path: Path) -> None:
    # docs/rule-language.md § 1.4: a rule may only test declared facts.
    body = """
        rules:
          - {id: x.hotell, kind: skjenketid, when: {facts: {hotellgjest: true}}, window: {from: "08:00", to: "02:00"}}
    """
    problems = check_book(book_with(tmp_path, kommune(body)))
    assert any("fact 'hotellgjest' is not declared" in problem.reason for problem in problems)


# --- skjenketid: a window across midnight, DST ----------------------------------------


def test_a_serving_window_runs_past_midnight_into_the_night_after(book: RuleBook) -> None:
    # Valdres plan 3.3.2 pkt. 10: gruppe 3 from 13:00, ending at 02:00 at the latest. 01:30 on Saturday
    # 16 May 2026 belongs to Friday's skjenkedøgn (alkoholloven § 4-4: 06:00 to 03:00).
    moment = serving_moment(parse_instant("2026-05-16T01:30"))
    assert moment.serving_date == date(2026, 5, 15)
    rules = book.effective("3451", moment.serving_date)
    where = situation(rules, moment.serving_date, group=3, area=Area.INNE, venue="bar")
    assert decide_at(rules, Domain.SKJENKING, where, moment.minute).allowed
    at_two = serving_moment(parse_instant("2026-05-16T02:00")).minute
    ended = decide_at(rules, Domain.SKJENKING, where, at_two)
    assert (ended.allowed, ended.rule_id) == (False, "valdres.skjenketid.gruppe_3")
    # Before 13:00 the national ban on gruppe 3 (03:00-13:00) is the rule that says no.
    early = decide_at(rules, Domain.SKJENKING, where, 12 * 60 + 59)
    assert (early.allowed, early.rule_id) == (False, "skjenketid.grense.gruppe_3")


def test_on_the_spring_night_a_02_closing_has_passed_when_the_clock_shows_03(book: RuleBook) -> None:
    # Alta and Båtsfjord (municipalities.md § 12, § 27): in spring places serving to 02:00 stop at
    # 02:00, which is 03:00 new time. Valdres serves to 02:00. DST starts 29 March 2026.
    rules = book.effective("3451", date(2026, 3, 28))
    where = situation(rules, date(2026, 3, 28), group=2, area=Area.INNE, venue="bar")
    before = serving_moment(parse_instant("2026-03-29T01:59"))
    after = serving_moment(parse_instant("2026-03-29T03:00"))
    assert decide_at(rules, Domain.SKJENKING, where, before.minute).allowed
    assert not decide_at(rules, Domain.SKJENKING, where, after.minute).allowed


def test_the_uteservering_limit_binds_only_where_the_fact_says_so(book: RuleBook) -> None:
    # Valdres plan 3.3.2 pkt. 10: serving ends 02:00; outdoors at 23:00 "der uro kan være til sjenanse".
    day = date(2026, 5, 12)
    rules = book.effective("3451", day)
    outdoors = {"area": Area.UTE, "venue": "serveringssted"}
    assert serving(rules, day, 2, facts={"uro_til_sjenanse": True}, **outdoors) == ("08:00", "23:00")
    assert serving(rules, day, 2, facts={"uro_til_sjenanse": False}, **outdoors) == ("08:00", "02:00")


# --- inheritance, override by label, which rule wins ----------------------------------

GRUPPE_3_TIL_01 = """
    rules:
      - {id: skjenketid.normal.gruppe_3, kind: skjenketid, when: {groups: [3]}, window: {from: "13:00", to: "01:00"}}
"""


def test_a_kommune_rule_replaces_the_national_rule_with_the_same_label(tmp_path: Path) -> None:
    # docs/rule-language.md § 7: a rule replaces the rule with the same label higher up.
    day = date(2026, 5, 12)
    rules = effective_of(tmp_path, GRUPPE_3_TIL_01, day)
    assert [p.origin.level.value for p in rules.rules if p.id == "skjenketid.normal.gruppe_3"] == ["kommune"]
    assert serving(rules, day, 3) == ("13:00", "01:00")
    assert serving(rules, day, 2) == ("08:00", "01:00")  # the national rule for gruppe 1-2 is untouched


def test_a_replacing_rule_replaces_only_while_it_is_in_force(tmp_path: Path) -> None:
    # docs/rule-language.md § 7: the lower rule replaces the label only while it is valid.
    body = """
        rules:
          - {id: skjenketid.normal.gruppe_3, kind: skjenketid, valid_from: 2027-01-01, when: {groups: [3]},
             window: {from: "13:00", to: "01:00"}}
    """
    book = book_with(tmp_path, kommune(body))
    assert serving(book.effective("9990", date(2026, 6, 1)), date(2026, 6, 1), 3) == ("13:00", "24:00")
    assert serving(book.effective("9990", date(2027, 6, 1)), date(2027, 6, 1), 3) == ("13:00", "01:00")


def test_a_kommune_that_inherits_a_region_can_replace_one_regional_rule(tmp_path: Path) -> None:
    # Valdres plan 3.3.2 pkt. 10: gr. 1-2 08-02, gr. 3 13-02. A kommune in the region replaces the
    # gruppe 3 rule by its label; the regional gruppe 1-2 rule still applies.
    shutil.copytree(RULES / "regions", tmp_path / "regions")
    body = """
        rules:
          - {id: valdres.skjenketid.gruppe_3, kind: skjenketid, when: {groups: [3]},
             window: {from: "13:00", to: "01:00"}}
    """
    book = book_with(tmp_path, kommune(body, inherits="valdres"))
    assert check_book(book) == []
    day = date(2026, 5, 12)
    rules = book.effective("9990", day)
    assert serving(rules, day, 3) == ("13:00", "01:00")
    assert serving(rules, day, 2) == ("08:00", "02:00")
    assert rules.by_id("valdres.skjenketid.gruppe_1_2").origin.level.value == "region"


def test_a_kommune_rule_wins_over_a_more_specific_national_rule(tmp_path: Path) -> None:
    # docs/rule-language.md § 8 step 2: level before specificity. The kommune's plain 09-18 beats the
    # national Saturday rule 08-15 (and stays within the national maximum 18:00, § 3-7 andre ledd).
    body = """
        rules:
          - {id: k.salgstid, kind: salgstid, when: {outlets: [butikk], groups: [1]},
             window: {from: "09:00", to: "18:00"}}
    """
    rules = effective_of(tmp_path, body, date(2026, 5, 9))
    assert sales(rules, date(2026, 5, 9)) == ("09:00", "18:00")


def test_a_national_day_kind_rule_beats_the_plain_national_rule(book: RuleBook) -> None:
    # § 3-7 første ledd through the national file: on a Saturday the rule for days before a Sunday
    # (a kind of day) beats the normal-time rule.
    rules = book.effective("national", date(2026, 5, 9))
    outcome = decide_window(rules, Domain.SALG, situation(rules, date(2026, 5, 9), group=1, outlet="butikk"))
    assert outcome.window_rule == "salgstid.normal.dag_for_sondag_eller_helligdag"


@pytest.mark.parametrize(
    ("selector", "score"),
    [
        (Selector(), 0),
        (Selector(days=["fredag", "lordag"]), 1),  # weekday tier
        (Selector(days=["hverdag"]), 1),
        (Selector(days=["helligdag", "hoytidsdag"]), 2),  # kind-of-day tier
        (Selector(days=["julaften"]), 3),  # named-day tier
        (Selector(days=["sondag", "helligdag"]), 1),  # the lowest tier listed counts
        (Selector(groups=[1, 2]), 1),
        (Selector(groups=[1, 2, 3]), 0),  # all groups narrow nothing
        (Selector(areas=[Area.INNE, Area.UTE]), 0),
        (Selector(venues=["nattklubb"], groups=[1, 2]), 2),
        (Selector(facts={"a": True, "b": 1}), 2),
        (Selector(zones=["sentrum"], seasons=["julebord"], licences=[Licence.SKJENKING]), 3),
        (Selector(days=["nyttarsaften"], groups=[3], areas=[Area.UTE]), 5),
    ],
)
def test_specificity_scores_as_the_reference_describes(selector: Selector, score: int) -> None:
    # docs/rule-language.md § 8, the specificity table.
    assert specificity(selector) == score


KONFLIKT = """
    rules:
      - {id: k.ute, kind: skjenketid, when: {areas: [ute]}, window: {from: "08:00", to: "23:00"}}
      - {id: k.gruppe_3, kind: skjenketid, when: {groups: [3]}, window: {from: "13:00", to: "01:00"}}
"""


def test_two_equally_specific_rules_with_different_windows_are_a_conflict(tmp_path: Path) -> None:
    # docs/rule-language.md § 8 step 4: a tie with different answers is an error, never "last one wins".
    book = book_with(tmp_path, kommune(KONFLIKT))
    day = date(2026, 5, 12)
    rules = book.effective("9990", day)
    with pytest.raises(RuleConflict) as conflict:
        serving(rules, day, 3, area=Area.UTE)
    assert sorted(conflict.value.rule_ids) == ["k.gruppe_3", "k.ute"]
    assert serving(rules, day, 3, area=Area.INNE) == ("13:00", "01:00")  # only one applies indoors
    assert any("contradict" in problem.reason for problem in check_book(book))


def test_tied_rules_that_give_the_same_window_are_no_conflict(tmp_path: Path) -> None:
    # docs/rule-language.md § 8.2: on a festival Friday the weekend and festival rules tie with
    # the same window 09-03 (Tromsø).
    rules = effective_of(tmp_path, TROMSO, date(2026, 5, 8))
    assert serving(rules, date(2026, 5, 8), 2, facts={"festivalperiode": True}) == ("09:00", "03:00")


# --- hoyeste_gruppe, avslag, forutsetning, vilkar, horing -------------------------------


def _max_group(rules: EffectiveRules, **given: Any) -> int | None:
    winner = choose(applicable(rules, MaxGroupRule, Situation(**given)))
    return None if winner is None else winner.rule.max_group  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("licence", "place", "group"),
    [
        (Licence.SKJENKING, {"venue": "nattklubb"}, 2),  # Valdres 3.3.2 pkt. 9 B: diskotek
        (Licence.SKJENKING, {"venue": "camping"}, 2),  # B.1 campingplasser
        (Licence.SKJENKING, {"venue": "konsert"}, 2),  # B.3 konserter
        (Licence.SKJENKING, {"venue": "overnattingssted"}, 3),  # C.1 overnattingssteder
        (Licence.SKJENKING, {"venue": "bar"}, 3),  # C.3 barer og puber
        (Licence.AMBULERENDE, {"venue": "sluttet_selskap"}, 3),  # C.4 slutta selskap
        (Licence.SALG, {"outlet": "butikk"}, 1),  # alkoholloven § 3-1: salgsbevilling covers gruppe 1
        (Licence.SALG, {"outlet": "gardsutsalg"}, 2),  # § 3-1b: a producer's own sale may cover gruppe 2
    ],
)
def test_the_highest_group_follows_valdres_alternatives_a_b_c(
    book: RuleBook, licence: Licence, place: dict[str, str], group: int
) -> None:
    rules = book.effective("3451", date(2026, 5, 12))
    assert _max_group(rules, licence=licence, **place) == group


def _refusals(rules: EffectiveRules, where: Situation) -> set[str]:
    refusals = set()
    for placed in applicable(rules, RefusalRule, where):
        unless = placed.rule.unless  # type: ignore[union-attr]
        if unless is None or not matches(unless, where):
            refusals.add(placed.id)
    return refusals


def test_a_17_mai_event_without_an_18_year_limit_is_refused_and_with_one_it_is_not(book: RuleBook) -> None:
    # Valdres plan 3.3.2 pkt. 4: no skjenkeløyve for 17. mai-arrangementer, marked, festivaler etc.
    # "dersom ikke arrangementene har 18 års grense".
    rules = book.effective("3451", date(2026, 5, 12))
    without = Situation(
        licence=Licence.ENKELTANLEDNING, venue="serveringssted", event=EventFacts(named="17mai")
    )
    with_limit = Situation(
        licence=Licence.ENKELTANLEDNING,
        venue="serveringssted",
        event=EventFacts(named="17mai", age_limit_18=True),
    )
    assert "valdres.avslag.arrangement_uten_18_aar" in _refusals(rules, without)
    assert _refusals(rules, with_limit) == set()


def test_an_event_where_children_meet_is_refused(book: RuleBook) -> None:
    # Valdres plan 3.3.2 pkt. 4: no serving where children and young people under 18 meet.
    rules = book.effective("3451", date(2026, 5, 12))
    where = Situation(
        licence=Licence.ENKELTANLEDNING, venue="serveringssted", event=EventFacts(under_18=True)
    )
    assert _refusals(rules, where) == {"valdres.avslag.under_18"}


def test_an_ambulerende_licence_is_refused_unless_for_a_sluttet_selskap(book: RuleBook) -> None:
    # Alkoholloven § 4-5: ambulerende skjenkebevilling only for sluttet selskap.
    rules = book.effective("national", date(2026, 5, 12))
    assert _refusals(rules, Situation(licence=Licence.AMBULERENDE, venue="konsert")) == {
        "avslag.ambulerende.sluttet_selskap"
    }
    assert _refusals(rules, Situation(licence=Licence.AMBULERENDE, venue="sluttet_selskap")) == set()


def _required(rules: EffectiveRules, where: Situation) -> set[str]:
    return {p.rule.requires for p in applicable(rules, PrerequisiteRule, where)}  # type: ignore[union-attr]


def test_prerequisites_for_a_skjenkebevilling_in_valdres(book: RuleBook) -> None:
    # Alkoholloven § 1-7b (vandel) and § 1-7c (styrer og stedfortreder); Valdres plan 3.3.2 pkt. 1
    # (serveringsløyve) and pkt. 7 (uteservering on a physically delimited area).
    rules = book.effective("3451", date(2026, 5, 12))
    national = {"uklanderlig_vandel", "styrer_og_stedfortreder"}
    inside = Situation(licence=Licence.SKJENKING, venue="serveringssted", area=Area.INNE)
    outside = Situation(licence=Licence.SKJENKING, venue="serveringssted", area=Area.UTE)
    assert _required(rules, inside) == national | {"serveringsbevilling"}
    assert _required(rules, outside) == national | {"serveringsbevilling", "delimited_area"}
    assert _required(rules, Situation(licence=Licence.SALG, outlet="butikk")) == national


def test_conditions_are_proposed_for_uteservering_and_for_concerts(book: RuleBook) -> None:
    # Valdres plan 3.3.2 pkt. 7 (uteservering fysisk avgrenset) and pkt. 9 B.3 a ("skal det vurderes
    # behov for vilkår som ordensvakter, og spesielle aldersgrense").
    rules = book.effective("3451", date(2026, 5, 12))

    def conditions(where: Situation) -> dict[ConditionKind, tuple[bool, int | None]]:
        found = {}
        for placed in applicable(rules, ConditionRule, where):
            rule = placed.rule
            assert isinstance(rule, ConditionRule)
            found[rule.condition] = (rule.discretionary, rule.age)
        return found

    ute = Situation(licence=Licence.SKJENKING, venue="serveringssted", area=Area.UTE)
    assert conditions(ute) == {ConditionKind.AVGRENSET_UTESERVERING: (False, None)}
    konsert = Situation(licence=Licence.ENKELTANLEDNING, venue="konsert", area=Area.INNE)
    # The plan names no age ("spesielle aldersgrense"), so the condition carries none.
    assert conditions(konsert) == {
        ConditionKind.ORDENSVAKTER: (True, None),
        ConditionKind.ALDERSGRENSE: (True, None),
    }


def test_politi_and_sosialtjenesten_must_be_heard_and_skatteetaten_may_be(book: RuleBook) -> None:
    # Alkoholloven § 1-7 as applied (law.md § 7, Ullensaker): politiet and sosialtjenesten "skal",
    # skatte- og avgiftsmyndighetene "kan".
    rules = book.effective("3451", date(2026, 5, 12))
    where = Situation(licence=Licence.SKJENKING, venue="serveringssted")
    hearings = {p.rule.body.value: p.rule.required for p in applicable(rules, HearingRule, where)}  # type: ignore[union-attr]
    assert hearings == {"politi": True, "sosialtjenesten": True, "skatteetaten": False}


def test_a_kommune_can_make_skatteetaten_a_required_hearing_by_its_label(tmp_path: Path) -> None:
    # docs/rule-language.md § 3.11: replacing horing.skatteetaten by label.
    body = """
        rules:
          - {id: horing.skatteetaten, kind: horing, when: {licences: [salg, skjenking]}, body: skatteetaten,
             required: true}
    """
    rules = effective_of(tmp_path, body, date(2026, 5, 12))
    where = Situation(licence=Licence.SALG, outlet="butikk")
    hearings = {p.rule.body.value: p.rule.required for p in applicable(rules, HearingRule, where)}  # type: ignore[union-attr]
    assert hearings["skatteetaten"] is True


# --- national-only kinds --------------------------------------------------------------


def test_the_national_point_table_and_revocation(book: RuleBook) -> None:
    national = book.effective("national", date(2026, 5, 12))
    points = {rule.code: rule.points for rule in rules_of(national, PrikkRule)}
    # Alkoholforskriften § 10-3: 8 for sale to a person under 18, 4 for breach of the times,
    # 1 for breach of the advertising ban.
    assert (points["under_18"], points["utenfor_tid"], points["reklame"]) == (8, 4, 1)
    [inndragning] = rules_of(national, InndragningRule)
    # § 10-2: 12 prikker within two years give one week; 12 more add 7 days (Hdir table).
    assert (inndragning.threshold, inndragning.window_years, inndragning.base_days) == (12, 2, 7)
    assert inndragning.extra_days[-1].days == 7


def test_points_apply_only_from_2016(book: RuleBook) -> None:
    # Alkoholforskriften kapittel 10 has applied since 1 January 2016 (law.md § 4.1).
    assert rules_of(book.effective("national", date(2015, 12, 31)), PrikkRule) == []


def test_the_2017_fee_rates_are_those_of_the_amending_forskrift(book: RuleBook) -> None:
    # FOR-2016-11-23-1361 (alkoholforskriften § 6-2, in force 1.1.2017): skjenking gruppe 3 3.95 kr
    # per vareliter, minimum 4 900 kr for skjenking.
    [gebyr] = rules_of(book.effective("national", date(2017, 6, 1)), GebyrRule)
    assert (gebyr.skjenking.rate(3), gebyr.min_skjenking) == (Decimal("3.95"), Decimal(4900))


def test_the_licence_period_ends_30_september_after_the_election_year(book: RuleBook) -> None:
    # Alkoholloven § 1-6: at most four years, ending 30 September the year after a kommunestyrevalg
    # (2023, then every four years).
    [periode] = rules_of(book.effective("national", date(2026, 5, 12)), BevillingsperiodeRule)
    assert (periode.valgaar, periode.interval_years, periode.ends_month_day, periode.max_years) == (
        2023,
        4,
        "09-30",
        4,
    )


# --- the ruleset version ----------------------------------------------------------------


def test_the_ruleset_version_ignores_comments_and_whitespace(tmp_path: Path) -> None:
    # bevilling/rules/book.py: the version is a content hash of the effective rules, not of layout.
    shutil.copytree(RULES, tmp_path / "rules")
    region = tmp_path / "rules" / "regions" / "valdres.yaml"
    day = date(2026, 5, 12)
    before = RuleBook.load(tmp_path / "rules").effective("3451", day).version
    text = region.read_text(encoding="utf-8")
    text = text.replace('window: {from: "08:00", to: "02:00"}', 'window: {  from: "08:00",   to: "02:00"  }')
    region.write_text("# En ny kommentar øverst.\n\n" + text.replace("\nrules:\n", "\n\n# Regler\nrules:\n"))
    assert RuleBook.load(tmp_path / "rules").effective("3451", day).version == before


def test_the_ruleset_version_changes_when_a_value_changes(tmp_path: Path) -> None:
    # bevilling/rules/book.py: the version a decision records names exactly the rules that bind.
    shutil.copytree(RULES, tmp_path / "rules")
    region = tmp_path / "rules" / "regions" / "valdres.yaml"
    day = date(2026, 5, 12)
    before = RuleBook.load(tmp_path / "rules").effective("3451", day).version
    text = region.read_text(encoding="utf-8")
    assert text.count('window: {from: "13:00", to: "02:00"}') == 1
    region.write_text(
        text.replace('window: {from: "13:00", to: "02:00"}', 'window: {from: "13:00", to: "01:30"}')
    )
    assert RuleBook.load(tmp_path / "rules").effective("3451", day).version != before
