"""Decision case files (format v1, ``shared/domain/case-format.md``): read, evaluate, compare.

Every case goes through the same evaluator the service uses. A file that cannot be
read, a case of unknown shape, a ``given`` key the table and the kommune's rule file do
not declare, or an input the engine rejects as malformed makes the file invalid
(``CaseFileError``: file, case id, reason), never a silently skipped case.

Extension (an optional key, as the format allows): ``expect_error: "<text>"`` — the case
passes when the decision is refused with an error whose message contains the text
(a year without omsetningsgebyr rates must be an error, never a number).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bevilling.calendar import LocalTimeError, parse_instant
from bevilling.decisions import application, gebyr, hours, prikker
from bevilling.decisions.common import (
    BadFactValue,
    DecisionError,
    NotAlcohol,
    Reason,
    UnknownCode,
    UnknownFact,
)
from bevilling.decisions.hours import UnknownName
from bevilling.engine.evaluator import Evaluator
from bevilling.rules.book import RuleBook
from bevilling.rules.loader import RuleFileError, parse_yaml
from bevilling.rules.model import Area, Licence, parse_clock, serving_minute

ASKS: dict[str, frozenset[str]] = {
    "group_of": frozenset({"abv"}),
    "sales_allowed": frozenset({"at", "group", "abv", "outlet"}),
    "sales_window": frozenset({"date", "group", "outlet"}),
    "serving_allowed": frozenset({"at", "group", "abv", "area", "venue", "zone"}),
    "serving_window": frozenset({"date", "group", "area", "venue", "zone"}),
    "max_group": frozenset({"venue", "licence", "date"}),
    "licence_allowed": frozenset(
        {
            "licence",
            "venue",
            "groups",
            "area",
            "zone",
            "serveringsbevilling",
            "event",
            "delimited_area",
            "uklanderlig_vandel",
            "styrer_og_stedfortreder",
            "date",
        }
    ),
    "prikker": frozenset({"violations", "licence", "date"}),
    "inndragning_days": frozenset({"history", "on", "overdragelse"}),
    "omsetningsgebyr": frozenset({"year", "licence", "litres"}),
}
TAKES_FACTS = frozenset(
    {"serving_allowed", "serving_window", "sales_allowed", "sales_window", "licence_allowed"}
)
CASE_KEYS = frozenset({"id", "kommune", "ask", "given", "expect", "expect_error", "source", "why"})
INPUT_ERRORS = (LocalTimeError, UnknownFact, BadFactValue, UnknownName, UnknownCode)


class CaseFileError(Exception):
    def __init__(self, file: str, line: int, case_id: str | None, reason: str) -> None:
        self.file, self.line, self.case_id, self.reason = file, line, case_id, reason
        where = f"{file}:{line}" + (f": case {case_id}" if case_id else "")
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Case:
    file: str
    line: int
    id: str
    kommune: str
    ask: str
    given: dict[str, Any]
    expect: Any
    expect_error: str | None


@dataclass(frozen=True)
class Result:
    case: Case
    ok: bool
    got: Any
    why: list[str]

    def as_json(self) -> dict[str, Any]:
        expected = {"error": self.case.expect_error} if self.case.expect_error else self.case.expect
        return {"id": self.case.id, "ok": self.ok, "got": self.got, "expected": expected, "why": self.why}


def load_cases(path: Path | str) -> list[Case]:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        data, lines = parse_yaml(text, file)
    except RuleFileError as error:
        first = error.problems[0]
        raise CaseFileError(file, first.line, None, first.reason) from None
    except (OSError, UnicodeDecodeError) as error:
        raise CaseFileError(file, 1, None, f"cannot read: {error}") from None
    if not isinstance(data, list):
        raise CaseFileError(file, 1, None, "a case file is a YAML list of cases")
    cases: list[Case] = []
    seen: set[str] = set()
    for index, raw in enumerate(data):
        line = lines.get((index,), 1)
        if not isinstance(raw, dict):
            raise CaseFileError(file, line, None, "a case is a mapping with id, kommune, ask, given, expect")
        case_id = str(raw.get("id", "")) or None
        unknown = set(raw) - CASE_KEYS
        missing = {"id", "kommune", "ask", "given"} - set(raw)
        if "expect" not in raw and "expect_error" not in raw:
            missing.add("expect")
        if unknown or missing:
            parts = [f"unknown key(s) {sorted(unknown)}"] if unknown else []
            parts += [f"missing key(s) {sorted(missing)}"] if missing else []
            raise CaseFileError(file, line, case_id, "; ".join(parts))
        assert case_id is not None
        if case_id in seen:
            raise CaseFileError(file, line, case_id, "duplicate id in this file")
        seen.add(case_id)
        ask = raw["ask"]
        if ask not in ASKS:
            raise CaseFileError(file, line, case_id, f"unknown ask '{ask}' (one of {', '.join(ASKS)})")
        if not isinstance(raw["given"], dict):
            raise CaseFileError(file, line, case_id, "given must be a mapping")
        cases.append(
            Case(
                file=file,
                line=line,
                id=case_id,
                kommune=str(raw["kommune"]),
                ask=ask,
                given=raw["given"],
                expect=raw.get("expect"),
                expect_error=raw.get("expect_error"),
            )
        )
    return cases


def _why(reasons: Iterable[Reason]) -> list[str]:
    return [f"{r.rule_id}: {r.text} ({r.hjemmel}; {r.source})" for r in reasons]


def _instant(value: Any) -> datetime:
    return parse_instant(value.isoformat() if isinstance(value, datetime) else str(value))


def _day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DecisionError(f"'{value}' is not a date YYYY-MM-DD", field="date") from None


def _group(book: RuleBook, given: Mapping[str, Any], on: date) -> int:
    if "group" in given:
        group = given["group"]
        if type(group) is not int:
            raise DecisionError(f"group must be 1, 2 or 3, got {group!r}", field="group")
        return group
    if "abv" in given:
        return hours.group_of(book, _decimal(given["abv"], "abv"), on)
    raise DecisionError("give group or abv", field="group")


def _decimal(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise DecisionError(f"{field} must be a number, got {value!r}", field=field) from None


def _facts(case: Case) -> dict[str, Any]:
    return {k: v for k, v in case.given.items() if k not in ASKS[case.ask]}


def _window_json(answer: hours.WindowAnswer) -> dict[str, str] | None:
    return None if answer.from_ is None else {"from": answer.from_, "to": answer.to or ""}


Handler = Callable[[RuleBook, Evaluator, Case], tuple[Any, list[Reason]]]


def _group_of(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    try:
        return hours.group_of(book, _decimal(case.given["abv"], "abv"), date.today()), []
    except NotAlcohol:
        return None, []


def _sales_allowed(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    at = _instant(case.given["at"])
    group = _group(book, case.given, at.date())
    answer = hours.sales_allowed(
        book, evaluator, case.kommune, at, group=group, outlet=case.given.get("outlet", "butikk"), facts=_facts(case)
    )
    return answer.allowed, answer.reasons


def _serving_allowed(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    at = _instant(case.given["at"])
    answer = hours.serving_allowed(
        book,
        evaluator,
        case.kommune,
        at,
        group=_group(book, case.given, at.date()),
        area=Area(case.given.get("area", "inne")),
        venue=case.given.get("venue", "serveringssted"),
        zone=case.given.get("zone"),
        facts=_facts(case),
    )
    return answer.allowed, answer.reasons


def _sales_window(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    day = _day(case.given["date"])
    answer = hours.sales_window(
        book,
        evaluator,
        case.kommune,
        day,
        group=case.given.get("group", 1),
        outlet=case.given.get("outlet", "butikk"),
        facts=_facts(case),
    )
    return _window_json(answer), answer.reasons


def _serving_window(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    day = _day(case.given["date"])
    answer = hours.serving_window(
        book,
        evaluator,
        case.kommune,
        day,
        group=_group(book, case.given, day),
        area=Area(case.given.get("area", "inne")),
        venue=case.given.get("venue", "serveringssted"),
        zone=case.given.get("zone"),
        facts=_facts(case),
    )
    return _window_json(answer), answer.reasons


def _max_group(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    on = _day(case.given.get("date", date.today()))
    licence = Licence(case.given.get("licence", "skjenking"))
    return application.max_group(book, evaluator, case.kommune, case.given["venue"], licence, on), []


def _licence_allowed(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    given = case.given
    request = application.Application(
        kommune=case.kommune,
        licence=Licence(given["licence"]),
        venue=given["venue"],
        groups=given["groups"],
        areas=[Area(given.get("area", "inne"))],
        decided_on=_day(given.get("date", date.today())),
        zone=given.get("zone"),
        serveringsbevilling=given.get("serveringsbevilling"),
        delimited_area=given.get("delimited_area"),
        uklanderlig_vandel=given.get("uklanderlig_vandel"),
        styrer_og_stedfortreder=given.get("styrer_og_stedfortreder"),
        event=application.Event(**given["event"]) if given.get("event") else None,
        facts=_facts(case),
    )
    assessment = application.assess(book, evaluator, request)
    return assessment.allowed, assessment.reasons or assessment.refusals


def _prikker(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    codes = case.given["violations"]
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise DecisionError("violations must be a list of violation codes", field="violations")
    licence = Licence(case.given.get("licence", "skjenking"))
    result = prikker.assess_control(
        book, evaluator, case.kommune, _day(case.given.get("date", date.today())), licence, codes
    )
    return result.points, result.reasons


def _inndragning(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    history = [prikker.Entry(date=_day(e["date"]), points=e["points"]) for e in case.given.get("history", [])]
    transfer = case.given.get("overdragelse")
    proposal = prikker.propose_inndragning(
        book,
        evaluator,
        case.kommune,
        _day(case.given["on"]),
        history,
        overdragelse=_day(transfer) if transfer is not None else None,
    )
    return proposal.days, proposal.reasons


def _gebyr(book: RuleBook, evaluator: Evaluator, case: Case) -> tuple[Any, list[Reason]]:
    litres = {int(k): _decimal(v, f"litres/{k}") for k, v in case.given["litres"].items()}
    decision = gebyr.omsetningsgebyr(
        book, int(case.given["year"]), Licence(case.given["licence"]), litres, evaluator_name=evaluator.name
    )
    return decision.amount, decision.reasons


HANDLERS: dict[str, Handler] = {
    "group_of": _group_of,
    "sales_allowed": _sales_allowed,
    "sales_window": _sales_window,
    "serving_allowed": _serving_allowed,
    "serving_window": _serving_window,
    "max_group": _max_group,
    "licence_allowed": _licence_allowed,
    "prikker": _prikker,
    "inndragning_days": _inndragning,
    "omsetningsgebyr": _gebyr,
}


def _same(case: Case, got: Any) -> bool:
    expected = case.expect
    if isinstance(expected, dict) and isinstance(got, dict) and set(expected) == {"from", "to"}:
        to_minute = serving_minute if case.ask == "serving_window" else parse_clock
        try:
            return [to_minute(str(expected[k])) for k in ("from", "to")] == [
                to_minute(got[k]) for k in ("from", "to")
            ]
        except ValueError:
            return False
    return type(expected) is type(got) and expected == got


def _check_given(book: RuleBook, case: Case) -> None:
    if case.ask not in TAKES_FACTS:
        extra = set(case.given) - ASKS[case.ask]
        if extra:
            raise CaseFileError(
                case.file, case.line, case.id, f"given key(s) {sorted(extra)} are not used by {case.ask}"
            )


def run_case(book: RuleBook, evaluator: Evaluator, case: Case) -> Result:
    _check_given(book, case)
    try:
        got, reasons = HANDLERS[case.ask](book, evaluator, case)
    except INPUT_ERRORS as error:
        raise CaseFileError(case.file, case.line, case.id, str(error)) from None
    except (KeyError, ValueError, TypeError) as error:
        raise CaseFileError(case.file, case.line, case.id, f"bad given: {error}") from None
    except DecisionError as error:
        return _refused(case, error)
    if case.expect_error is not None:
        return Result(case, False, got, _why(reasons))
    return Result(case, _same(case, got), got, _why(reasons))


def _refused(case: Case, error: DecisionError) -> Result:
    ok = case.expect_error is not None and case.expect_error in str(error)
    return Result(case, ok, {"error": str(error), "type": error.code}, [str(error)])


def run_files(book: RuleBook, evaluator: Evaluator, paths: Iterable[Path | str]) -> list[Result]:
    """Evaluate every case of every file; the first invalid file raises ``CaseFileError``."""
    cases = [case for path in paths for case in load_cases(path)]
    return [run_case(book, evaluator, case) for case in cases]
