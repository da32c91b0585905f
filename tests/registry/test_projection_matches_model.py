"""The database projection equals the reference model for random sequences of acts and annulments.

Hypothesis drives acts through the HTTP API and the same acts through the in-memory
reference model (`libs.domain.registry.history`); on every probe date the zones the API
answers must equal the model's, field by field, and so must the counts.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from libs.domain.registry.contracts import Operation
from libs.domain.registry.history import InMemoryRegistry
from libs.domain.registry.outcome import ActRefused
from libs.domain.registry.snapshots import ZoneSnapshot
from tests.conftest import _empty_tables, auth
from tests.reorg_strategies import DIVISIONS, START, draw_act

OPS = TypeAdapter(list[Operation])
ADMIN = auth("city_admin")


def as_api(s: ZoneSnapshot) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "kind": s.kind.value,
        "level": s.level.value,
        "status": s.status.value,
        "authority": s.authority,
        "entrusted_to": s.entrusted_to,
        "parks": [{"name": p.name, "former_zone": p.former_zone} for p in s.parks],
        "plaques": list(s.plaques),
        "former_names": list(s.former_names),
        "approved_area_km2": None if s.approved_area_km2 is None else Decimal(s.approved_area_km2),
        "successor": s.successor,
    }


def from_api(z: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: z[k]
        for k in (
            "id",
            "name",
            "kind",
            "level",
            "status",
            "authority",
            "entrusted_to",
            "parks",
            "plaques",
            "former_names",
            "successor",
        )
    }
    out["approved_area_km2"] = None if z["approved_area_km2"] is None else Decimal(z["approved_area_km2"])
    return out


async def scenario(settings_obj: Any, data: st.DataObject) -> None:
    app = importlib.import_module("services.registry.main").create_app(settings_obj)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", headers=ADMIN) as c:
            try:
                for code in DIVISIONS:
                    r = await c.post(
                        "/v1/divisions",
                        json={
                            "code": code,
                            "name": f"区划{code}",
                            "valid_from": "2000-01-01",
                            "is_city": code == "130700",
                        },
                    )
                    assert r.status_code == 201
                model = InMemoryRegistry(frozenset(DIVISIONS))
                spare = itertools.count()
                last = START
                for _ in range(data.draw(st.integers(1, 5), label="steps")):
                    live = [a for a in model.acts if not a.annulled]
                    if live and data.draw(st.booleans(), label="annul?"):
                        latest = live[-1]
                        allowed = all(model.last_act(z) == latest.id for z in latest.outcome.touched)
                        api_id = latest.api_id  # type: ignore[attr-defined]
                        r = await c.post(f"/v1/reorganisations/{api_id}/annul", json={"reason": "test"})
                        assert r.status_code == (200 if allowed else 409), r.text
                        if allowed:
                            model.annul(latest.id)
                        continue
                    day, raw = draw_act(data, model, last)
                    r = await c.post(
                        "/v1/reorganisations",
                        json={"legal_basis": "test", "effective_on": day.isoformat(), "title": "t", "operations": raw},
                    )
                    try:
                        ids = iter((r.json().get("zone_ids_by_ref") or {}).values())
                        act = model.record(
                            day, OPS.validate_python(raw), lambda ids=ids: next(ids, f"refused{next(spare)}")
                        )
                    except ActRefused as refused:
                        assert r.status_code == 422, r.text
                        assert [e["type"] for e in r.json()["errors"]] == [f.code for f in refused.faults]  # noqa: PT017
                        continue
                    assert r.status_code == 201, r.text
                    act.api_id = r.json()["id"]  # type: ignore[attr-defined]
                    last = day
                probes = (
                    {START, date(2100, 1, 1)}
                    | {a.effective_on for a in model.acts}
                    | {a.effective_on - timedelta(days=1) for a in model.acts}
                )
                for d in sorted(probes):
                    api = (await c.get("/v1/zones", params={"as_of": d.isoformat(), "limit": 5000})).json()["items"]
                    assert [from_api(z) for z in api] == [as_api(s) for s in model.snapshots(d)], d
                    counts = (await c.get("/v1/zones/counts", params={"as_of": d.isoformat()})).json()
                    expected = model.counts(d)
                    assert (counts["total"], counts["by_kind"], counts["by_level"]) == (
                        expected["total"],
                        expected["by_kind"],
                        expected["by_level"],
                    )
            finally:
                await _empty_tables(app, "registry")


class TestTheDatabaseProjection:
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test_matches_the_reference_model(self, settings_for: Any, data: st.DataObject) -> None:
        asyncio.run(scenario(settings_for("registry", log_level="WARNING"), data))
