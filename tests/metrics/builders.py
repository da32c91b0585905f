"""Builders of the metrics tests: callers, zones as the registry answers them, a controllable fake
registry, push bodies, indicators, and the current values as the API reads them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import httpx

from libs.domain.clients.registry import FakeRegistryClient
from libs.domain.registry.contracts import (
    ChangeFeed,
    ChangeRead,
    Lineage,
    LineageLink,
    ZoneHistory,
    ZoneRead,
)
from services.common.runtime import runtime_of
from services.metrics.runtime import MetricsRuntime
from tests.conftest import auth
from tests.helpers import assert_problem

CITY = auth("city_admin")
XUANHUA_COUNTY = auth("county", division="130705")

MERGE_DAY = date(2016, 10, 14)


def zone(
    zone_id: str,
    name: str,
    *,
    kind: str = "economic",
    authority: str = "130705",
    entrusted_to: str | None = None,
    status: str = "active",
    valid_from: date = date(2010, 1, 1),
    valid_to: date | None = None,
    former_names: list[str] | None = None,
    plaques: list[str] | None = None,
    successor: str | None = None,
) -> ZoneRead:
    """A zone state as the registry returns it."""
    return ZoneRead.model_validate(
        {
            "id": zone_id,
            "name": name,
            "kind": kind,
            "level": "provincial",
            "status": status,
            "authority": authority,
            "entrusted_to": entrusted_to,
            "former_names": former_names or [],
            "plaques": plaques or [],
            "successor": successor,
            "valid_from": valid_from,
            "valid_to": valid_to,
        }
    )


# A small Zhangjiakou: four zones, one of which merged into another on 14 Oct 2016.
XUANHUA = "zxuanhua0001"  # 河北宣化经济开发区, 宣化区 (130705)
DONGSHAN = "zdongshan002"  # 东山高新, city zone entrusted to 宣化县, merged into 宣化 on 2016-10-14
ZHUOLU = "zzhuolu00003"  # 河北涿鹿工业园, renamed 河北涿鹿经济开发区 on 2016-10-14, 涿鹿县 (130731)
GAOXIN = "zgaoxin00004"  # 河北张家口高新技术产业开发区, city (130700) entrusted to 万全区 (130708)
HUAIAN = "zhuaian00005"  # 河北怀安经济开发区, established 2016-10-14, 怀安县 (130728)


def zhangjiakou_states() -> list[ZoneRead]:
    """The zone states of the small test city."""
    return [
        zone(XUANHUA, "河北宣化经济开发区", authority="130705"),
        zone(
            DONGSHAN,
            "张家口东山高新技术产业开发区",
            kind="high_tech",
            authority="130700",
            entrusted_to="130721",
            valid_to=MERGE_DAY,
        ),
        zone(
            DONGSHAN,
            "张家口东山高新技术产业开发区",
            kind="high_tech",
            authority="130700",
            entrusted_to="130721",
            status="merged",
            successor=XUANHUA,
            valid_from=MERGE_DAY,
        ),
        zone(ZHUOLU, "河北涿鹿工业园", authority="130731", valid_to=MERGE_DAY),
        zone(
            ZHUOLU,
            "河北涿鹿经济开发区",
            authority="130731",
            former_names=["河北涿鹿工业园"],
            plaques=["河北涿鹿高新技术产业开发区"],
            valid_from=MERGE_DAY,
        ),
        zone(GAOXIN, "河北张家口高新技术产业开发区", kind="high_tech", authority="130700", entrusted_to="130708"),
        zone(HUAIAN, "河北怀安经济开发区", authority="130728", valid_from=MERGE_DAY),
    ]


def dongshan_into_xuanhua() -> Lineage:
    """宣化's lineage: 东山 merged into it on 2016-10-14."""
    dongshan_before = zhangjiakou_states()[1]
    return Lineage(
        zone_id=XUANHUA,
        predecessors=[
            LineageLink(state=dongshan_before, on=MERGE_DAY, operation="merge", reorganisation=1, via=XUANHUA)
        ],
        successors=[],
    )


class Registry(FakeRegistryClient):
    """The fake registry, with a change feed that honours cursors and a switch to block history calls."""

    def __init__(self, states: list[ZoneRead] | None = None, **kwargs: Any) -> None:
        super().__init__(states if states is not None else zhangjiakou_states(), **kwargs)
        self.lineage_map.setdefault(XUANHUA, dongshan_into_xuanhua())
        self.events: list[ChangeRead] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    def record_change(self, zones: list[str], effective_on: date = MERGE_DAY) -> None:
        """Append a 'reorganisation.recorded' event touching ``zones``."""
        self.events.append(
            ChangeRead(
                id=len(self.events) + 1,
                occurred_at=datetime.now(UTC),
                type="reorganisation.recorded",
                payload={
                    "reorganisation": str(len(self.events) + 1),
                    "effective_on": effective_on.isoformat(),
                    "zone_ids": zones,
                },
            )
        )

    def replace_states(self, zone_id: str, states: list[ZoneRead]) -> None:
        """Give a zone new states (as a recorded reorganisation would)."""
        self.states[zone_id] = sorted(states, key=lambda s: s.valid_from)

    async def changes(self, *, after: str | None = None, limit: int = 500) -> ChangeFeed:
        self.calls.append(("changes", after))
        start = int(after or 0)
        items = self.events[start : start + limit]
        return ChangeFeed(items=items, next_cursor=str(start + len(items)))

    async def history(self, zone_id: str) -> ZoneHistory:
        if self.gate is not None:
            self.entered.set()
            await self.gate.wait()
        return await super().history(zone_id)


def obs(
    subject: dict[str, str], indicator: str, period: str, value: Any, unit: str, note: str | None = None
) -> dict[str, Any]:
    """One row of a push; ``subject`` is ``{"zone_id": ...}`` or ``{"division": ...}`` (or both, or neither)."""
    row: dict[str, Any] = {**subject, "indicator": indicator, "period": period, "value": value, "unit": unit}
    if note is not None:
        row["note"] = note
    return row


def batch(*rows: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A push body."""
    return {"observations": list(rows), **extra}


def indicator(code: str, **fields: Any) -> dict[str, Any]:
    """A new indicator's body: a yearly base indicator in 万元 unless ``fields`` say otherwise."""
    body: dict[str, Any] = {
        "code": code,
        "name_zh": "示例指标",
        "name_en": "Example",
        "unit": "万元",
        "kind": "base",
        "period_types": ["year"],
    }
    body.update(fields)
    return body


async def values(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    """The current values (first 500), read by the city admin."""
    r = await client.get("/v1/observations", params={"limit": 500, **params}, headers=CITY)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def runtime(client: Any) -> MetricsRuntime:
    """The runtime of the metrics app behind a test client (its database, caches, key policy)."""
    return runtime_of(client.app, MetricsRuntime)


def assert_period_problem(response: httpx.Response, loc: list[str]) -> None:
    """The response is the validation problem of a parameter that is not a period."""
    body = assert_problem(response, 422)
    assert body["type"] == "urn:devzones:problem:validation"
    [error] = body["errors"]
    assert error["loc"] == loc and error["type"] == "period" and error["msg"]


def conflicts(problem: dict[str, Any]) -> list[dict[str, Any]]:
    """A 422 push or import problem's conflicts (its ``errors``, each listed once) as the import
    summary names them: row index, field, code, message, file line."""
    return [
        {"index": e["loc"][1], "field": e["loc"][2], "code": e["type"], "message": e["msg"], "line": e.get("line")}
        for e in problem["errors"]
    ]
