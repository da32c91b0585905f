"""The Zhangjiakou demo replays the 2016 reorganisation exactly as the policy text states it.

Expected values come from 张发〔2016〕12号 二(五): "整合后，我市由原来的14个省级经济开发区和4个
省级高新技术产业开发区变为12个省级经济开发区和1个省级高新技术产业开发区（挂牌不计算在内）", and
二十八: "没有省级开发区的7个县(区)".
"""

from __future__ import annotations

from typing import Any

from tests.registry.builders import load_demo


async def _zones(client: Any, as_of: str) -> dict[str, dict[str, Any]]:
    r = await client.get("/v1/zones", params={"as_of": as_of, "status": "active", "limit": 5000})
    return {z["name"]: z for z in r.json()["items"]}


class TestTheDemoCountsMatchThePolicy:
    async def test_before_the_act_14_economic_and_4_high_tech(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            counts = (await client.get("/v1/zones/counts", params={"as_of": "2016-10-13"})).json()
        assert counts["total"] == 18
        assert counts["by_kind"] == {"economic": 14, "high_tech": 4}
        assert counts["by_level"] == {"provincial": 18, "national": 0}

    async def test_after_the_act_12_economic_and_1_high_tech_plaques_not_counted(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            counts = (await client.get("/v1/zones/counts", params={"as_of": "2016-10-14"})).json()
            zones = await _zones(client, "2016-10-14")
        assert counts["total"] == 13
        assert counts["by_kind"] == {"economic": 12, "high_tech": 1}
        assert len(zones) == 13
        plaques = {p for z in zones.values() for p in z["plaques"]}
        assert "河北张家口西山经济开发区" in plaques  # carried, yet not a zone
        assert plaques.isdisjoint(zones)

    async def test_loading_twice_changes_nothing(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            await load_demo(client)
            acts = (await client.get("/v1/reorganisations")).json()["items"]
            counts = (await client.get("/v1/zones/counts", params={"as_of": "2016-10-14"})).json()
        assert len(acts) == 2
        assert counts["total"] == 13


class TestTheDemoZonesAfter2016:
    async def test_dongshan_resolves_as_a_plaque_of_xuanhua(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            r = await client.get(
                "/v1/zones/resolve", params={"name": "张家口东山高新技术产业开发区", "as_of": "2016-10-14"}
            )
        matches = r.json()["matches"]
        assert [(m["state"]["name"], m["match"]) for m in matches] == [("河北宣化经济开发区", "plaque")]

    async def test_before_the_act_dongshan_resolves_to_itself(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            r = await client.get(
                "/v1/zones/resolve", params={"name": "张家口东山高新技术产业开发区", "as_of": "2016-10-13"}
            )
        assert [(m["state"]["name"], m["match"]) for m in r.json()["matches"]] == [
            ("张家口东山高新技术产业开发区", "official")
        ]

    async def test_huaian_names_both_predecessors(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            huaian = (await _zones(client, "2016-10-14"))["河北怀安经济开发区"]
            lineage = (await client.get(f"/v1/zones/{huaian['id']}/lineage")).json()
        names = sorted(p["state"]["name"] for p in lineage["predecessors"])
        assert names == ["河北张家口南山经济开发区", "河北怀安工业园"]
        assert {p["on"] for p in lineage["predecessors"]} == {"2016-10-14"}
        assert {p["operation"] for p in lineage["predecessors"]} == {"merge"}
        assert huaian["authority"] == "130728"
        assert [p["name"] for p in huaian["parks"]] == ["河北张家口南山经济开发区", "河北怀安工业园"]
        assert huaian["plaques"] == []  # both plaques revoked

    async def test_a_merged_zone_names_its_successor(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            before = await _zones(client, "2016-10-13")
            nanshan = before["河北张家口南山经济开发区"]
            lineage = (await client.get(f"/v1/zones/{nanshan['id']}/lineage")).json()
            after = (await client.get(f"/v1/zones/{nanshan['id']}", params={"as_of": "2016-10-14"})).json()
        assert [s["state"]["name"] for s in lineage["successors"]] == ["河北怀安经济开发区"]
        assert after["status"] == "merged"
        assert nanshan["entrusted_to"] == "130728"
        assert after["authority"] == "130728"  # 划归怀安县直管 before merging

    async def test_renamed_zones_keep_their_old_names_findable(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            r = await client.get(
                "/v1/zones/resolve", params={"name": "张家口西山高新技术产业开发区", "as_of": "2020-01-01"}
            )
            zhuolu = await client.get("/v1/zones/resolve", params={"name": "河北涿鹿工业园", "as_of": "2020-01-01"})
        assert [(m["state"]["name"], m["match"]) for m in r.json()["matches"]] == [
            ("河北张家口高新技术产业开发区", "former_name")
        ]
        assert [(m["state"]["name"], m["match"]) for m in zhuolu.json()["matches"]] == [
            ("河北涿鹿经济开发区", "former_name")
        ]

    async def test_the_high_tech_zone_is_still_entrusted_to_wanquan(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            zone = (await _zones(client, "2016-10-14"))["河北张家口高新技术产业开发区"]
        assert zone["kind"] == "high_tech"
        assert zone["authority"] == "130700"
        assert zone["entrusted_to"] == "130708"
        assert zone["plaques"] == ["河北张家口西山经济开发区"]

    async def test_revoked_plaques_no_longer_resolve(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            gone = await client.get("/v1/zones/resolve", params={"name": "怀来新兴产业示范区", "as_of": "2016-10-14"})
            before = await client.get("/v1/zones/resolve", params={"name": "怀来新兴产业示范区", "as_of": "2016-10-13"})
        assert gone.json()["matches"] == []
        assert [m["match"] for m in before.json()["matches"]] == ["plaque"]

    async def test_two_parks_where_the_text_says_yi_qu_liang_yuan(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            zones = await _zones(client, "2016-10-14")
        for name in ("河北怀安经济开发区", "河北宣化经济开发区", "河北沙城经济开发区", "河北赤城经济开发区"):
            assert len(zones[name]["parks"]) == 2, name


class TestDivisionsAndComplianceInTheDemo:
    async def test_seven_divisions_without_a_zone(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            r = await client.get("/v1/divisions", params={"as_of": "2016-10-14", "limit": 500})
        body = r.json()
        # 桥西区, 崇礼区, 康保县, 尚义县, 阳原县 + the two management areas (inferred, see demo.py).
        assert body["without_provincial_zone"] == ["130703", "130709", "130723", "130725", "130727", "130771", "130772"]
        huaian = next(d for d in body["items"] if d["code"] == "130728")
        assert [z["name"] for z in huaian["administers"]] == ["河北怀安经济开发区"]
        wanquan = next(d for d in body["items"] if d["code"] == "130708")
        assert "河北张家口高新技术产业开发区" in [z["name"] for z in wanquan["hosts_by_entrustment"]]

    async def test_xuanhua_county_ends_into_xuanhua_district(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            r2015 = (await client.get("/v1/divisions", params={"as_of": "2015-06-01", "limit": 500})).json()
            r2017 = (await client.get("/v1/divisions", params={"as_of": "2017-06-01", "limit": 500})).json()
            history = (await client.get("/v1/divisions/130721")).json()["items"]
        assert "130721" in {d["code"] for d in r2015["items"]}
        assert "130721" not in {d["code"] for d in r2017["items"]}
        assert history == [
            {**history[0], "code": "130721", "name": "宣化县", "valid_to": "2016-01-01", "successor": "130705"}
        ]

    async def test_compliance_before_and_after(self, registry: Any) -> None:
        async with registry() as client:
            await load_demo(client)
            before = (await client.get("/v1/compliance", params={"as_of": "2016-10-13"})).json()["findings"]
            after = (await client.get("/v1/compliance", params={"as_of": "2016-10-14"})).json()["findings"]
        city_before = sorted(len(f["affected_zones"]) for f in before if f["rule"] == "city_at_most_one_per_kind")
        assert city_before == [2, 3]  # 3 economic (张家口, 西山, 南山), 2 high-tech (西山, 东山)
        counties_before = sorted(f["division"] for f in before if f["rule"] == "one_zone_per_county")
        assert counties_before == ["130730", "130731"]  # 怀来 and 涿鹿 each had two
        assert [f for f in after if f["rule"] != "county_without_zone"] == []
