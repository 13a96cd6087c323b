"""SQLAlchemy 2 models: the records of a kommune's licensing work.

Decisions from ``bevilling`` are stored as the JSON they serialise to, with the ruleset
version they ran under, so that any of them can be shown and replayed later. Every
mutable record has a ``version`` column for optimistic locking (HTTP ETag / If-Match).
The audit log is append-only: nothing in the application updates or deletes its rows,
and on PostgreSQL a trigger refuses it (migration 0001).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER keys


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: Json, list[Any]: Json}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    kommuner: Mapped[list[Any]] = mapped_column(Json)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Soknad(Timestamped, Base):
    __tablename__ = "soknader"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kommune: Mapped[str] = mapped_column(String(60), index=True)
    licence: Mapped[str] = mapped_column(String(20))
    applicant: Mapped[str] = mapped_column(String(200))
    orgnr: Mapped[str | None] = mapped_column(String(9))
    place_name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    request: Mapped[dict[str, Any]] = mapped_column(Json)
    received_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="mottatt")
    assessment: Mapped[dict[str, Any]] = mapped_column(Json)
    ruleset_version: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)

    horinger: Mapped[list[Horing]] = relationship(back_populates="soknad", order_by="Horing.id")

    __mapper_args__ = {"version_id_col": version}


class Horing(Timestamped, Base):
    __tablename__ = "horinger"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    soknad_id: Mapped[int] = mapped_column(ForeignKey("soknader.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(String(30))
    required: Mapped[bool] = mapped_column(Boolean)
    sent_on: Mapped[date | None] = mapped_column(Date)
    answered_on: Mapped[date | None] = mapped_column(Date)
    answer: Mapped[str | None] = mapped_column(Text)
    objection: Mapped[bool | None] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer, default=1)

    soknad: Mapped[Soknad] = relationship(back_populates="horinger")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("soknad_id", "body"),)


class Bevilling(Timestamped, Base):
    __tablename__ = "bevillinger"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kommune: Mapped[str] = mapped_column(String(60), index=True)
    soknad_id: Mapped[int | None] = mapped_column(ForeignKey("soknader.id"), unique=True)
    licence: Mapped[str] = mapped_column(String(20))
    holder: Mapped[str] = mapped_column(String(200))
    orgnr: Mapped[str | None] = mapped_column(String(9))
    place_name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    venue: Mapped[str] = mapped_column(String(40))
    zone: Mapped[str | None] = mapped_column(String(40))
    styrer: Mapped[str] = mapped_column(String(200))
    stedfortreder: Mapped[str] = mapped_column(String(200))
    groups: Mapped[list[Any]] = mapped_column(Json)
    areas: Mapped[list[Any]] = mapped_column(Json)
    hours: Mapped[list[Any]] = mapped_column(Json)
    conditions: Mapped[list[Any]] = mapped_column(Json)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="aktiv")
    overdratt_on: Mapped[date | None] = mapped_column(Date)
    vedtak: Mapped[dict[str, Any]] = mapped_column(Json)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Kontroll(Timestamped, Base):
    __tablename__ = "kontroller"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kommune: Mapped[str] = mapped_column(String(60), index=True)
    bevilling_id: Mapped[int] = mapped_column(ForeignKey("bevillinger.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(20))
    place: Mapped[str] = mapped_column(String(300))
    kontrollorer: Mapped[list[Any]] = mapped_column(Json)
    observations: Mapped[str] = mapped_column(Text, default="")
    violations: Mapped[list[Any]] = mapped_column(Json)
    assessment: Mapped[dict[str, Any]] = mapped_column(Json)
    ruleset_version: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(100))


class Prikk(Timestamped, Base):
    __tablename__ = "prikker"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kommune: Mapped[str] = mapped_column(String(60), index=True)
    bevilling_id: Mapped[int] = mapped_column(ForeignKey("bevillinger.id"), index=True)
    kontroll_id: Mapped[int] = mapped_column(ForeignKey("kontroller.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    points: Mapped[int] = mapped_column(Integer)
    violation_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="foreslatt")
    reason: Mapped[dict[str, Any]] = mapped_column(Json)
    status_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("kontroll_id", "code"),)


class Omsetningsoppgave(Timestamped, Base):
    __tablename__ = "omsetningsoppgaver"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kommune: Mapped[str] = mapped_column(String(60), index=True)
    bevilling_id: Mapped[int] = mapped_column(ForeignKey("bevillinger.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    litres_1: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    litres_2: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    litres_3: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    submitted_on: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("bevilling_id", "year", "kind"),)


class Gebyr(Timestamped, Base):
    """One bevilling's omsetningsgebyr for a year; a re-run replaces it, never adds one."""

    __tablename__ = "gebyrer"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kommune: Mapped[str] = mapped_column(String(60), index=True)
    bevilling_id: Mapped[int] = mapped_column(ForeignKey("bevillinger.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(String(20))
    decision: Mapped[dict[str, Any]] = mapped_column(Json)
    ruleset_version: Mapped[str] = mapped_column(String(40))

    __table_args__ = (UniqueConstraint("bevilling_id", "year"),)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100))
    kommune: Mapped[str | None] = mapped_column(String(60), index=True)
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after: Mapped[dict[str, Any] | None] = mapped_column(Json)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("actor", "key"),)
