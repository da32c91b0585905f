"""the Idempotency-Key of a run's creation kept in its own table, not on the run

Revision ID: 20261207_0002
Revises: 20261126_0001
Create Date: 2026-12-07 09:00:00

- ``idempotency_key``: the table every service keeps its keys in (the policy of
  ``services/common/idempotency.py``): who sent a key, the request's fingerprint, the status and
  the answer a retry replays.
- ``assessment``: ``idempotency_key``, ``request_sha256`` and the unique index
  ``uq_assessment_idempotency_key`` are dropped.

Keys stored on runs are not carried over: the new table keeps a key with the whole answer it
gave, which this migration cannot rebuild. A retry sent across the upgrade runs anew.
The downgrade restores the columns empty (``request_sha256`` as the empty string).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_0002"
down_revision: str | None = "20261126_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_key_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index("uq_assessment_idempotency_key")
        batch_op.drop_column("request_sha256")
        batch_op.drop_column("idempotency_key")


def downgrade() -> None:
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("request_sha256", sa.String(length=64), nullable=False, server_default=""))
        batch_op.create_index("uq_assessment_idempotency_key", ["created_by", "idempotency_key"], unique=True)
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.alter_column("request_sha256", server_default=None)
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_key_created_at"))
    op.drop_table("idempotency_key")
