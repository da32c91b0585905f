"""Typed client of the metrics service, and its test double."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from libs.domain.clients.base import ServiceClient
from libs.domain.contracts.metrics import MatrixRead


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
        """Values of every zone (of ``kind``) for ``period``: what assessments consume."""
        return await self.get_model(
            "/v1/matrix",
            MatrixRead,
            params={
                "period": period,
                "indicators": ",".join(indicators),
                "kind": kind,
                "as_of": as_of.isoformat() if as_of else None,
                "lineage": lineage,
            },
        )


class FakeMetricsClient:
    """In-memory stand-in for :class:`MetricsClient`: answers matrices given per period."""

    def __init__(self, matrices: dict[str, MatrixRead] | None = None) -> None:
        self.matrices = dict(matrices or {})
        self.calls: list[tuple[str, object]] = []

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
