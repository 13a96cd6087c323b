"""Alembic environment: the URL comes from the caller's config (db.migrate) or BEVILLING_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or os.environ.get("BEVILLING_DATABASE_URL", "")
if not url:
    raise RuntimeError("no database URL: set BEVILLING_DATABASE_URL or call db.migrate.upgrade(url)")

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
