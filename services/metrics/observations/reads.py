"""Reading values: current values page by page, and the revisions of one value."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period, Role
from libs.domain.metrics.contracts import ObservationRead, RevisionRead
from services.metrics.jurisdiction import Jurisdiction, Registry
from services.metrics.observations.read_scope import CITY_READERS, CountyScope, county_scope, outside, restricted_county
from services.metrics.observations.repository import ObservationReads, ReadCursor
from services.metrics.tables import Batch, Observation, Revision


def parse_subject(zone_id: str | None, division: str | None, *, required: bool) -> tuple[str, str] | None:
    """The subject named by ``?zone_id=`` or ``?division=``: at most one of them (exactly one when
    ``required``); 422 otherwise."""
    if zone_id is not None and division is not None:
        raise Unprocessable(
            Text("zone_id 与 division 只能给出一个", "give zone_id or division, not both"),
            errors=[
                {
                    "loc": ["query", "division"],
                    "msg": Text("zone_id 与 division 只能给出一个", "give zone_id or division, not both"),
                    "type": "subject",
                    "code": "bad_subject",
                }
            ],
            code="bad_subject",
        )
    if zone_id is not None:
        return ("zone", zone_id)
    if division is not None:
        return ("division", division)
    if required:
        needed = Text("须给出 zone_id 或 division", "give zone_id or division")
        raise Unprocessable(
            needed,
            errors=[{"loc": ["query", "zone_id"], "msg": needed, "type": "subject", "code": "bad_subject"}],
            code="bad_subject",
        )
    return None


@dataclass(frozen=True, slots=True)
class ValuesQuery:
    """Which current values to read: of a subject (``("zone", id)`` or ``("division", code)``), an
    indicator, a period, or the periods ending from the end of ``start`` to the end of ``end``."""

    subject: tuple[str, str] | None = None
    indicator: str | None = None
    period: Period | None = None
    start: Period | None = None
    end: Period | None = None


def observation_read(row: Observation, batch: Batch) -> ObservationRead:
    """Contract view of a current value (who and when are its batch's)."""
    return ObservationRead(
        zone_id=row.subject_id if row.subject_type == "zone" else None,
        division=row.subject_id if row.subject_type == "division" else None,
        indicator=row.indicator_code,
        period=row.period,
        value=row.value,
        unit=row.unit,
        revision=row.revision,
        note=row.note,
        first_recorded_at=row.first_recorded_at or batch.recorded_at,
        recorded_at=batch.recorded_at,
        recorded_by=batch.recorded_by,
        recorded_by_issuer=batch.recorded_by_issuer,
        recorded_by_client=batch.recorded_by_client,
    )


def revision_read(row: Revision, batch: Batch) -> RevisionRead:
    """Contract view of a revision (who, when and its link of the chain are its batch's)."""
    return RevisionRead(
        seq=row.seq,
        zone_id=row.subject_id if row.subject_type == "zone" else None,
        division=row.subject_id if row.subject_type == "division" else None,
        indicator=row.indicator_code,
        indicator_version=row.indicator_version,
        period=row.period,
        old_value=row.old_value,
        new_value=row.new_value,
        unit=row.unit,
        original_value=row.original_value,
        original_unit=row.original_unit,
        note=row.note,
        recorded_at=batch.recorded_at,
        recorded_by=batch.recorded_by,
        recorded_by_division=batch.recorded_by_division,
        recorded_by_issuer=batch.recorded_by_issuer,
        recorded_by_client=batch.recorded_by_client,
        batch=row.batch,
        restatement_reason=batch.restatement_reason,
        lock=row.lock_id,
        prev_hash=batch.prev_hash,
        hash=batch.hash,
    )


def _reader_subject(actor: Actor, subject: tuple[str, str] | None) -> tuple[str, str] | None:
    """A zone committee reads its own zone only."""
    if actor.has(*CITY_READERS, Role.COUNTY) or not actor.has(Role.ZONE_COMMITTEE):
        return subject
    own = ("zone", actor.zone or "")
    if subject is not None and subject != own:
        raise Forbidden(
            Text("开发区管委会只能查阅本开发区的数据", "a zone committee reads its own zone's values only"),
            code="own_zone_only",
        )
    return own


async def list_observations(
    query: ValuesQuery,
    *,
    session: AsyncSession,
    actor: Actor,
    after: ReadCursor | None,
    limit: int,
    registry: Registry,
    jurisdiction: Jurisdiction,
) -> tuple[list[ObservationRead], ReadCursor | None]:
    """Current values, one page (keyset on the key: period, indicator, subject type, subject id).

    A county's page holds its own rows only (:mod:`~services.metrics.observations.read_scope`): the
    query keeps its division's totals and the zones it ever managed, and the rows of a zone in a
    period the county did not manage it are dropped here, reading on until the page is full.
    """
    subj = _reader_subject(actor, query.subject)
    reads = ObservationReads(session)
    scope: CountyScope | None = None
    if restricted_county(actor):
        candidates = await reads.zones(subj[1] if subj is not None and subj[0] == "zone" else None)
        scope = await county_scope(actor, candidates, registry=registry, jurisdiction=jurisdiction)
    kept: list[tuple[Observation, Batch]] = []
    while True:
        rows = await reads.search(
            subject=subj,
            indicator=query.indicator,
            period=str(query.period) if query.period else None,
            start=query.start.end if query.start else None,
            end=query.end.end if query.end else None,
            after=after,
            limit=limit + 1,
            among=(scope.division, scope.zones) if scope is not None else None,
        )
        if scope is None:
            kept = rows
            break
        kept.extend((r, b) for r, b in rows if scope.admits(r.subject_type, r.subject_id, r.period))
        if len(rows) <= limit or len(kept) > limit:
            break
        last_read = rows[-1][0]
        after = (last_read.period, last_read.indicator_code, last_read.subject_type, last_read.subject_id)
    more = len(kept) > limit
    kept = kept[:limit]
    last = kept[-1][0] if more and kept else None
    return [observation_read(r, b) for r, b in kept], (
        (last.period, last.indicator_code, last.subject_type, last.subject_id) if last is not None else None
    )


async def history(
    *,
    session: AsyncSession,
    actor: Actor,
    subject: tuple[str, str],
    indicator: str,
    period: Period,
    after: int | None,
    limit: int,
    registry: Registry,
    jurisdiction: Jurisdiction,
) -> tuple[list[RevisionRead], int | None]:
    """Every revision of one value, oldest first (one page); a 403 for a county's value outside its
    scope (whether or not the value exists: ids of zones and divisions are public)."""
    subj = _reader_subject(actor, subject)
    assert subj is not None
    if restricted_county(actor):
        zones = [subj[1]] if subj[0] == "zone" else []
        scope = await county_scope(actor, zones, registry=registry, jurisdiction=jurisdiction)
        if not scope.admits(subj[0], subj[1], str(period)):
            raise outside(subj, period)
    rows = await ObservationReads(session).history(
        (subj[0], subj[1], indicator, str(period)), after_seq=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return [revision_read(r, b) for r, b in rows], (rows[-1][0].seq if more and rows else None)
