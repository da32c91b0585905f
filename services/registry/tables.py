"""The registry's tables.

``reorganisation`` is the append-only log of legal acts (the source of truth);
``zone_state`` and ``zone_alias`` are its projection, kept current in the same transaction
so that reads never replay the log. ``change`` is the feed other services follow.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import make_metadata

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


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
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("uq_division_code_valid_from", "code", "valid_from", unique=True),)


class Reorganisation(Base):
    __tablename__ = "reorganisation"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    legal_basis: Mapped[str] = mapped_column(String(200))
    effective_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(Text)
    operations: Mapped[list[Any]] = mapped_column(JSON)
    zone_refs: Mapped[dict[str, Any]] = mapped_column(JSON)
    touched: Mapped[list[Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))
    annulled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    annulled_by: Mapped[str | None] = mapped_column(String(200))
    annul_reason: Mapped[str | None] = mapped_column(Text)


class Zone(Base):
    __tablename__ = "zone"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("reorganisation.id"))
    # The sequence of the last act that touched the zone, for "latest act" checks.
    last_reorganisation: Mapped[int] = mapped_column(BigInteger)
    last_effective_on: Mapped[date] = mapped_column(Date)


class ZoneState(Base):
    __tablename__ = "zone_state"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    zone_id: Mapped[str] = mapped_column(ForeignKey("zone.id"), index=True)
    reorganisation_id: Mapped[int] = mapped_column(ForeignKey("reorganisation.id"), index=True)
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
    approved_area_km2: Mapped[Any | None] = mapped_column(Numeric(12, 4))
    established_on: Mapped[date | None] = mapped_column(Date)
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    successor: Mapped[str | None] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[list[Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_zone_state_interval", "valid_from", "valid_to"),
        Index("ix_zone_state_zone_from", "zone_id", "valid_from"),
    )


class ZoneAlias(Base):
    """Every name a zone state answers to: official, former name, plaque, park."""

    __tablename__ = "zone_alias"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    state_id: Mapped[int] = mapped_column(ForeignKey("zone_state.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(200), index=True)
    match: Mapped[str] = mapped_column(String(16))


class Change(Base):
    """The change feed, written in the same transaction as the change it announces."""

    __tablename__ = "change"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
