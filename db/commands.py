"""Use cases that span many records: the yearly omsetningsgebyr run, the re-assessment of
every active bevilling, and users. Each runs in one transaction.

Every use case has two forms: ``run_gebyr(url, ...)`` opens and commits its own unit of
work (the CLI), ``run_gebyr_in(session, ...)`` writes through a session the caller commits
(the API, whose idempotency record must land in the same transaction).
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, text
from sqlalchemy.orm import Session

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


def active_in_year(session: Session, kommune: str, year: int) -> list[Bevilling]:
    """Every bevilling of the kommune that was valid on some day of the year."""
    return list(
        session.scalars(
            select(Bevilling)
            .where(
                Bevilling.kommune == kommune,
                Bevilling.valid_from <= date(year, 12, 31),
                Bevilling.valid_to >= date(year, 1, 1),
                Bevilling.status.not_in(NOT_GRANTED),
            )
            .order_by(Bevilling.id)
        )
    )


def _volumes(bevilling: Bevilling, oppgaver: Iterable[Omsetningsoppgave]) -> gebyr.Volumes:
    by_kind = {o.kind: o for o in oppgaver}

    def litres(kind: str) -> dict[int, Decimal] | None:
        oppgave = by_kind.get(kind)
        if oppgave is None:
            return None
        # Only groups with a volume: a zero for a group the licence type lacks is no error.
        return {g: v for g, v in oppgave_litres(oppgave).items() if v != 0}

    return gebyr.Volumes(
        bevilling_id=bevilling.id,
        licence=Licence(bevilling.licence),
        expected=litres("forventet"),
        actual=litres("faktisk"),
    )


def _ref(bevilling: Bevilling) -> LicenceRef:
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
    # Asked first, so that a year without rates fails even for a kommune with no licences.
    rates_status = gebyr.omsetningsgebyr(book, year, Licence.SALG, {}).rates_status
    _one_run_at_a_time(session, kommune_slug, year)
    bevillinger = active_in_year(session, kommune_slug, year)
    by_id = {b.id: b for b in bevillinger}
    oppgaver: dict[int, list[Omsetningsoppgave]] = {b.id: [] for b in bevillinger}
    if bevillinger:
        for oppgave in session.scalars(
            select(Omsetningsoppgave).where(
                Omsetningsoppgave.bevilling_id.in_(list(by_id)), Omsetningsoppgave.year == year
            )
        ):
            oppgaver[oppgave.bevilling_id].append(oppgave)
    result = gebyr.run_year(book, year, [_volumes(b, oppgaver[b.id]) for b in bevillinger])

    stored = {
        g.bevilling_id: g
        for g in session.scalars(select(Gebyr).where(Gebyr.kommune == kommune_slug, Gebyr.year == year))
    }
    lines: list[GebyrLineOut] = []
    for done, line in enumerate(result.lines, start=1):
        bevilling = by_id[line.bevilling_id]
        decision = line.decision
        values = {
            "amount": decision.amount,
            "basis": line.basis,
            "decision": decision.model_dump(mode="json"),
            "ruleset_version": decision.ruleset.version,
        }
        row = stored.pop(line.bevilling_id, None)
        if row is None:
            session.add(Gebyr(kommune=kommune_slug, bevilling_id=line.bevilling_id, year=year, **values))
        else:
            for key, value in values.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
        lines.append(GebyrLineOut(**_ref(bevilling).model_dump(), basis=line.basis, amount=decision.amount))
        if progress is not None:
            progress(done, len(result.lines))
    removed = sorted(stored)
    for row in stored.values():
        session.delete(row)

    summary = GebyrRunSummary(
        year=year,
        kommune=kommune_slug,
        lines=lines,
        missing_oppgave=[_ref(by_id[i]) for i in result.missing_oppgave],
        not_by_volume=[_ref(by_id[i]) for i in result.not_by_volume],
        total=result.total,
        rates_status=rates_status,
    )
    session.add(
        AuditEntry(
            actor=actor,
            kommune=kommune_slug,
            action="gebyr_run",
            entity="gebyr",
            entity_id=f"{kommune_slug}/{year}",
            after={
                "year": year,
                "total": summary.total,
                "rates_status": rates_status,
                "amounts": {str(line.bevilling_id): line.amount for line in lines},
                "missing_oppgave": [r.bevilling_id for r in summary.missing_oppgave],
                "not_by_volume": [r.bevilling_id for r in summary.not_by_volume],
                "removed": removed,
            },
        )
    )
    session.flush()
    return summary


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
    for bevilling in bevillinger:
        breaches: list[Breach] = []
        errors: list[str] = []
        try:
            breaches = application.reassess(book, evaluator, kommune, on, granted_of(bevilling))
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
