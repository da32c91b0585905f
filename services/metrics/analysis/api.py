"""Routes of the read side: the values matrix, completeness, quality, deadlines."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from libs.domain.kernel.values import ZoneKind
from libs.domain.metrics.contracts import CompletenessRead, DeadlineRead, DeadlineSet, MatrixAnswer, QualityReport
from services.common.auth import PUBLIC
from services.common.db import SessionDep
from services.common.periods import PeriodParam
from services.common.problems import problems
from services.metrics.analysis import completeness as completeness_report
from services.metrics.analysis import deadlines
from services.metrics.analysis import matrix as value_matrix
from services.metrics.analysis import quality as quality_report
from services.metrics.analysis.commands import CompletenessQuery, DivisionMatrixQuery, ReadContext, ZoneMatrixQuery
from services.metrics.dependencies import CityAdmin, Reader, RegistryDep, Supervisor
from services.metrics.runtime import RuntimeDep

router = APIRouter(prefix="/v1")


def _codes(listed: str | None) -> list[str] | None:
    """A comma-separated list of codes (``None`` when not given)."""
    return [c.strip() for c in listed.split(",") if c.strip()] if listed else None


PeriodPath = Annotated[PeriodParam, Path(description="`2025`, `2025H1` or `2025Q3`")]


@router.get(
    "/matrix",
    operation_id="getZoneMatrix",
    response_model=MatrixAnswer,
    status_code=200,
    tags=["matrix"],
    openapi_extra=PUBLIC,
    summary="Every zone of a kind for one period: base, stock and derived values in one answer",
    description="What the assessment service consumes. Zones are those active on `as_of` (default: the "
    "period's end). With `lineage=proforma`, a row also adds the components of the zones merged into it "
    "after the period (listed in `proforma_from`), so growth compares like with like. Derived values are "
    "always computed from the summed components. A value not pushed for the period itself is built from its "
    "halves or quarters (a flow summed, a stock the last part's), and listed in the row's `built`; a value "
    "that cannot be built is null, with what lacks in the row's `missing`. Values are decimal strings in "
    "each indicator's canonical unit; each row names its zone in `zone_id`.",
    responses=problems(422, 503),
)
async def matrix(
    session: SessionDep,
    registry: RegistryDep,
    runtime: RuntimeDep,
    period: Annotated[PeriodParam, Query()],
    indicators: Annotated[
        str | None, Query(max_length=4000, description="Comma-separated codes (default: every indicator)")
    ] = None,
    kind: ZoneKind | None = None,
    as_of: date | None = None,
    lineage: Literal["none", "proforma"] = "none",
) -> Response:
    query = ZoneMatrixQuery(period, _codes(indicators), kind, as_of, lineage)
    result = await value_matrix.zone_matrix(query, ReadContext(session, registry, runtime.jurisdiction))
    # Serialised directly: the model is already valid, and re-validating 100,000 values costs.
    return Response(result.model_dump_json(), media_type="application/json")


@router.get(
    "/matrix/divisions",
    operation_id="getDivisionMatrix",
    response_model=MatrixAnswer,
    status_code=200,
    tags=["matrix"],
    openapi_extra=PUBLIC,
    summary="Divisions' own totals for one period, one row per division code (derived values included)",
    description="Each row names its division in `division` (its `zone_id` is null). Used for the reference "
    "scores of counties without a provincial zone; `city(...)` in a formula reads the totals of the division's "
    "city. Totals are built from sub-periods as in `/v1/matrix` (`built`, `missing`).",
    responses=problems(422),
)
async def division_matrix(
    session: SessionDep,
    period: Annotated[PeriodParam, Query()],
    divisions: Annotated[str, Query(max_length=4000, description="Comma-separated 6-digit codes")],
    indicators: Annotated[
        str | None, Query(max_length=4000, description="Comma-separated codes (default: every indicator)")
    ] = None,
    as_of: date | None = None,
) -> MatrixAnswer:
    query = DivisionMatrixQuery(period, _codes(divisions) or [], _codes(indicators), as_of)
    return await value_matrix.division_matrix(query, session)


@router.get(
    "/completeness",
    operation_id="getCompleteness",
    response_model=CompletenessRead,
    status_code=200,
    tags=["quality"],
    summary="For each zone expected to report, the required indicators still missing; rates per division",
    description="Zones expected: those active at the period's end (of `kind`, of `division`: administered "
    "or managed by entrustment). A value first pushed after the period's due date (see `/v1/deadlines`; "
    f"default {deadlines.DEFAULT_DUE_DAYS} days after the period ends) is late.",
    responses=problems(401, 403, 422, 503),
)
async def completeness(
    session: SessionDep,
    registry: RegistryDep,
    runtime: RuntimeDep,
    actor: Reader,
    period: Annotated[PeriodParam, Query()],
    kind: ZoneKind | None = None,
    division: Annotated[str | None, Query(max_length=12)] = None,
) -> CompletenessRead:
    query = CompletenessQuery(period, kind, division)
    return await completeness_report.completeness(query, ReadContext(session, registry, runtime.jurisdiction), actor)


@router.get(
    "/quality",
    operation_id="getQualityFindings",
    response_model=QualityReport,
    status_code=200,
    tags=["quality"],
    summary="Data-quality findings for the statistics bureau",
    description="Consistency (a part above its whole, a share above 100%, the zones' sum above their city's "
    "or county's total), growth outliers across zones by the modified z-score (median/MAD, |z| > 3.5, "
    "previous period pro-forma), and a Benford first-digit chi-square test per pushing division with at "
    "least 50 values.",
    responses=problems(401, 403, 422, 503),
)
async def quality(
    session: SessionDep,
    registry: RegistryDep,
    runtime: RuntimeDep,
    actor: Supervisor,
    period: Annotated[PeriodParam, Query()],
) -> QualityReport:
    return await quality_report.quality(period, ReadContext(session, registry, runtime.jurisdiction))


@router.get(
    "/deadlines/{period}",
    operation_id="getReportingDeadline",
    response_model=DeadlineRead,
    status_code=200,
    tags=["quality"],
    summary="When a period's values are due",
    responses=problems(401, 403, 422),
)
async def get_deadline(session: SessionDep, actor: Reader, period: PeriodPath) -> DeadlineRead:
    return await deadlines.get_deadline(session=session, period=period)


@router.put(
    "/deadlines/{period}",
    operation_id="setReportingDeadline",
    response_model=DeadlineRead,
    status_code=200,
    tags=["quality"],
    summary="Set when a period's values are due",
    responses=problems(401, 403, 422),
)
async def set_deadline(session: SessionDep, actor: CityAdmin, period: PeriodPath, body: DeadlineSet) -> DeadlineRead:
    return await deadlines.set_deadline(session=session, actor=actor, period=period, body=body)
