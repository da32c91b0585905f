"""idempotency_key: keys of recorded acts kept by the shared policy, no longer on the act

Revision ID: 20261207_0002
Revises: 20261126_0001
Create Date: 2026-12-07 09:00:00

``POST /v1/reorganisations`` now keeps its ``Idempotency-Key`` in the table every service keeps
(``services.common.idempotency``: the key, the request's fingerprint and the answer given), so
``reorganisation.idempotency_key``, ``reorganisation.request_hash`` and their unique index
``uq_reorganisation_idempotency`` go.

Keys taken before the upgrade are not carried over: the new table stores the answer a retry gets,
which the act never kept. A retry of an act recorded before the upgrade is recorded anew; upgrade
when no client is retrying (the policy keeps keys 48 hours, the old columns kept them forever).

SQLite drops the two columns in place (``ALTER TABLE … DROP COLUMN``, SQLite 3.35 or later) once
their index is gone, rather than rebuilding ``reorganisation``: a rebuild drops the old table,
which the zones, states and lineage links that refer to it forbid while foreign keys are enforced.
The downgrade restores the columns, empty, and their index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_0002"
down_revision: str | None = "20261126_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_INDEX = "uq_reorganisation_idempotency"


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
    op.drop_index(KEY_INDEX, table_name="reorganisation")
    with op.batch_alter_table("reorganisation", recreate="never") as batch_op:
        batch_op.drop_column("request_hash")
        batch_op.drop_column("idempotency_key")


def downgrade() -> None:
    with op.batch_alter_table("reorganisation", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
    op.create_index(KEY_INDEX, "reorganisation", ["recorded_by", "idempotency_key"], unique=True)
    op.drop_index(op.f("ix_idempotency_key_created_at"), table_name="idempotency_key")
    op.drop_table("idempotency_key")
