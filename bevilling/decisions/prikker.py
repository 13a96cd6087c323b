"""Prikker and inndragning: alkoholforskriften kapittel 10.

* § 10-3: each violation code has its points; likeartede brudd (the same code) found at
  one control count once, different codes add up (§ 10-2).
* § 10-1: the system covers kommunal salgs- and skjenkebevilling, not a bevilling for
  en enkelt anledning or an ambulerende bevilling.
* § 10-2: 12 points within two years, counted from the dates of the violations, means
  inndragning for one week; more points, correspondingly longer (Helsedirektoratet's
  table of extra days). A transfer (overdragelse) starts a new period; a renewal does not.

"Counted from the dates of the violations": the total is the highest sum of points
within a two-year period that ends on a violation date; only periods ending within the
two years before the assessment date count, so points that were never acted on in time
do not resurface years later. A
period of two years includes the same calendar date two years earlier and not the day
before it. Beyond 24 points the table is applied again per block of 12, which no source
confirms; a proposal that relies on it says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from bevilling.decisions.common import (
    DecisionError,
    Frozen,
    Reason,
    RulesetRef,
    UnknownCode,
    national_reason,
    reason,
    rules_for,
    ruleset_ref,
)
from bevilling.engine.evaluator import Evaluator
from bevilling.rules.book import EffectiveRules, RuleBook
from bevilling.rules.model import InndragningRule, Licence, PrikkRule


class PrikkLine(Frozen):
    code: str
    points: int
    reason: Reason


class ControlAssessment(Frozen):
    """The prikker proposed for the violations found at one control."""

    licence: Licence
    applies: bool
    points: int | None
    lines: list[PrikkLine]
    reasons: list[Reason]
    ruleset: RulesetRef


class Entry(Frozen):
    """One prikk-bearing violation in a licence's history."""

    date: date
    points: int


class InndragningProposal(Frozen):
    on: date
    total: int
    counted: list[Entry]
    threshold: int
    days: int
    reasons: list[Reason]
    ruleset: RulesetRef


def _scheme(rules: EffectiveRules) -> tuple[InndragningRule, Reason]:
    placed = rules.of_kind(InndragningRule)
    if not placed:
        raise DecisionError(f"no inndragning rule is in force for {rules.name} on {rules.on}")
    rule = placed[0].rule
    assert isinstance(rule, InndragningRule)
    return rule, reason(placed[0], "Prikktildeling og inndragning etter alkoholforskriften kapittel 10")


def assess_control(
    book: RuleBook, evaluator: Evaluator, kommune: str, on: date, licence: Licence, codes: Sequence[str]
) -> ControlAssessment:
    rules = rules_for(book, kommune, on)
    scheme, scheme_reason = _scheme(rules)
    known = {p.rule.code for p in rules.of_kind(PrikkRule) if isinstance(p.rule, PrikkRule)}
    for code in codes:
        if code not in known:
            raise UnknownCode(
                f"'{code}' is not a violation code of alkoholforskriften § 10-3", field="violations"
            )
    if licence not in scheme.applies_to:
        why = national_reason(
            "prikk.omfang",
            f"Prikksystemet gjelder ikke {licence.value}bevilling",
            "alkoholforskriften § 10-1",
        )
        return ControlAssessment(
            licence=licence,
            applies=False,
            points=None,
            lines=[],
            reasons=[why],
            ruleset=ruleset_ref(rules, evaluator.name),
        )
    lines = []
    for code in sorted(set(codes)):
        rule_ids = evaluator.prikk_rules(rules, code)
        if len(rule_ids) != 1:
            raise DecisionError(
                f"violation code '{code}' has {len(rule_ids)} prikk rules; exactly one is required"
            )
        placed = rules.by_id(rule_ids[0])
        assert isinstance(placed.rule, PrikkRule)
        lines.append(PrikkLine(code=code, points=placed.rule.points, reason=reason(placed, placed.rule.text)))
    return ControlAssessment(
        licence=licence,
        applies=True,
        points=sum(line.points for line in lines),
        lines=lines,
        reasons=[scheme_reason, *(line.reason for line in lines)],
        ruleset=ruleset_ref(rules, evaluator.name),
    )


def window_start(on: date, years: int) -> date:
    """The first day of the period of ``years`` years that ends on ``on``."""
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February: the period runs to 28 February
        return on.replace(year=on.year - years, day=28)


def counted(history: Iterable[Entry], on: date, years: int, overdragelse: date | None = None) -> list[Entry]:
    """The entries of the two-year period with most points, among the periods that end on a
    violation date within the two years before ``on`` (the latest such period on a tie)."""
    eligible = sorted(
        (e for e in history if e.date <= on and (overdragelse is None or e.date >= overdragelse)),
        key=lambda e: e.date,
    )
    recent = window_start(on, years)
    best: list[Entry] = []
    for anchor in sorted({e.date for e in eligible if e.date >= recent}):
        start = window_start(anchor, years)
        inside = [e for e in eligible if start <= e.date <= anchor]
        if sum(e.points for e in inside) >= sum(e.points for e in best):
            best = inside
    return best


def extra_days(rule: InndragningRule, extra_points: int) -> int:
    """Helsedirektoratet's table; each further block of 12 points adds another week's worth."""
    blocks, rest = divmod(extra_points, rule.extra_days[-1].to_points)
    days = blocks * rule.extra_days[-1].days
    for row in rule.extra_days:
        if row.from_points <= rest <= row.to_points:
            days += row.days
    return days


def inndragning_days(rule: InndragningRule, total: int) -> int:
    if total < rule.threshold:
        return 0
    return rule.base_days + extra_days(rule, total - rule.threshold)


def propose_inndragning(
    book: RuleBook,
    evaluator: Evaluator,
    kommune: str,
    on: date,
    history: Sequence[Entry],
    overdragelse: date | None = None,
) -> InndragningProposal:
    rules = rules_for(book, kommune, on)
    scheme, scheme_reason = _scheme(rules)
    if any(e.points < 0 for e in history):
        raise DecisionError("points in a history cannot be negative", field="history")
    inside = counted(history, on, scheme.window_years, overdragelse)
    total = sum(e.points for e in inside)
    reasons = [scheme_reason]
    if overdragelse is not None:
        reasons.append(
            national_reason(
                "prikk.overdragelse",
                f"Bevillingen ble overdratt {overdragelse}; prikker før overdragelsen teller ikke",
                "alkoholforskriften § 10-2",
            )
        )
    if total > scheme.threshold + scheme.extra_days[-1].to_points:
        reasons.append(
            national_reason(
                "prikk.over_tabellen",
                "Over 24 prikker: tilleggstabellen er brukt på nytt per 12 prikker; dette er ikke bekreftet av kilden",
                "alkoholforskriften § 10-2",
            )
        )
    return InndragningProposal(
        on=on,
        total=total,
        counted=inside,
        threshold=scheme.threshold,
        days=inndragning_days(scheme, total),
        reasons=reasons,
        ruleset=ruleset_ref(rules, evaluator.name),
    )


LICENCE_NAMES = {
    Licence.SALG: "salgsbevilling",
    Licence.SKJENKING: "skjenkebevilling",
    Licence.ENKELTANLEDNING: "bevilling for en enkelt anledning",
    Licence.AMBULERENDE: "ambulerende skjenkebevilling",
}


class Violation(Frozen):
    """A violation as a forhåndsvarsel lists it."""

    date: date
    code: str
    points: int
    text: str
    hjemmel: str


def forhandsvarsel(
    proposal: InndragningProposal,
    *,
    kommune_name: str,
    holder: str,
    place_name: str,
    licence: Licence,
    violations: Sequence[Violation],
) -> str:
    """Draft of the advance notice (forvaltningsloven § 16) of an inndragning under
    alkoholforskriften § 10-2; the case officer edits and signs it."""
    name = LICENCE_NAMES[licence]
    lines = [
        f"Forhåndsvarsel om inndragning av {name}",
        "",
        f"Til: {holder}, {place_name}",
        "",
        f"{kommune_name} varsler med dette at kommunen vurderer å inndra {name}en for "
        f"{place_name} i {proposal.days} dager, jf. alkoholloven § 1-8 og alkoholforskriften § 10-2.",
        "",
        f"Bevillingen er tildelt til sammen {proposal.total} prikker innenfor en periode på to år, regnet fra "
        f"tidspunktene for overtredelsene. Ved {proposal.threshold} prikker skal bevillingen inndras for én uke; "
        "ved flere prikker blir inndragningen tilsvarende lengre.",
        "",
        "Overtredelsene som ligger til grunn:",
    ]
    lines += [f"  - {v.date:%d.%m.%Y}: {v.text} ({v.hjemmel}): {v.points} prikker" for v in violations]
    lines += [
        "",
        "Kommunen kan i særlige tilfeller fravike reaksjonen etter alkoholforskriften § 10-4.",
        "Dere har rett til å uttale dere før vedtak treffes, jf. forvaltningsloven § 16. "
        "Frist for uttalelse: to uker fra mottak av dette brevet.",
        "",
        f"Med hilsen\n{kommune_name}",
    ]
    return "\n".join(lines)
