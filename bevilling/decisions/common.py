"""What every decision carries: its reasons, their sources, and the ruleset it ran under.

A decision is data. Stored as JSON it can be read by an appeal years later, and replayed
exactly: the ``ruleset`` names the kommune, the date the rules were taken as of, and
the content hash of those effective rules.

Errors a caller can act on form one tree, each with a stable ``code`` (the API turns it
into the RFC 9457 ``type``)::

    DecisionError                 decision_error
    ├── UnknownFact               unknown_fact          a fact the kommune never declared
    ├── BadFactValue              bad_fact_value        a declared fact of the wrong type
    ├── UnknownCode               unknown_violation     a violation code not in the prikk table
    ├── RatesMissing              gebyr_rates_missing   no omsetningsgebyr rates for that year
    ├── NotAlcohol                not_alcohol           no alcohol group for that abv
    └── RulesUnavailable          rules_unavailable     no rules in force / conflicting rules
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from bevilling.rules.book import EffectiveRules, NoRulesInForce, PlacedRule, RuleBook, UnknownKommune
from bevilling.rules.model import FactType, FactValue


class DecisionError(Exception):
    code: ClassVar[str] = "decision_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownFact(DecisionError):
    code = "unknown_fact"


class BadFactValue(DecisionError):
    code = "bad_fact_value"


class UnknownCode(DecisionError):
    code = "unknown_violation"


class RatesMissing(DecisionError):
    code = "gebyr_rates_missing"


class NotAlcohol(DecisionError):
    code = "not_alcohol"


class RulesUnavailable(DecisionError):
    code = "rules_unavailable"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reason(Frozen):
    """One rule that decided, with what a decision letter cites."""

    rule_id: str
    kind: str
    text: str
    hjemmel: str
    source: str
    url: str | None
    origin: str


class RulesetRef(Frozen):
    kommune: str
    kommunenummer: str | None
    as_of: date
    version: str
    evaluator: str


def reason(placed: PlacedRule, text: str | None = None) -> Reason:
    rule = placed.rule
    return Reason(
        rule_id=placed.id,
        kind=placed.kind,
        text=text
        or getattr(rule, "title", None)
        or getattr(rule, "text", None)
        or getattr(rule, "reason", None)
        or placed.id,
        hjemmel=rule.hjemmel,
        source=placed.citation(),
        url=placed.source.url,
        origin=str(placed.origin),
    )


def national_reason(rule_id: str, text: str, hjemmel: str) -> Reason:
    """A reason that is the law's own structure, not a rule in a file (e.g. no window at all)."""
    return Reason(
        rule_id=rule_id, kind="lov", text=text, hjemmel=hjemmel, source=hjemmel, url=None, origin=""
    )


def ruleset_ref(rules: EffectiveRules, evaluator: str) -> RulesetRef:
    return RulesetRef(
        kommune=rules.slug,
        kommunenummer=rules.kommunenummer,
        as_of=rules.on,
        version=rules.version,
        evaluator=evaluator,
    )


def rules_for(book: RuleBook, kommune: str, on: date) -> EffectiveRules:
    try:
        return book.effective(kommune, on)
    except (UnknownKommune, NoRulesInForce) as error:
        raise RulesUnavailable(str(error), field="kommune") from None


def checked_facts(rules: EffectiveRules, facts: Mapping[str, object]) -> dict[str, FactValue]:
    """The facts a question gives, each declared by the kommune's rules and of its type,
    completed with the declared defaults for the facts it leaves out."""
    expected = {FactType.BOOL: bool, FactType.INT: int, FactType.TEXT: str}
    result: dict[str, FactValue] = {
        key: default for key, decl in rules.facts.items() if (default := decl.default_value()) is not None
    }
    for key, value in facts.items():
        decl = rules.facts.get(key)
        if decl is None:
            known = ", ".join(sorted(rules.facts)) or "none"
            raise UnknownFact(f"'{key}' is not a fact {rules.name} declares (declared: {known})", field=key)
        if type(value) is not expected[decl.type]:
            raise BadFactValue(f"fact '{key}' is {decl.type.value}, got {value!r}", field=key)
        result[key] = value  # type: ignore[assignment]
    return result
