"""Routes: runs, their verification, outcomes, sensitivity and bulletin."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from libs.domain.assessment.contracts import (
    AssessmentCreate,
    AssessmentRead,
    AssessmentSummary,
    OutcomeRead,
    SensitivityRead,
    VerificationRead,
)
from libs.domain.assessment.sensitivity import DEFAULT_SAMPLES, MAX_SAMPLES, MIN_SAMPLES
from libs.domain.kernel.contracts import Page
from libs.domain.kernel.values import ZoneKind
from services.assessment.dependencies import (
    FastCanonicalJson,
    MetricsDep,
    RegistryDep,
    Writer,
    authorise_kinds,
)
from services.assessment.methodologies.api import int_cursor
from services.assessment.runs import bulletin as bulletin_service
from services.assessment.runs import reads
from services.assessment.runs import sensitivity as sensitivity_service
from services.assessment.runs.commands import CreateRun, RunContext
from services.assessment.runs.create import create_run as create
from services.assessment.runs.gc_pause import gc_paused
from services.assessment.runs.reads import RunAnswer
from services.assessment.runs.verify import verify as verify_run
from services.assessment.runtime import RuntimeDep
from services.common.auth import PUBLIC
from services.common.db import SessionDep
from services.common.idempotency import Keyed, idempotent
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor
from services.common.periods import PeriodParam
from services.common.problems import problems

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])
RunId = Annotated[int, Path(ge=1, le=2**62, description="The run's id.")]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Optional: a retry with the same key and body returns the run stored the first time.",
    ),
]

FILE_CONTENT = {
    "text/html": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
}


def json_response(model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A large contract model serialised once, by pydantic-core (a run can hold thousands of zones)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json", headers=headers)


@router.post(
    "",
    response_model=AssessmentRead,
    status_code=201,
    summary="Run a methodology on every zone of a kind for a period, and store the result",
    description="Takes the zones of the kind active at the period's end from the registry and their values "
    "(pro-forma lineage) from the metrics service; stores the exact inputs, their SHA-256 and every zone's "
    "score, rank, sub-scores and rank change, and (annual runs) the rewards and warnings. A 503 problem when "
    "either service is down; nothing is stored then.",
    responses={**problems(401, 403, 404, 409, 422, 502, 503), 200: {"model": AssessmentRead, "description": "Replay"}},
)
async def create_run(
    body: AssessmentCreate,
    session: SessionDep,
    registry: RegistryDep,
    metrics: MetricsDep,
    actor: Writer,
    runtime: RuntimeDep,
    fast_canonical_json: FastCanonicalJson,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    authorise_kinds(actor, [body.kind.value])
    context = RunContext(
        session, registry, metrics, actor, clock=runtime.clock, fast_canonical_json=fast_canonical_json
    )
    keyed = Keyed.of(actor.sub, idempotency_key, body)
    run = partial(create, CreateRun(body), context)
    with gc_paused():
        result = await idempotent(runtime.idempotency, session, keyed, run, _replay)
    if isinstance(result, JSONResponse):  # a replay answers where the run is, as the first answer did
        result.headers["Location"] = _location(orjson.loads(result.body)["id"])
        return result
    return Response(
        result.content, status_code=201, media_type="application/json", headers={"Location": _location(result.id)}
    )


def _replay(answer: RunAnswer) -> tuple[int, Any]:
    """What a retry with the same Idempotency-Key answers: the run, as 200."""
    return 200, orjson.loads(answer.content)


def _location(run_id: int) -> str:
    return f"/v1/assessments/{run_id}"


@router.get(
    "",
    response_model=Page[AssessmentSummary],
    status_code=200,
    summary="Published runs, newest first",
    openapi_extra=PUBLIC,
    responses=problems(422),
)
async def list_runs(
    session: SessionDep,
    kind: ZoneKind | None = None,
    methodology: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[PeriodParam | None, Query()] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[AssessmentSummary]:
    items, last = await reads.list_runs(
        session=session, kind=kind, code=methodology, period=period, after=int_cursor(cursor), limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None)


@router.get(
    "/{assessment_id}",
    response_model=AssessmentRead,
    status_code=200,
    summary="A stored run with every zone's result",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def get_run(session: SessionDep, assessment_id: RunId) -> Response:
    return json_response(await reads.get_run(session=session, run_id=assessment_id))


@router.post(
    "/{assessment_id}/verify",
    response_model=VerificationRead,
    status_code=200,
    summary="Recompute a run from its stored inputs: identical, or the differences; and list the values restated since",
    description="Anyone may check a published result: nothing is written. `identical` is about the stored run "
    "alone (its inputs recompute to what was stored). A zone run's stored input values are also compared with "
    "the metrics service's matrix today (same period, indicators, kind, registry date, pro-forma lineage): "
    "`restated` lists each value answered differently since, e.g. after a city_admin restatement of the "
    "locked period. When the metrics service cannot be asked, `values_checked` is false and `values_note` "
    "says why; the answer is still the recomputation's.",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def verify(
    session: SessionDep, metrics: MetricsDep, assessment_id: RunId, fast_canonical_json: FastCanonicalJson
) -> VerificationRead:
    return await verify_run(
        session=session, metrics=metrics, run_id=assessment_id, fast_canonical_json=fast_canonical_json
    )


@router.get(
    "/{assessment_id}/outcomes",
    response_model=Page[OutcomeRead],
    status_code=200,
    summary="Rewards, warnings and revocation-review flags a run decided, each with its rule and numbers",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def outcomes(session: SessionDep, assessment_id: RunId) -> Page[OutcomeRead]:
    return Page(items=await reads.run_outcomes(session=session, run_id=assessment_id), next_cursor=None)


@router.get(
    "/{assessment_id}/sensitivity",
    response_model=SensitivityRead,
    status_code=200,
    summary="How robust each rank is when the method's choices vary",
    description="Each zone's median rank and 5–95% rank interval over `samples` random variations of the weights, "
    "normalisations and aggregation (seeded: the same request gives the same answer).",
    openapi_extra=PUBLIC,
    responses=problems(404, 422),
)
async def sensitivity(
    session: SessionDep,
    assessment_id: RunId,
    samples: Annotated[int, Query(ge=MIN_SAMPLES, le=MAX_SAMPLES)] = DEFAULT_SAMPLES,
    seed: Annotated[int | None, Query(ge=0, le=2**32 - 1, description="Default: the run's id.")] = None,
) -> SensitivityRead:
    return await sensitivity_service.sensitivity(session=session, run_id=assessment_id, samples=samples, seed=seed)


@router.get(
    "/{assessment_id}/bulletin",
    response_model=None,
    status_code=200,
    summary="The ranking bulletin (通报) as HTML (with an SVG chart), CSV or XLSX, with Chinese headers",
    openapi_extra=PUBLIC,
    responses={200: {"content": FILE_CONTENT, "description": "The bulletin"}, **problems(404)},
)
async def bulletin(
    session: SessionDep,
    assessment_id: RunId,
    format: bulletin_service.BulletinFormat = "html",
) -> Response:
    document = await bulletin_service.bulletin(session=session, run_id=assessment_id)
    content, media_type = bulletin_service.render(document, format)
    filename = f"assessment-{assessment_id}.{format}"
    disposition = "inline" if format == "html" else "attachment"
    headers = {"Content-Disposition": f"{disposition}; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"}
    return Response(content, media_type=media_type, headers=headers)
