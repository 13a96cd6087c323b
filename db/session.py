"""Engines, sessions and the unit of work: one transaction per request or command.

SQLite (the embedded default) gets foreign keys, WAL and a busy timeout so that
concurrent requests queue instead of failing; PostgreSQL is used as configured.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # Take the write lock at BEGIN: two writers then queue on busy_timeout instead of
            # one failing with "database is locked" when it upgrades a read transaction.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(connection: Any, _: Any) -> None:
            connection.isolation_level = None

        return engine
    # A transaction left open by a dead client must not hold a licence's row lock for the
    # hours TCP would take to notice: the server ends it, and keepalives find dead peers.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={
            "options": "-c idle_in_transaction_session_timeout=60000 -c lock_timeout=30000",
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    )


_engines_lock = threading.Lock()


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def engine_for(url: str) -> Engine:
    with _engines_lock:
        return _engine_for(url)


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


@contextmanager
def unit_of_work(url: str) -> Iterator[Session]:
    """Commit when the block ends normally, roll back on any exception."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
