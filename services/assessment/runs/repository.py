"""Queries on runs, their results, reference scores and outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

import orjson
from sqlalchemy import JSON, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator, TypeEngine

from services.assessment.tables import (
    Assessment,
    AssessmentEvent,
    AssessmentResult,
    EncodedJSON,
    Outcome,
    ReferenceScore,
    Summons,
)
from services.common.audit import wrote

_LIGHT = defer(Assessment.inputs)
"""Runs are listed and compared without their (large) inputs document."""


async def get(
    session: AsyncSession, run_id: int, *, with_inputs: bool = False, for_update: bool = False
) -> Assessment | None:
    """A run by id (its inputs document only when asked for; row-locked on PostgreSQL ``for_update``)."""
    query = select(Assessment).where(Assessment.id == run_id)
    if not with_inputs:
        query = query.options(_LIGHT)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def inputs_of(session: AsyncSession, run_id: int) -> dict[str, Any]:
    """A run's stored inputs document."""
    inputs = await session.scalar(select(Assessment.inputs).where(Assessment.id == run_id))
    return dict(inputs or {})


async def published_for_key(session: AsyncSession, run: Assessment) -> Assessment | None:
    """The run in force for ``run``'s methodology code, kind, period and subjects (row-locked), if any."""
    query = (
        select(Assessment)
        .options(_LIGHT)
        .where(
            Assessment.methodology_code == run.methodology_code,
            Assessment.kind == run.kind,
            Assessment.period == run.period,
            Assessment.subjects_key == run.subjects_key,
            Assessment.status == "published",
        )
        .with_for_update()
    )
    return (await session.execute(query)).scalars().first()


async def add_event(session: AsyncSession, **values: Any) -> None:
    """Append a step of a run's life."""
    session.add(AssessmentEvent(**values))
    await session.flush()


async def events(session: AsyncSession, run_id: int) -> Sequence[AssessmentEvent]:
    """A run's life, oldest first."""
    query = select(AssessmentEvent).where(AssessmentEvent.assessment_id == run_id).order_by(AssessmentEvent.id)
    return (await session.execute(query)).scalars().all()


async def withdraw_outcomes(session: AsyncSession, run_id: int, *, at: datetime, reason: str) -> None:
    """Mark a run's outcomes withdrawn (they stay, as history)."""
    await session.execute(
        update(Outcome)
        .where(Outcome.assessment_id == run_id, Outcome.withdrawn_at.is_(None))
        .values(withdrawn_at=at, withdrawn_reason=reason)
        .execution_options(synchronize_session=False)
    )


async def cancel_summons(session: AsyncSession, run_id: int) -> None:
    """Cancel a run's summons not yet held (a withdrawn warning summons nobody)."""
    await session.execute(
        update(Summons)
        .where(Summons.assessment_id == run_id, Summons.status == "pending")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


async def insert_run(session: AsyncSession, *, inputs: dict[str, Any], inputs_json: str, **values: Any) -> Assessment:
    """Store a run (flushed), its inputs document as the JSON text given (the canonical text hashed)."""
    row = Assessment(**values, inputs=EncodedJSON(inputs_json))
    session.add(row)
    await session.flush()
    set_committed_value(row, "inputs", inputs)
    return row


def _is_json(type_: TypeEngine[Any]) -> bool:
    return isinstance(type_, JSON) or (isinstance(type_, TypeDecorator) and isinstance(type_.impl_instance, JSON))


async def _bulk_insert(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` in one batch, in the session's transaction.

    On PostgreSQL the rows go through the driver's binary COPY on the session's own connection
    (same transaction, so a failure later still stores nothing); a national run stores thousands.
    Elsewhere a plain executemany insert.
    """
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await session.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    as_json = [_is_json(table.c[c].type) for c in columns]
    # A generator: the driver sends every 512 kB as it is encoded, so the server works on the
    # first rows while the last are being encoded.
    records = (
        tuple(
            orjson.dumps(row[c]).decode() if is_json and row[c] is not None else row[c]
            for c, is_json in zip(columns, as_json, strict=True)
        )
        for row in rows
    )
    wrote(session)  # a COPY: the audit log does not see it go by
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(table.name, records=records, columns=columns, schema_name=table.schema)


async def insert_results(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store a run's zone results in one batch."""
    await _bulk_insert(session, cast(Table, AssessmentResult.__table__), rows)


async def insert_reference(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store a run's reference scores in one batch."""
    await _bulk_insert(session, cast(Table, ReferenceScore.__table__), rows)


async def insert_outcomes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[Outcome]:
    """Store outcomes; they get ids (summons point at them)."""
    objects = [Outcome(**r) for r in rows]
    session.add_all(objects)
    await session.flush()
    return objects


async def insert_summons(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[Summons]:
    """Store summons records."""
    objects = [Summons(**r) for r in rows]
    session.add_all(objects)
    await session.flush()
    return objects


async def results(session: AsyncSession, run_id: int) -> Sequence[AssessmentResult]:
    """A run's zone results in their stored order (by rank, then the zones not ranked)."""
    query = select(AssessmentResult).where(AssessmentResult.assessment_id == run_id).order_by(AssessmentResult.position)
    return (await session.execute(query)).scalars().all()


async def reference_scores(session: AsyncSession, run_id: int) -> Sequence[ReferenceScore]:
    """A run's reference scores in their stored order."""
    query = select(ReferenceScore).where(ReferenceScore.assessment_id == run_id).order_by(ReferenceScore.position)
    return (await session.execute(query)).scalars().all()


async def outcomes(
    session: AsyncSession, run_id: int, *, after: int | None = None, limit: int | None = None
) -> Sequence[Outcome]:
    """A run's outcomes in the order they were decided (a page of them: after the id ``after``, at most ``limit``)."""
    query = select(Outcome).where(Outcome.assessment_id == run_id).order_by(Outcome.id)
    if after is not None:
        query = query.where(Outcome.id > after)
    if limit is not None:
        query = query.limit(limit)
    return (await session.execute(query)).scalars().all()


async def summons_for_outcomes(session: AsyncSession, outcome_ids: Sequence[int]) -> dict[int, int]:
    """The summons id of each warned outcome that has one."""
    if not outcome_ids:
        return {}
    query = select(Summons.outcome_id, Summons.id).where(Summons.outcome_id.in_(list(outcome_ids)))
    return {int(o): int(s) for o, s in (await session.execute(query)).all()}


async def published_run(session: AsyncSession, *, code: str, kind: str, period: str) -> Assessment | None:
    """The published zone run of methodology ``code`` for ``kind`` and ``period``, if any."""
    query = (
        select(Assessment)
        .options(_LIGHT)
        .where(
            Assessment.methodology_code == code,
            Assessment.kind == kind,
            Assessment.subjects_key == "zones",
            Assessment.period == period,
            Assessment.status == "published",
        )
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def ranks(session: AsyncSession, run_id: int) -> dict[str, int | None]:
    """Every zone of a run and its rank (None: not ranked)."""
    query = select(AssessmentResult.zone, AssessmentResult.rank).where(AssessmentResult.assessment_id == run_id)
    return {z: r for z, r in (await session.execute(query)).all()}


async def published_annual_run(session: AsyncSession, *, kind: str, year_start: date) -> Assessment | None:
    """The published annual zone run of ``kind`` for the year starting ``year_start`` (any methodology;
    the newest if several methodologies have one)."""
    query = (
        select(Assessment)
        .options(_LIGHT)
        .where(
            Assessment.kind == kind,
            Assessment.subjects == "zones",
            Assessment.period_type == "year",
            Assessment.period_start_on == year_start,
            Assessment.status == "published",
        )
        .order_by(Assessment.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def warned_zones(session: AsyncSession, run_id: int) -> list[str]:
    """Zones a run warned."""
    query = select(Outcome.zone).where(Outcome.assessment_id == run_id, Outcome.outcome == "warned").distinct()
    return sorted(z for (z,) in (await session.execute(query)).all())


async def page(
    session: AsyncSession,
    *,
    kind: str | None,
    code: str | None,
    period: str | None,
    statuses: Sequence[str],
    after: int | None,
    limit: int,
) -> Sequence[Assessment]:
    """Runs in one of ``statuses``, newest first, before the cursor ``after``."""
    query = (
        select(Assessment)
        .options(_LIGHT)
        .where(Assessment.status.in_(list(statuses)))
        .order_by(Assessment.id.desc())
        .limit(limit)
    )
    if kind is not None:
        query = query.where(Assessment.kind == kind)
    if code is not None:
        query = query.where(Assessment.methodology_code == code)
    if period is not None:
        query = query.where(Assessment.period == period)
    if after is not None:
        query = query.where(Assessment.id < after)
    return (await session.execute(query)).scalars().all()
