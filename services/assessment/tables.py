"""The assessment service's tables.

A run's inputs, results and outcomes never change. What does change is a run's standing as an
official act (draft → published → superseded or withdrawn): its status columns, the withdrawal
marks on its outcomes and the status of its summons. Every such change is also appended to
``assessment_event``, which is never updated, so the history of an act is kept whole.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic_core import from_json, to_json
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from services.common.audit import AuditLogColumns
from services.common.db import BigIntPK, UtcDateTime, make_metadata
from services.common.idempotency import IdempotencyKeyColumns


class EncodedJSON(str):
    """A JSON document already encoded: :class:`FastJSON` stores the text as it is."""


class FastJSON(TypeDecorator[Any]):
    """JSON serialised by pydantic-core (Rust) instead of the standard library.

    A national run stores about 100,000 leaf results; the standard library's encoder was the
    largest single cost of storing them. The column is the backend's JSON type all the same.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: Any) -> str | None:
            if value is None:
                return None
            if isinstance(value, EncodedJSON):
                return str(value)
            return to_json(value).decode()

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            if value is None or not isinstance(value, str | bytes):
                return value
            return from_json(value)

        return process


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Methodology(Base):
    """A published, immutable version of an assessment method."""

    __tablename__ = "methodology"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    applies_to: Mapped[list[Any]] = mapped_column(JSON)
    period_type: Mapped[str] = mapped_column(String(16))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("uq_methodology_code_version", "code", "version", unique=True),)


class Assessment(Base):
    """A run: a methodology applied to every zone of a kind for a period, with its exact inputs."""

    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    methodology_id: Mapped[int] = mapped_column(ForeignKey("methodology.id"))
    methodology_code: Mapped[str] = mapped_column(String(64))
    methodology_version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(16))
    period_start_on: Mapped[date] = mapped_column(Date)
    period_type: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(Text)
    subjects: Mapped[str] = mapped_column(String(32))
    registry_as_of: Mapped[date] = mapped_column(Date)
    inputs: Mapped[dict[str, Any]] = mapped_column(FastJSON())
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    previous_assessment_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    zone_count: Mapped[int] = mapped_column(Integer)
    ranked_count: Mapped[int] = mapped_column(Integer)
    outcome_count: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    subjects_key: Mapped[str] = mapped_column(String(600), default="zones")
    """What a run assessed, as the key of "one published run": ``zones``, ``divisions_without_zone``
    or ``divisions_without_zone:<code>,<code>…`` when only some divisions were asked for."""
    coverage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    """``draft``, ``published``, ``superseded`` or ``withdrawn``."""
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    publish_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    superseded_by: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_assessment_code_kind", "methodology_code", "kind", "subjects"),
        Index("ix_assessment_kind_period", "kind", "period_type", "period_start_on"),
        Index("ix_assessment_status", "status", "id"),
        # At most one published run per (methodology code, kind, period, subjects): publishing
        # another without superseding it fails here even when two requests race.
        Index(
            "uq_assessment_published",
            "methodology_code",
            "kind",
            "period",
            "subjects_key",
            unique=True,
            postgresql_where=text("status = 'published'"),
            sqlite_where=text("status = 'published'"),
        ),
    )


class AssessmentEvent(Base):
    """One step of a run's life as an official act: created, published, superseded, withdrawn."""

    __tablename__ = "assessment_event"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"))
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The note of a publication, the reason of a supersession or withdrawal."""
    related: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    """The run superseded (on ``published``) or superseding (on ``superseded``)."""

    __table_args__ = (Index("ix_assessment_event_run", "assessment_id", "id"),)


class AssessmentResult(Base):
    """One zone's result in a run."""

    __tablename__ = "assessment_result"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"))
    position: Mapped[int] = mapped_column(Integer)
    zone: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    previous_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rank_change: Mapped[int | None] = mapped_column(Integer, nullable=True)
    movement: Mapped[str | None] = mapped_column(String(20), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(FastJSON())

    __table_args__ = (
        Index("ix_assessment_result_run", "assessment_id", "position"),
        Index("ix_assessment_result_zone", "zone"),
    )


class ReferenceScore(Base):
    """A county-level division without a zone, scored against the zones' method (二十八)."""

    __tablename__ = "reference_score"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"))
    position: Mapped[int] = mapped_column(Integer)
    division: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    reference_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recommended: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict[str, Any]] = mapped_column(FastJSON())

    __table_args__ = (Index("ix_reference_score_run", "assessment_id", "position"),)


class Outcome(Base):
    """A commendation, warning or revocation-review flag decided by a run."""

    __tablename__ = "outcome"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"))
    zone: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    numbers: Mapped[dict[str, Any]] = mapped_column(JSON)
    tie: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Set when the run is superseded or withdrawn: the outcome stays in history, no longer in force."""

    __table_args__ = (
        Index("ix_outcome_zone", "zone", "id"),
        Index("ix_outcome_run", "assessment_id", "id"),
    )


class Summons(Base):
    """A summons (约谈) of a warned zone's leaders and of the local Party committee and government."""

    __tablename__ = "summons"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcome.id"))
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"))
    zone: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    summoned: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_summons_zone", "zone", "id"),)


class SanctionPolicy(Base):
    """A version of a zone kind's reward and warning rules (the source's defaults until one is stored)."""

    __tablename__ = "sanction_policy"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("uq_sanction_policy_kind_version", "kind", "version", unique=True),)


class IdempotencyKey(IdempotencyKeyColumns, Base):
    """An Idempotency-Key of a run's creation and the answer it gave (services/common/idempotency.py)."""


class AuditLog(AuditLogColumns, Base):
    """One committed write: when, by which request and route, and who (services/common/audit.py)."""
