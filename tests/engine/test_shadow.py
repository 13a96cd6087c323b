"""The service's shadow check: a sampled engine answer that the reference contradicts is refused."""

from __future__ import annotations

from datetime import date

import pytest

from bevilling.calendar import day_info
from bevilling.engine.evaluator import ReferenceEvaluator, ShadowEvaluator, ShadowMismatch
from bevilling.reference import AtOutcome, Domain
from bevilling.rules.book import EffectiveRules, RuleBook
from bevilling.situation import Situation


class AlwaysAllows(ReferenceEvaluator):
    """A broken engine: says yes to everything."""

    name = "broken"

    def at(self, rules: EffectiveRules, domain: Domain, situation: Situation, minute: int) -> AtOutcome:
        return AtOutcome(True, "broken")


def test_a_disagreement_on_a_checked_question_is_refused_not_answered(book: RuleBook) -> None:
    rules = book.effective("3451", date(2026, 5, 16))
    situation = Situation(day=day_info(date(2026, 5, 16)), group=1, area="inne", venue="serveringssted")  # type: ignore[arg-type]
    shadow = ShadowEvaluator(AlwaysAllows(), ReferenceEvaluator(), sample_rate=1.0)
    with pytest.raises(ShadowMismatch):
        shadow.at(rules, Domain.SKJENKING, situation, 1600)  # 02:40: Valdres closes at 02:00
    assert shadow.mismatches == 1


def test_agreeing_answers_pass_through_and_only_the_sample_is_checked(book: RuleBook) -> None:
    rules = book.effective("3451", date(2026, 5, 16))
    situation = Situation(day=day_info(date(2026, 5, 16)), group=1, area="inne", venue="serveringssted")  # type: ignore[arg-type]
    shadow = ShadowEvaluator(ReferenceEvaluator(), ReferenceEvaluator(), sample_rate=0.25)
    answers = [shadow.at(rules, Domain.SKJENKING, situation, 700).allowed for _ in range(8)]
    assert answers == [True] * 8
    assert (shadow.checked, shadow.mismatches) == (2, 0)
