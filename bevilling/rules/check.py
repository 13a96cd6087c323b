"""``bevilling rules check``: everything wrong with a rule book, as file:line: reason.

Static checks look at each file: sources that resolve, names that are defined, labels
whose validity periods overlap, national-only kinds in local files. Semantic checks
evaluate every kommune's effective rules over the calendar of its validity (grouped by
distinct kinds of day, so a year costs a few dozen evaluations per combination) and
compare what a case officer would get against the national maxima.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from bevilling.calendar import LAST_YEAR, DayInfo, day_info
from bevilling.reference import (
    Domain,
    RuleConflict,
    applicable,
    choose,
    chosen_window,
    decide_window,
    window_interval,
)
from bevilling.rules.book import (
    NATIONAL,
    EffectiveRules,
    NoRulesInForce,
    RuleBook,
    UnknownKommune,
    placed_rules,
)
from bevilling.rules.loader import LoadedFile, Problem, RuleFileError
from bevilling.rules.model import (
    ALL_GROUPS,
    APPLICATION_FLAGS,
    NATIONAL_ONLY_KINDS,
    Area,
    Enforcement,
    FactDecl,
    FactType,
    FactValue,
    GebyrRule,
    Level,
    Licence,
    LimitRule,
    MaxGroupRule,
    PrerequisiteRule,
    Rule,
    SalesLimitRule,
    SalesWindowRule,
    SeasonDecl,
    Selector,
    ServingLimitRule,
    ServingWindowRule,
    VenueDecl,
    WindowRule,
    ZoneDecl,
    selector_of,
)
from bevilling.situation import DAY_TAGS, Situation, matches, within

HORIZON_YEARS = 3
SITUATION_MARK = "\x00"
HOURS_KINDS = (SalesWindowRule, ServingWindowRule, SalesLimitRule, ServingLimitRule)


def check_path(path: Path | str) -> list[Problem]:
    try:
        book = RuleBook.load(path)
    except RuleFileError as error:
        return sorted(error.problems, key=lambda p: (p.file, p.line))
    return check_book(book)


def check_book(book: RuleBook) -> list[Problem]:
    problems: list[Problem] = []
    for loaded in book.files:
        problems.extend(_static(loaded, book))
    if NATIONAL not in book.by_slug:
        for loaded in book.files:
            problems.append(
                Problem(
                    loaded.path,
                    1,
                    "the national rule file (rules/national.yaml) must be checked with it: give the folder",
                )
            )
    problems.extend(_overlapping_files(book))
    problems.extend(_shared_numbers(book))
    if not problems:
        judged: dict[object, list[Problem]] = {}
        for slug, files in sorted(book.by_slug.items()):
            for loaded in files:
                problems.extend(_semantic(book, slug, loaded, judged))
    return _grouped(problems)


def _grouped(problems: Iterable[Problem]) -> list[Problem]:
    """One line per finding: the first situation it was found in, and how many more."""
    found: dict[tuple[str, int, str], list[str]] = {}
    for problem in problems:
        finding, _, situation = problem.reason.partition(SITUATION_MARK)
        where = found.setdefault((problem.file, problem.line, finding), [])
        if situation and situation not in where:
            where.append(situation)
    result = []
    for (file, line, finding), where in found.items():
        if not where:
            result.append(Problem(file, line, finding))
            continue
        more = f"; and {len(where) - 1} more" if len(where) > 1 else ""
        result.append(Problem(file, line, f"{finding} (on {where[0]}{more})"))
    return sorted(result, key=lambda p: (p.file, p.line, p.reason))


# --- static ------------------------------------------------------------------------------


def _selectors(rule: object) -> Iterator[tuple[str, Selector]]:
    for name in ("when", "unless"):
        selector = getattr(rule, name, None)
        if isinstance(selector, Selector):
            yield name, selector


def _static(loaded: LoadedFile, book: RuleBook) -> Iterator[Problem]:
    model = loaded.model
    here = loaded.path

    def at(*key: str | int) -> int:
        return loaded.line_of(*key)

    declarations: dict[str, Mapping[str, FactDecl | ZoneDecl | VenueDecl | SeasonDecl]] = {
        "facts": model.facts,
        "zones": model.zones,
        "venues": model.venues,
        "outlets": model.outlets,
        "seasons": model.seasons,
    }
    for section, entries in declarations.items():
        for key, decl in entries.items():
            if decl.source.ref not in model.sources:
                yield Problem(
                    here, at(section, key), f"{section}.{key}: source '{decl.source.ref}' is not in sources"
                )
    if model.level is Level.KOMMUNE and model.inherits:
        parents = book.by_slug.get(model.inherits)
        if not parents or parents[0].model.level is not Level.REGION:
            yield Problem(here, at("inherits"), f"inherits '{model.inherits}', which is no region file")
    names = _names_in_chain(loaded, book)
    seen: dict[str, list[tuple[int, date, date | None]]] = {}
    years: dict[int, int] = {}
    for index, rule in enumerate(model.rules):
        line = loaded.rule_line(index)
        if rule.source.ref not in model.sources:
            yield Problem(here, line, f"rule {rule.id}: source '{rule.source.ref}' is not in sources")
        if rule.kind in NATIONAL_ONLY_KINDS and model.level is not Level.NATIONAL:
            yield Problem(
                here, line, f"rule {rule.id}: '{rule.kind}' is national law and cannot be set locally"
            )
        national = names.national_rules.get(rule.id)
        if national is not None and model.level is not Level.NATIONAL:
            if national.kind != rule.kind:
                yield Problem(
                    here,
                    line,
                    f"rule {rule.id}: replaces the national '{national.kind}' rule of that label with a '{rule.kind}'; a label keeps its kind",
                )
            elif isinstance(national, LimitRule) and national.enforcement is Enforcement.REJECT:
                yield Problem(
                    here,
                    line,
                    f"rule {rule.id}: is a national maximum ({national.hjemmel}); a kommune cannot replace it, only narrow inside it with its own rules",
                )
        if isinstance(rule, ServingLimitRule) and rule.closed and model.level is not Level.NATIONAL:
            yield Problem(
                here,
                line,
                f"rule {rule.id}: a whole day without serving is not allowed; "
                "serving times may be narrowed, not cut by whole days (alkoholloven § 4-4)",
            )
        if isinstance(rule, ServingWindowRule) and rule.closed and model.level is not Level.NATIONAL:
            yield Problem(
                here,
                line,
                f"rule {rule.id}: a whole day without serving is not allowed; "
                "serving times may be narrowed, not cut by whole days (alkoholloven § 4-4)",
            )
        if isinstance(rule, GebyrRule):
            if rule.year in years:
                yield Problem(
                    here,
                    line,
                    f"rule {rule.id}: rates for {rule.year} are already given at line {years[rule.year]}",
                )
            years[rule.year] = line
        if isinstance(rule, PrerequisiteRule) and rule.requires not in APPLICATION_FLAGS:
            known = ", ".join(sorted(APPLICATION_FLAGS))
            yield Problem(
                here, line, f"rule {rule.id}: requires '{rule.requires}', not an application flag ({known})"
            )
        for label in getattr(rule, "overrides", ()):
            if label not in names.labels:
                yield Problem(
                    here, line, f"rule {rule.id}: overrides '{label}', which no file in its chain defines"
                )
        for part, selector in _selectors(rule):
            for reason in _undefined(selector, names):
                yield Problem(here, loaded.line_of("rules", index, part), f"rule {rule.id}: {part}: {reason}")
        start = max(rule.valid_from or model.valid_from, model.valid_from)
        end = rule.valid_to or model.valid_to
        for other_line, other_start, other_end in seen.get(rule.id, []):
            if start <= (other_end or date.max) and other_start <= (end or date.max):
                yield Problem(
                    here,
                    line,
                    f"rule {rule.id}: validity {start}..{end or ''} overlaps the same label at line {other_line} "
                    f"({other_start}..{other_end or ''})",
                )
        seen.setdefault(rule.id, []).append((line, start, end))


@dataclass(frozen=True, slots=True)
class _Names:
    zones: frozenset[str]
    venues: frozenset[str]
    outlets: frozenset[str]
    seasons: frozenset[str]
    facts: dict[str, FactType]
    labels: frozenset[str]
    kinds: dict[str, str]
    national_rules: dict[str, Rule]


def _names_in_chain(loaded: LoadedFile, book: RuleBook) -> _Names:
    files = [loaded]
    if loaded.model.level is not Level.NATIONAL:
        files += book.by_slug.get(NATIONAL, [])
    if loaded.model.inherits:
        files += book.by_slug.get(loaded.model.inherits, [])
    return _Names(
        zones=frozenset(k for f in files for k in f.model.zones),
        venues=frozenset(k for f in files for k in f.model.venues),
        outlets=frozenset(k for f in files for k in f.model.outlets),
        seasons=frozenset(k for f in files for k in f.model.seasons),
        facts={k: d.type for f in files for k, d in f.model.facts.items()},
        labels=frozenset(r.id for f in files for r in f.model.rules),
        kinds={r.id: r.kind for f in files for r in f.model.rules},
        national_rules={r.id: r for f in book.by_slug.get(NATIONAL, []) for r in f.model.rules},
    )


def _undefined(selector: Selector, names: _Names) -> Iterator[str]:
    listed = [
        ("zone", selector.zones, names.zones),
        ("venue", selector.venues, names.venues),
        ("outlet", selector.outlets, names.outlets),
        ("season", selector.seasons, names.seasons),
        ("named day", selector.days, DAY_TAGS),
    ]
    for what, used, defined in listed:
        for name in used or ():
            if name not in defined:
                yield f"{what} '{name}' is not defined"
    expected = {FactType.BOOL: bool, FactType.INT: int, FactType.TEXT: str}
    for key, value in (selector.facts or {}).items():
        if key not in names.facts:
            yield f"fact '{key}' is not declared (add it under facts: with type and meaning)"
        elif type(value) is not expected[names.facts[key]]:
            yield f"fact '{key}' is {names.facts[key].value}, but the rule compares it with {value!r}"
    for key in selector.application or {}:
        if key not in APPLICATION_FLAGS:
            yield f"application flag '{key}' is not known ({', '.join(sorted(APPLICATION_FLAGS))})"


def _overlapping_files(book: RuleBook) -> Iterator[Problem]:
    for slug, files in book.by_slug.items():
        for a, b in itertools.combinations(sorted(files, key=lambda f: f.model.valid_from), 2):
            if b.model.valid_from <= (a.model.valid_to or date.max):
                yield Problem(
                    b.path,
                    b.line_of("valid_from"),
                    f"'{slug}' is valid from {b.model.valid_from}, overlapping {a.path} "
                    f"({a.model.valid_from}..{a.model.valid_to or ''})",
                )


def _shared_numbers(book: RuleBook) -> Iterator[Problem]:
    owner: dict[str, str] = {}
    for loaded in book.files:
        model = loaded.model
        for key, number in [("kommunenummer", model.kommunenummer)] + [
            ("former_kommunenummer", n) for n in model.former_kommunenummer
        ]:
            if number is None:
                continue
            if owner.setdefault(number, model.slug) != model.slug:
                yield Problem(
                    loaded.path,
                    loaded.line_of(key),
                    f"kommunenummer {number} is already claimed by '{owner[number]}'",
                )


# --- semantic ----------------------------------------------------------------------------


def _segments(book: RuleBook, slug: str, loaded: LoadedFile) -> Iterator[tuple[date, date]]:
    """Spans over which the effective rules cannot change, from the file's start until its
    end, or until HORIZON_YEARS after today for a file still in force."""
    model = loaded.model
    open_end = date(max(model.valid_from, date.today()).year + HORIZON_YEARS, 12, 31)
    last = min(model.valid_to or open_end, date(LAST_YEAR, 12, 31))
    bounds = {model.valid_from, last + timedelta(days=1)}
    try:
        chain = book.chain(slug, model.valid_from)
    except (NoRulesInForce, UnknownKommune):
        chain = [loaded]
    for member in chain:
        for placed in placed_rules(member):
            if not isinstance(placed.rule, HOURS_KINDS):
                continue  # only hours rules change what the semantic checks judge
            bounds.add(placed.valid_from)
            if placed.valid_to is not None and placed.valid_to < date.max:
                bounds.add(placed.valid_to + timedelta(days=1))
    ordered = sorted(b for b in bounds if model.valid_from <= b <= last + timedelta(days=1))
    for start, stop in itertools.pairwise(ordered):
        yield start, stop - timedelta(days=1)


def _day_signatures(
    rules: EffectiveRules, start: date, end: date
) -> dict[tuple[frozenset[str], frozenset[str]], DayInfo]:
    signatures: dict[tuple[frozenset[str], frozenset[str]], DayInfo] = {}
    day = start
    while day <= end:
        info = day_info(day)
        seasons = frozenset(k for k, s in rules.seasons.items() if s.contains(day))
        signatures.setdefault((frozenset(info.tags), seasons), info)
        day += timedelta(days=1)
    return signatures


def _mentioned(
    rules: EffectiveRules, kinds: tuple[type[object], ...]
) -> tuple[list[Selector], set[str], set[str], set[str]]:
    selectors = [
        s for p in rules.rules if isinstance(p.rule, kinds) and (s := selector_of(p.rule)) is not None
    ]
    venues = {v for s in selectors for v in s.venues or ()}
    zones = {z for s in selectors for z in s.zones or ()}
    outlets = {o for s in selectors for o in s.outlets or ()}
    return selectors, venues, zones, outlets


def _fact_assignments(rules: EffectiveRules, selectors: Iterable[Selector]) -> list[dict[str, FactValue]]:
    defaults: dict[str, FactValue] = {
        k: v for k, d in rules.facts.items() if (v := d.default_value()) is not None
    }
    mentioned: dict[str, set[FactValue]] = {}
    for selector in selectors:
        for key, value in (selector.facts or {}).items():
            mentioned.setdefault(key, set()).add(value)
    assignments = [defaults]
    for key, values in mentioned.items():
        assignments += [{**defaults, key: v} for v in values]
    if len(mentioned) > 1:
        assignments.append({**defaults, **{k: next(iter(v)) for k, v in mentioned.items()}})
    return assignments


def situations(
    rules: EffectiveRules, domain: Domain, day: DayInfo, seasons: frozenset[str]
) -> Iterator[Situation]:
    """Every distinct situation the rules can tell apart on one kind of day."""
    selectors, venues, zones, outlets = _mentioned(rules, (domain.window_kind, domain.limit_kind))
    facts = _fact_assignments(rules, selectors)
    zone_options: list[str | None] = [None, *sorted(zones)]
    if domain is Domain.SALG:
        for outlet, group, zone, fact in itertools.product(
            sorted(outlets or {"butikk"}), ALL_GROUPS, zone_options, facts
        ):
            yield Situation(day=day, seasons=seasons, group=group, outlet=outlet, zone=zone, facts=fact)
        return
    venue_options = sorted(venues | {"serveringssted"})
    for venue, group, area, zone, fact in itertools.product(
        venue_options, ALL_GROUPS, list(Area), zone_options, facts
    ):
        yield Situation(day=day, seasons=seasons, group=group, area=area, venue=venue, zone=zone, facts=fact)


def _describe(situation: Situation) -> str:
    assert situation.day is not None
    parts = [
        f"{situation.day.date} ({', '.join(sorted(t.value for t in situation.day.tags if len(t.value) > 6)) or 'hverdag'})"
    ]
    parts += [f"gruppe {situation.group}"]
    parts += [
        str(v) for v in (situation.outlet, situation.venue, situation.area, situation.zone) if v is not None
    ]
    parts += [f"{k}={v}" for k, v in situation.facts.items()]
    return ", ".join(parts)


def _semantic(
    book: RuleBook, slug: str, loaded: LoadedFile, judged: dict[object, list[Problem]]
) -> Iterator[Problem]:
    for start, end in _segments(book, slug, loaded):
        try:
            rules = book.effective(slug, start)
        except (NoRulesInForce, UnknownKommune):
            continue
        # Kommuner of one region share most hours rules: judge each distinct set once.
        hours_rules = tuple((p.id, str(p.origin)) for p in rules.rules if isinstance(p.rule, HOURS_KINDS))
        declarations = (tuple(sorted(rules.facts)), tuple(sorted(rules.seasons)), tuple(sorted(rules.zones)))
        groups_key = ("max_group", tuple((p.id, str(p.origin)) for p in rules.of_kind(MaxGroupRule)))
        if groups_key not in judged:
            judged[groups_key] = list(_max_group_conflicts(rules))
        yield from judged[groups_key]
        for (tags, seasons), day in _day_signatures(rules, start, end).items():
            key = (hours_rules, declarations, tags, seasons)
            if key not in judged:
                judged[key] = [
                    problem
                    for domain in Domain
                    for situation in situations(rules, domain, day, seasons)
                    for problem in _judge(rules, domain, situation, loaded.model.level)
                ]
            yield from judged[key]


def _max_group_conflicts(rules: EffectiveRules) -> Iterator[Problem]:
    """Two highest-group rules of the same rank that disagree for some licence and venue."""
    for licence in Licence:
        names = rules.outlets if licence is Licence.SALG else rules.venues
        for name in sorted(names):
            situation = Situation(
                licence=licence,
                outlet=name if licence is Licence.SALG else None,
                venue=None if licence is Licence.SALG else name,
            )
            try:
                choose(applicable(rules, MaxGroupRule, situation))
            except RuleConflict as conflict:
                first = rules.by_id(conflict.rule_ids[0])
                yield Problem(
                    first.origin.file,
                    first.origin.line,
                    f"{conflict}{SITUATION_MARK}{licence.value}, {name}",
                )


def _judge(rules: EffectiveRules, domain: Domain, situation: Situation, level: Level) -> Iterator[Problem]:
    try:
        window = chosen_window(rules, domain, situation)
    except RuleConflict as conflict:
        first = rules.by_id(conflict.rule_ids[0])
        yield Problem(
            first.origin.file, first.origin.line, f"{conflict}{SITUATION_MARK}{_describe(situation)}"
        )
        return
    if domain is Domain.SKJENKING and situation.group == 3:
        yield from _group3_not_later(rules, situation)
    if window is None or window.origin.level is Level.NATIONAL:
        return
    assert isinstance(window.rule, WindowRule)
    interval = window_interval(domain, window.rule)
    if interval is None or window.rule.window is None:
        return
    shown = window.rule.window
    for placed in rules.rules:
        limit = placed.rule
        if not isinstance(limit, domain.limit_kind) or placed.origin.level is not Level.NATIONAL:
            continue
        assert isinstance(limit, LimitRule)
        if limit.enforcement is not Enforcement.REJECT or not within(window.rule.when, limit.when):
            continue
        if not matches(limit.when, situation):
            continue
        what = "sale" if domain is Domain.SALG else "serving"
        law = f"{placed.id} ({placed.rule.hjemmel})"
        if limit.closed:
            yield Problem(
                window.origin.file,
                window.origin.line,
                f"rule {window.id}: allows {what} on a day with none by law: {law}{SITUATION_MARK}{_describe(situation)}",
            )
        elif limit.not_before and interval.start < domain.minute(limit.not_before):
            yield Problem(
                window.origin.file,
                window.origin.line,
                f"rule {window.id}: {what} from {shown.from_} is before the national limit {limit.not_before}: {law}{SITUATION_MARK}{_describe(situation)}",
            )
        elif limit.not_after and interval.end > domain.minute(limit.not_after):
            yield Problem(
                window.origin.file,
                window.origin.line,
                f"rule {window.id}: {what} to {shown.to} is after the national limit {limit.not_after}: {law}{SITUATION_MARK}{_describe(situation)}",
            )


def _group3_not_later(rules: EffectiveRules, situation: Situation) -> Iterator[Problem]:
    try:
        own = decide_window(rules, Domain.SKJENKING, situation)
        others = [decide_window(rules, Domain.SKJENKING, replace(situation, group=g)) for g in (1, 2)]
    except RuleConflict:
        return  # reported where the conflict itself is judged
    if own.interval is None:
        return
    for group, other in zip((1, 2), others, strict=True):
        if other.interval is not None and own.interval.end > other.interval.end:
            mine, theirs = rules.by_id(own.window_rule or ""), rules.by_id(other.window_rule or "")
            local = [p for p in (mine, theirs) if p.origin.level is not Level.NATIONAL]
            if not local:
                return
            placed = local[0]
            yield Problem(
                placed.origin.file,
                placed.origin.line,
                f"rule {placed.id}: gruppe 3 is served later than gruppe {group} "
                f"(alkoholloven § 4-4: gruppe 3 may not run beyond the other groups){SITUATION_MARK}{_describe(situation)}",
            )
            return
