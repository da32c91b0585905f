"""The registry's tables.

``reorganisation`` is the append-only log of legal acts (the source of truth; an annulment
is recorded on the act, never by deleting it). ``zone_state``, ``zone_alias`` and ``lineage``
are its projection, maintained in the same transaction so that reads never replay the log;
annulling an act removes the projection rows it produced and reopens the states it closed.
``change`` is the feed other services follow, written in the same transaction as the change.
``idempotency_key`` keeps the keys of the writes that take one, with their answers.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.audit import AuditLogColumns
from services.common.db import BigIntPK, UtcDateTime, make_metadata
from services.common.idempotency import IdempotencyKeyColumns


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class WriteLock(Base):
    """One row per lock name; writers upsert it first to serialise (see ``serialise_writes``)."""

    __tablename__ = "write_lock"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger)


class Division(Base):
    __tablename__ = "division"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    successor: Mapped[str | None] = mapped_column(String(6))
    is_city: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("uq_division_code_valid_from", "code", "valid_from", unique=True),)


class Reorganisation(Base):
    __tablename__ = "reorganisation"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    legal_basis: Mapped[str] = mapped_column(String(200))
    effective_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    operations: Mapped[list[Any]] = mapped_column(JSON)
    zone_refs: Mapped[dict[str, Any]] = mapped_column(JSON)
    touched: Mapped[list[Any]] = mapped_column(JSON)
    changes: Mapped[list[Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(200))
    annulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    annulled_by: Mapped[str | None] = mapped_column(String(200))
    annul_reason: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(IdempotencyKeyColumns, Base):
    """The ``Idempotency-Key`` of each act recorded with one, and the answer a retry gets
    (the policy of :mod:`services.common.idempotency`)."""


class Zone(Base):
    """A zone's stable identity; its states live in ``zone_state``."""

    __tablename__ = "zone"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("reorganisation.id"), index=True)


class ZoneState(Base):
    __tablename__ = "zone_state"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    zone_id: Mapped[str] = mapped_column(ForeignKey("zone.id"))
    reorganisation_id: Mapped[int] = mapped_column(ForeignKey("reorganisation.id"), index=True)
    legal_basis: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    authority: Mapped[str] = mapped_column(String(6))
    entrusted_to: Mapped[str | None] = mapped_column(String(6))
    parks: Mapped[list[Any]] = mapped_column(JSON)
    plaques: Mapped[list[Any]] = mapped_column(JSON)
    former_names: Mapped[list[Any]] = mapped_column(JSON)
    approved_area_km2: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    established_on: Mapped[date | None] = mapped_column(Date)
    successor: Mapped[str | None] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[list[Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_zone_state_interval", "valid_from", "valid_to"),
        Index("ix_zone_state_zone_from", "zone_id", "valid_from"),
        Index("ix_zone_state_open", "zone_id", "valid_to"),
    )


class ZoneAlias(Base):
    """Every name a zone state answers to: official, former name, plaque, park (normalised for look-up)."""

    __tablename__ = "zone_alias"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    state_id: Mapped[int] = mapped_column(ForeignKey("zone_state.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    match: Mapped[str] = mapped_column(String(16))


class Lineage(Base):
    """``source`` became (part of) ``target`` on ``on`` by a merge or a split."""

    __tablename__ = "lineage"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    reorganisation_id: Mapped[int] = mapped_column(ForeignKey("reorganisation.id"), index=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(32), index=True)
    operation: Mapped[str] = mapped_column(String(16))
    on: Mapped[date] = mapped_column(Date)


class Change(Base):
    """The change feed, written in the same transaction as the change it announces."""

    __tablename__ = "change"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditLog(AuditLogColumns, Base):
    """One committed write: when, by which request and route, and who (services/common/audit.py)."""
