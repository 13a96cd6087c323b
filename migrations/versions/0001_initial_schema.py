"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:33:14.535863
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kommune", sa.String(length=60), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=False),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_kommune"), ["kommune"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("actor", "key", name=op.f("uq_idempotency_keys_actor")),
    )
    op.create_table(
        "soknader",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kommune", sa.String(length=60), nullable=False),
        sa.Column("licence", sa.String(length=20), nullable=False),
        sa.Column("applicant", sa.String(length=200), nullable=False),
        sa.Column("orgnr", sa.String(length=9), nullable=True),
        sa.Column("place_name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "assessment",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("ruleset_version", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_soknader")),
    )
    with op.batch_alter_table("soknader", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_soknader_kommune"), ["kommune"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column(
            "kommuner",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_users_token_hash")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "bevillinger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kommune", sa.String(length=60), nullable=False),
        sa.Column("soknad_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("licence", sa.String(length=20), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("orgnr", sa.String(length=9), nullable=True),
        sa.Column("place_name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("venue", sa.String(length=40), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=True),
        sa.Column("styrer", sa.String(length=200), nullable=False),
        sa.Column("stedfortreder", sa.String(length=200), nullable=False),
        sa.Column(
            "groups",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "areas",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "hours",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "conditions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("overdratt_on", sa.Date(), nullable=True),
        sa.Column(
            "vedtak",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["soknad_id"], ["soknader.id"], name=op.f("fk_bevillinger_soknad_id_soknader")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bevillinger")),
        sa.UniqueConstraint("soknad_id", name=op.f("uq_bevillinger_soknad_id")),
    )
    with op.batch_alter_table("bevillinger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bevillinger_kommune"), ["kommune"], unique=False)

    op.create_table(
        "horinger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("soknad_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("body", sa.String(length=30), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("objection", sa.Boolean(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["soknad_id"], ["soknader.id"], name=op.f("fk_horinger_soknad_id_soknader"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_horinger")),
        sa.UniqueConstraint("soknad_id", "body", name=op.f("uq_horinger_soknad_id")),
    )
    with op.batch_alter_table("horinger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_horinger_soknad_id"), ["soknad_id"], unique=False)

    op.create_table(
        "gebyrer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kommune", sa.String(length=60), nullable=False),
        sa.Column("bevilling_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column(
            "decision",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("ruleset_version", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bevilling_id"], ["bevillinger.id"], name=op.f("fk_gebyrer_bevilling_id_bevillinger")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gebyrer")),
        sa.UniqueConstraint("bevilling_id", "year", name=op.f("uq_gebyrer_bevilling_id")),
    )
    with op.batch_alter_table("gebyrer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gebyrer_bevilling_id"), ["bevilling_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_gebyrer_kommune"), ["kommune"], unique=False)

    op.create_table(
        "kontroller",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kommune", sa.String(length=60), nullable=False),
        sa.Column("bevilling_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column(
            "kontrollorer",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("observations", sa.Text(), nullable=False),
        sa.Column(
            "violations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "assessment",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("ruleset_version", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bevilling_id"], ["bevillinger.id"], name=op.f("fk_kontroller_bevilling_id_bevillinger")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kontroller")),
    )
    with op.batch_alter_table("kontroller", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kontroller_bevilling_id"), ["bevilling_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kontroller_kommune"), ["kommune"], unique=False)

    op.create_table(
        "omsetningsoppgaver",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kommune", sa.String(length=60), nullable=False),
        sa.Column("bevilling_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("litres_1", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("litres_2", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("litres_3", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bevilling_id"], ["bevillinger.id"], name=op.f("fk_omsetningsoppgaver_bevilling_id_bevillinger")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_omsetningsoppgaver")),
        sa.UniqueConstraint("bevilling_id", "year", "kind", name=op.f("uq_omsetningsoppgaver_bevilling_id")),
    )
    with op.batch_alter_table("omsetningsoppgaver", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_omsetningsoppgaver_bevilling_id"), ["bevilling_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_omsetningsoppgaver_kommune"), ["kommune"], unique=False)

    op.create_table(
        "prikker",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kommune", sa.String(length=60), nullable=False),
        sa.Column("bevilling_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kontroll_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("violation_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "reason",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bevilling_id"], ["bevillinger.id"], name=op.f("fk_prikker_bevilling_id_bevillinger")
        ),
        sa.ForeignKeyConstraint(
            ["kontroll_id"], ["kontroller.id"], name=op.f("fk_prikker_kontroll_id_kontroller")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prikker")),
        sa.UniqueConstraint("kontroll_id", "code", name=op.f("uq_prikker_kontroll_id")),
    )
    with op.batch_alter_table("prikker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prikker_bevilling_id"), ["bevilling_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_prikker_kommune"), ["kommune"], unique=False)
        batch_op.create_index(batch_op.f("ix_prikker_kontroll_id"), ["kontroll_id"], unique=False)

    _audit_log_is_append_only()


APPEND_ONLY = "audit log is append-only"


def _audit_log_is_append_only() -> None:
    """The application never changes the audit log; the database refuses it too."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END; $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with op.batch_alter_table("prikker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prikker_kontroll_id"))
        batch_op.drop_index(batch_op.f("ix_prikker_kommune"))
        batch_op.drop_index(batch_op.f("ix_prikker_bevilling_id"))

    op.drop_table("prikker")
    with op.batch_alter_table("omsetningsoppgaver", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_omsetningsoppgaver_kommune"))
        batch_op.drop_index(batch_op.f("ix_omsetningsoppgaver_bevilling_id"))

    op.drop_table("omsetningsoppgaver")
    with op.batch_alter_table("kontroller", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kontroller_kommune"))
        batch_op.drop_index(batch_op.f("ix_kontroller_bevilling_id"))

    op.drop_table("kontroller")
    with op.batch_alter_table("gebyrer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gebyrer_kommune"))
        batch_op.drop_index(batch_op.f("ix_gebyrer_bevilling_id"))

    op.drop_table("gebyrer")
    with op.batch_alter_table("horinger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_horinger_soknad_id"))

    op.drop_table("horinger")
    with op.batch_alter_table("bevillinger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bevillinger_kommune"))

    op.drop_table("bevillinger")
    op.drop_table("users")
    with op.batch_alter_table("soknader", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_soknader_kommune"))

    op.drop_table("soknader")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_kommune"))

    op.drop_table("audit_log")
