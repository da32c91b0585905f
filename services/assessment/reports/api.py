"""Routes: the half-year indicator bulletin and the city's target progress."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Response

from libs.domain.assessment.contracts import RankingsRead, TargetProgressRead
from libs.domain.kernel.values import Period, ZoneKind
from services.assessment.dependencies import MetricsDep, RegistryDep
from services.assessment.reports import service
from services.assessment.runs.api import FILE_CONTENT, json_response
from services.assessment.runs.bulletin import BulletinFormat, render
from services.common.auth import PUBLIC
from services.common.periods import PeriodParam
from services.common.problems import problems

router = APIRouter(prefix="/v1")


RankingsPeriod = Annotated[PeriodParam, Query(description="e.g. 2025H1")]
RankingsIndicators = Annotated[
    str | None, Query(max_length=2000, description="Comma-separated codes; default: the main indicators.")
]
_RANKINGS_DESCRIPTION = (
    "Each indicator ranked on its own across the zones of a kind, with value, rank and the change "
    "since the previous period (lineage-aware)."
)


async def _rankings(
    registry: RegistryDep, metrics: MetricsDep, period: Period, kind: ZoneKind, indicators: str | None
) -> RankingsRead:
    codes = [c.strip() for c in indicators.split(",") if c.strip()] if indicators else None
    return await service.rankings(registry=registry, metrics=metrics, period=period, kind=kind, indicators=codes)


def _rankings_file(report: RankingsRead, fmt: BulletinFormat) -> Response:
    content, media_type = render(service.rankings_bulletin(report), fmt)
    filename = f"rankings-{report.period}-{report.kind.value}.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'{disposition}; filename="{filename}"'}
    )


@router.get(
    "/rankings",
    operation_id="getRankings",
    response_model=RankingsRead,
    status_code=200,
    tags=["bulletins"],
    summary="The half-year bulletin of the main indicators (每半年通报主要指标排名)",
    description=_RANKINGS_DESCRIPTION
    + " As files: `/v1/rankings.html` (with SVG charts), `/v1/rankings.csv`, `/v1/rankings.xlsx`.",
    openapi_extra=PUBLIC,
    responses=problems(422, 502, 503),
)
async def rankings(
    registry: RegistryDep,
    metrics: MetricsDep,
    period: RankingsPeriod,
    kind: ZoneKind,
    indicators: RankingsIndicators = None,
) -> Response:
    return json_response(await _rankings(registry, metrics, period, kind, indicators))


_RANKINGS_FILES: dict[BulletinFormat, str] = {"html": "HTML, with SVG charts", "csv": "CSV", "xlsx": "XLSX"}


def _rankings_file_route(fmt: BulletinFormat) -> Callable[..., Awaitable[Response]]:
    async def rankings_file(
        registry: RegistryDep,
        metrics: MetricsDep,
        period: RankingsPeriod,
        kind: ZoneKind,
        indicators: RankingsIndicators = None,
    ) -> Response:
        return _rankings_file(await _rankings(registry, metrics, period, kind, indicators), fmt)

    return rankings_file


# Each file is its own operation (docs/api-conventions.md#one-set-of-conventions): /v1/rankings.html …
for _fmt, _label in _RANKINGS_FILES.items():
    router.add_api_route(
        f"/rankings.{_fmt}",
        _rankings_file_route(_fmt),
        methods=["GET"],
        operation_id=f"getRankings{_fmt.capitalize()}",
        response_class=Response,
        response_model=None,
        status_code=200,
        tags=["bulletins"],
        summary=f"The half-year bulletin of the main indicators as {_label}",
        description=_RANKINGS_DESCRIPTION,
        openapi_extra=PUBLIC,
        responses={
            200: {"content": FILE_CONTENT[_fmt], "description": f"The bulletin as {_fmt.upper()}"},
            **problems(422, 502, 503),
        },
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
