"""The permits service's tables.

``application`` is the case; its ``version`` is the optimistic-concurrency token (ETag) and
every change goes through a row lock on it, so reviewers of one case are serialised.
``transition`` is the append-only history, ``outbox_event`` the events written in the same
transaction as the change they announce (delivered by the dispatcher), ``outbox_cursor`` how far
the dispatcher's fan-out has read them, ``escalation`` the overdue events, unique per (subject,
deadline) so each is recorded exactly once. ``idempotency_key`` holds the intake's
``Idempotency-Key`` headers and the answers they got (:mod:`services.common.idempotency`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from services.common.audit import AuditLogColumns
from services.common.db import BigIntPK, UtcDateTime, make_metadata
from services.common.idempotency import IdempotencyKeyColumns

Snapshot = tuple[int, int, tuple[int, ...]]
"""A PostgreSQL ``pg_snapshot`` as asyncpg reads and writes it: (xmin, xmax, in-progress ids)."""


class _Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (``xid8``; asyncpg reads it as an int)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "XID8"


class _PgSnapshot(UserDefinedType[Snapshot]):
    """PostgreSQL's ``pg_snapshot``: which transactions had committed when it was taken."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "PG_SNAPSHOT"


Xid8 = _Xid8().with_variant(BigInteger(), "sqlite")
"""``xid8`` on PostgreSQL; a plain integer on SQLite, where the fan-out does not use it."""

PgSnapshot = _PgSnapshot().with_variant(Text(), "sqlite")
"""``pg_snapshot`` on PostgreSQL; text on SQLite, where the fan-out does not use it (always NULL)."""


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class CalendarOverride(Base):
    """The bureau's override of one day of the official calendar."""

    __tablename__ = "calendar_override"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool]
    note: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class CalendarYear(Base):
    """A year's holiday notice loaded before the packaged calendar carries it."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))
    holidays: Mapped[list[Any]]
    makeup_workdays: Mapped[list[Any]]
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    loaded_by: Mapped[str] = mapped_column(String(200))


class Bureau(Base):
    """A zone's approval bureau: name, document prefix, seal."""

    __tablename__ = "bureau"

    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    document_prefix: Mapped[str] = mapped_column(String(20))
    seal: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class DocumentCounter(Base):
    """The last document number a bureau issued in a year (gap-free: taken in the decision's transaction)."""

    __tablename__ = "document_counter"

    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class CatalogItem(Base):
    """An approval item (事项) of a zone's bureau."""

    __tablename__ = "catalog_item"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    statutory_limit_days: Mapped[int]
    promised_limit_days: Mapped[int]
    max_extension_days: Mapped[int]
    stages: Mapped[list[Any]]
    materials: Mapped[list[Any]]
    accept_pending_minor: Mapped[bool]
    land_use_check: Mapped[bool]
    fee_yuan: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    fee_waived: Mapped[bool]
    fee_note: Mapped[str | None] = mapped_column(String(500))
    responsibility: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("zone", "code"),)


class MaterialFile(Base):
    """An uploaded file; the content lives here so a write is one atomic transaction on any backend."""

    __tablename__ = "material_file"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    uploaded_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("uploaded_by", "sha256", "filename"),)


class Application(Base):
    """A case (办件)."""

    __tablename__ = "application"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    zone: Mapped[str] = mapped_column(String(64), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("catalog_item.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(64))
    item_name: Mapped[str] = mapped_column(String(200))
    item_snapshot: Mapped[dict[str, Any]]
    project_name: Mapped[str] = mapped_column(String(200))
    applicant_sub: Mapped[str | None] = mapped_column(String(200), index=True)
    applicant: Mapped[dict[str, Any]]
    land_use: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    findings: Mapped[list[Any]]
    pending_materials: Mapped[list[Any]]
    state: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int]
    stage: Mapped[int | None]
    proposed_outcome: Mapped[str | None] = mapped_column(String(16))
    refusal_reasons: Mapped[list[Any]]
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    submitted_on: Mapped[date] = mapped_column(Date)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    limit_days: Mapped[int]
    extension_days: Mapped[int]
    deadline: Mapped[date | None] = mapped_column(Date, index=True)
    provisional: Mapped[bool]
    finished_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdempotencyKey(IdempotencyKeyColumns, Base):
    """An ``Idempotency-Key`` a caller sent with an intake, and the answer it got
    (:mod:`services.common.idempotency`)."""


class ApplicationMaterial(Base):
    """A material on file for a case (append-only: supplements add rows)."""

    __tablename__ = "application_material"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str] = mapped_column(ForeignKey("material_file.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    round: Mapped[int]
    supplied_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Task(Base):
    """A department's part of a case in one stage."""

    __tablename__ = "task"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Looked up through the unique (application_id, stage, department) index: no index of its own.
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"))
    zone: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    stage: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    opened_on: Mapped[date] = mapped_column(Date)
    offset_days: Mapped[int]
    deadline: Mapped[date] = mapped_column(Date)
    provisional: Mapped[bool]
    completed_on: Mapped[date | None] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[list[Any]]
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_task_zone_department_state", "zone", "department", "state"),
        UniqueConstraint("application_id", "stage", "department"),
    )


class ClockStop(Base):
    """A clock stop of a case: supplements during review, or a special procedure."""

    __tablename__ = "clock_stop"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    procedure: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(String(32))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    started_by: Mapped[str] = mapped_column(String(200))
    ended_by: Mapped[str | None] = mapped_column(String(200))


class Transition(Base):
    """One recorded change (append-only): who, when, from, to, note."""

    __tablename__ = "transition"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(Text)


class Message(Base):
    """A message addressed to the applicant (the only notes an applicant ever sees)."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    items: Mapped[list[Any]]
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class Decision(Base):
    """The decision issued by the window, once per case, under the bureau's seal."""

    __tablename__ = "decision"

    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    year: Mapped[int]
    sequence: Mapped[int]
    document_number: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(16))
    seal: Mapped[str] = mapped_column(String(200))
    reasons: Mapped[list[Any]]
    issued_on: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    issued_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("zone", "year", "sequence"),)


class Rating(Base):
    """The applicant's rating (好差评), once per case."""

    __tablename__ = "rating"

    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), primary_key=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    rated_by: Mapped[str] = mapped_column(String(200))


class Rectification(Base):
    """A rectification item opened by a rating of 2 or lower."""

    __tablename__ = "rectification"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), unique=True)
    zone: Mapped[str] = mapped_column(String(64), index=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    opened_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    provisional: Mapped[bool]
    state: Mapped[str] = mapped_column(String(16))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)


class Escalation(Base):
    """One overdue event: a case or task passed ``deadline``. Unique, so recorded exactly once."""

    __tablename__ = "escalation"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(32))
    deadline: Mapped[date] = mapped_column(Date)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    zone: Mapped[str] = mapped_column(String(64), index=True)
    department: Mapped[str | None] = mapped_column(String(64))
    detected_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    worker: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("subject", "subject_id", "deadline"),)


class OutboxEvent(Base):
    """An event written in the same transaction as the change; fanned out to webhooks later.

    ``txid`` is the writing transaction's id, set by the database (``pg_current_xact_id()``;
    writers never give it): the fan-out reads the outbox by transaction, see
    :mod:`services.permits.webhooks.repository`. SQLite fills it with 0 (unused there).
    ``fanned_out_at`` was set by the fan-out before the cursor replaced per-event marks
    (migration 20261126_0002); it is kept for the events of that time and no longer written."""

    __tablename__ = "outbox_event"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    application_id: Mapped[str] = mapped_column(String(32), index=True)
    zone: Mapped[str] = mapped_column(String(64))
    applicant_sub: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fanned_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    txid: Mapped[int] = mapped_column(Xid8, server_default=text("pg_current_xact_id()"))

    __table_args__ = (Index("ix_outbox_event_txid_seq", "txid", "seq"),)


class OutboxCursor(Base):
    """How far a reader of the outbox got (one row; the webhook fan-out's is ``webhooks``).

    SQLite: ``seq`` is the last event read (commit order is ``seq`` order there). PostgreSQL:
    every event of a transaction visible in ``done`` was read; ``target``, when set, is the
    snapshot closing the window being read, and (``txid``, ``seq``) the last event read of it.
    See :mod:`services.permits.webhooks.repository` for why this is exact."""

    __tablename__ = "outbox_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    txid: Mapped[int] = mapped_column(Xid8)
    done: Mapped[Snapshot | None] = mapped_column(PgSnapshot)
    target: Mapped[Snapshot | None] = mapped_column(PgSnapshot)


class Webhook(Base):
    """A subscriber's endpoint and what it may see (an applicant's cases, a zone, or everything)."""

    __tablename__ = "webhook"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(200), index=True)
    zone: Mapped[str | None] = mapped_column(String(64))
    applicant: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebhookDelivery(Base):
    """One event to one webhook, retried until a 2xx (at least once)."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_event.id"))
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhook.id"), index=True)
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("event_id", "webhook_id"),)


class AuditLog(AuditLogColumns, Base):
    """One committed write: when, by which request and route, and who (services/common/audit.py)."""
