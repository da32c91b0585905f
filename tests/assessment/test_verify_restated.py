"""Verify reports a restatement made after a run, with the real metrics app on the other side.

The metrics app (its own database, the fake registry of the metrics tests) is served by uvicorn on
127.0.0.1, and the assessment app reaches it with its real client over HTTP: the values a run is
computed from, the lock made by publishing the run (with the publisher's own token, forwarded),
the city_admin restatement and the matrix verify asks for all go through the metrics service's API
as in production.
"""

from __future__ import annotations

from typing import Any

import httpx

from libs.domain.clients.metrics import MetricsClient
from services.metrics.dependencies import registry_client as metrics_registry
from tests.assessment.builders import Registry, World, assessment, method_doc, publish, run
from tests.conftest import auth, make_token
from tests.helpers import assert_problem, serving
from tests.metrics.builders import CITY, HUAIAN, XUANHUA, ZHUOLU, batch, obs, zhangjiakou_states
from tests.metrics.builders import Registry as MetricsRegistry

GDP = {"indicator": "gdp", "normalisation": {"method": "goalposts", "min": 0, "max": 100}}
ZHUOLU_COUNTY = auth("county", division="130731")  # 涿鹿县
COMMERCE = {"Authorization": f"Bearer {make_token('commerce_bureau', sub='shangwu-wang')}"}


class TestARestatementAfterARunIsReportedByVerify:
    async def test_verify_lists_exactly_the_restated_value_and_the_run_stays_identical(self, app_client: Any) -> None:
        # 2025 GDP (万元): 宣化 80, 涿鹿 60, 怀安 40, the economic zones active on 2025-12-31. The run
        # stores them as 80.0, 60.0, 40.0. The commerce bureau publishes it, which locks 2025 for
        # economic zones in its name; a county push of 涿鹿 is then 423, and the city_admin restates
        # 涿鹿 to 66.5 with a reason. Verify must list exactly (涿鹿, gdp, 60.0 -> 66.5); the stored
        # run still recomputes to itself.
        fake = MetricsRegistry()
        async with (
            app_client("metrics", overrides={metrics_registry: lambda: fake}) as metrics,
            serving(metrics.app) as url,  # type: ignore[attr-defined]
            httpx.AsyncClient() as http,
        ):
            pushed = await metrics.post(
                "/v1/observations",
                json=batch(
                    *(
                        obs({"zone_id": z}, "gdp", "2025", v, "万元")
                        for z, v in [(XUANHUA, 80), (ZHUOLU, 60), (HUAIAN, 40)]
                    )
                ),
                headers=CITY,
            )
            assert pushed.status_code == 200, pushed.text
            world = World(
                registry=Registry(zhangjiakou_states()), metrics=MetricsClient(http, url), caller_metrics=False
            )
            async with assessment(app_client, world, metrics_url=url) as client:
                await publish(client, method_doc(GDP))
                created = await run(client, "2025", headers=COMMERCE)  # created and published by the bureau
                before = (await client.post(f"/v1/assessments/{created['id']}/verify")).json()

                locks = (await metrics.get("/v1/locks", headers=CITY)).json()["items"]
                refused = await metrics.post(
                    "/v1/observations",
                    json=batch(obs({"zone_id": ZHUOLU}, "gdp", "2025", 61, "万元")),
                    headers=ZHUOLU_COUNTY | {"Idempotency-Key": "k1"},
                )
                restated = await metrics.post(
                    "/v1/observations",
                    json=batch(
                        obs({"zone_id": ZHUOLU}, "gdp", "2025", 66.5, "万元"),
                        restatement_reason="统计局核查发现重复计算",
                    ),
                    headers=CITY,
                )
                after = (await client.post(f"/v1/assessments/{created['id']}/verify")).json()

        # one leaf on goalposts 0..100, scale 100: a zone scores its GDP (80 -> 0.8 -> 80.0)
        assert {r["zone_id"]: r["score"] for r in created["results"]} == {XUANHUA: 80.0, ZHUOLU: 60.0, HUAIAN: 40.0}
        assert (before["identical"], before["values_checked"], before["restated"]) == (True, True, [])
        assert [(lock["period"], lock["kind"], lock["created_by"]) for lock in locks] == [
            ("2025", "economic", "shangwu-wang")
        ]
        assert_problem(refused, 423)
        assert restated.status_code == 200 and restated.json()["restatement"] is True
        assert after["restated"] == [{"zone_id": ZHUOLU, "indicator": "gdp", "stored": "60", "current": "66.5"}]
        assert (after["identical"], after["inputs_intact"], after["differences"]) == (True, True, [])
        assert (after["values_checked"], after["values_note"]) == (True, None)
