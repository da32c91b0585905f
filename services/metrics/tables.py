"""The metrics service's tables.

``observation`` holds the current version of each (subject, indicator, period) and ``revision``
the superseded ones: together they are the append-only, hash-chained ledger. Values are exact decimals in
the indicator's canonical unit: ``NUMERIC(24, 6)`` on PostgreSQL, and on SQLite (which has no
decimal type) the canonical decimal text, so both hold exactly what the ledger hashed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from libs.domain.metrics.ledger import decimal_text
from services.common.audit import AuditLogColumns
from services.common.db import BigIntPK, UtcDateTime, make_metadata
from services.common.idempotency import IdempotencyKeyColumns


class ExactDecimal(TypeDecorator[Decimal]):
    """A decimal with six places, exact on both backends (text on SQLite)."""

    impl = Numeric(24, 6)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(24, 6))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return decimal_text(Decimal(value))
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value) if not isinstance(value, Decimal) else value


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Indicator(Base):
    """One version of an indicator; a used indicator changes only by a new version."""

    __tablename__ = "indicator"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(24))
    period_types: Mapped[list[Any]] = mapped_column(JSON)
    min: Mapped[Any | None] = mapped_column(Numeric(24, 8))
    max: Mapped[Any | None] = mapped_column(Numeric(24, 8))
    formula: Mapped[str | None] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("uq_indicator_code_version", "code", "version", unique=True),)


def _key_text(length: int) -> TypeEngine[str]:
    """A key column compared byte-wise on PostgreSQL (``COLLATE "C"``): the observation key is
    probed and extended tens of thousands of times per pushed batch, and locale-aware comparison
    costs more. Equality is the same either way; ``ORDER BY`` on it is byte order."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Observation(Base):
    """The current version of a subject's indicator for a period (system-versioned, as SQL:2011's
    temporal tables): every field of the version's revision, so a batch of new values writes this
    one table. When a value changes, its current row moves, unchanged, to ``revision`` (the
    history) and the new version takes its place, in the same transaction.

    The primary key leads with period and indicator, so one period's values of some indicators
    (the matrix) are a range of it. Who and when are the batch's (``batch``);
    ``first_recorded_at`` is null while the value has a single version (then it is its batch's
    time). ``prev_seq`` links to the previous version, in ``revision``.
    """

    __tablename__ = "observation"

    period: Mapped[str] = mapped_column(_key_text(16), primary_key=True)
    indicator_code: Mapped[str] = mapped_column(_key_text(64), primary_key=True)
    subject_type: Mapped[str] = mapped_column(_key_text(8), primary_key=True)
    subject_id: Mapped[str] = mapped_column(_key_text(64), primary_key=True)
    period_end: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_seq: Mapped[int | None] = mapped_column(BigInteger)
    indicator_version: Mapped[int] = mapped_column(Integer)
    old_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    value: Mapped[Decimal] = mapped_column(ExactDecimal())
    unit: Mapped[str] = mapped_column(String(32))
    original_value: Mapped[str] = mapped_column(String(64))
    original_unit: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    lock_id: Mapped[int | None] = mapped_column(Integer)
    batch: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer, server_default="1")
    first_recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Revision(Base):
    """A superseded version of a value (the history): append-only; sealed, like the current
    versions, by its batch's link of the chain.

    Who and when are the batch's (``batch``); ``prev_seq`` is the previous version of the same
    value (``None`` for its first), so a value's history is a walk from ``Observation.prev_seq``.
    """

    __tablename__ = "revision"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=False)
    prev_seq: Mapped[int | None] = mapped_column(BigInteger)
    subject_type: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str] = mapped_column(String(64))
    indicator_code: Mapped[str] = mapped_column(String(64))
    indicator_version: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(16))
    old_value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    new_value: Mapped[Decimal] = mapped_column(ExactDecimal())
    unit: Mapped[str] = mapped_column(String(32))
    original_value: Mapped[str] = mapped_column(String(64))
    original_unit: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    lock_id: Mapped[int | None] = mapped_column(Integer)
    batch: Mapped[str] = mapped_column(String(32))


class Batch(Base):
    """One stored push or import: who, when, from what, with what effect; one link of the ledger.

    Its revisions are ``first_seq`` … ``first_seq + revisions - 1``; ``digests`` holds their
    digests and ``hash`` chains the batch to the previous one (:mod:`libs.domain.metrics.ledger`).
    """

    __tablename__ = "batch"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    restatement_reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_division: Mapped[str | None] = mapped_column(String(12))
    recorded_by_issuer: Mapped[str | None] = mapped_column(String(300))
    recorded_by_client: Mapped[str | None] = mapped_column(String(200))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    revisions: Mapped[int] = mapped_column(Integer)
    digests: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("uq_batch_first_seq", "first_seq", unique=True),)


class IdempotencyKey(IdempotencyKeyColumns, Base):
    """An ``Idempotency-Key`` of a token subject: the request it was first used for, and its answer
    (the policy is :mod:`services.common.idempotency`)."""


class PeriodLock(Base):
    """A period locked (for every zone, or one kind) because an assessment used it."""

    __tablename__ = "period_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16), doc="A zone kind, or 'all'.")
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("uq_period_lock_period_scope", "period", "scope", unique=True),)


class Deadline(Base):
    """When a period's values are due."""

    __tablename__ = "deadline"

    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    due_on: Mapped[date] = mapped_column(Date)
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditLog(AuditLogColumns, Base):
    """One committed write: when, by which request and route, and who (services/common/audit.py)."""
