"""Routes of pushing, importing and reading values."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from libs.domain.kernel.contracts import Actor, Page
from libs.domain.kernel.errors import DomainError, PayloadTooLarge
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.metrics.contracts import (
    MAX_BATCH_ROWS,
    ImportSummary,
    ObservationRead,
    RevisionRead,
)
from services.common.db import SessionDep
from services.common.idempotency import Keyed, idempotent
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, decode_cursor, encode_cursor
from services.common.periods import PeriodParam
from services.common.problems import problems
from services.metrics.dependencies import Pusher, Reader, RegistryDep
from services.metrics.observations import file_import, reads
from services.metrics.observations.commands import PushContext, PushValues
from services.metrics.observations.decoding import ParsedBatch, parse_batch
from services.metrics.observations.files import XLSX_MEDIA_TYPE
from services.metrics.observations.push import push
from services.metrics.runtime import RuntimeDep

router = APIRouter(prefix="/v1", tags=["observations"])

MAX_FILE_BYTES = 16 * 1_048_576
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Required for county tokens. The same key with the same body replays the stored answer "
        "(writing nothing); with another body it is a 422; while the first is still running a 409. Keys are "
        "scoped to the token's subject and kept at least 24 hours. Dry runs ignore it (they store nothing).",
    ),
]
PUSH_DESCRIPTION = (
    f"At most **{MAX_BATCH_ROWS:,} rows** per batch (413 beyond). The batch is atomic: every bad row is "
    "reported (422 problem whose `summary` is the import summary, with `errors` per row) and nothing is "
    "stored. A row outside the caller's scope makes the batch a 403 naming the rows; a write into a locked "
    "period a 423 naming the lock, unless a city_admin gives a `restatement_reason`. Zones are checked "
    "against the registry; if it cannot be reached the write fails closed with a 503."
)

READ_SCOPE = (
    "The city (`city_admin`, `commerce_bureau`, `science_bureau`, `statistics_bureau`) reads every value. A "
    "county reads its own division's totals and the values of a zone for the periods in which it administered "
    "the zone or managed it by entrustment (as the registry records); a zone committee its own zone's. A list "
    "holds the caller's rows only; the history of a value outside the caller's scope is a 403 problem "
    "(`outside_read_scope` for a county, `own_zone_only` for a zone committee). A county's read asks the "
    "registry: a 503 when it cannot be reached."
)


async def batch_body(request: Request) -> ParsedBatch:
    """The JSON batch (``ObservationBatch``), read by :func:`parse_batch`: its common shape in one
    tight loop, anything else by the model; errors are the usual 422 problem."""
    try:
        return parse_batch(await request.body())
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
        raise RequestValidationError(errors) from exc


BATCH_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ObservationBatch"}}},
    }
}
"""The OpenAPI of the body :func:`batch_body` reads (its schema is added to the components in main)."""


def _key_cursor(after: Any) -> tuple[str, str, str, str] | None:
    """A ``GET /v1/observations`` cursor: the last key of the previous page."""
    if isinstance(after, list) and len(after) == 4 and all(isinstance(x, str) for x in after):
        return (after[0], after[1], after[2], after[3])
    return None


class _Missing(DomainError):
    status = 400
    slug = "idempotency-key-required"
    title = Text("需要 Idempotency-Key", "Idempotency-Key required")


def _keyed(actor: Actor, key: str | None, request_hash: str, dry_run: bool) -> Keyed:
    """The push's idempotency: a county system must send a key; a dry run stores nothing, so it
    claims none."""
    if key is None and actor.has(Role.COUNTY) and not actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU):
        raise _Missing(
            Text(
                "县（区）系统每次报送都须带 Idempotency-Key 请求头",
                "county systems must send an Idempotency-Key header with every push",
            )
        )
    return Keyed(actor.sub, None if dry_run else key, request_hash)


def _answer(summary: ImportSummary) -> tuple[int, Any]:
    """What a replay of the push answers: its status and summary."""
    return 200, summary.model_dump(mode="json")


@router.post(
    "/observations",
    operation_id="pushObservations",
    response_model=ImportSummary,
    status_code=200,
    summary="Push a batch of values (atomic, idempotent with Idempotency-Key)",
    description=PUSH_DESCRIPTION,
    responses=problems(400, 401, 403, 409, 413, 422, 423, 503),
    openapi_extra=BATCH_REQUEST_BODY,
)
async def push_observations(
    actor: Pusher,  # first: dependencies resolve in order, and a caller is known before a big body is read
    body: Annotated[ParsedBatch, Depends(batch_body)],
    session: SessionDep,
    runtime: RuntimeDep,
    registry: RegistryDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ImportSummary | JSONResponse:
    keyed = _keyed(actor, idempotency_key, body.request_hash, body.dry_run)
    command = PushValues(body.rows, body.dry_run, body.restatement_reason, source="json")
    context = PushContext(session, actor, registry, runtime.jurisdiction, runtime.catalogs, runtime.settings.fast_copy)

    async def run() -> ImportSummary:
        return await push(command, context)

    return await idempotent(runtime.idempotency, session, keyed, run, _answer)


@router.post(
    "/observations/import",
    operation_id="importObservations",
    response_model=ImportSummary,
    status_code=200,
    summary="Import a CSV (UTF-8 or GB18030) or xlsx file of values",
    description="Header `zone,indicator,period,value,unit,note` or `开发区,指标,期间,数值,单位,备注`; a zone by "
    "id or by name (official, former, plaque or park name as of the period), or a 6-digit division code for "
    "that division's totals; an indicator by code or by its Chinese name (`name_zh`). Rows without a value "
    "are skipped. Each conflict names the row as Excel shows it (`line`, header = row 1), the `column` and "
    "what it `accepted`; messages are Chinese, then English after ` / `. " + PUSH_DESCRIPTION,
    responses=problems(400, 401, 403, 409, 413, 422, 423, 503),
)
async def import_observations(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: Pusher,
    registry: RegistryDep,
    file: Annotated[UploadFile, File(description="A .csv or .xlsx file")],
    dry_run: Annotated[bool, Form()] = False,
    restatement_reason: Annotated[str | None, Form(min_length=1, max_length=2000)] = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ImportSummary | JSONResponse:
    content = await file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            Text(f"文件超过 {MAX_FILE_BYTES} 字节的上限", f"the file exceeds {MAX_FILE_BYTES} bytes"),
            code="file_too_large",
            limit_bytes=MAX_FILE_BYTES,
        )
    digest = hashlib.sha256()
    digest.update(b"file:")
    digest.update(content)
    digest.update(f"|{dry_run}|{restatement_reason or ''}".encode())
    filename = (file.filename or "")[:255] or None
    source = "xlsx" if content[:4] == b"PK\x03\x04" else "csv"

    keyed = _keyed(actor, idempotency_key, digest.hexdigest(), dry_run)
    jurisdiction = runtime.jurisdiction
    context = PushContext(session, actor, registry, jurisdiction, runtime.catalogs, runtime.settings.fast_copy)

    async def run() -> ImportSummary:
        catalog = await runtime.catalogs.get(session=session)
        rows, skipped = await file_import.rows_from_file(
            content=content, registry=registry, jurisdiction=jurisdiction, indicators=catalog.indicators
        )
        command = PushValues(rows, dry_run, restatement_reason, source, filename=filename, skipped=skipped)
        return await push(command, context)

    return await idempotent(runtime.idempotency, session, keyed, run, _answer)


@router.get(
    "/templates/observations.xlsx",
    operation_id="getObservationsTemplate",
    response_class=Response,
    response_model=None,
    status_code=200,
    summary="An xlsx template pre-filled with a division's zones and the required indicators",
    responses={
        200: {"content": {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        **problems(401, 403, 422, 503),
    },
)
async def observations_template(
    session: SessionDep,
    actor: Pusher,
    registry: RegistryDep,
    runtime: RuntimeDep,
    period: Annotated[PeriodParam, Query(description="`2025`, `2025H1` or `2025Q3`")],
    division: Annotated[str | None, Query(max_length=12, description="Default: the county token's division")] = None,
) -> Response:
    content = await file_import.template(
        session=session,
        registry=registry,
        jurisdiction=runtime.jurisdiction,
        actor=actor,
        division=division,
        period=period,
    )
    name = f"observations-{division or 'all'}-{period}.xlsx"
    return Response(
        content, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get(
    "/observations",
    operation_id="listObservations",
    response_model=Page[ObservationRead],
    status_code=200,
    summary="Current values (paginated)",
    description=READ_SCOPE,
    responses=problems(401, 403, 422, 503),
)
async def list_observations(
    session: SessionDep,
    actor: Reader,
    registry: RegistryDep,
    runtime: RuntimeDep,
    zone_id: Annotated[str | None, Query(max_length=64, description="A zone's values (or give `division`)")] = None,
    division: Annotated[str | None, Query(max_length=12, description="A division's own totals")] = None,
    indicator: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[PeriodParam | None, Query()] = None,
    from_: Annotated[PeriodParam | None, Query(alias="from", description="Periods ending on/after")] = None,
    to: Annotated[PeriodParam | None, Query(description="Periods ending on/before this one's end")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[ObservationRead]:
    subject = reads.parse_subject(zone_id, division, required=False)
    query = reads.ValuesQuery(subject, indicator, period, from_, to)
    after = _key_cursor(decode_cursor(cursor))
    items, last = await reads.list_observations(
        query,
        session=session,
        actor=actor,
        after=after,
        limit=limit,
        registry=registry,
        jurisdiction=runtime.jurisdiction,
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last else None)


@router.get(
    "/observations/history",
    operation_id="listObservationHistory",
    response_model=Page[RevisionRead],
    status_code=200,
    summary="Every revision of one value: who, when, old and new value, note, restatements",
    description=READ_SCOPE,
    responses=problems(401, 403, 422, 503),
)
async def observation_history(
    session: SessionDep,
    actor: Reader,
    registry: RegistryDep,
    runtime: RuntimeDep,
    indicator: Annotated[str, Query(max_length=64)],
    period: Annotated[PeriodParam, Query()],
    zone_id: Annotated[str | None, Query(max_length=64, description="The zone (or give `division`)")] = None,
    division: Annotated[str | None, Query(max_length=12, description="The division (or give `zone_id`)")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[RevisionRead]:
    subject = reads.parse_subject(zone_id, division, required=True)
    assert subject is not None
    after = decode_cursor(cursor)
    items, last = await reads.history(
        session=session,
        actor=actor,
        subject=subject,
        indicator=indicator,
        period=period,
        after=int(after) if isinstance(after, int) else None,
        limit=limit,
        registry=registry,
        jurisdiction=runtime.jurisdiction,
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last else None)
