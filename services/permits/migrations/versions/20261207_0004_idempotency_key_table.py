"""idempotency_key: intake keys kept by the shared policy, no longer on the case

Revision ID: 20261207_0004
Revises: 20261127_0003
Create Date: 2026-12-07 09:00:00

``POST /v1/applications`` now keeps its ``Idempotency-Key`` in the table every service keeps
(``services.common.idempotency``: the key, the request's fingerprint and the answer given), so
``application.idempotency_key`` and its unique constraint with ``created_by`` go.

Keys taken before the upgrade are not carried over: the new table stores the answer a retry gets,
which the old column never had. A retry of an intake made before the upgrade runs anew; upgrade
when no client is retrying (the policy keeps keys 48 hours, the old column kept them forever).

SQLite rebuilds ``application`` (``batch_alter_table``) to drop the constraint. Dropping the old
table would fail on the rows that refer to it while foreign keys are enforced (the service's engine
enforces them), so enforcement is switched off around the rebuild and the references are checked
afterwards (``PRAGMA foreign_key_check``), as SQLite's own procedure for such changes prescribes.
The pragma takes effect only outside a transaction: run this step on its own (``upgrade`` from
20261127_0003) on a database holding cases. The downgrade restores the column, empty, and its
constraint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_0004"
down_revision: str | None = "20261127_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_CONSTRAINT = "uq_application_created_by_idempotency_key"


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subject", "key", name=op.f("pk_idempotency_key")),
    )
    op.create_index(op.f("ix_idempotency_key_created_at"), "idempotency_key", ["created_at"], unique=False)

    def drop(batch_op: op.BatchOperations) -> None:  # type: ignore[name-defined]
        batch_op.drop_constraint(KEY_CONSTRAINT, type_="unique")
        batch_op.drop_column("idempotency_key")

    _alter_application(drop)


def downgrade() -> None:
    def restore(batch_op: op.BatchOperations) -> None:  # type: ignore[name-defined]
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(KEY_CONSTRAINT, ["created_by", "idempotency_key"])

    _alter_application(restore)
    op.drop_index(op.f("ix_idempotency_key_created_at"), table_name="idempotency_key")
    op.drop_table("idempotency_key")


def _alter_application(change: Callable[[op.BatchOperations], None]) -> None:  # type: ignore[name-defined]
    """Apply ``change`` to ``application`` (on SQLite by rebuilding it, see the module docstring)."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        bind.exec_driver_sql("PRAGMA foreign_keys = OFF")
    try:
        with op.batch_alter_table("application", schema=None) as batch_op:
            change(batch_op)
    finally:
        if sqlite:
            bind.exec_driver_sql("PRAGMA foreign_keys = ON")
    if sqlite:
        orphans = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if orphans:
            raise RuntimeError(f"rows refer to missing rows after rebuilding application: {orphans[:5]}")
