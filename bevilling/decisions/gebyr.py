"""Omsetningsgebyr: alkoholforskriften kapittel 6.

§ 6-1: the fee is fixed per calendar year and bevilling from the expected volume (for a
new bevilling, the volume stated in the application; the same calculation is an
estimate). § 6-2: kroner per vareliter per alcohol group, at least the year's minimum.
A year whose rates the national rule file does not hold is an error, never a guess.
Amounts are rounded to whole kroner, half up.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from bevilling.decisions.common import (
    DecisionError,
    Frozen,
    RatesMissing,
    Reason,
    RulesetRef,
    reason,
    rules_for,
    ruleset_ref,
)
from bevilling.rules.book import RuleBook
from bevilling.rules.model import GebyrRule, Licence


class GebyrLine(Frozen):
    group: int
    litres: Decimal
    rate: Decimal
    amount: Decimal


class GebyrDecision(Frozen):
    year: int
    licence: Licence
    lines: list[GebyrLine]
    by_volume: Decimal
    minimum: Decimal
    amount: int
    estimate: bool
    rates_status: str
    reasons: list[Reason]
    ruleset: RulesetRef


def known_years(book: RuleBook) -> list[int]:
    national = book.by_slug.get("national", [])
    return sorted({r.year for f in national for r in f.model.rules if isinstance(r, GebyrRule)})


@dataclass(frozen=True)
class YearRates:
    """What a year's omsetningsgebyr needs from the national rule file, looked up once."""

    year: int
    rule: GebyrRule
    reasons: tuple[Reason, ...]
    ruleset: RulesetRef


# A loaded book never changes: a year's rates are looked up once per book (not per bevilling).
_YEAR_RATES: weakref.WeakKeyDictionary[RuleBook, dict[tuple[int, str], YearRates]] = (
    weakref.WeakKeyDictionary()
)


def year_rates(book: RuleBook, year: int, evaluator_name: str = "python") -> YearRates:
    per_book = _YEAR_RATES.setdefault(book, {})
    found = per_book.get((year, evaluator_name))
    if found is not None:
        return found
    years = known_years(book)
    if year not in years:
        spans = ", ".join(str(y) for y in years)
        raise RatesMissing(
            f"no omsetningsgebyr rates for {year} in the national rule file (known years: {spans}); "
            "add the year's rates from alkoholforskriften § 6-2 before billing",
            field="year",
        )
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


def omsetningsgebyr(
    book: RuleBook,
    year: int,
    licence: Licence,
    litres: Mapping[int, Decimal | int],
    *,
    estimate: bool = False,
    evaluator_name: str = "python",
) -> GebyrDecision:
    if licence not in (Licence.SALG, Licence.SKJENKING):
        raise DecisionError("omsetningsgebyr by volume is for salgs- and skjenkebevilling", field="licence")
    rates = year_rates(book, year, evaluator_name)
    rule = rates.rule
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
        # Checked values throughout: constructing without validating them again.
        lines.append(GebyrLine.model_construct(group=group, litres=volume, rate=rate, amount=volume * rate))
    by_volume = sum((line.amount for line in lines), Decimal(0))
    minimum = rule.min_salg if licence is Licence.SALG else rule.min_skjenking
    amount = int(max(by_volume, minimum).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return GebyrDecision.model_construct(
        year=year,
        licence=licence,
        lines=lines,
        by_volume=by_volume,
        minimum=minimum,
        amount=amount,
        estimate=estimate,
        rates_status=rule.status.value,
        reasons=list(rates.reasons),
        ruleset=rates.ruleset,
    )


class Volumes(Frozen):
    """One bevilling's reported volumes for a year (forventet and/or faktisk)."""

    bevilling_id: int
    licence: Licence
    expected: dict[int, Decimal] | None = None
    actual: dict[int, Decimal] | None = None


class RunLine(Frozen):
    bevilling_id: int
    basis: str
    decision: GebyrDecision


class RunResult(Frozen):
    year: int
    lines: list[RunLine]
    missing_oppgave: list[int]
    not_by_volume: list[int]
    total: int


def run_year(book: RuleBook, year: int, licences: Sequence[Volumes]) -> RunResult:
    """The yearly omsetningsgebyr for every bevilling: the actual volume where reported
    (etteroppgjør, § 6-3), else the expected one (§ 6-1); a bevilling with neither is
    listed as missing its omsetningsoppgave, never billed a guess."""
    lines: list[RunLine] = []
    missing: list[int] = []
    not_by_volume: list[int] = []
    for item in sorted(licences, key=lambda v: v.bevilling_id):
        if item.licence not in (Licence.SALG, Licence.SKJENKING):
            not_by_volume.append(item.bevilling_id)
            continue
        litres, basis = (item.actual, "faktisk") if item.actual is not None else (item.expected, "forventet")
        if litres is None:
            missing.append(item.bevilling_id)
            continue
        decision = omsetningsgebyr(book, year, item.licence, litres, estimate=basis == "forventet")
        lines.append(RunLine(bevilling_id=item.bevilling_id, basis=basis, decision=decision))
    return RunResult(
        year=year,
        lines=lines,
        missing_oppgave=missing,
        not_by_volume=not_by_volume,
        total=sum(line.decision.amount for line in lines),
    )
