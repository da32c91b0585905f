"""outbox fan-out cursor: events carry their writing transaction; no per-event mark

Revision ID: 20261126_0002
Revises: 20261126_0001
Create Date: 2026-11-26 14:00:00

- ``outbox_event.txid``: the writing transaction's id (PostgreSQL ``xid8``, default
  ``pg_current_xact_id()``; SQLite an integer, 0), indexed with ``seq``.
- ``outbox_cursor``: how far the webhook fan-out got (row ``webhooks``), replacing the per-event
  ``fanned_out_at`` marks; the column stays (with its values) but is no longer written, and its
  index ``ix_outbox_event_fanned_out_at`` goes.

Existing events: the ones already fanned out stay behind the cursor, the others after it.
PostgreSQL: every existing event gets ``txid`` 1 (a constant default: no table rewrite), the
pending ones (``fanned_out_at`` NULL, found through the old index) 2, and the cursor starts at
``done`` = ``2:2:``, a snapshot in which 1 is visible and 2 (and every real transaction id, 3 and
up) is not. SQLite: the cursor starts just before the first pending event (or at the last
event); there the fanned-out events always were a prefix of ``seq`` order (one writer, so
commits in ``seq`` order, and each pass took the lowest pending ones).

The downgrade sets ``fanned_out_at`` on the events the cursor had passed, so the per-event
fan-out does not send them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import UserDefinedType

revision: str = "20261126_0002"
down_revision: str | None = "20261126_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURSOR = "webhooks"


class _PgType(UserDefinedType[Any]):
    """A PostgreSQL type named as is (``xid8``, ``pg_snapshot``)."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


XID8 = _PgType("XID8").with_variant(sa.BigInteger(), "sqlite")
SNAPSHOT = _PgType("PG_SNAPSHOT").with_variant(sa.Text(), "sqlite")


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "outbox_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("txid", XID8, nullable=False),
        sa.Column("done", SNAPSHOT, nullable=True),
        sa.Column("target", SNAPSHOT, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_outbox_cursor")),
    )
    if _pg():
        op.execute("ALTER TABLE outbox_event ADD COLUMN txid xid8 NOT NULL DEFAULT '1'")
        op.execute("UPDATE outbox_event SET txid = '2' WHERE fanned_out_at IS NULL")
        op.execute("ALTER TABLE outbox_event ALTER COLUMN txid SET DEFAULT pg_current_xact_id()")
        op.drop_index("ix_outbox_event_fanned_out_at", table_name="outbox_event")
        op.create_index("ix_outbox_event_txid_seq", "outbox_event", ["txid", "seq"], unique=False)
        op.execute(
            f"INSERT INTO outbox_cursor (name, seq, txid, done, target) VALUES ('{CURSOR}', 0, '0', '2:2:', NULL)"
        )
        return
    # SQLite alters the table in place (no batch copy: deliveries reference the events).
    op.add_column("outbox_event", sa.Column("txid", sa.BigInteger(), server_default="0", nullable=False))
    op.drop_index("ix_outbox_event_fanned_out_at", table_name="outbox_event")
    op.create_index("ix_outbox_event_txid_seq", "outbox_event", ["txid", "seq"], unique=False)
    op.execute(
        f"INSERT INTO outbox_cursor (name, seq, txid) SELECT '{CURSOR}', coalesce("
        "(SELECT min(seq) - 1 FROM outbox_event WHERE fanned_out_at IS NULL), "
        "(SELECT max(seq) FROM outbox_event), 0), 0"
    )


def downgrade() -> None:
    bind = op.get_bind()
    now = sa.bindparam("now", datetime.now(UTC), type_=sa.DateTime(timezone=True))
    if _pg():
        bind.execute(
            sa.text(
                "UPDATE outbox_event AS e SET fanned_out_at = :now FROM outbox_cursor AS c "
                "WHERE c.name = :name AND e.fanned_out_at IS NULL AND ("
                "pg_visible_in_snapshot(e.txid, c.done) OR (c.target IS NOT NULL "
                "AND pg_visible_in_snapshot(e.txid, c.target) AND (e.txid, e.seq) <= (c.txid, c.seq)))"
            ).bindparams(now, name=CURSOR)
        )
        op.drop_index("ix_outbox_event_txid_seq", table_name="outbox_event")
        op.create_index("ix_outbox_event_fanned_out_at", "outbox_event", ["fanned_out_at"], unique=False)
        op.drop_column("outbox_event", "txid")
    else:
        bind.execute(
            sa.text(
                "UPDATE outbox_event SET fanned_out_at = :now WHERE fanned_out_at IS NULL "
                "AND seq <= (SELECT seq FROM outbox_cursor WHERE name = :name)"
            ).bindparams(now, name=CURSOR)
        )
        op.drop_index("ix_outbox_event_txid_seq", table_name="outbox_event")
        op.create_index("ix_outbox_event_fanned_out_at", "outbox_event", ["fanned_out_at"], unique=False)
        op.execute("ALTER TABLE outbox_event DROP COLUMN txid")  # in place, as the upgrade added it
    op.drop_table("outbox_cursor")
