"""Alembic from empty to head and back, on SQLite and on a scratch PostgreSQL database."""

from __future__ import annotations

import sqlalchemy as sa

from db.migrate import downgrade, upgrade
from db.models import Base


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _roundtrip(url: str) -> None:
    upgrade(url)
    assert _tables(url) == set(Base.metadata.tables)
    downgrade(url)
    assert _tables(url) == set()
    upgrade(url)
    assert _tables(url) == set(Base.metadata.tables)


def test_migrations_go_up_from_empty_and_back_down_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _roundtrip(f"sqlite:///{tmp_path / 'm.sqlite3'}")


def test_migrations_go_up_from_empty_and_back_down_on_postgresql(postgres_url: str) -> None:
    downgrade(postgres_url)  # the session's scratch database starts at head
    _roundtrip(postgres_url)


def test_the_models_and_the_migrations_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_the_audit_log_refuses_updates_and_deletes_in_the_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO audit_log (actor, action, entity, entity_id) VALUES ('a','b','c','1')"))
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        try:
            with engine.begin() as connection:
                connection.execute(sa.text(statement))
        except sa.exc.DatabaseError as error:
            assert "append-only" in str(error)
        else:
            raise AssertionError(f"{statement} was allowed")
    engine.dispose()
