"""Builders for assessment tests: zones, catalogs, matrices, fakes and the app wired to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx

from libs.domain.clients.metrics import FakeMetricsClient, MetricsClient
from libs.domain.clients.registry import FakeRegistryClient, RegistryClient
from libs.domain.metrics.contracts import IndicatorRead, MatrixIndicator, MatrixRead, MatrixRow
from libs.domain.registry.contracts import DivisionWithZones, Lineage, LineageLink, ZoneRead
from services.assessment.dependencies import metrics_as_caller, metrics_client, registry_client
from services.assessment.runtime import AssessmentRuntime
from services.common.db import Database
from services.common.runtime import runtime_of
from tests.conftest import auth
from tests.helpers import free_port

Values = Mapping[str, float | None]


def zone(
    zone_id: str,
    name: str | None = None,
    *,
    kind: str = "economic",
    authority: str = "130705",
    valid_from: str = "2016-10-14",
    valid_to: str | None = None,
    status: str = "active",
) -> ZoneRead:
    return ZoneRead.model_validate(
        {
            "id": zone_id,
            "name": name or f"示例开发区{zone_id}",
            "kind": kind,
            "level": "provincial",
            "status": status,
            "authority": authority,
            "valid_from": valid_from,
            "valid_to": valid_to,
        }
    )


def indicator(
    code: str,
    *,
    unit: str = "万元",
    direction: str = "higher_is_better",
    minimum: float | None = 0,
    periods: Sequence[str] = ("year", "half", "quarter"),
    name: str | None = None,
) -> IndicatorRead:
    return IndicatorRead.model_validate(
        {
            "code": code,
            "name_zh": name or code,
            "name_en": code,
            "unit": unit,
            "kind": "base",
            "direction": direction,
            "period_types": list(periods),
            "min": minimum,
            "max": None,
            "formula": None,
            "version": 1,
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        }
    )


CATALOG = [
    indicator("gdp", name="地区生产总值"),
    indicator("tax_revenue", name="税收收入"),
    indicator("rd_intensity", unit="%", name="R&D经费支出占地区生产总值比重"),
    indicator("foreign_investment_used", unit="万美元", name="实际利用外资"),
    indicator("energy_intensity", unit="吨标准煤/万元", direction="lower_is_better"),
    indicator("growth", unit="%", minimum=None),
]


def matrix(period: str, rows: Mapping[str, Values], *, names: Mapping[str, str] | None = None) -> MatrixRead:
    codes = sorted({c for values in rows.values() for c in values})
    by_code = {i.code: i for i in CATALOG}
    return MatrixRead(
        period=period,
        kind=None,
        as_of=date(2026, 1, 1),
        lineage="proforma",
        indicators=[
            MatrixIndicator(
                code=c,
                unit=by_code[c].unit if c in by_code else "",
                kind="base",
                version=1,
                direction=by_code[c].direction if c in by_code else "higher_is_better",
            )
            for c in codes
        ],
        rows=[
            MatrixRow(zone=z, name=(names or {}).get(z, f"示例开发区{z}"), values=dict(values))
            for z, values in rows.items()
        ],
    )


def lineage(zone_id: str, *predecessors: str, on: str = "2025-06-30") -> Lineage:
    return Lineage(
        zone_id=zone_id,
        predecessors=[
            LineageLink(
                state=zone(p, valid_to=on, status="merged"), on=on, operation="merge", reorganisation=1, via=zone_id
            )
            for p in predecessors
        ],
        successors=[],
    )


class Registry(FakeRegistryClient):
    """The fake registry, with divisions."""

    def __init__(self, zones: Sequence[ZoneRead] = (), *, divisions: Sequence[DivisionWithZones] = (), **kw: Any):
        super().__init__(zones, **kw)
        self.division_list = list(divisions)

    async def divisions(self, *, as_of: date | None = None) -> list[DivisionWithZones]:
        self.calls.append(("divisions", as_of))
        return list(self.division_list)


def division(code: str, name: str, *, has_zone: bool = False, is_city: bool = False) -> DivisionWithZones:
    return DivisionWithZones(
        code=code, name=name, valid_from=date(2016, 1, 1), is_city=is_city, has_provincial_zone=has_zone
    )


def method_doc(*leaves: dict[str, Any], code: str = "econ-annual", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "code": code,
        "title": "经济开发区年度综合考评（示例权重）",
        "applies_to": ["economic"],
        "period_type": "year",
        "scale": 100,
        "root": {
            "aggregation": "arithmetic",
            "children": list(leaves)
            or [{"indicator": "gdp", "normalisation": {"method": "goalposts", "min": 0, "max": 100}}],
        },
    }
    doc.update(extra)
    return doc


def dead_registry() -> RegistryClient:
    return RegistryClient(httpx.AsyncClient(), f"http://127.0.0.1:{free_port()}", read_attempts=1)


def dead_metrics() -> MetricsClient:
    return MetricsClient(httpx.AsyncClient(), f"http://127.0.0.1:{free_port()}", read_attempts=1)


@dataclass
class World:
    """The fakes an assessment app talks to in a test."""

    registry: Any = field(default_factory=Registry)
    metrics: Any = field(default_factory=lambda: FakeMetricsClient(indicators=CATALOG))
    caller_metrics: bool = True
    """Whether writes made on the caller's behalf (the lock of a publication) go to ``metrics`` too;
    False: to the real dependency, which forwards the caller's token to the configured ``metrics_url``."""

    def overrides(self) -> dict[Any, Any]:
        out: dict[Any, Any] = {registry_client: lambda: self.registry, metrics_client: lambda: self.metrics}
        if self.caller_metrics:
            out[metrics_as_caller] = lambda: self.metrics
        return out


def db_of(client: httpx.AsyncClient) -> Database:
    """The database of the assessment app behind a test client (from its runtime)."""
    return runtime_of(client.app, AssessmentRuntime).db  # type: ignore[attr-defined]


@asynccontextmanager
async def assessment(app_client: Any, world: World, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client("assessment", overrides=world.overrides(), **settings) as client:
        yield client


ADMIN = auth("city_admin")
COMMERCE = auth("commerce_bureau")
SCIENCE = auth("science_bureau")


async def publish(client: httpx.AsyncClient, doc: dict[str, Any], headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    r = await client.post("/v1/methodologies", json=doc, headers=headers)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


async def run(
    client: httpx.AsyncClient, period: str, *, headers: dict[str, str] = ADMIN, publish: bool = True, **body: Any
) -> dict[str, Any]:
    """Create a run (a draft) and, unless ``publish`` is False, publish it; the answer of the creation."""
    payload = {"methodology": "econ-annual", "period": period, "kind": "economic", "label": f"{period} 示例考评"}
    payload.update(body)
    r = await client.post("/v1/assessments", json=payload, headers=headers)
    assert r.status_code in (200, 201), r.text
    created = dict(r.json())
    if publish:
        without_key = {k: v for k, v in headers.items() if k != "Idempotency-Key"}  # a key names one request
        published = await client.post(f"/v1/assessments/{created['id']}/publish", headers=without_key)
        assert published.status_code == 200, published.text
    return created


# --- The economic world of the lifecycle and language tests: twelve zones Z01…Z12, Z01 highest ---

ECON = [f"Z{i:02d}" for i in range(1, 13)]
RUN_2025 = {"methodology": "econ-annual", "period": "2025", "kind": "economic", "label": "2025 年度综合考评"}


def descending() -> dict[str, dict[str, float]]:
    """Each zone's GDP, 95 for Z01 down by 5 a zone."""
    return {z: {"gdp": 95.0 - 5 * i} for i, z in enumerate(ECON)}


def econ_world(**years: dict[str, dict[str, float | None]]) -> World:
    """The economic world with the given years' values (``p2025=...``)."""
    metrics = FakeMetricsClient(
        {y.removeprefix("p"): matrix(y.removeprefix("p"), rows) for y, rows in years.items()}, indicators=CATALOG
    )
    return World(registry=Registry([zone(z) for z in ECON]), metrics=metrics)
