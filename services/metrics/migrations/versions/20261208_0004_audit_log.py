"""audit_log: one row per committed write, who made it and through which request

Revision ID: 20261208_0004
Revises: 20261208_0003
Create Date: 2026-12-08 09:00:00

An append-only table written in the same transaction as each write (``services.common.audit``,
docs/adr/0012-audit-of-writes.md): when, the request id, method and route template, and the
token's subject, issuer and client. Writes made before this revision have no entry. The downgrade
drops the table and its entries.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_0004"
down_revision: str | None = "20261208_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(length=300), nullable=False),
        sa.Column("sub", sa.String(length=200), nullable=True),
        sa.Column("issuer", sa.String(length=300), nullable=True),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_sub", "audit_log", ["sub"], unique=False)
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_audit_log_sub", table_name="audit_log")
    op.drop_table("audit_log")
