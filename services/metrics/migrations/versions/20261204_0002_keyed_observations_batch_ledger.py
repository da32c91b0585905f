"""system-versioned keyed observations, history revisions, the ledger chained batch by batch

Revision ID: 20261204_0002
Revises: 20261126_0001
Create Date: 2026-12-04 09:00:00

- ``observation`` (system-versioned, as SQL:2011 temporal tables): the current version of each
  value with every field of its revision (``seq``, ``prev_seq``, old and new value, original
  value and unit, note, lock, batch); the key (period, indicator_code, subject_type, subject_id)
  is the primary key (byte-wise collation on PostgreSQL); no surrogate id, no other index.
  Who/when come from the batch; ``first_recorded_at`` is null for a value's first version.
- ``revision``: the superseded versions only (the history); primary key ``seq`` only;
  ``prev_seq`` links a value's versions; who/when/why move to the batch (they were copies of
  it); no per-revision hashes.
- ``batch``: ``first_seq``, ``revisions``, ``digests``, ``prev_hash``, ``hash`` (the chain of
  :mod:`libs.domain.metrics.ledger`).

Existing data is migrated: the old per-revision chain is verified first (a broken ledger stops
the migration rather than being sealed again), then every batch is sealed in the new form. The
downgrade does the reverse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "20261204_0002"
down_revision: str | None = "20261126_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DECIMAL = sa.Numeric(precision=24, scale=6).with_variant(sa.String(length=40), "sqlite")
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KEY_COLUMNS = ("subject_type", "subject_id", "indicator_code", "period")
SIX = Decimal("0.000001")


def _key(length: int) -> sa.types.TypeEngine[Any]:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- the chain of revision 0001 (one sha256 link per revision), to verify and to rebuild -------

_V1_FIELDS = (
    "batch",
    "indicator",
    "indicator_version",
    "lock",
    "new_value",
    "note",
    "old_value",
    "original_unit",
    "original_value",
    "period",
    "recorded_at",
    "recorded_by",
    "recorded_by_division",
    "restatement_reason",
    "seq",
    "subject_id",
    "subject_type",
    "unit",
)


def _v1_hash(prev_hash: str, rec: dict[str, Any]) -> str:
    values: dict[str, Any] = {}
    for name in _V1_FIELDS:
        value = rec[name]
        if isinstance(value, Decimal):
            value = format(value.quantize(SIX), "f")
        elif isinstance(value, datetime):
            value = _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        values[name] = value
    canonical = json.dumps(values, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _v1_revisions() -> sa.TableClause:
    return sa.table(
        "revision",
        *(sa.column(c) for c in ("seq", "subject_type", "subject_id", "indicator_code", "indicator_version")),
        *(sa.column(c) for c in ("period", "unit", "original_value", "original_unit", "note", "recorded_by")),
        *(sa.column(c) for c in ("recorded_by_division", "batch", "restatement_reason", "lock_id")),
        *(sa.column(c) for c in ("prev_hash", "hash")),
        sa.column("old_value", DECIMAL),
        sa.column("new_value", DECIMAL),
        sa.column("recorded_at", sa.DateTime(timezone=True)),
    )


def _v1_record(r: Any) -> dict[str, Any]:
    return {
        "batch": r.batch,
        "indicator": r.indicator_code,
        "indicator_version": r.indicator_version,
        "lock": r.lock_id,
        "new_value": _dec(r.new_value),
        "note": r.note,
        "old_value": _dec(r.old_value),
        "original_unit": r.original_unit,
        "original_value": r.original_value,
        "period": r.period,
        "recorded_at": r.recorded_at,
        "recorded_by": r.recorded_by,
        "recorded_by_division": r.recorded_by_division,
        "restatement_reason": r.restatement_reason,
        "seq": r.seq,
        "subject_id": r.subject_id,
        "subject_type": r.subject_type,
        "unit": r.unit,
    }


# --- the chain of this revision (one link per batch), frozen as it was written: a later change
# to the live ledger code must not change what this migration wrote ------------------------

GENESIS_HASH = "0" * 64
DIGEST_BYTES = 16
REVISION_FIELDS = (
    "seq",
    "prev_seq",
    "subject_type",
    "subject_id",
    "indicator_code",
    "indicator_version",
    "period",
    "old_value",
    "new_value",
    "unit",
    "original_value",
    "original_unit",
    "note",
    "lock_id",
    "batch",
)
HEADER_FIELDS = (
    "first_seq",
    "id",
    "recorded_at",
    "recorded_by",
    "recorded_by_division",
    "restatement_reason",
    "revisions",
)
NULL = "\\N"
_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_SPECIAL)
    return value


def revision_line(revision: dict[str, Any]) -> str:
    out = []
    for name in REVISION_FIELDS:
        value = revision.get(name)
        if value is None:
            out.append(NULL)
        elif isinstance(value, Decimal):
            out.append(format(value.quantize(SIX), "f"))
        elif isinstance(value, int) and not isinstance(value, bool):
            out.append(str(value))
        else:
            out.append(_copy_text(str(value)))
    return "\t".join(out) + "\n"


def line_digest(line: str) -> bytes:
    return hashlib.sha256(line.encode()).digest()[:DIGEST_BYTES]


def _header_text(header: dict[str, Any]) -> str:
    values = {name: header.get(name) for name in HEADER_FIELDS}
    if isinstance(values["recorded_at"], datetime):
        values["recorded_at"] = _utc(values["recorded_at"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def batch_hash(prev_hash: str, header: dict[str, Any], digests: bytes) -> str:
    return hashlib.sha256((prev_hash + _header_text(header) + "\n").encode() + digests).hexdigest()


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    bind = op.get_bind()
    old = _v1_revisions()
    batches_seen: dict[str, dict[str, Any]] = {}
    prev = GENESIS_HASH
    for r in bind.execute(sa.select(old).order_by(old.c.seq)):
        rec = _v1_record(r)
        if r.prev_hash != prev or _v1_hash(prev, rec) != r.hash:
            raise RuntimeError(f"the revision ledger is broken at seq {r.seq}; it must be investigated, not migrated")
        prev = r.hash
        seen = batches_seen.setdefault(r.batch, rec | {"first": r.seq, "count": 0})
        if r.seq != seen["first"] + seen["count"]:
            raise RuntimeError(f"batch {r.batch} has revisions out of sequence (seq {r.seq}); cannot migrate")
        if (rec["recorded_at"], rec["recorded_by"], rec["recorded_by_division"], rec["restatement_reason"]) != (
            seen["recorded_at"],
            seen["recorded_by"],
            seen["recorded_by_division"],
            seen["restatement_reason"],
        ):
            raise RuntimeError(f"revision {r.seq} disagrees with its batch {r.batch} on who/when; cannot migrate")
        seen["count"] += 1

    op.drop_index("ix_revision_key", table_name="revision")
    op.drop_index("uq_observation_key", table_name="observation")
    op.drop_index("ix_observation_period_indicator", table_name="observation")
    op.rename_table("observation", "observation_v1")
    op.rename_table("revision", "revision_v1")
    if _pg():
        op.execute("ALTER INDEX pk_observation RENAME TO pk_observation_v1")
        op.execute("ALTER INDEX pk_revision RENAME TO pk_revision_v1")

    op.create_table(
        "revision",
        sa.Column("seq", BIGINT, autoincrement=False, nullable=False),
        sa.Column("prev_seq", sa.BigInteger(), nullable=True),
        sa.Column("subject_type", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("indicator_version", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("old_value", DECIMAL, nullable=True),
        sa.Column("new_value", DECIMAL, nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("original_value", sa.String(length=64), nullable=False),
        sa.Column("original_unit", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("lock_id", sa.Integer(), nullable=True),
        sa.Column("batch", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_revision")),
    )
    op.execute(
        "INSERT INTO revision (seq, prev_seq, subject_type, subject_id, indicator_code, indicator_version, period, "
        "old_value, new_value, unit, original_value, original_unit, note, lock_id, batch) "
        "SELECT seq, LAG(seq) OVER (PARTITION BY subject_type, subject_id, indicator_code, period ORDER BY seq), "
        "subject_type, subject_id, indicator_code, indicator_version, period, old_value, new_value, unit, "
        "original_value, original_unit, note, lock_id, batch FROM revision_v1"
    )
    with op.batch_alter_table("batch") as batch_op:
        batch_op.add_column(sa.Column("first_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("revisions", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("digests", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    batch = sa.table(
        "batch",
        sa.column("id"),
        sa.column("source"),
        sa.column("rows"),
        sa.column("created"),
        sa.column("updated"),
        sa.column("unchanged"),
        sa.column("restatement_reason"),
        sa.column("recorded_at", sa.DateTime(timezone=True)),
        sa.column("recorded_by"),
        sa.column("recorded_by_division"),
        sa.column("first_seq"),
        sa.column("revisions"),
        sa.column("digests", sa.LargeBinary()),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    stored = {r.id: r for r in bind.execute(sa.select(batch))}
    if set(stored) - set(batches_seen):
        raise RuntimeError("batches without revisions cannot be sealed; cannot migrate")
    new = sa.table(
        "revision",
        *(sa.column(c) for c in ("seq", "prev_seq", "subject_type", "subject_id", "indicator_code")),
        *(sa.column(c) for c in ("indicator_version", "period", "unit", "original_value", "original_unit")),
        *(sa.column(c) for c in ("note", "lock_id", "batch")),
        sa.column("old_value", DECIMAL),
        sa.column("new_value", DECIMAL),
    )
    prev = GENESIS_HASH
    for batch_id, seen in sorted(batches_seen.items(), key=lambda kv: int(kv[1]["first"])):
        rows = bind.execute(sa.select(new).where(new.c.batch == batch_id).order_by(new.c.seq)).mappings()
        digests = b"".join(
            line_digest(revision_line(dict(r) | {"old_value": _dec(r["old_value"]), "new_value": _dec(r["new_value"])}))
            for r in rows
        )
        if batch_id not in stored:  # a revision whose batch record was lost: record what the revisions say
            bind.execute(
                sa.insert(batch).values(
                    id=batch_id,
                    source="legacy",
                    rows=seen["count"],
                    created=0,
                    updated=0,
                    unchanged=0,
                    restatement_reason=seen["restatement_reason"],
                    recorded_at=seen["recorded_at"],
                    recorded_by=seen["recorded_by"],
                    recorded_by_division=seen["recorded_by_division"],
                )
            )
        header = {
            "first_seq": int(seen["first"]),
            "id": batch_id,
            "recorded_at": seen["recorded_at"],
            "recorded_by": seen["recorded_by"],
            "recorded_by_division": seen["recorded_by_division"],
            "restatement_reason": seen["restatement_reason"],
            "revisions": int(seen["count"]),
        }
        digest = batch_hash(prev, header, digests)
        bind.execute(
            sa.update(batch)
            .where(batch.c.id == batch_id)
            .values(
                first_seq=header["first_seq"],
                revisions=header["revisions"],
                digests=digests,
                prev_hash=prev,
                hash=digest,
                recorded_at=seen["recorded_at"],
                recorded_by=seen["recorded_by"],
                recorded_by_division=seen["recorded_by_division"],
                restatement_reason=seen["restatement_reason"],
            )
        )
        prev = digest
    with op.batch_alter_table("batch") as batch_op:
        batch_op.alter_column("first_seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("revisions", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("digests", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index("uq_batch_first_seq", ["first_seq"], unique=True)
    op.create_table(
        "observation",
        sa.Column("period", _key(16), nullable=False),
        sa.Column("indicator_code", _key(64), nullable=False),
        sa.Column("subject_type", _key(8), nullable=False),
        sa.Column("subject_id", _key(64), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_seq", sa.BigInteger(), nullable=True),
        sa.Column("indicator_version", sa.Integer(), nullable=False),
        sa.Column("old_value", DECIMAL, nullable=True),
        sa.Column("value", DECIMAL, nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("original_value", sa.String(length=64), nullable=False),
        sa.Column("original_unit", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("lock_id", sa.Integer(), nullable=True),
        sa.Column("batch", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
        sa.Column("first_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("period", "indicator_code", "subject_type", "subject_id", name=op.f("pk_observation")),
    )
    latest = (
        "FROM observation_v1 o JOIN revision r ON r.seq = (SELECT MAX(x.seq) FROM revision x "
        "WHERE x.subject_type = o.subject_type AND x.subject_id = o.subject_id "
        "AND x.indicator_code = o.indicator_code AND x.period = o.period)"
    )
    total = bind.execute(sa.text("SELECT COUNT(*) FROM observation_v1")).scalar_one()
    matched = bind.execute(sa.text(f"SELECT COUNT(*) {latest} WHERE r.new_value = o.value")).scalar_one()
    if matched != total:
        raise RuntimeError(
            f"{total - matched} current value(s) have no revision or differ from their last revision; cannot migrate"
        )
    op.execute(
        "INSERT INTO observation (period, indicator_code, subject_type, subject_id, period_end, seq, prev_seq, "
        "indicator_version, old_value, value, unit, original_value, original_unit, note, lock_id, batch, revision, "
        "first_recorded_at) "
        "SELECT o.period, o.indicator_code, o.subject_type, o.subject_id, o.period_end, r.seq, r.prev_seq, "
        "r.indicator_version, r.old_value, r.new_value, r.unit, r.original_value, r.original_unit, r.note, "
        "r.lock_id, r.batch, o.revision, CASE WHEN o.revision > 1 THEN o.first_recorded_at END " + latest
    )
    op.execute("DELETE FROM revision WHERE seq IN (SELECT seq FROM observation)")
    op.drop_table("observation_v1")
    op.drop_table("revision_v1")


def downgrade() -> None:
    bind = op.get_bind()
    op.rename_table("observation", "observation_v2")
    op.rename_table("revision", "revision_v2")
    if _pg():
        op.execute("ALTER INDEX pk_observation RENAME TO pk_observation_v2")
        op.execute("ALTER INDEX pk_revision RENAME TO pk_revision_v2")
    op.create_table(
        "observation",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("subject_type", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("value", DECIMAL, nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("pushed_by_division", sa.String(length=12), nullable=True),
        sa.Column("first_recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation")),
    )
    op.execute(
        "INSERT INTO observation (subject_type, subject_id, indicator_code, period, period_end, value, unit, "
        "revision, note, pushed_by_division, first_recorded_at, recorded_at, recorded_by) "
        "SELECT o.subject_type, o.subject_id, o.indicator_code, o.period, o.period_end, o.value, o.unit, "
        "o.revision, o.note, b.recorded_by_division, COALESCE(o.first_recorded_at, b.recorded_at), b.recorded_at, "
        "b.recorded_by FROM observation_v2 o JOIN batch b ON b.id = o.batch ORDER BY o.seq"
    )
    with op.batch_alter_table("observation") as batch_op:
        batch_op.create_index("ix_observation_period_indicator", ["period", "indicator_code"], unique=False)
        batch_op.create_index("uq_observation_key", list(KEY_COLUMNS), unique=True)
    op.create_table(
        "revision",
        sa.Column("seq", BIGINT, autoincrement=False, nullable=False),
        sa.Column("subject_type", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("indicator_version", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("old_value", DECIMAL, nullable=True),
        sa.Column("new_value", DECIMAL, nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("original_value", sa.String(length=64), nullable=False),
        sa.Column("original_unit", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_division", sa.String(length=12), nullable=True),
        sa.Column("batch", sa.String(length=32), nullable=False),
        sa.Column("restatement_reason", sa.Text(), nullable=True),
        sa.Column("lock_id", sa.Integer(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_revision")),
    )
    op.execute(
        "INSERT INTO revision (seq, subject_type, subject_id, indicator_code, indicator_version, period, old_value, "
        "new_value, unit, original_value, original_unit, note, recorded_at, recorded_by, recorded_by_division, "
        "batch, restatement_reason, lock_id, prev_hash, hash) "
        "SELECT r.seq, r.subject_type, r.subject_id, r.indicator_code, r.indicator_version, r.period, r.old_value, "
        "r.new_value, r.unit, r.original_value, r.original_unit, r.note, b.recorded_at, b.recorded_by, "
        "b.recorded_by_division, r.batch, b.restatement_reason, r.lock_id, '', '' "
        "FROM (SELECT seq, subject_type, subject_id, indicator_code, indicator_version, period, old_value, "
        "new_value, unit, original_value, original_unit, note, lock_id, batch FROM revision_v2 UNION ALL "
        "SELECT seq, subject_type, subject_id, indicator_code, indicator_version, period, old_value, value, unit, "
        "original_value, original_unit, note, lock_id, batch FROM observation_v2) r JOIN batch b ON b.id = r.batch"
    )
    old = _v1_revisions()
    prev = GENESIS_HASH
    sealed: list[dict[str, Any]] = []
    for r in bind.execute(sa.select(old).order_by(old.c.seq)):
        digest = _v1_hash(prev, _v1_record(r))
        sealed.append({"s": r.seq, "p": prev, "h": digest})
        prev = digest
    if sealed:
        bind.execute(
            sa.update(old)
            .where(old.c.seq == sa.bindparam("s"))
            .values(prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")),
            sealed,
        )
    with op.batch_alter_table("revision") as batch_op:
        batch_op.create_index("ix_revision_key", [*KEY_COLUMNS, "seq"], unique=False)
    op.drop_table("observation_v2")
    op.drop_table("revision_v2")
    with op.batch_alter_table("batch") as batch_op:
        batch_op.drop_index("uq_batch_first_seq")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("digests")
        batch_op.drop_column("revisions")
        batch_op.drop_column("first_seq")
