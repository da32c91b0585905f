"""Use cases on methodologies: publish a version, read versions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import MethodologyCreate, MethodologyRead, MethodologySummary
from libs.domain.assessment.methodology import ZONE_KINDS, IndicatorInfo, canonical_document
from libs.domain.assessment.validation import parse_methodology
from libs.domain.clients.metrics import MetricsClient
from libs.domain.kernel.canonical import inputs_sha256
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Conflict, NotFound
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import ZoneKind
from libs.domain.metrics.contracts import IndicatorRead
from services.assessment.dependencies import authorise_kinds
from services.assessment.methodologies import repository
from services.assessment.tables import Methodology


def indicator_info(indicator: IndicatorRead) -> IndicatorInfo:
    """What validation needs from a catalog entry."""
    return IndicatorInfo(
        code=indicator.code,
        minimum=None if indicator.min is None else float(indicator.min),
        maximum=None if indicator.max is None else float(indicator.max),
        period_types=tuple(indicator.period_types),
        direction=indicator.direction,
        unit=indicator.unit,
        name=indicator.name_zh,
    )


async def catalog(metrics: MetricsClient) -> dict[str, IndicatorInfo]:
    """The metrics catalog, by code (503 when the metrics service is down)."""
    return {i.code: indicator_info(i) for i in await metrics.indicators()}


def to_read(row: Methodology, runs: int) -> MethodologyRead:
    """The API view of a stored version."""
    doc = row.document
    return MethodologyRead(
        id=row.id,
        code=row.code,
        version=row.version,
        title=row.title,
        applies_to=[ZoneKind(k) for k in row.applies_to],
        period_type=row.period_type,
        scale=float(doc.get("scale", 100)),
        note=doc.get("note"),
        indicators=parse_methodology(doc).indicators,
        document=doc,
        sha256=row.sha256,
        runs=runs,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def to_summary(row: Methodology) -> MethodologySummary:
    """A version in a list."""
    return MethodologySummary(
        id=row.id,
        code=row.code,
        version=row.version,
        title=row.title,
        applies_to=[ZoneKind(k) for k in row.applies_to],
        period_type=row.period_type,
        sha256=row.sha256,
        created_at=row.created_at,
    )


async def publish(
    *,
    session: AsyncSession,
    metrics: MetricsClient,
    actor: Actor,
    body: MethodologyCreate,
    fast_canonical_json: bool = True,
) -> tuple[MethodologyRead, bool]:
    """Publish a version (the next one when ``version`` is omitted); True when newly stored.

    Versions are immutable: re-sending an identical document is answered with the stored
    version (a safe retry); a different document under an existing version is a 409.
    """
    authorise_kinds(actor, [k for k in body.applies_to if k in ZONE_KINDS])
    document: dict[str, Any] = body.model_dump(mode="json", exclude_none=True)
    if body.version is None:
        current = await repository.latest(session, body.code)
        document["version"] = 1 if current is None else current.version + 1
    method = parse_methodology(document, catalog=await catalog(metrics), loc=["body"])
    canonical = canonical_document(method)
    sha = inputs_sha256(canonical, fast=fast_canonical_json)
    existing = await repository.get(session, method.code, method.version)
    if existing is not None:
        return _replay(existing, sha, await repository.run_counts(session, [existing.id])), False
    try:
        async with session.begin_nested():
            row = await repository.insert(
                session,
                code=method.code,
                version=method.version,
                title=method.title,
                applies_to=list(method.applies_to),
                period_type=method.period_type,
                document=canonical,
                sha256=sha,
                created_at=datetime.now(UTC),
                created_by=actor.sub,
            )
    except IntegrityError:
        raced = await repository.get(session, method.code, method.version)
        if raced is None:
            raise
        return _replay(raced, sha, {}), False
    return to_read(row, 0), True


def _replay(existing: Methodology, sha: str, counts: dict[int, int]) -> MethodologyRead:
    if existing.sha256 != sha:
        raise Conflict(
            Text(
                f"考评办法 {existing.code} 第 {existing.version} 版已发布，不可更改；"
                f"请将修改作为第 {existing.version + 1} 版发布（或省略 `version`）",
                f"methodology {existing.code} version {existing.version} is published and immutable; "
                f"publish the change as version {existing.version + 1} (or omit `version`)",
            ),
            code="methodology_immutable",
            methodology=existing.code,
            version=existing.version,
        )
    return to_read(existing, counts.get(existing.id, 0))


async def get(*, session: AsyncSession, code: str, version: int | None) -> MethodologyRead:
    """A version of ``code`` (the latest when ``version`` is None)."""
    row = await (repository.latest(session, code) if version is None else repository.get(session, code, version))
    if row is None:
        what = f"methodology {code}" + ("" if version is None else f" version {version}")
        what_zh = f"考评办法 {code}" + ("" if version is None else f" 第 {version} 版")
        raise NotFound(Text(f"{what_zh}不存在", f"{what} does not exist"), code="methodology_not_found")
    return to_read(row, (await repository.run_counts(session, [row.id])).get(row.id, 0))


async def list_versions(
    *, session: AsyncSession, code: str | None, kind: ZoneKind | None, after: int | None, limit: int
) -> tuple[list[MethodologySummary], int | None]:
    """Versions in publication order; the cursor is the last id when more may follow."""
    rows: Sequence[Methodology] = await repository.page(session, code=code, after=after, limit=limit)
    last = rows[-1].id if len(rows) == limit else None
    items = [to_summary(r) for r in rows if kind is None or kind.value in r.applies_to]
    return items, last
