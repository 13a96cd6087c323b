"""Use cases that span many records: the yearly omsetningsgebyr run, the re-assessment of
every active bevilling, and users. Each runs in one transaction.

Every use case has two forms: ``run_gebyr(url, ...)`` opens and commits its own unit of
work (the CLI), ``run_gebyr_in(session, ...)`` writes through a session the caller commits
(the API, whose idempotency record must land in the same transaction).
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer

from api.security import Role
from bevilling.decisions import application, gebyr
from bevilling.decisions.application import Breach, Granted, GrantedHours
from bevilling.decisions.common import DecisionError
from bevilling.engine.evaluator import Evaluator
from bevilling.rules.book import RuleBook
from bevilling.rules.model import Licence
from db.models import AuditEntry, Bevilling, Gebyr, Omsetningsoppgave, User
from db.session import unit_of_work
from db.tokens import hash_token, new_token

# A bevilling row in one of these states never held the licence; every other state
# (aktiv, and whatever ends it later) was a licence for the days it was valid.
NOT_GRANTED = frozenset({"avslatt"})
GROUPS = (1, 2, 3)
CENTILITRE = Decimal("0.01")  # litres are stored as NUMERIC(14, 2)


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- omsetningsoppgaver -------------------------------------------------------------------


def checked_litres(bevilling: Bevilling, year: int, litres: Mapping[int, Decimal]) -> dict[int, Decimal]:
    """The litres of an omsetningsoppgave, one per group 1–3 (0 where none is given).

    A volume for a group the bevilling does not hold is an error naming ``litres/<g>``
    (0 litres for it is accepted: it says nothing was sold). The year must be one in which
    the bevilling was valid."""
    if not bevilling.valid_from.year <= year <= bevilling.valid_to.year:
        raise DecisionError(
            f"bevilling {bevilling.id} is valid {bevilling.valid_from}–{bevilling.valid_to}, not in {year}",
            field="year",
        )
    held = {int(g) for g in bevilling.groups}
    for group, volume in sorted(litres.items()):
        if group not in GROUPS:
            raise DecisionError(f"there is no alkoholgruppe {group} (1, 2 or 3)", field=f"litres/{group}")
        if group not in held and volume != 0:
            raise DecisionError(
                f"bevilling {bevilling.id} does not cover gruppe {group} "
                f"(it covers {', '.join(str(g) for g in sorted(held))})",
                field=f"litres/{group}",
            )
    return {g: Decimal(litres.get(g, 0)).quantize(CENTILITRE) for g in GROUPS}


def oppgave_litres(oppgave: Omsetningsoppgave) -> dict[int, Decimal]:
    return {1: oppgave.litres_1, 2: oppgave.litres_2, 3: oppgave.litres_3}


# --- gebyr run ----------------------------------------------------------------------------


class LicenceRef(Model):
    bevilling_id: int
    holder: str
    place: str
    licence: str

    def __str__(self) -> str:
        return f"{self.bevilling_id} {self.place} ({self.holder}, {self.licence})"


class GebyrLineOut(Model):
    bevilling_id: int
    holder: str
    place: str
    licence: str
    basis: str
    amount: int


class GebyrRunSummary(Model):
    """What a gebyr run billed, what it could not (no oppgave) and what it does not bill
    by volume (enkeltanledning, ambulerende)."""

    year: int
    kommune: str
    lines: list[GebyrLineOut]
    missing_oppgave: list[LicenceRef]
    not_by_volume: list[LicenceRef]
    total: int
    rates_status: str


class StoredGebyr(Model):
    """The stored omsetningsgebyr of a kommune's year (what the last run wrote)."""

    year: int
    kommune: str
    lines: list[GebyrLineOut]
    total: int
    decisions: dict[int, dict[str, Any]]


def _ref(bevilling: Any) -> LicenceRef:
    """A bevilling (row or model) as a reference in a summary."""
    return LicenceRef(
        bevilling_id=bevilling.id,
        holder=bevilling.holder,
        place=bevilling.place_name,
        licence=bevilling.licence,
    )


def _one_run_at_a_time(session: Session, kommune_slug: str, year: int) -> None:
    """Two runs of the same kommune and year queue instead of both inserting the year's rows
    (PostgreSQL: a transaction-scoped advisory lock; SQLite: BEGIN IMMEDIATE already does)."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"gebyr:{kommune_slug}:{year}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def run_gebyr_in(
    session: Session,
    book: RuleBook,
    kommune_slug: str,
    year: int,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
) -> GebyrRunSummary:
    """Compute and store (without committing) the year's omsetningsgebyr of every bevilling
    of the kommune: one ``Gebyr`` row per bevilling and year, replaced on a re-run; rows of
    bevillinger the run no longer bills are removed. A year without rates raises
    ``RatesMissing`` before anything is written."""
    return run_gebyr_many_in(session, book, [kommune_slug], year, actor, progress)[kommune_slug]


_GEBYR_FIELDS = ("amount", "basis", "decision", "ruleset_version")


def run_gebyr_many_in(
    session: Session,
    book: RuleBook,
    kommuner: Sequence[str],
    year: int,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, GebyrRunSummary]:
    """``run_gebyr_in`` for many kommuner in one transaction (the national run): two queries
    for the bevillinger and their oppgaver, the rows written with one multi-row upsert, one
    audit entry per kommune as for a single one."""
    # Asked first, so that a year without rates fails even for a kommune with no licences.
    rates_status = gebyr.year_rates(book, year).rule.status.value
    slugs = sorted(set(kommuner))
    for slug in slugs:  # one fixed order: two national runs cannot deadlock
        _one_run_at_a_time(session, slug, year)
    active = (
        Bevilling.kommune.in_(slugs),
        Bevilling.valid_from <= date(year, 12, 31),
        Bevilling.valid_to >= date(year, 1, 1),
        Bevilling.status.not_in(NOT_GRANTED),
    )
    bevillinger = session.execute(
        select(Bevilling.id, Bevilling.kommune, Bevilling.licence, Bevilling.holder, Bevilling.place_name)
        .where(*active)
        .order_by(Bevilling.id)
    ).all()
    reported: dict[int, dict[str, dict[int, Decimal]]] = {}
    for oppgave in session.execute(
        select(
            Omsetningsoppgave.bevilling_id,
            Omsetningsoppgave.kind,
            Omsetningsoppgave.litres_1,
            Omsetningsoppgave.litres_2,
            Omsetningsoppgave.litres_3,
        )
        .join(Bevilling, Bevilling.id == Omsetningsoppgave.bevilling_id)
        .where(Omsetningsoppgave.year == year, *active)
    ):
        # Only groups with a volume: a zero for a group the licence type lacks is no error.
        litres = {1: oppgave.litres_1, 2: oppgave.litres_2, 3: oppgave.litres_3}
        reported.setdefault(oppgave.bevilling_id, {})[oppgave.kind] = {
            g: v for g, v in litres.items() if v != 0
        }
    result = gebyr.run_year(
        book,
        year,
        [
            gebyr.Volumes.model_construct(
                bevilling_id=b.id,
                licence=Licence(b.licence),
                expected=reported.get(b.id, {}).get("forventet"),
                actual=reported.get(b.id, {}).get("faktisk"),
            )
            for b in bevillinger
        ],
    )

    by_id = {b.id: b for b in bevillinger}
    rows: list[tuple[str, gebyr.RunLine]] = []
    lines: dict[str, list[GebyrLineOut]] = {slug: [] for slug in slugs}
    for done, line in enumerate(result.lines, start=1):
        bevilling = by_id[line.bevilling_id]
        rows.append((bevilling.kommune, line))
        lines[bevilling.kommune].append(
            GebyrLineOut(**_ref(bevilling).model_dump(), basis=line.basis, amount=line.decision.amount)
        )
        if progress is not None:
            progress(done, len(result.lines))
    removed = _upsert_gebyr(session, slugs, year, rows)

    missing: dict[str, list[LicenceRef]] = {slug: [] for slug in slugs}
    for bevilling_id in result.missing_oppgave:
        missing[by_id[bevilling_id].kommune].append(_ref(by_id[bevilling_id]))
    not_by_volume: dict[str, list[LicenceRef]] = {slug: [] for slug in slugs}
    for bevilling_id in result.not_by_volume:
        not_by_volume[by_id[bevilling_id].kommune].append(_ref(by_id[bevilling_id]))
    summaries: dict[str, GebyrRunSummary] = {}
    for slug in slugs:
        summary = summaries[slug] = GebyrRunSummary(
            year=year,
            kommune=slug,
            lines=lines[slug],
            missing_oppgave=missing[slug],
            not_by_volume=not_by_volume[slug],
            total=sum(line.amount for line in lines[slug]),
            rates_status=rates_status,
        )
        session.add(
            AuditEntry(
                actor=actor,
                kommune=slug,
                action="gebyr_run",
                entity="gebyr",
                entity_id=f"{slug}/{year}",
                after={
                    "year": year,
                    "total": summary.total,
                    "rates_status": rates_status,
                    "amounts": {str(line.bevilling_id): line.amount for line in summary.lines},
                    "missing_oppgave": [r.bevilling_id for r in summary.missing_oppgave],
                    "not_by_volume": [r.bevilling_id for r in summary.not_by_volume],
                    "removed": removed.get(slug, []),
                },
            )
        )
    session.flush()
    return summaries


# PostgreSQL: every row in one statement, as one JSON array (far cheaper for PostgreSQL to
# take than thousands of statements or array parameters); a row that would not change stays.
_PG_UPSERT = text(
    """
    INSERT INTO gebyrer (kommune, bevilling_id, year, amount, basis, decision, ruleset_version)
    SELECT g.kommune, g.bevilling_id, :year, g.amount, g.basis, g.decision, g.ruleset_version
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS g(
        kommune text, bevilling_id bigint, amount int, basis text, decision jsonb, ruleset_version text)
    ON CONFLICT (bevilling_id, year) DO UPDATE SET
      kommune = excluded.kommune, amount = excluded.amount, basis = excluded.basis,
      decision = excluded.decision, ruleset_version = excluded.ruleset_version
    WHERE (gebyrer.kommune, gebyrer.amount, gebyrer.basis, gebyrer.decision, gebyrer.ruleset_version)
      IS DISTINCT FROM (excluded.kommune, excluded.amount, excluded.basis, excluded.decision,
                        excluded.ruleset_version)
    """
)


def _upsert_gebyr(
    session: Session, slugs: list[str], year: int, rows: list[tuple[str, gebyr.RunLine]]
) -> dict[str, list[int]]:
    """Write the year's rows and delete the rows of bevillinger no longer billed; returns the
    removed bevilling ids per kommune."""
    billed = {line.bevilling_id for _, line in rows}
    stale: dict[str, list[int]] = {}
    stale_ids: list[int] = []
    for row_id, bevilling_id, kommune in session.execute(
        select(Gebyr.id, Gebyr.bevilling_id, Gebyr.kommune).where(
            Gebyr.kommune.in_(slugs), Gebyr.year == year
        )
    ):
        if bevilling_id not in billed:
            stale.setdefault(kommune, []).append(bevilling_id)
            stale_ids.append(row_id)
    for start in range(0, len(stale_ids), 1000):
        session.execute(delete(Gebyr).where(Gebyr.id.in_(stale_ids[start : start + 1000])))
    if not rows:
        pass
    elif session.get_bind().dialect.name == "postgresql":
        given = ",".join(
            json.dumps(
                {
                    "kommune": kommune,
                    "bevilling_id": line.bevilling_id,
                    "amount": line.decision.amount,
                    "basis": line.basis,
                    "ruleset_version": line.decision.ruleset.version,
                }
            )[:-1]
            + f',"decision":{line.decision.model_dump_json()}}}'
            for kommune, line in rows
        )
        session.execute(_PG_UPSERT, {"year": year, "rows": f"[{given}]"})
    else:
        statement = sqlite_insert(Gebyr)
        statement = statement.on_conflict_do_update(
            index_elements=[Gebyr.bevilling_id, Gebyr.year],
            set_={name: getattr(statement.excluded, name) for name in ("kommune", *_GEBYR_FIELDS)},
        )
        session.execute(
            statement,
            [
                {
                    "kommune": kommune,
                    "bevilling_id": line.bevilling_id,
                    "year": year,
                    "amount": line.decision.amount,
                    "basis": line.basis,
                    "decision": line.decision.model_dump(mode="json"),
                    "ruleset_version": line.decision.ruleset.version,
                }
                for kommune, line in rows
            ],
        )
    return {kommune: sorted(ids) for kommune, ids in stale.items()}


def run_gebyr_all(
    url: str, book: RuleBook, kommuner: Sequence[str], year: int, actor: str
) -> dict[str, GebyrRunSummary]:
    """The national run: every kommune's yearly omsetningsgebyr in one transaction."""
    with unit_of_work(url) as session:
        return run_gebyr_many_in(session, book, kommuner, year, actor)


def run_gebyr(
    url: str,
    book: RuleBook,
    kommune_slug: str,
    year: int,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
) -> GebyrRunSummary:
    """The yearly omsetningsgebyr run in its own transaction (see ``run_gebyr_in``)."""
    with unit_of_work(url) as session:
        return run_gebyr_in(session, book, kommune_slug, year, actor, progress)


def stored_gebyr(session: Session, kommune_slug: str, year: int) -> StoredGebyr:
    rows = session.execute(
        select(Gebyr, Bevilling)
        .join(Bevilling, Bevilling.id == Gebyr.bevilling_id)
        .where(Gebyr.kommune == kommune_slug, Gebyr.year == year)
        .order_by(Gebyr.bevilling_id)
    ).all()
    lines = [
        GebyrLineOut(**_ref(bevilling).model_dump(), basis=row.basis, amount=row.amount)
        for row, bevilling in rows
    ]
    return StoredGebyr(
        year=year,
        kommune=kommune_slug,
        lines=lines,
        total=sum(line.amount for line in lines),
        decisions={row.bevilling_id: row.decision for row, _ in rows},
    )


CSV_HEADER = ("aar", "bevilling_id", "bevillingshaver", "sted", "bevilling", "grunnlag", "gebyr_kr")


def write_csv(summary: GebyrRunSummary | StoredGebyr, path_or_file: str | Path | IO[str]) -> None:
    """One line per billed bevilling under a header; ``;``-separated, UTF-8 (what a
    Norwegian spreadsheet opens as columns)."""
    if isinstance(path_or_file, str | Path):
        with Path(path_or_file).open("w", encoding="utf-8", newline="") as handle:
            write_csv(summary, handle)
        return
    writer = csv.writer(path_or_file, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in summary.lines:
        writer.writerow(
            (summary.year, line.bevilling_id, line.holder, line.place, line.licence, line.basis, line.amount)
        )


def csv_text(summary: GebyrRunSummary | StoredGebyr) -> str:
    buffer = io.StringIO()
    write_csv(summary, buffer)
    return buffer.getvalue()


# --- re-assessment ------------------------------------------------------------------------


class Flagged(Model):
    bevilling_id: int
    holder: str
    place: str
    licence: str
    venue: str
    groups: list[int]
    valid_to: date
    breaches: list[Breach]
    errors: list[str]


class Reassessment(Model):
    kommune: str
    on: date
    checked: int
    flagged: list[Flagged]


def granted_of(bevilling: Bevilling) -> Granted:
    """What a stored bevilling holds, as ``application.reassess`` reads it. Granted hours are
    stored as ``{"group", "area", "from", "to"}`` (``from_`` is read too)."""
    hours = [
        GrantedHours.model_validate(
            {"group": h["group"], "area": h["area"], "from": h.get("from", h.get("from_")), "to": h["to"]}
        )
        for h in bevilling.hours
    ]
    return Granted(
        licence=Licence(bevilling.licence),
        venue=bevilling.venue,
        zone=bevilling.zone,
        groups=bevilling.groups,
        areas=bevilling.areas,
        hours=hours,
    )


def active_on(session: Session, kommune: str, on: date) -> list[Bevilling]:
    return list(
        session.scalars(
            select(Bevilling)
            # Not the vedtak and the vilkår: the largest JSON of a row, which nothing here reads.
            .options(defer(Bevilling.vedtak), defer(Bevilling.conditions))
            .where(
                Bevilling.kommune == kommune,
                Bevilling.status == "aktiv",
                Bevilling.valid_from <= on,
                Bevilling.valid_to >= on,
            )
            .order_by(Bevilling.id)
        )
    )


def reassess_in(
    session: Session, book: RuleBook, evaluator: Evaluator, kommune: str, on: date
) -> Reassessment:
    """Every active bevilling against the kommune's rules as of ``on``; lists those that go
    beyond them, with the breaches and their reasons. A licence the rules cannot assess
    (e.g. a venue category no longer defined) is listed with the error, not skipped."""
    flagged = []
    bevillinger = active_on(session, kommune, on)
    reassessor: application.Reassessor | None = None  # one per kommune and date: shared work
    for bevilling in bevillinger:
        breaches: list[Breach] = []
        errors: list[str] = []
        try:
            if reassessor is None:
                reassessor = application.Reassessor(book, evaluator, kommune, on)
            breaches = reassessor.reassess(granted_of(bevilling))
        except (DecisionError, ValueError, KeyError, TypeError) as error:
            errors.append(str(error))
        if breaches or errors:
            flagged.append(
                Flagged(
                    bevilling_id=bevilling.id,
                    holder=bevilling.holder,
                    place=bevilling.place_name,
                    licence=bevilling.licence,
                    venue=bevilling.venue,
                    groups=[int(g) for g in bevilling.groups],
                    valid_to=bevilling.valid_to,
                    breaches=breaches,
                    errors=errors,
                )
            )
    return Reassessment(kommune=kommune, on=on, checked=len(bevillinger), flagged=flagged)


def reassess_all(url: str, book: RuleBook, evaluator: Evaluator, kommune: str, on: date) -> Reassessment:
    """``reassess_in`` in a read-only unit of work (``kommune`` as a slug or kommunenummer)."""
    slug = book.slug_of(kommune)
    with unit_of_work(url) as session:
        return reassess_in(session, book, evaluator, slug, on)


# --- users --------------------------------------------------------------------------------


def add_user_in(
    session: Session, username: str, role: str, kommuner: Sequence[str], actor: str = "cli"
) -> str:
    """Create a user; the plain token is returned once and only its hash is stored."""
    try:
        checked_role = Role(role)
    except ValueError:
        raise DecisionError(
            f"unknown role '{role}' ({', '.join(r.value for r in Role)})", field="role"
        ) from None
    if not kommuner:
        raise DecisionError("a user needs at least one kommune", field="kommuner")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DecisionError(f"a user named '{username}' already exists", field="username")
    token = new_token()
    user = User(
        username=username,
        token_hash=hash_token(token),
        role=checked_role.value,
        kommuner=list(kommuner),
        active=True,
    )
    session.add(user)
    session.flush()
    for kommune in kommuner:
        session.add(
            AuditEntry(
                actor=actor,
                kommune=kommune,
                action="create",
                entity="user",
                entity_id=str(user.id),
                after={"username": username, "role": checked_role.value, "kommuner": list(kommuner)},
            )
        )
    return token


def add_user(url: str, username: str, role: str, kommuner: Sequence[str]) -> str:
    with unit_of_work(url) as session:
        return add_user_in(session, username, role, kommuner)
