"""runs become official acts: draft, published, superseded, withdrawn

Revision ID: 20261207_0003
Revises: 20261207_0002
Create Date: 2026-12-07 19:00:00

- ``assessment``: ``status`` and the columns of publication, supersession and withdrawal;
  ``subjects_key`` (what "the same run" means for "one published run"), ``coverage`` (the
  share of subjects with every required value); the partial unique index
  ``uq_assessment_published`` (at most one published run per methodology code, kind, period and
  subjects) and ``ix_assessment_status``.
- ``outcome``: ``withdrawn_at`` and ``withdrawn_reason``.
- ``assessment_event``: the append-only history of each run's life.

Runs stored before this revision were all in force. The newest run of each (methodology code,
kind, period, subjects) becomes **published** (by its creator, when it was created); every older
one becomes **superseded** by it, its outcomes withdrawn and its pending summons cancelled, with
the reason saying it happened at this upgrade. Their coverage is left empty (``{}``): it was not
measured then. The downgrade drops the new columns and table (the statuses are lost).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_0003"
down_revision: str | None = "20261207_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UPGRADE_REASON = "此前同一期间已有更新的考评结果；于升级到考评发布流程时标为已被替代（superseded at the upgrade)"


def upgrade() -> None:
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subjects_key", sa.String(length=600), nullable=False, server_default="zones"))
        batch_op.add_column(sa.Column("coverage", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="draft"))
        batch_op.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("published_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("publish_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("superseded_by", BigId, nullable=True))
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_reason", sa.Text(), nullable=True))
    op.create_table(
        "assessment_event",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("assessment_id", BigId, nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("related", BigId, nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name=op.f("fk_assessment_event_assessment_id_assessment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_event")),
    )
    with op.batch_alter_table("assessment_event", schema=None) as batch_op:
        batch_op.create_index("ix_assessment_event_run", ["assessment_id", "id"], unique=False)
    _existing_runs_in_force()
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.create_index("ix_assessment_status", ["status", "id"], unique=False)
        batch_op.create_index(
            "uq_assessment_published",
            ["methodology_code", "kind", "period", "subjects_key"],
            unique=True,
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        )


def _existing_runs_in_force() -> None:
    """The newest run of each key published, the older ones superseded by it (plain SQL: both backends)."""
    bind = op.get_bind()
    runs = bind.execute(
        sa.text(
            "SELECT id, methodology_code, kind, period, subjects, created_at, created_by FROM assessment ORDER BY id"
        )
    ).all()
    newest: dict[tuple[str, str, str, str], int] = {}
    for run in runs:
        newest[(run.methodology_code, run.kind, run.period, run.subjects)] = run.id
    for run in runs:
        key = (run.methodology_code, run.kind, run.period, run.subjects)
        latest = newest[key]
        bind.execute(
            sa.text(
                "UPDATE assessment SET subjects_key = :subjects, published_at = created_at, published_by = created_by "
                "WHERE id = :id"
            ),
            {"subjects": run.subjects, "id": run.id},
        )
        bind.execute(
            sa.text("INSERT INTO assessment_event (assessment_id, event, at, by) VALUES (:id, 'published', :at, :by)"),
            {"id": run.id, "at": run.created_at, "by": run.created_by},
        )
        if run.id == latest:
            bind.execute(sa.text("UPDATE assessment SET status = 'published' WHERE id = :id"), {"id": run.id})
            continue
        bind.execute(
            sa.text("UPDATE assessment SET status = 'superseded', superseded_by = :latest WHERE id = :id"),
            {"latest": latest, "id": run.id},
        )
        bind.execute(
            sa.text(
                "INSERT INTO assessment_event (assessment_id, event, at, by, reason, related) "
                "VALUES (:id, 'superseded', CURRENT_TIMESTAMP, 'migration', :reason, :latest)"
            ),
            {"id": run.id, "reason": UPGRADE_REASON, "latest": latest},
        )
        bind.execute(
            sa.text(
                "UPDATE outcome SET withdrawn_at = CURRENT_TIMESTAMP, withdrawn_reason = :reason "
                "WHERE assessment_id = :id"
            ),
            {"id": run.id, "reason": UPGRADE_REASON},
        )
        bind.execute(
            sa.text("UPDATE summons SET status = 'cancelled' WHERE assessment_id = :id AND status = 'pending'"),
            {"id": run.id},
        )


def downgrade() -> None:
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index("uq_assessment_published")
        batch_op.drop_index("ix_assessment_status")
    with op.batch_alter_table("assessment_event", schema=None) as batch_op:
        batch_op.drop_index("ix_assessment_event_run")
    op.drop_table("assessment_event")
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_reason")
        batch_op.drop_column("withdrawn_at")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        for column in (
            "withdrawn_reason",
            "withdrawn_by",
            "withdrawn_at",
            "superseded_by",
            "publish_note",
            "published_by",
            "published_at",
            "status",
            "coverage",
            "subjects_key",
        ):
            batch_op.drop_column(column)
