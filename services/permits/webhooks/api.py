"""Routes of the webhook subscribers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from libs.domain.kernel.contracts import Actor, Page
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import WebhookCreate, WebhookEvent, WebhookRead
from services.common.auth import require
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor, pair_cursor
from services.common.problems import problems
from services.permits.runtime import RuntimeDep
from services.permits.webhooks import service as webhook_service

router = APIRouter(prefix="/v1")

Subscriber = Annotated[Actor, Depends(require(Role.APPLICANT, Role.WINDOW_CLERK, Role.BUREAU_ADMIN, Role.CITY_ADMIN))]


@router.post(
    "/webhooks",
    operation_id="registerWebhook",
    response_model=WebhookRead,
    status_code=201,
    tags=["webhooks"],
    summary="Register a webhook: every state change of the cases you may see, delivered at least once",
    description="Each delivery is a POST of a `WebhookEvent` JSON body with the headers `X-Devzones-Event-Id` "
    "(the same on every retry: deduplicate on it) and, when a secret was given, `X-Devzones-Signature: "
    "sha256=<HMAC-SHA256 of the body>`. Any 2xx acknowledges; anything else is retried with backoff.",
    responses=problems(401, 403, 422),
    callbacks=None,
    openapi_extra={"x-webhook-body": WebhookEvent.model_json_schema()},
)
async def register(runtime: RuntimeDep, session: SessionDep, actor: Subscriber, body: WebhookCreate) -> WebhookRead:
    policy = runtime.settings.webhook_policy
    return await webhook_service.register(session=session, actor=actor, body=body, policy=policy)


@router.get(
    "/webhooks",
    operation_id="listWebhooks",
    response_model=Page[WebhookRead],
    tags=["webhooks"],
    summary="The webhooks you registered, oldest first",
    responses=problems(401, 403, 422),
)
async def list_webhooks(
    session: SessionDep, actor: Subscriber, limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[WebhookRead]:
    items, nxt = await webhook_service.list_webhooks(
        session=session, actor=actor, after=pair_cursor(cursor), limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(list(nxt)) if nxt else None)


@router.delete(
    "/webhooks/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=204,
    response_class=Response,
    response_model=None,
    tags=["webhooks"],
    summary="Stop a webhook",
    responses=problems(401, 403, 404),
)
async def delete_webhook(
    session: SessionDep, actor: Subscriber, webhook_id: Annotated[str, Path(max_length=64)]
) -> Response:
    await webhook_service.delete(session=session, actor=actor, webhook_id=webhook_id)
    return Response(status_code=204)
