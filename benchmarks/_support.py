"""What the service benchmarks share: scratch PostgreSQL databases, rows, percentiles, tables.

Every benchmark reports ``bevilling.bench.BenchRow`` rows in a ``BenchResult`` (so the CLI
prints them with ``render_table`` and ``--json`` works the same for all of them).
"""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from rich.table import Table

from bevilling.bench import BenchResult, BenchRow, render_table

ADMIN_URL_ENV = "BEVILLING_BENCH_POSTGRES_URL"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SHARED_CPUS_NOTE = (
    "load generator, server workers and PostgreSQL share this machine's {cpus} CPU(s): "
    "absolute figures are a floor, the ratios are what to read"
)


def admin_url(given: str | None = None) -> str:
    """The PostgreSQL URL scratch databases are created through (a maintenance database)."""
    return given or os.environ.get(ADMIN_URL_ENV) or DEFAULT_ADMIN_URL


def postgres_available(url: str | None = None) -> bool:
    engine = sa.create_engine(admin_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


@contextmanager
def scratch_database(prefix: str, url: str | None = None, *, keep: bool = False) -> Iterator[str]:
    """A new, migrated PostgreSQL database; dropped afterwards unless ``keep``."""
    from db.migrate import upgrade
    from db.session import engine_for

    admin = sa.create_engine(admin_url(url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    scratch = admin_url(url).rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(scratch)
        yield scratch
    finally:
        engine_for(scratch).dispose()
        if not keep:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq_url(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as psycopg itself takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks of an ascending sequence."""
    if not ordered:
        return float("nan")
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


class Rows:
    """Collects rows in the order they are added."""

    def __init__(self) -> None:
        self.rows: list[BenchRow] = []

    def add(
        self, name: str, value: float, unit: str, target: str | None = None, ok: bool | None = None
    ) -> None:
        self.rows.append(BenchRow(name, float(value), unit, target, ok))

    def at_least(self, name: str, value: float, unit: str, floor: float, shown: str) -> None:
        self.add(name, value, unit, f">= {shown}", value >= floor)

    def at_most(self, name: str, value: float, unit: str, ceiling: float, shown: str) -> None:
        self.add(name, value, unit, f"<= {shown}", value <= ceiling)

    def zero(self, name: str, value: float) -> None:
        self.add(name, value, "count", "0", value == 0)


def base_meta(**extra: str) -> dict[str, str]:
    meta = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count() or "?"),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    meta.update(extra)
    return meta


def table(result: BenchResult, title: str) -> Table:
    """``render_table`` with a title and caption of this benchmark's own."""
    rendered = render_table(result)
    rendered.title = title
    meta = result.meta
    caption = [
        f"Python {meta.get('python', '?')}, {meta.get('cpus', '?')} CPUs, {meta.get('date', '?')}",
    ]
    if "note" in meta:
        caption.append(meta["note"])
    rendered.caption = "\n".join(caption)
    return rendered
