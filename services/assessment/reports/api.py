"""Routes: the half-year indicator bulletin and the city's target progress."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from libs.domain.assessment.contracts import RankingsRead, TargetProgressRead
from libs.domain.kernel.values import ZoneKind
from services.assessment.dependencies import MetricsDep, RegistryDep
from services.assessment.reports import service
from services.assessment.runs.api import FILE_CONTENT, json_response
from services.assessment.runs.bulletin import render
from services.common.auth import PUBLIC
from services.common.periods import PeriodParam
from services.common.problems import problems

router = APIRouter(prefix="/v1")


@router.get(
    "/rankings",
    operation_id="getRankings",
    response_model=RankingsRead,
    status_code=200,
    tags=["bulletins"],
    summary="The half-year bulletin of the main indicators (每半年通报主要指标排名)",
    description="Each indicator ranked on its own across the zones of a kind, with value, rank and the change "
    "since the previous period (lineage-aware). `format=json` (default), `html` (with SVG charts), `csv` or `xlsx`.",
    openapi_extra=PUBLIC,
    responses={200: {"content": {"application/json": {}, **FILE_CONTENT}}, **problems(422, 502, 503)},
)
async def rankings(
    registry: RegistryDep,
    metrics: MetricsDep,
    period: Annotated[PeriodParam, Query(description="e.g. 2025H1")],
    kind: ZoneKind,
    indicators: Annotated[
        str | None, Query(max_length=2000, description="Comma-separated codes; default: the main indicators.")
    ] = None,
    format: Literal["json", "html", "csv", "xlsx"] = "json",
) -> Response:
    codes = [c.strip() for c in indicators.split(",") if c.strip()] if indicators else None
    report = await service.rankings(registry=registry, metrics=metrics, period=period, kind=kind, indicators=codes)
    if format == "json":
        return json_response(report)
    content, media_type = render(service.rankings_bulletin(report), format)
    filename = f"rankings-{report.period}-{report.kind.value}.{format}"
    disposition = "inline" if format == "html" else "attachment"
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'{disposition}; filename="{filename}"'}
    )


@router.get(
    "/targets/progress",
    operation_id="getTargetsProgress",
    response_model=TargetProgressRead,
    status_code=200,
    tags=["targets"],
    summary="The city's 2018 and 2020 targets evaluated from the data, with a projection from the trend",
    openapi_extra=PUBLIC,
    responses=problems(422, 502, 503),
)
async def targets_progress(
    metrics: MetricsDep, year: Annotated[int, Query(ge=2000, le=2100, description="The year to evaluate.")]
) -> TargetProgressRead:
    return await service.targets_progress(metrics=metrics, year=year)
