"""National scale on PostgreSQL: 356 kommuner, 12,000 bevillinger, five years of history.

What ``run_national_bench`` does, in one process and on one scratch database:

1. Generates the data in bulk (PostgreSQL ``COPY``, never the API): ``kommuner`` synthetic
   kommuner, each an alias of a bundled kommune whose rules are in force on the grant date
   and on the re-assessment date (cycled through in order, so every bundled kommune's rules
   are used and each synthetic kommune carries its own records); ``licences`` bevillinger
   spread evenly over them (salgsbevilling for butikk, skjenkebevilling for a few venue
   kinds, groups and areas as the kommune's rules grant them, hours as the grant's
   assessment gave them and kept only where they hold, exactly as ``db/demo.py`` grants);
   for every year ``first_year..last_year`` a few kontroller per bevilling (some with
   violations and their prikker, assessed through the domain once per kind) and the
   omsetningsoppgaver (forventet, and faktisk for most). Generation time is reported, not
   judged.
2. The yearly omsetningsgebyr for every bevilling: ``db.commands.run_gebyr`` per kommune, as
   the CLI runs it (each kommune its own transaction), then the proposed national run
   (``benchmarks.proposals.run_gebyr_national``) on the same rows, which must store the
   same amounts; and a single SQL aggregate (litres x rate per bevilling, the minimum, whole
   kroner) over the same rows, which must agree with both to the krone.
3. The re-assessment of every bevilling against the rules as of ``reassess_on`` (after a
   rule change: Oslo's rules changed on 2025-04-30, after the grants): ``db.commands.
   reassess_all`` per kommune, then the proposed cached variant
   (``benchmarks.proposals.reassess_in_cached``), which must flag exactly the same
   bevillinger with the same breaches.

Rows are ratios measured side by side in this run; see the module docstring of
``benchmarks.api`` for why absolute figures on a shared machine are a floor.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from benchmarks import proposals
from benchmarks._support import Rows, base_meta, libpq_url, ratio, scratch_database
from bevilling.bench import BenchResult
from bevilling.calendar import OSLO, day_info
from bevilling.decisions import application, gebyr, prikker
from bevilling.decisions.common import DecisionError
from bevilling.engine.evaluator import EngineEvaluator, Evaluator, ReferenceEvaluator, ShadowEvaluator
from bevilling.rules.book import RuleBook
from bevilling.rules.model import Area, GebyrRule, Licence
from db import commands
from db.session import unit_of_work

SEED = 356
ACTOR = "bench"
GRANTED_ON = date(2024, 10, 1)  # the renewals of the bevillingsperiode (alkoholloven § 1-6)
VALID_FROM = date(2020, 10, 1)  # the bevillinger are taken to run through every year measured
DEFAULT_REASSESS_ON = date(2026, 1, 1)

TARGET_GEBYR_S = 2.0
TARGET_GEBYR_RATIO = 5.0
TARGET_REASSESS_S = 10.0

# Venue kinds of skjenkebevillinger (weights); a kind a kommune does not define falls back
# to serveringssted.
VENUES = (("serveringssted", 50), ("bar", 20), ("overnattingssted", 15), ("nattklubb", 10), ("kantine", 5))
GROUP_CHOICES = (((1, 2, 3), 55), ((1, 2), 40), ((1,), 5))
SALG_SHARE = 0.35
UTE_SHARE = 0.4
SERVING_SPLIT = {1: Decimal("0.62"), 2: Decimal("0.28"), 3: Decimal("0.10")}
SKJENKING_CODES = (
    ("apenbart_pavirket", 20),
    ("utenfor_tid", 15),
    ("medbrakt", 15),
    ("tatt_med_ut", 10),
    ("styrer_stedfortreder", 10),
    ("internkontroll", 10),
    ("pavirket_i_lokalet", 8),
    ("alkoholfritt_alternativ", 5),
    ("skjenkemengde_brennevin", 5),
    ("under_18", 2),
)
SALG_CODES = (("internkontroll", 40), ("plassering_salgssted", 30), ("under_18", 20), ("utenfor_tid", 10))
KONTROLLORER = (
    ["Securitas v/ Ingrid Solberg", "Securitas v/ Tor Eikeland"],
    ["Securitas v/ Marius Bentsen", "Securitas v/ Ida Kristoffersen"],
    ["Kommunal kontrollør A", "Kommunal kontrollør B"],
)

KONTROLLORER_JSON = tuple(json.dumps(names, ensure_ascii=False) for names in KONTROLLORER)

# Row names (stable: the CLI's JSON and the smoke test key on them).
GEN_KOMMUNER = "data: kommuner (synthetic, each an alias of a bundled kommune)"
GEN_BUNDLED = "data: bundled kommuner used"
GEN_LICENCES = "data: bevillinger"
GEN_CONTROLS = "data: kontroller"
GEN_PRIKKER = "data: prikker"
GEN_OPPGAVER = "data: omsetningsoppgaver"
GEN_TEMPLATES = "data: grant and control assessments through the domain"
GEN_TIME = "data: generation time (assessments + COPY + ANALYZE)"
GEBYR_RUN = "gebyr: run_gebyr per kommune, all bevillinger"
GEBYR_RUN_CPU = "gebyr: run_gebyr, CPU time of this process"
GEBYR_PER_LICENCE = "gebyr: run_gebyr time per bevilling"
GEBYR_LINES = "gebyr: lines stored"
GEBYR_SQL = "gebyr: SQL aggregate (litres x rate per bevilling, best of 3)"
GEBYR_RATIO = "gebyr: run_gebyr / SQL aggregate"
GEBYR_DIFF = "gebyr: bevillinger where run_gebyr and SQL disagree"
GEBYR_NATIONAL = "gebyr: proposed national run, all bevillinger"
GEBYR_NATIONAL_CPU = "gebyr: proposed national run, CPU time of this process"
GEBYR_NATIONAL_RATIO = "gebyr: proposed national run / SQL aggregate"
GEBYR_SPEEDUP = "gebyr: run_gebyr / proposed national run"
GEBYR_NATIONAL_DIFF = "gebyr: stored rows where proposed run and run_gebyr differ"
REASSESS_RULES = "reassess: resolve every kommune's rules as of the date (once per process)"
REASSESS_SAMPLE = "reassess: sample (every n-th kommune) for the slow variants"
REASSESS = "reassess: reassess_all per kommune, sample"
REASSESS_PER_LICENCE = "reassess: reassess_all time per bevilling"
REASSESS_EXTRAPOLATED = "reassess: reassess_all, all bevillinger (sample x all/sample)"
REASSESS_CACHE = "reassess: proposed ReassessCache (engine as now), sample"
REASSESS_CACHE_SPEEDUP = "reassess: reassess_all / ReassessCache, sample"
REASSESS_MEMO = "reassess: proposed ReassessCache + window memo, sample"
REASSESS_MEMO_SPEEDUP = "reassess: reassess_all / ReassessCache + window memo, sample"
REASSESS_ALL = "reassess: proposed ReassessCache + window memo, all bevillinger"
REASSESS_ALL_CPU = "reassess: proposed, all bevillinger, CPU time of this process"
REASSESS_CHECKED = "reassess: bevillinger checked"
REASSESS_FLAGGED = "reassess: bevillinger flagged after the rule change"
REASSESS_DIFF = "reassess: kommuner where a proposal and reassess_all disagree"

ROW_NAMES: tuple[str, ...] = (
    GEN_KOMMUNER,
    GEN_BUNDLED,
    GEN_LICENCES,
    GEN_CONTROLS,
    GEN_PRIKKER,
    GEN_OPPGAVER,
    GEN_TEMPLATES,
    GEN_TIME,
    GEBYR_RUN,
    GEBYR_RUN_CPU,
    GEBYR_PER_LICENCE,
    GEBYR_LINES,
    GEBYR_SQL,
    GEBYR_RATIO,
    GEBYR_DIFF,
    GEBYR_NATIONAL,
    GEBYR_NATIONAL_CPU,
    GEBYR_NATIONAL_RATIO,
    GEBYR_SPEEDUP,
    GEBYR_NATIONAL_DIFF,
    REASSESS_RULES,
    REASSESS_SAMPLE,
    REASSESS,
    REASSESS_PER_LICENCE,
    REASSESS_EXTRAPOLATED,
    REASSESS_CACHE,
    REASSESS_CACHE_SPEEDUP,
    REASSESS_MEMO,
    REASSESS_MEMO_SPEEDUP,
    REASSESS_ALL,
    REASSESS_ALL_CPU,
    REASSESS_CHECKED,
    REASSESS_FLAGGED,
    REASSESS_DIFF,
)

# The rule change the re-assessment follows: from 1 July 2025 no serving after 02:00 (a
# national limit added to a copy of the bundled rules; kommuner that grant to 03:00 breach it).
RULE_CHANGE_FROM = date(2025, 7, 1)
RULE_CHANGE = """\
  - id: skjenketid.grense.benchmark_0200
    title: (benchmark) Ingen skjenking etter kl. 02 fra 1. juli 2025
    kind: skjenketid_grense
    valid_from: {valid_from}
    not_after: "02:00"
    source: {{ref: hdir-4-4, section: "§ 4-4 andre ledd"}}
    hjemmel: alkoholloven § 4-4 andre ledd
"""
RULE_CHANGE_ANCHOR = "  - id: skjenketid.grense.gruppe_3\n"


def changed_rules(rules: Path, into: Path) -> tuple[Path, bool]:
    """A copy of ``rules`` with the benchmark's rule change in its national file (and
    whether it could be placed: without the anchor the copy is unchanged)."""
    target = into / "rules"
    shutil.copytree(rules, target)
    national = target / "national.yaml"
    text = national.read_text(encoding="utf-8")
    if RULE_CHANGE_ANCHOR not in text:
        return target, False
    change = RULE_CHANGE.format(valid_from=RULE_CHANGE_FROM.isoformat())
    national.write_text(text.replace(RULE_CHANGE_ANCHOR, change + RULE_CHANGE_ANCHOR, 1), encoding="utf-8")
    return target, True


# -- data ---------------------------------------------------------------------------------------


def usable_kommuner(book: RuleBook, *days: date) -> list[str]:
    """Bundled kommuner whose rules are in force on every one of ``days``."""
    usable = []
    for model in book.kommuner():
        try:
            for day in days:
                book.effective(model.slug, day)
        except Exception:  # NoRulesInForce: merged away, or rules that have lapsed
            continue
        usable.append(model.slug)
    return usable


def alias_kommuner(book: RuleBook, bases: Sequence[str], count: int) -> list[tuple[str, str]]:
    """``count`` synthetic kommune slugs, each resolving to a bundled kommune's rule files
    (cycled in order). The book is changed in place: only this benchmark's own book."""
    pairs = []
    for index in range(count):
        base = bases[index % len(bases)]
        slug = f"k{index + 1:03d}-{base}"[:60]
        book.by_slug[slug] = book.by_slug[base]
        pairs.append((slug, base))
    return pairs


def _weighted(rng: random.Random, choices: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices], k=1)[0]


@dataclass(frozen=True)
class _Grant:
    licence: Licence
    venue: str
    groups: list[int]
    areas: list[str]
    hours: str  # JSON
    conditions: str  # JSON
    vedtak: str  # JSON


@dataclass
class _Counts:
    licences: int = 0
    controls: int = 0
    prikker: int = 0
    oppgaver: int = 0
    templates: int = 0
    by_slug: dict[str, int] = field(default_factory=dict)


class _Generator:
    """Everything a grant or a control decides goes through the domain once per kind of
    grant or control (per bundled kommune); the rows are then written with COPY."""

    def __init__(self, book: RuleBook, evaluator: Evaluator, rng: random.Random) -> None:
        self.book = book
        self.evaluator = evaluator
        self.rng = rng
        self.grants: dict[tuple[Any, ...], _Grant] = {}
        self.controls: dict[tuple[Any, ...], tuple[str, str, list[tuple[str, int, str]]]] = {}
        self.holds: dict[tuple[str, str], bool] = {}
        self.counts = _Counts()
        self.days_cache: dict[tuple[int, bool], list[date]] = {}
        self.reassess: dict[str, proposals.ReassessCache] = {}
        # Control assessments through the reference evaluator: the rules of five years are five
        # rule versions per kommune, and compiling each for the engine costs more than all the
        # rest of the data (the stored assessments then name the evaluator "reference").
        self.reference = ReferenceEvaluator()
        self.json_cache: dict[tuple[str, ...], str] = {}

    # grants ------------------------------------------------------------------------------

    def grant(self, base: str, licence: Licence, venue: str, groups: tuple[int, ...], ute: bool) -> _Grant:
        key = (base, licence, venue, groups, ute)
        found = self.grants.get(key)
        if found is not None:
            return found
        skjenking = licence is Licence.SKJENKING
        areas = [Area.INNE, Area.UTE] if ute else [Area.INNE]
        request = application.Application(
            kommune=base,
            licence=licence,
            venue=venue,
            groups=list(groups),
            areas=areas,
            decided_on=GRANTED_ON,
            serveringsbevilling=True if skjenking else None,
            delimited_area=True if ute else None,
            uklanderlig_vandel=True,
            styrer_og_stedfortreder=True,
        )
        assessment = application.assess(self.book, self.evaluator, request)
        self.counts.templates += 1
        if assessment.outcome is application.Outcome.AVSLAS:
            if venue == "serveringssted" and groups == (1,) and not ute:
                raise ValueError(f"{base} refuses even a serveringssted for gruppe 1")
            found = self.grant(base, licence, "serveringssted", (1,), False)
            self.grants[key] = found
            return found
        granted = application.Granted(
            licence=licence, venue=venue, groups=assessment.granted_groups, areas=assessment.granted_areas
        )
        hours = self.hours(base, assessment, granted)
        conditions = [
            {
                "condition": c.condition.value,
                "text": c.text,
                "from": c.from_,
                "to": c.to,
                "age": c.age,
                "discretionary": False,
                "set_by": "regel",
                "reason": c.reason.model_dump(mode="json"),
            }
            for c in assessment.conditions
            if not c.discretionary
        ]
        vedtak = {
            "decision": "accept",
            "reason": None,
            "decided_by": ACTOR,
            "decided_at": datetime.combine(GRANTED_ON, clock(12), OSLO).isoformat(),
            "proposal_outcome": assessment.outcome.value,
            "ruleset_version": assessment.ruleset.version,
            "ruleset": assessment.ruleset.model_dump(mode="json"),
        }
        found = _Grant(
            licence=licence,
            venue=venue,
            groups=list(assessment.granted_groups),
            areas=[a.value for a in assessment.granted_areas],
            hours=json.dumps([h.model_dump(mode="json", by_alias=True) for h in hours]),
            conditions=json.dumps(conditions, ensure_ascii=False),
            vedtak=json.dumps(vedtak, ensure_ascii=False),
        )
        self.grants[key] = found
        return found

    def hours(
        self, base: str, assessment: application.Assessment, granted: application.Granted
    ) -> list[application.GrantedHours]:
        """As ``db.demo``: the assessment's windows, kept where they hold on every kind of day."""
        if assessment.licence is Licence.SALG:
            return []  # a salgsbevilling follows the kommune's salgstider (db/demo.py)
        pairs = [(g, a) for a in assessment.granted_areas for g in assessment.granted_groups]
        found = [
            application.GrantedHours.model_validate({"group": g, "area": a, "from": w.from_, "to": w.to})
            for (g, a), w in zip(pairs, assessment.hours, strict=True)
            if w.from_ is not None and w.to is not None
        ]
        cache = self.reassess.get(base)
        if cache is None:
            cache = self.reassess[base] = proposals.ReassessCache(self.book, self.evaluator, base, GRANTED_ON)

        def holds(hours: list[application.GrantedHours]) -> bool:
            candidate = granted.model_copy(update={"hours": hours})
            key = (base, candidate.model_dump_json())
            if key not in self.holds:
                breaches = cache.reassess(candidate)
                self.holds[key] = not any(b.what == "hours" for b in breaches)
            return self.holds[key]

        return found if holds(found) else [h for h in found if holds([h])]

    # controls ----------------------------------------------------------------------------

    def control(
        self, base: str, year: int, licence: Licence, codes: tuple[str, ...]
    ) -> tuple[str, str, list[Any]]:
        """(assessment JSON, ruleset version, prikk lines) of a control of this kind."""
        key = (base, year, licence, codes)
        found = self.controls.get(key)
        if found is None:
            on = date(year, 7, 1)
            try:
                assessment = prikker.assess_control(self.book, self.reference, base, on, licence, list(codes))
            except DecisionError:  # the kommune's current rules start later than the year
                assessment = prikker.assess_control(
                    self.book, self.reference, base, GRANTED_ON, licence, list(codes)
                )
            self.counts.templates += 1
            lines = [
                (line.code, line.points, json.dumps(line.reason.model_dump(mode="json"), ensure_ascii=False))
                for line in assessment.lines
            ]
            found = (
                json.dumps(assessment.model_dump(mode="json"), ensure_ascii=False),
                assessment.ruleset.version,
                lines,
            )
            self.controls[key] = found
        return found

    def codes_json(self, codes: tuple[str, ...]) -> str:
        found = self.json_cache.get(codes)
        if found is None:
            found = self.json_cache[codes] = json.dumps(list(codes))
        return found

    def days(self, year: int, evenings: bool) -> list[date]:
        key = (year, evenings)
        if key not in self.days_cache:
            first = date(year, 1, 1)
            every = [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]
            wanted = {3, 4, 5} if evenings else {0, 1, 2, 3, 4}
            self.days_cache[key] = [
                d for d in every if d.weekday() in wanted and day_info(d).holiday_name is None
            ]
        return self.days_cache[key]

    def moment(self, year: int, skjenking: bool) -> datetime:
        rng = self.rng
        if skjenking:
            day = rng.choice(self.days(year, True))
            minutes = rng.randrange(20 * 60, 24 * 60 + 45, 5)  # 20:00 .. 00:40
        else:
            day = rng.choice(self.days(year, False))
            minutes = rng.randrange(10 * 60, 17 * 60 + 30, 5)
        # Aware arithmetic in Python is wall-clock arithmetic: 00:40 is the next morning's.
        return (datetime.combine(day, clock(0), OSLO) + timedelta(minutes=minutes)).astimezone(UTC)


def _volumes(rng: random.Random, licence: Licence, groups: Sequence[int]) -> dict[int, Decimal]:
    """Whole litres a year: a grocery's beer, or a serving place's volume split by group."""
    if licence is Licence.SALG:
        return {1: Decimal(round(rng.lognormvariate(11.0, 0.8)))}
    total = Decimal(round(rng.lognormvariate(8.8, 1.0)))
    held = {g: SERVING_SPLIT[g] for g in groups}
    whole = sum(held.values(), Decimal(0))
    parts = {g: (total * share / whole).quantize(Decimal(1)) for g, share in held.items()}
    parts[min(parts)] += total - sum(parts.values(), Decimal(0))
    return parts


def _litres_row(litres: dict[int, Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    return (litres.get(1, Decimal(0)), litres.get(2, Decimal(0)), litres.get(3, Decimal(0)))


@dataclass
class _Data:
    kommuner: list[tuple[str, str]]
    bundled: list[str]
    counts: _Counts
    seconds: float


def generate(
    url: str,
    book: RuleBook,
    evaluator: Evaluator,
    *,
    licences: int,
    kommuner: int,
    first_year: int,
    last_year: int,
    reassess_on: date,
    seed: int = SEED,
) -> _Data:
    """Write the national data set into the (migrated, empty) database at ``url``."""
    started = time.perf_counter()
    rng = random.Random(seed)
    bundled = usable_kommuner(book, GRANTED_ON, reassess_on)
    pairs = alias_kommuner(book, bundled, kommuner)
    generator = _Generator(book, evaluator, rng)
    counts = generator.counts
    years = list(range(first_year, last_year + 1))

    bevillinger: list[tuple[Any, ...]] = []
    oppgaver: list[tuple[Any, ...]] = []
    kontroller: list[tuple[Any, ...]] = []
    prikk_rows: list[tuple[Any, ...]] = []
    valid_to = application.period_end(book, bundled[0], GRANTED_ON)
    kontroll_id = 0
    for index in range(licences):
        slug, base = pairs[index % len(pairs)]
        bevilling_id = index + 1
        if rng.random() < SALG_SHARE:
            licence, venue, groups, ute = Licence.SALG, "butikk", (1,), False
        else:
            licence = Licence.SKJENKING
            venue = _weighted(rng, VENUES)
            if venue not in book.effective(base, GRANTED_ON).venues:
                venue = "serveringssted"
            groups = _weighted(rng, GROUP_CHOICES)
            ute = rng.random() < UTE_SHARE
        grant = generator.grant(base, licence, venue, groups, ute)
        skjenking = grant.licence is Licence.SKJENKING
        name = f"{'Bar' if skjenking else 'Butikk'} {bevilling_id}"
        bevillinger.append(
            (
                bevilling_id,
                slug,
                grant.licence.value,
                f"Drift {bevilling_id} AS",
                name,
                f"Gate {bevilling_id % 97 + 1}, {slug}",
                grant.venue,
                f"Styrer {bevilling_id}",
                f"Stedfortreder {bevilling_id}",
                json.dumps(grant.groups),
                json.dumps(grant.areas),
                grant.hours,
                grant.conditions,
                VALID_FROM,
                valid_to,
                "aktiv",
                grant.vedtak,
                1,
            )
        )
        counts.by_slug[slug] = counts.by_slug.get(slug, 0) + 1
        base_volumes = _volumes(rng, grant.licence, grant.groups)
        for year in years:
            jitter = Decimal(str(round(rng.uniform(0.9, 1.1), 3)))
            actual = {g: (v * jitter).quantize(Decimal(1)) for g, v in base_volumes.items()}
            expected = {
                g: (v * Decimal(str(round(rng.uniform(0.9, 1.1), 3))) / 100).quantize(Decimal(1)) * 100
                for g, v in actual.items()
            }
            roll = rng.random()
            if roll >= 0.01:  # 1 %: no oppgave at all (the run lists them as missing)
                oppgaver.append(
                    (slug, bevilling_id, year, "forventet", *_litres_row(expected), date(year, 2, 28), 1)
                )
            if roll >= 0.03:  # 2 % more: no faktisk volume (the run bills the forventet one)
                oppgaver.append(
                    (slug, bevilling_id, year, "faktisk", *_litres_row(actual), date(year + 1, 2, 27), 1)
                )
            controls = rng.choice((1, 2, 3, 3, 4, 5) if skjenking else (1, 1, 2, 2, 3))
            for _ in range(controls):
                codes: tuple[str, ...] = ()
                if rng.random() < (0.06 if skjenking else 0.02):
                    table = SKJENKING_CODES if skjenking else SALG_CODES
                    codes = tuple(sorted({_weighted(rng, table) for _ in range(rng.choice((1, 1, 1, 2)))}))
                assessment, version, lines = generator.control(base, year, grant.licence, codes)
                at = generator.moment(year, skjenking)
                kontroll_id += 1
                kontroller.append(
                    (
                        kontroll_id,
                        slug,
                        bevilling_id,
                        at,
                        "skjenking" if skjenking else "salg",
                        "skjenkelokalet" if skjenking else "salgsområdet og kassene",
                        rng.choice(KONTROLLORER_JSON),
                        "Anonym kontroll." if codes else "Anonym kontroll. Ingen overtredelser.",
                        generator.codes_json(codes),
                        assessment,
                        version,
                        ACTOR,
                    )
                )
                on = at.astimezone(OSLO).date()
                status = "vedtatt" if year < last_year else "foreslatt"
                for code, points, reason in lines:
                    prikk_rows.append((slug, bevilling_id, kontroll_id, code, points, on, status, reason, 1))

    _copy(
        url,
        {
            "bevillinger (id, kommune, licence, holder, place_name, address, venue, styrer, stedfortreder, "
            "groups, areas, hours, conditions, valid_from, valid_to, status, vedtak, version)": bevillinger,
            "omsetningsoppgaver (kommune, bevilling_id, year, kind, litres_1, litres_2, litres_3, "
            "submitted_on, version)": oppgaver,
            "kontroller (id, kommune, bevilling_id, at, kind, place, kontrollorer, observations, "
            "violations, assessment, ruleset_version, created_by)": kontroller,
            "prikker (kommune, bevilling_id, kontroll_id, code, points, violation_date, status, reason, "
            "version)": prikk_rows,
        },
    )
    counts.licences = len(bevillinger)
    counts.oppgaver = len(oppgaver)
    counts.controls = len(kontroller)
    counts.prikker = len(prikk_rows)
    return _Data(pairs, bundled, counts, time.perf_counter() - started)


def _copy(url: str, tables: dict[str, list[tuple[Any, ...]]]) -> None:
    """COPY every table in one transaction, move the id sequences past the copied ids, ANALYZE."""
    with psycopg.connect(libpq_url(url)) as connection:
        with connection.cursor() as cursor:
            for target, rows in tables.items():
                with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            for name in ("bevillinger", "kontroller", "omsetningsoppgaver", "prikker"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                )
        connection.commit()
        connection.autocommit = True
        connection.execute("ANALYZE")


# -- the SQL aggregate --------------------------------------------------------------------------


def _rates(book: RuleBook, year: int) -> dict[str, Decimal]:
    national = book.effective("national", date(year, 1, 1))
    rule = next(
        p.rule for p in national.of_kind(GebyrRule) if isinstance(p.rule, GebyrRule) and p.rule.year == year
    )
    assert isinstance(rule, GebyrRule)

    def rate(value: Decimal | None) -> Decimal:
        return value if value is not None else Decimal(0)

    return {
        "s1": rate(rule.salg.rate(1)),
        "s2": rate(rule.salg.rate(2)),
        "k1": rate(rule.skjenking.rate(1)),
        "k2": rate(rule.skjenking.rate(2)),
        "k3": rate(rule.skjenking.rate(3)),
        "min_s": rule.min_salg,
        "min_k": rule.min_skjenking,
    }


GEBYR_SQL_TEXT = """
SELECT b.id,
       round(greatest(
         coalesce(sum(CASE b.licence WHEN 'salg' THEN o.litres_1 * :s1 + o.litres_2 * :s2
                      ELSE o.litres_1 * :k1 + o.litres_2 * :k2 + o.litres_3 * :k3 END)
                    FILTER (WHERE o.kind = 'faktisk'),
                  sum(CASE b.licence WHEN 'salg' THEN o.litres_1 * :s1 + o.litres_2 * :s2
                      ELSE o.litres_1 * :k1 + o.litres_2 * :k2 + o.litres_3 * :k3 END)
                    FILTER (WHERE o.kind = 'forventet')),
         CASE b.licence WHEN 'salg' THEN :min_s ELSE :min_k END))::int AS amount
FROM bevillinger b
JOIN omsetningsoppgaver o ON o.bevilling_id = b.id AND o.year = :year
WHERE b.valid_from <= :last AND b.valid_to >= :first AND b.status <> 'avslatt'
  AND b.licence IN ('salg', 'skjenking')
GROUP BY b.id, b.licence
"""


def gebyr_sql(url: str, book: RuleBook, year: int) -> dict[int, int]:
    """The year's omsetningsgebyr per bevilling in one aggregate query (basis faktisk, else
    forventet; at least the minimum; whole kroner, half up)."""
    params: dict[str, Any] = dict(
        _rates(book, year), year=year, first=date(year, 1, 1), last=date(year, 12, 31)
    )
    with unit_of_work(url) as session:
        return {row.id: row.amount for row in session.execute(sa.text(GEBYR_SQL_TEXT), params)}


# -- the benchmark ------------------------------------------------------------------------------


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def _best_of(times: int, action: Callable[[], Any]) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(times):
        seconds, value = _timed(action)
        best = min(best, seconds)
    return best, value


def _cpu_timed(action: Callable[[], Any]) -> tuple[float, float, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    value = action()
    return time.perf_counter() - started, time.process_time() - cpu, value


def run_national_bench(
    rules: Path,
    *,
    licences: int = 12_000,
    kommuner: int = 356,
    first_year: int = 2021,
    last_year: int = 2025,
    reassess_on: date = DEFAULT_REASSESS_ON,
    sample_every: int = 10,
    shadow_sample_rate: float = 0.01,
    admin_url: str | None = None,
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BenchResult:
    """See the module docstring. ``rules`` is the rule directory (copied, with the rule change).

    ``sample_every``: the current re-assessment and the cache-only proposal run on every n-th
    kommune (1 = all); the full proposal always runs on all of them. The evaluators are the
    API's: the engine with ``shadow_sample_rate`` of its answers re-checked by the reference.
    """
    if licences < 1 or kommuner < 1 or first_year > last_year or sample_every < 1:
        raise ValueError("licences, kommuner and sample_every must be at least 1, first_year <= last_year")

    def say(text: str) -> None:
        if progress is not None:
            progress(text)

    rows = Rows()
    year = last_year
    with tempfile.TemporaryDirectory(prefix="bevilling-bench-") as scratch:
        path, changed = changed_rules(Path(rules), Path(scratch))
        book = RuleBook.load(path)
    with scratch_database("bevilling_bench_national", admin_url, keep=keep) as url:
        say(f"generating {licences:,} bevillinger over {kommuner} kommuner, {first_year}-{last_year}")
        data = generate(
            url,
            book,
            proposals.MemoEngineEvaluator(),
            licences=licences,
            kommuner=kommuner,
            first_year=first_year,
            last_year=last_year,
            reassess_on=reassess_on,
        )
        counts = data.counts
        rows.add(GEN_KOMMUNER, len(data.kommuner), "count")
        rows.add(GEN_BUNDLED, len(data.bundled), "count")
        rows.add(GEN_LICENCES, counts.licences, "count")
        rows.add(GEN_CONTROLS, counts.controls, "count")
        rows.add(GEN_PRIKKER, counts.prikker, "count")
        rows.add(GEN_OPPGAVER, counts.oppgaver, "count")
        rows.add(GEN_TEMPLATES, counts.templates, "count")
        rows.add(GEN_TIME, data.seconds, "s")
        slugs = [slug for slug, _ in data.kommuner]

        # --- omsetningsgebyr ---------------------------------------------------------------
        gebyr_sql(url, book, year)  # warm the pool and PostgreSQL's caches for every path
        gebyr.omsetningsgebyr(book, year, Licence.SALG, {})
        say(f"gebyr {year}: run_gebyr for {len(slugs)} kommuner")

        def per_kommune() -> dict[int, int]:
            amounts: dict[int, int] = {}
            for slug in slugs:
                summary = commands.run_gebyr(url, book, slug, year, ACTOR)
                amounts.update((line.bevilling_id, line.amount) for line in summary.lines)
            return amounts

        sql_before, sql_amounts = _best_of(3, lambda: gebyr_sql(url, book, year))
        run_seconds, run_cpu, run_amounts = _cpu_timed(per_kommune)
        stored_by_run = _stored(url, year)
        say(f"gebyr {year}: proposed national run")
        national_seconds, national_cpu, _ = _cpu_timed(
            lambda: proposals.run_gebyr_national(url, book, slugs, year, ACTOR)
        )
        stored_by_national = _stored(url, year)
        sql_after, _ = _best_of(3, lambda: gebyr_sql(url, book, year))
        sql_seconds = min(sql_before, sql_after)
        rows.at_most(GEBYR_RUN, run_seconds, "s", TARGET_GEBYR_S, f"{TARGET_GEBYR_S:g} s")
        rows.add(GEBYR_RUN_CPU, run_cpu, "s")
        rows.add(GEBYR_PER_LICENCE, ratio(run_seconds * 1e6, max(counts.licences, 1)), "µs")
        rows.add(GEBYR_LINES, len(run_amounts), "count")
        rows.add(GEBYR_SQL, sql_seconds * 1e3, "ms")
        rows.at_most(
            GEBYR_RATIO, ratio(run_seconds, sql_seconds), "x", TARGET_GEBYR_RATIO, f"{TARGET_GEBYR_RATIO:g}"
        )
        rows.zero(GEBYR_DIFF, _differences(run_amounts, sql_amounts))
        rows.at_most(GEBYR_NATIONAL, national_seconds, "s", TARGET_GEBYR_S, f"{TARGET_GEBYR_S:g} s")
        rows.add(GEBYR_NATIONAL_CPU, national_cpu, "s")
        rows.at_most(
            GEBYR_NATIONAL_RATIO,
            ratio(national_seconds, sql_seconds),
            "x",
            TARGET_GEBYR_RATIO,
            f"{TARGET_GEBYR_RATIO:g}",
        )
        rows.add(GEBYR_SPEEDUP, ratio(run_seconds, national_seconds), "x")
        rows.zero(GEBYR_NATIONAL_DIFF, _differences(stored_by_run, stored_by_national))

        # --- re-assessment -----------------------------------------------------------------
        sample = slugs[::sample_every]
        plain_engine = EngineEvaluator()
        memo_engine = proposals.MemoEngineEvaluator()
        plain = ShadowEvaluator(plain_engine, ReferenceEvaluator(), shadow_sample_rate)
        memo = ShadowEvaluator(memo_engine, ReferenceEvaluator(), shadow_sample_rate)
        # Before any timing, as in a running service: every kommune's effective rules resolved
        # (timed: a fresh process pays it once), every ruleset compiled.
        resolve_seconds, _ = _timed(lambda: [book.effective(slug, reassess_on) for slug in slugs])
        for engine in (plain_engine, memo_engine):
            for base in data.bundled:
                engine.ruleset(book.effective(base, reassess_on))

        def proposed(evaluator: Evaluator, kommuner: Sequence[str]) -> list[commands.Reassessment]:
            found = []
            for slug in kommuner:
                # Real kommuner share no rules: nothing one remembered may serve another.
                memo_engine.forget()
                proposals.forget_answers(plain_engine)
                found.append(proposals.reassess_all_cached(url, book, evaluator, slug, reassess_on))
            return found

        say(f"reassess as of {reassess_on}: reassess_all for {len(sample)} kommuner (every {sample_every})")

        def current(kommuner: Sequence[str]) -> list[commands.Reassessment]:
            found = []
            for slug in kommuner:
                proposals.forget_answers(plain_engine)  # real kommuner share no answers
                found.append(commands.reassess_all(url, book, plain, slug, reassess_on))
            return found

        reassess_seconds, _, before = _cpu_timed(lambda: current(sample))
        say("reassess: proposed ReassessCache on the sample")
        cache_seconds, _, cached = _cpu_timed(lambda: proposed(plain, sample))
        say("reassess: proposed ReassessCache + window memo on the sample")
        memo_seconds, _, memoed = _cpu_timed(lambda: proposed(memo, sample))
        say("reassess: proposed ReassessCache + window memo on every kommune")
        all_seconds, all_cpu, everything = _cpu_timed(lambda: proposed(memo, slugs))
        sampled_licences = sum(r.checked for r in before)
        checked = sum(r.checked for r in everything)
        per_licence = ratio(reassess_seconds, max(sampled_licences, 1))
        extrapolated = per_licence * checked
        by_slug = {r.kommune: r for r in everything}
        disagreements = sum(
            1
            for reference, *others in zip(before, cached, memoed, strict=True)
            if any(other != reference for other in (*others, by_slug[reference.kommune]))
        )
        rows.add(REASSESS_RULES, resolve_seconds, "s")
        rows.add(REASSESS_SAMPLE, len(sample), "count")
        rows.add(REASSESS, reassess_seconds, "s")
        rows.add(REASSESS_PER_LICENCE, per_licence * 1e3, "ms")
        rows.at_most(REASSESS_EXTRAPOLATED, extrapolated, "s", TARGET_REASSESS_S, f"{TARGET_REASSESS_S:g} s")
        rows.add(REASSESS_CACHE, cache_seconds, "s")
        rows.add(REASSESS_CACHE_SPEEDUP, ratio(reassess_seconds, cache_seconds), "x")
        rows.add(REASSESS_MEMO, memo_seconds, "s")
        rows.add(REASSESS_MEMO_SPEEDUP, ratio(reassess_seconds, memo_seconds), "x")
        rows.at_most(REASSESS_ALL, all_seconds, "s", TARGET_REASSESS_S, f"{TARGET_REASSESS_S:g} s")
        rows.add(REASSESS_ALL_CPU, all_cpu, "s")
        rows.add(REASSESS_CHECKED, checked, "count")
        rows.add(REASSESS_FLAGGED, sum(len(r.flagged) for r in everything), "count")
        rows.zero(REASSESS_DIFF, disagreements)

    meta = base_meta(
        licences=str(licences),
        kommuner=str(kommuner),
        years=f"{first_year}-{last_year}",
        gebyr_year=str(year),
        reassess_on=str(reassess_on),
        rule_change=(
            f"national: no serving after 02:00 from {RULE_CHANGE_FROM}"
            if changed
            else "none (anchor not found)"
        ),
        bundled=", ".join(data.bundled),
        sample_every=str(sample_every),
        evaluator=f"ShadowEvaluator(engine, reference, {shadow_sample_rate:g}) as the API uses",
        note=(
            "PostgreSQL, the benchmark and the domain share this machine. Synthetic kommuner share "
            "their bundled kommune's compiled rulesets; remembered engine answers are cleared "
            "before each kommune (real kommuner share none)."
        ),
    )
    return BenchResult(rows.rows, meta)


def _stored(url: str, year: int) -> dict[int, Any]:
    """The stored gebyr rows of the year, as comparable values."""
    with unit_of_work(url) as session:
        return {
            row.bevilling_id: (
                row.kommune,
                row.amount,
                row.basis,
                json.dumps(row.decision, sort_keys=True),
                row.ruleset_version,
            )
            for row in session.execute(
                sa.text(
                    "SELECT bevilling_id, kommune, amount, basis, decision, ruleset_version FROM gebyrer "
                    "WHERE year = :y"
                ),
                {"y": year},
            )
        }


def _differences(left: dict[int, Any], right: dict[int, Any]) -> int:
    return sum(1 for key in left.keys() | right.keys() if left.get(key) != right.get(key))
