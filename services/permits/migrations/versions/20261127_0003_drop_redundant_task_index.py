"""drop ix_task_application_id: the unique (application_id, stage, department) index serves it

Revision ID: 20261127_0003
Revises: 20261126_0002
Create Date: 2026-11-27 04:00:00

Every look-up of a case's tasks (by ``application_id``, alone or with ``IN``, and the
reviewers' ``EXISTS`` by case) is served by ``uq_task_application_id_stage_department``, whose
first column is ``application_id``. The single-column index only cost writes: two index entries
more for every intake (its first stage's tasks) and one for every next stage.

Dropping an index is a catalog change, not a scan: it holds its table's lock only for that moment
(it waits for queries already reading ``task``). The downgrade builds the index again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261127_0003"
down_revision: str | None = "20261126_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_task_application_id", table_name="task")


def downgrade() -> None:
    op.create_index("ix_task_application_id", "task", ["application_id"], unique=False)
