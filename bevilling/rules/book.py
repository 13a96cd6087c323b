"""The rule book: every rule file, and the effective rules of one kommune on one date.

Inheritance is national -> region -> kommune. A rule replaces the rule with the same
label from a file higher up; file order and rule order never decide anything. The
effective rule set is content-hashed: that hash is the ruleset version a decision
records so that it can be replayed exactly.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from bevilling.rules.loader import LoadedFile, Problem, RuleFileError, load_file, rule_files
from bevilling.rules.model import (
    FactDecl,
    Level,
    Rule,
    RuleBase,
    RuleFile,
    SeasonDecl,
    SourceDoc,
    VenueDecl,
    ZoneDecl,
)
from bevilling.situation import specificity

NATIONAL = "national"
EFFECTIVE_CACHE_SIZE = 20_000
# Cached properties of EffectiveRules that do not depend on its date.
_SHARED_PER_INTERVAL = ("version", "_by_kind", "_by_id")
R = TypeVar("R", bound=RuleBase)


class UnknownKommune(LookupError):
    """The key names no kommune, region or the national file."""


class NoRulesInForce(LookupError):
    """A file exists for the kommune, but none is valid on the date asked."""


@dataclass(frozen=True, slots=True)
class Origin:
    file: str
    line: int
    level: Level
    slug: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class PlacedRule:
    """A rule with where it came from, its resolved source and its effective validity."""

    rule: Rule
    origin: Origin
    source: SourceDoc
    valid_from: date
    valid_to: date | None
    specificity: int

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def kind(self) -> str:
        return self.rule.kind

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def citation(self) -> str:
        """'<source title>, <section>' — what a decision letter cites."""
        section = self.rule.source.section
        return f"{self.source.title}, {section}" if section else self.source.title


def placed_rules(loaded: LoadedFile) -> Iterator[PlacedRule]:
    model = loaded.model
    for index, rule in enumerate(model.rules):
        source = model.sources.get(rule.source.ref)
        if source is None:
            continue  # reported by the checker; an unresolvable rule never takes part
        start = max(rule.valid_from or model.valid_from, model.valid_from)
        ends = [d for d in (rule.valid_to, model.valid_to) if d is not None]
        when = getattr(rule, "when", None)
        yield PlacedRule(
            rule=rule,
            specificity=specificity(when) if when is not None else 0,
            origin=Origin(loaded.path, loaded.rule_line(index), model.level, model.slug),
            source=source,
            valid_from=start,
            valid_to=min(ends) if ends else None,
        )


@dataclass(frozen=True)
class EffectiveRules:
    """What binds one kommune (or region, or the nation) on one date, after inheritance."""

    slug: str
    name: str
    kommunenummer: str | None
    level: Level
    on: date
    language: str
    files: tuple[LoadedFile, ...]
    rules: tuple[PlacedRule, ...]
    facts: dict[str, FactDecl] = field(default_factory=dict)
    zones: dict[str, ZoneDecl] = field(default_factory=dict)
    venues: dict[str, VenueDecl] = field(default_factory=dict)
    outlets: dict[str, VenueDecl] = field(default_factory=dict)
    seasons: dict[str, SeasonDecl] = field(default_factory=dict)
    silent: tuple[str, ...] = ()

    @cached_property
    def _by_kind(self) -> dict[str, tuple[PlacedRule, ...]]:
        grouped: dict[str, list[PlacedRule]] = {}
        for placed in self.rules:
            grouped.setdefault(placed.kind, []).append(placed)
        return {kind: tuple(rules) for kind, rules in grouped.items()}

    @cached_property
    def _by_id(self) -> dict[str, PlacedRule]:
        return {p.id: p for p in self.rules}

    def of_kind(self, rule_type: type[R]) -> tuple[PlacedRule, ...]:
        """The rules of one kind (a rule class with a ``kind`` literal), sorted by label."""
        kind = rule_type.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]
        return self._by_kind.get(kind, ())

    def by_id(self, rule_id: str) -> PlacedRule:
        return self._by_id[rule_id]

    @cached_property
    def version(self) -> str:
        """Content hash of the effective rules and declarations (not of file layout)."""
        payload: dict[str, Any] = {
            "slug": self.slug,
            "rules": sorted(
                json.dumps(
                    [
                        p.rule.model_dump(mode="json", by_alias=True),
                        p.source.model_dump(mode="json"),
                        str(p.valid_from),
                        str(p.valid_to),
                    ],
                    sort_keys=True,
                    ensure_ascii=False,
                )
                for p in self.rules
            ),
            "facts": {k: v.model_dump(mode="json") for k, v in sorted(self.facts.items())},
            "zones": sorted(self.zones),
            "venues": sorted(self.venues),
            "outlets": sorted(self.outlets),
            "seasons": {k: v.model_dump(mode="json", by_alias=True) for k, v in sorted(self.seasons.items())},
        }
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class RuleBook:
    """All loaded rule files, indexed by slug and kommunenummer."""

    def __init__(self, files: Iterable[LoadedFile]) -> None:
        self.files = list(files)
        # The effective rules per kommune and interval in which none of its files or rules
        # starts or ends (keyed by the interval's first day): a few per kommune, not 365 a year.
        self._effective: dict[tuple[str, date], EffectiveRules] = {}
        self._bounds: dict[str, list[date]] = {}
        self.by_slug: dict[str, list[LoadedFile]] = {}
        self.by_number: dict[str, str] = {}
        for loaded in self.files:
            self.by_slug.setdefault(loaded.model.slug, []).append(loaded)
            for number in (loaded.model.kommunenummer, *loaded.model.former_kommunenummer):
                if number:
                    self.by_number.setdefault(number, loaded.model.slug)

    @classmethod
    def load(cls, root: Path | str) -> RuleBook:
        """Load every ``*.yaml`` below ``root``; all files' problems are reported together."""
        loaded: list[LoadedFile] = []
        problems: list[Problem] = []
        for path in rule_files(root):
            try:
                loaded.append(load_file(path))
            except RuleFileError as error:
                problems.extend(error.problems)
        if problems:
            raise RuleFileError(problems)
        return cls(loaded)

    def slug_of(self, key: str) -> str:
        """Accept a kommunenummer, a slug or ``national``."""
        key = key.strip()
        if key in self.by_slug:
            return key
        if key in self.by_number:
            return self.by_number[key]
        raise UnknownKommune(f"no rule file for kommune '{key}' (give a kommunenummer, a slug or 'national')")

    def kommuner(self) -> list[RuleFile]:
        """The newest file of every kommune, sorted by kommunenummer."""
        latest = {
            slug: max(files, key=lambda f: f.model.valid_from).model
            for slug, files in self.by_slug.items()
            if files[0].model.level is Level.KOMMUNE
        }
        return sorted(latest.values(), key=lambda m: m.kommunenummer or "")

    def file_on(self, slug: str, on: date) -> LoadedFile:
        files = self.by_slug.get(slug)
        if not files:
            raise UnknownKommune(f"no rule file for '{slug}'")
        valid = [
            f
            for f in files
            if f.model.valid_from <= on and (f.model.valid_to is None or on <= f.model.valid_to)
        ]
        if not valid:
            spans = ", ".join(f"{f.model.valid_from}..{f.model.valid_to or ''}" for f in files)
            raise NoRulesInForce(f"no rules for '{slug}' are in force on {on} (files cover {spans})")
        return valid[0]

    def chain(self, slug: str, on: date) -> list[LoadedFile]:
        """The files that bind ``slug`` on ``on``, national first."""
        own = self.file_on(slug, on)
        level = own.model.level
        if level is Level.NATIONAL:
            return [own]
        chain = [self.file_on(NATIONAL, on)]
        if level is Level.KOMMUNE and own.model.inherits:
            chain.append(self.file_on(own.model.inherits, on))
        chain.append(own)
        return chain

    def effective(self, key: str, on: date) -> EffectiveRules:
        """Cached per interval in which nothing changes: a loaded book never changes, and every
        decision asks for its rules. A day gets the interval's rules under its own date (a
        shallow copy sharing the rules, the declarations and the content hash)."""
        slug = self.slug_of(key)
        bounds = self._boundaries(slug)
        index = bisect.bisect_right(bounds, on)
        start = bounds[index - 1] if index else date.min
        cached = self._effective.get((slug, start))
        if cached is None:
            if len(self._effective) >= EFFECTIVE_CACHE_SIZE:
                self._effective.pop(next(iter(self._effective)))
            cached = self._resolve(slug, on)  # NoRulesInForce is raised, never cached
            for name in _SHARED_PER_INTERVAL:
                getattr(cached, name)
            self._effective[(slug, start)] = cached
        if cached.on == on:
            return cached
        day = replace(cached, on=on)
        day.__dict__.update({name: cached.__dict__[name] for name in _SHARED_PER_INTERVAL})
        return day

    def _boundaries(self, slug: str) -> list[date]:
        """Every day on which a file or a rule that can bind ``slug`` starts, or the day after
        one ends: the effective rules are the same from one boundary to the next."""
        found = self._bounds.get(slug)
        if found is None:
            files = list(self.by_slug.get(slug, []))
            for inherited in {f.model.inherits for f in files if f.model.inherits}:
                files += self.by_slug.get(inherited, [])
            if slug != NATIONAL:
                files += self.by_slug.get(NATIONAL, [])
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

    def _resolve(self, slug: str, on: date) -> EffectiveRules:
        chain = self.chain(slug, on)
        by_label: dict[str, PlacedRule] = {}
        facts: dict[str, FactDecl] = {}
        zones: dict[str, ZoneDecl] = {}
        venues: dict[str, VenueDecl] = {}
        outlets: dict[str, VenueDecl] = {}
        seasons: dict[str, SeasonDecl] = {}
        for loaded in chain:
            own_labels = {p.id: p for p in placed_rules(loaded) if p.valid_on(on)}
            by_label.update(own_labels)
            facts.update(loaded.model.facts)
            zones.update(loaded.model.zones)
            venues.update(loaded.model.venues)
            outlets.update(loaded.model.outlets)
            seasons.update(loaded.model.seasons)
        own = chain[-1].model
        return EffectiveRules(
            slug=own.slug,
            name=own.name,
            kommunenummer=own.kommunenummer,
            level=own.level,
            on=on,
            language=own.language,
            files=tuple(chain),
            rules=tuple(sorted(by_label.values(), key=lambda p: p.id)),
            facts=facts,
            zones=zones,
            venues=venues,
            outlets=outlets,
            seasons=seasons,
            silent=tuple(own.silent),
        )
