"""Routes: runs, their verification, outcomes, sensitivity and bulletin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from libs.domain.assessment.contracts import (
    AssessmentCreate,
    AssessmentDryRun,
    AssessmentRead,
    AssessmentSummary,
    OutcomeRead,
    PublishRequest,
    RunStatus,
    SensitivityRead,
    VerificationRead,
    WithdrawRequest,
)
from libs.domain.assessment.sensitivity import DEFAULT_SAMPLES, MAX_SAMPLES, MIN_SAMPLES
from libs.domain.kernel.contracts import Page
from libs.domain.kernel.values import SerialId, ZoneKind
from services.assessment.dependencies import (
    FastCanonicalJson,
    MetricsAsCaller,
    MetricsDep,
    RegistryDep,
    Writer,
    authorise_kinds,
)
from services.assessment.runs import bulletin as bulletin_service
from services.assessment.runs import lifecycle, reads
from services.assessment.runs import sensitivity as sensitivity_service
from services.assessment.runs.commands import CreateRun, RunContext
from services.assessment.runs.create import create_run as create
from services.assessment.runs.dry_run import DryRunAnswer
from services.assessment.runs.gc_pause import gc_paused
from services.assessment.runs.lifecycle import LifecycleContext, PublishRun, WithdrawRun
from services.assessment.runs.reads import RunAnswer
from services.assessment.runs.verify import verify as verify_run
from services.assessment.runtime import RuntimeDep
from services.common.auth import PUBLIC, OptionalActor
from services.common.db import SessionDep
from services.common.idempotency import Keyed, idempotent
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor, int_cursor
from services.common.periods import PeriodParam
from services.common.problems import problems

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])
RunId = Annotated[SerialId, Path(description="The run's id.")]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Optional: a retry with the same key and body returns the run stored the first time.",
    ),
]

FILE_CONTENT = {
    "html": {"text/html": {"schema": {"type": "string"}}},
    "csv": {"text/csv": {"schema": {"type": "string"}}},
    "xlsx": {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}
        }
    },
}
"""The content of a file operation's answer, by its extension (one media type each)."""


def json_response(model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A large contract model serialised once, by pydantic-core (a run can hold thousands of zones)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json", headers=headers)


@router.post(
    "",
    operation_id="createAssessment",
    response_model=AssessmentRead,
    status_code=201,
    summary="Run a methodology on every zone of a kind for a period, and store the result as a draft",
    description="Takes the zones of the kind active on the registry date (default: the period's end) from the "
    "registry and their values (pro-forma lineage) from the metrics service; stores the exact inputs, their "
    "SHA-256 and every zone's score, rank, sub-scores and rank change (against the published run of the previous "
    "period), and (annual runs) the rewards and warnings, as a **draft**: nothing is in force until it is "
    "published (`POST /v1/assessments/{id}/publish`). Refused with a 422 problem whose `code` is "
    "`period_not_ended`, `registry_in_future`, `no_subjects` or `insufficient_coverage`. With "
    '`"dry_run": true` the answer is the would-be run (200, `AssessmentDryRun`) and nothing is stored. '
    "A 503 problem when either service is down; nothing is stored then.",
    responses={
        **problems(401, 403, 404, 409, 422, 502, 503),
        200: {
            "description": "A replay of an earlier request with the same Idempotency-Key (`AssessmentRead`), "
            "or a dry run (`AssessmentDryRun`)",
            "model": AssessmentRead | AssessmentDryRun,
        },
    },
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
    if body.dry_run:  # nothing is stored, so nothing to make idempotent
        preview = await create(CreateRun(body), context)
        assert isinstance(preview, DryRunAnswer)
        return json_response(preview.answer)
    keyed = Keyed.of(actor.sub, idempotency_key, body)
    run = partial(_create_stored, CreateRun(body), context)
    with gc_paused():
        result = await idempotent(runtime.idempotency, session, keyed, run, _replay)
    if isinstance(result, JSONResponse):  # a replay answers where the run is, as the first answer did
        result.headers["Location"] = _location(orjson.loads(result.body)["id"])
        return result
    return Response(
        result.content, status_code=201, media_type="application/json", headers={"Location": _location(result.id)}
    )


async def _create_stored(command: CreateRun, context: RunContext) -> RunAnswer:
    answer = await create(command, context)
    assert isinstance(answer, RunAnswer)
    return answer


def _replay(answer: RunAnswer) -> tuple[int, Any]:
    """What a retry with the same Idempotency-Key answers: the run, as 200."""
    return 200, orjson.loads(answer.content)


def _location(run_id: int) -> str:
    return f"/v1/assessments/{run_id}"


@router.get(
    "",
    operation_id="listAssessments",
    response_model=Page[AssessmentSummary],
    status_code=200,
    summary="Runs, newest first: published, superseded and withdrawn for everyone, drafts for the assessing bureaus",
    description="Drafts are listed only with a token of city_admin, commerce_bureau or science_bureau "
    "(`status=draft` without one is a 401 or 403 problem).",
    openapi_extra=PUBLIC,
    responses=problems(401, 403, 422),
)
async def list_runs(
    session: SessionDep,
    actor: OptionalActor,
    kind: ZoneKind | None = None,
    methodology: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[PeriodParam | None, Query()] = None,
    status: RunStatus | None = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[AssessmentSummary]:
    items, last = await reads.list_runs(
        session=session,
        kind=kind,
        code=methodology,
        period=period,
        status=status,
        actor=actor,
        after=int_cursor(cursor),
        limit=limit,
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None)


@router.get(
    "/{assessment_id}",
    operation_id="getAssessment",
    response_model=AssessmentRead,
    status_code=200,
    summary="A stored run with every zone's result and its life (a draft: for the assessing bureaus only)",
    openapi_extra=PUBLIC,
    responses=problems(401, 404),
)
async def get_run(session: SessionDep, assessment_id: RunId, actor: OptionalActor) -> Response:
    return json_response(await reads.get_run(session=session, run_id=assessment_id, actor=actor))


@router.post(
    "/{assessment_id}/publish",
    operation_id="publishAssessment",
    response_model=AssessmentSummary,
    status_code=200,
    summary="Publish a draft: it becomes the run in force for its methodology, kind, period and subjects",
    description="When another run is in force for the same key, name it in `supersedes` with a `reason`: it "
    "becomes `superseded` and its outcomes are withdrawn (kept as history); without it the answer is a 409 "
    "problem (`code` `already_published`, `published` naming the run in force). Publishing locks the period's "
    "values of the run's zone kind in the metrics service on the caller's behalf. A draft whose comparison "
    "basis changed since it was computed is refused (409 `stale_basis`).",
    responses=problems(401, 403, 404, 409, 422, 502, 503),
)
async def publish_run(
    session: SessionDep,
    assessment_id: RunId,
    actor: Writer,
    runtime: RuntimeDep,
    metrics: MetricsAsCaller,
    body: PublishRequest | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    body = body or PublishRequest()
    context = LifecycleContext(session, metrics, actor, runtime.clock)
    keyed = Keyed.of(actor.sub, idempotency_key, body, route=f"publish {assessment_id}")
    run = partial(lifecycle.publish, PublishRun(assessment_id, body), context)
    result = await idempotent(runtime.idempotency, session, keyed, run, _summary_replay)
    return result if isinstance(result, JSONResponse) else json_response(result)


@router.post(
    "/{assessment_id}/withdraw",
    operation_id="withdrawAssessment",
    response_model=AssessmentSummary,
    status_code=200,
    summary="Withdraw a published run: it and its outcomes stop being in force (kept as history)",
    responses=problems(401, 403, 404, 409, 422),
)
async def withdraw_run(
    session: SessionDep,
    assessment_id: RunId,
    actor: Writer,
    runtime: RuntimeDep,
    metrics: MetricsAsCaller,
    body: WithdrawRequest,
) -> Response:
    context = LifecycleContext(session, metrics, actor, runtime.clock)
    return json_response(await lifecycle.withdraw(WithdrawRun(assessment_id, body), context))


def _summary_replay(summary: AssessmentSummary) -> tuple[int, Any]:
    return 200, summary.model_dump(mode="json")


@router.post(
    "/{assessment_id}/verify",
    operation_id="verifyAssessment",
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
    session: SessionDep,
    metrics: MetricsDep,
    assessment_id: RunId,
    fast_canonical_json: FastCanonicalJson,
    actor: OptionalActor,
) -> VerificationRead:
    await reads.ensure_visible(session, assessment_id, actor)
    return await verify_run(
        session=session, metrics=metrics, run_id=assessment_id, fast_canonical_json=fast_canonical_json
    )


@router.get(
    "/{assessment_id}/outcomes",
    operation_id="listAssessmentOutcomes",
    response_model=Page[OutcomeRead],
    status_code=200,
    summary="Rewards, warnings and revocation-review flags a run decided, each with its rule and numbers",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def outcomes(
    session: SessionDep,
    assessment_id: RunId,
    actor: OptionalActor,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[OutcomeRead]:
    items, last = await reads.run_outcomes(
        session=session, run_id=assessment_id, actor=actor, after=int_cursor(cursor), limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None)


@router.get(
    "/{assessment_id}/sensitivity",
    operation_id="getAssessmentSensitivity",
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
    actor: OptionalActor = None,
) -> SensitivityRead:
    await reads.ensure_visible(session, assessment_id, actor)
    return await sensitivity_service.sensitivity(session=session, run_id=assessment_id, samples=samples, seed=seed)


async def _bulletin(
    session: SessionDep, assessment_id: int, actor: OptionalActor, fmt: bulletin_service.BulletinFormat
) -> Response:
    await reads.ensure_visible(session, assessment_id, actor)
    document = await bulletin_service.bulletin(session=session, run_id=assessment_id)
    content, media_type = bulletin_service.render(document, fmt)
    filename = f"assessment-{assessment_id}.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    headers = {"Content-Disposition": f"{disposition}; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"}
    return Response(content, media_type=media_type, headers=headers)


_BULLETIN_FILES: dict[bulletin_service.BulletinFormat, str] = {
    "html": "HTML (with an SVG chart)",
    "csv": "CSV",
    "xlsx": "XLSX",
}


def _bulletin_route(fmt: bulletin_service.BulletinFormat) -> Callable[..., Awaitable[Response]]:
    async def bulletin_file(session: SessionDep, assessment_id: RunId, actor: OptionalActor) -> Response:
        return await _bulletin(session, assessment_id, actor, fmt)

    return bulletin_file


# Each file is its own operation (docs/api-conventions.md#one-set-of-conventions): …/bulletin.html …
for _fmt, _label in _BULLETIN_FILES.items():
    router.add_api_route(
        f"/{{assessment_id}}/bulletin.{_fmt}",
        _bulletin_route(_fmt),
        methods=["GET"],
        operation_id=f"getAssessmentBulletin{_fmt.capitalize()}",
        response_class=Response,
        response_model=None,
        status_code=200,
        summary=f"The ranking bulletin (通报) as {_label}, with Chinese headers",
        openapi_extra=PUBLIC,
        responses={
            200: {"content": FILE_CONTENT[_fmt], "description": f"The bulletin as {_fmt.upper()}"},
            **problems(404),
        },
    )
