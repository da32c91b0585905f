"""The base of every typed service client.

A client never leaks an ``httpx`` exception: a service that cannot be reached (or answers
5xx) becomes :class:`~libs.domain.kernel.errors.UpstreamUnavailable`, a 404 becomes
:class:`~libs.domain.kernel.errors.NotFound`, any other unusable answer
:class:`~libs.domain.kernel.errors.UpstreamError`. Idempotent reads are retried a bounded number of
times on connection failures; writes are never retried here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from libs.domain.kernel.errors import DomainError, NotFound, UpstreamError, UpstreamUnavailable
from libs.domain.kernel.i18n import CONTENT_LANGUAGE, Text, current_lang

request_id_var: ContextVar[str | None] = ContextVar("devzones_request_id", default=None)
"""The id of the request being served; clients pass it on as ``X-Request-ID``."""

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


def upstream_error(service: str, status: int, detail: str) -> UpstreamError:
    """The error a client raises for an answer it cannot use (a 4xx other than 404): the test
    doubles raise it too, so a caller handles the fake's refusals exactly as the real ones.

    Its code is ``upstream_refused``; ``upstream_status`` is the status the other service answered."""
    err = UpstreamError(
        Text(f"{service} 服务答复 {status}：{detail}", f"{service} service answered {status}: {detail}"),
        code="upstream_refused",
        service=service,
    )
    err.extra["upstream_status"] = status
    return err


class ServiceClient:
    """Shared plumbing for the typed clients: headers, timeouts, retries, error mapping."""

    service: ClassVar[str] = "service"

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        token: Callable[[], str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        read_attempts: int = 3,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._attempts = max(1, read_attempts)

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        # The other service writes its messages in the language of the request being served.
        headers: dict[str, str] = {"Accept": "application/json", "Accept-Language": CONTENT_LANGUAGE[current_lang()]}
        rid = request_id_var.get()
        if rid:
            headers["X-Request-ID"] = rid
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token()}"
        if extra:
            headers.update(extra)
        return headers

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, self._base + path, timeout=self._timeout, **kwargs)
        except httpx.HTTPError as exc:  # connect errors, timeouts, protocol errors
            raise UpstreamUnavailable(
                Text(
                    f"无法连接 {self.service} 服务（{self._base}）：{type(exc).__name__}",
                    f"{self.service} service unreachable at {self._base}: {type(exc).__name__}",
                ),
                code="upstream_unreachable",
                service=self.service,
            ) from exc

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request; retry on unavailability only when ``idempotent`` (default: GET)."""
        retry = idempotent if idempotent is not None else method.upper() in ("GET", "HEAD")
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        kwargs: dict[str, Any] = {"params": clean, "headers": self._headers(headers)}
        if json is not None:
            kwargs["json"] = json
        attempts = self._attempts if retry else 1
        response: httpx.Response | None = None
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=0.05, max=0.5),
            retry=retry_if_exception_type(UpstreamUnavailable),
            reraise=True,
        ):
            with attempt:
                response = await self._send(method, path, **kwargs)
                if response.status_code in (502, 503, 504):
                    raise UpstreamUnavailable(
                        Text(
                            f"{self.service} 服务暂不可用（答复 {response.status_code}）",
                            f"{self.service} service answered {response.status_code}",
                        ),
                        code="upstream_unavailable",
                        service=self.service,
                    )
        assert response is not None
        return response

    def _raise_for(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        detail = response.text[:500]
        problem: dict[str, Any] = {}
        if response.headers.get("content-type", "").endswith("json"):
            try:
                problem = response.json()
                detail = str(problem.get("detail") or problem.get("title") or detail)
            except ValueError:
                pass
        code = problem.get("code") if isinstance(problem, dict) and isinstance(problem.get("code"), str) else None
        if response.status_code == 404:  # the other service's own code (``zone_not_found``…) and detail
            raise NotFound(detail, code=code or "not_found", service=self.service)
        if response.status_code >= 500:
            raise UpstreamUnavailable(
                Text(f"{self.service} 服务出错：{detail}", f"{self.service} service failed: {detail}"),
                code="upstream_failed",
                service=self.service,
            )
        raise upstream_error(self.service, response.status_code, detail)

    def _parse(self, response: httpx.Response, model: type[M]) -> M:
        self._raise_for(response)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise UpstreamError(
                Text(
                    f"{self.service} 服务的答复内容不符合约定：{exc.error_count()} 处错误",
                    f"{self.service} service sent an unexpected body: {exc.error_count()} errors",
                ),
                code="upstream_unexpected_body",
                service=self.service,
            ) from exc

    async def get_model(self, path: str, model: type[M], *, params: Mapping[str, Any] | None = None) -> M:
        """GET ``path`` and parse the body as ``model``."""
        return self._parse(await self.request("GET", path, params=params), model)


__all__ = ["DomainError", "ServiceClient", "request_id_var", "upstream_error"]
