"""batch: recorded_by_issuer and recorded_by_client, who pushed a batch beyond its token's subject

Revision ID: 20261208_0003
Revises: 20261204_0002
Create Date: 2026-12-08 08:00:00

The token's issuer (``iss``) and client (``azp``/``client_id``) beside ``recorded_by`` (its
``sub``), so a county system's push can be told apart from a person's. Both are nullable: the
batches stored before have neither, and their hashes (which cover these fields only when they are
set) are unchanged. The downgrade drops the columns; a batch recorded with either set then no
longer verifies, because its hash covered them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_0003"
down_revision: str | None = "20261204_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batch") as batch_op:
        batch_op.add_column(sa.Column("recorded_by_issuer", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("recorded_by_client", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch") as batch_op:
        batch_op.drop_column("recorded_by_client")
        batch_op.drop_column("recorded_by_issuer")
