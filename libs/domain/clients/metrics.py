"""Typed client of the metrics service, and its test double."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from libs.domain.clients.base import ServiceClient, upstream_error
from libs.domain.kernel.contracts import Page
from libs.domain.kernel.i18n import current_lang
from libs.domain.kernel.values import Period
from libs.domain.metrics import messages
from libs.domain.metrics.contracts import IndicatorRead, LockCreate, LockRead, MatrixAnswer, MatrixRead

INDICATOR_PAGE = 500


class MetricsClient(ServiceClient):
    """Calls the metrics service over HTTP."""

    service = "metrics"

    async def matrix(
        self,
        *,
        period: str,
        indicators: Sequence[str],
        kind: str | None = None,
        as_of: date | None = None,
        lineage: str = "proforma",
    ) -> MatrixRead:
        """Values of every zone (of ``kind``) for ``period``: what assessments consume.

        The service writes values as decimal strings and a row's zone as ``zone_id``; the client
        answers them as floats, and the zone as the row's ``zone`` (:meth:`MatrixRead.from_answer`).
        """
        answer = await self.get_model(
            "/v1/matrix",
            MatrixAnswer,
            params={
                "period": period,
                "indicators": ",".join(indicators),
                "kind": kind,
                "as_of": as_of.isoformat() if as_of else None,
                "lineage": lineage,
            },
        )
        return MatrixRead.from_answer(answer)

    async def indicators(self) -> list[IndicatorRead]:
        """The indicator catalog: the latest version of each indicator (all pages).

        Added for the assessment service, which validates methodologies against the catalog.
        """
        out: list[IndicatorRead] = []
        cursor: str | None = None
        while True:
            page = await self.get_model(
                "/v1/indicators", Page[IndicatorRead], params={"limit": INDICATOR_PAGE, "cursor": cursor}
            )
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    async def division_matrix(
        self,
        *,
        period: str,
        indicators: Sequence[str],
        divisions: Sequence[str],
        as_of: date | None = None,
    ) -> MatrixRead:
        """Divisions' own values for ``period`` (``GET /v1/matrix/divisions``), one row per division code.

        Added for the assessment service's reference scores of counties without a zone: each row's
        ``zone`` holds the division code (the service's ``division``); derived values are computed from
        the division's components; values are floats, as in :meth:`matrix`.
        """
        answer = await self.get_model(
            "/v1/matrix/divisions",
            MatrixAnswer,
            params={
                "period": period,
                "indicators": ",".join(indicators),
                "divisions": ",".join(divisions),
                "as_of": as_of.isoformat() if as_of else None,
            },
        )
        return MatrixRead.from_answer(answer)

    async def lock_period(self, *, period: str, reason: str, kind: str | None = None) -> LockRead:
        """Lock a period (optionally one zone kind) once an assessment uses it; needs a city_admin token.

        Raises ``UpstreamError`` (``upstream_status`` 409) when that lock already exists.
        """
        body = LockCreate.model_validate({"period": period, "kind": kind, "reason": reason})
        response = await self.request("POST", "/v1/locks", json=body.model_dump(mode="json"))
        return self._parse(response, LockRead)


class FakeMetricsClient:
    """In-memory stand-in for :class:`MetricsClient`: answers matrices given per period.

    ``indicators`` is the catalog it answers (default: one entry per indicator of the matrices);
    ``division_matrices`` the divisions' values per period (rows keyed by division code);
    ``created_by`` the ``sub`` its locks record (the real service records the token's).
    """

    def __init__(
        self,
        matrices: dict[str, MatrixRead] | None = None,
        *,
        indicators: Sequence[IndicatorRead] | None = None,
        division_matrices: dict[str, MatrixRead] | None = None,
        created_by: str = "fake",
    ) -> None:
        self.matrices = dict(matrices or {})
        self.catalog = list(indicators) if indicators is not None else None
        self.division_matrices = dict(division_matrices or {})
        self.created_by = created_by
        self.calls: list[tuple[str, object]] = []
        self.matrix_requests: list[dict[str, object]] = []
        """Every :meth:`matrix` call's arguments, to check what a caller asked for."""
        self.locks: list[LockRead] = []

    async def indicators(self) -> list[IndicatorRead]:
        """The catalog given, or one indicator per matrix column."""
        self.calls.append(("indicators", None))
        if self.catalog is not None:
            return list(self.catalog)
        seen: dict[str, IndicatorRead] = {}
        for matrix in [*self.matrices.values(), *self.division_matrices.values()]:
            for column in matrix.indicators:
                seen.setdefault(
                    column.code,
                    IndicatorRead(
                        code=column.code,
                        name_zh=column.code,
                        name_en=column.code,
                        unit=column.unit,
                        kind=column.kind,
                        direction=column.direction,
                        period_types=["year", "half", "quarter"],
                        version=column.version,
                        created_at=datetime(2026, 1, 1, tzinfo=UTC),
                    ),
                )
        return list(seen.values())

    async def division_matrix(
        self,
        *,
        period: str,
        indicators: Sequence[str],
        divisions: Sequence[str],
        as_of: date | None = None,
    ) -> MatrixRead:
        """The divisions' matrix stored for ``period``, restricted to ``divisions`` and ``indicators``."""
        self.calls.append(("division_matrix", period))
        base = self.division_matrices.get(period)
        wanted, codes = set(indicators), set(divisions)
        if base is None:
            return MatrixRead(
                period=period, kind=None, as_of=as_of or date.today(), lineage="none", indicators=[], rows=[]
            )
        return MatrixRead(
            period=base.period,
            kind=base.kind,
            as_of=base.as_of,
            lineage=base.lineage,
            indicators=[i for i in base.indicators if i.code in wanted],
            rows=[
                r.model_copy(update={"values": {k: v for k, v in r.values.items() if k in wanted}})
                for r in base.rows
                if r.zone in codes
            ],
        )

    async def matrix(
        self,
        *,
        period: str,
        indicators: Sequence[str],
        kind: str | None = None,
        as_of: date | None = None,
        lineage: str = "proforma",
    ) -> MatrixRead:
        """The matrix stored for ``period``, restricted to ``indicators``."""
        self.calls.append(("matrix", period))
        self.matrix_requests.append(
            {"period": period, "indicators": list(indicators), "kind": kind, "as_of": as_of, "lineage": lineage}
        )
        base = self.matrices.get(period)
        if base is None:
            return MatrixRead(
                period=period, kind=kind, as_of=as_of or date.today(), lineage="proforma", indicators=[], rows=[]
            )
        wanted = set(indicators)
        return MatrixRead(
            period=base.period,
            kind=base.kind,
            as_of=base.as_of,
            lineage=base.lineage,
            indicators=[i for i in base.indicators if i.code in wanted],
            rows=[
                r.model_copy(update={"values": {k: v for k, v in r.values.items() if k in wanted}}) for r in base.rows
            ],
        )

    async def lock_period(self, *, period: str, reason: str, kind: str | None = None) -> LockRead:
        """Record the lock in memory (``self.locks``) and answer as the service would: an
        ``UpstreamError`` with ``upstream_status`` 422 for a period that does not parse, 409 when
        the lock exists (the same error, and detail, the real client raises)."""
        self.calls.append(("lock_period", period))
        body = LockCreate.model_validate({"period": period, "kind": kind, "reason": reason})
        try:
            period = str(Period.parse(body.period))
        except ValueError as exc:
            # the real client sends no Accept-Language: the service answers in Chinese
            raise upstream_error(
                "metrics", 422, messages.period_unreadable(body.period, str(exc)).render(current_lang())
            ) from exc
        if any(held.period == period and held.kind == body.kind for held in self.locks):
            kind = None if body.kind is None else body.kind.value
            raise upstream_error("metrics", 409, messages.period_already_locked(period, kind).render(current_lang()))
        lock = LockRead(
            id=len(self.locks) + 1,
            period=period,
            kind=body.kind,
            reason=body.reason,
            created_at=datetime.now(UTC),
            created_by=self.created_by,
        )
        self.locks.append(lock)
        return lock
