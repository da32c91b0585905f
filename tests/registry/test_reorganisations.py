"""Recording acts through the API: every operation, every refusal, dry runs, annulment, the feed."""

from __future__ import annotations

from typing import Any

from tests.conftest import auth

ADMIN = auth("city_admin")


def faults(body: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["index"], e["type"]) for e in body["errors"]]


class TestEachOperation:
    async def test_establish_gives_an_id_per_ref_and_a_state_from_the_effective_date(self, world: Any) -> None:
        async with world() as w:
            body = await w.act(
                "2012-03-01",
                {
                    "op": "establish",
                    "ref": "a",
                    "name": "甲区",
                    "kind": "economic",
                    "authority": "130728",
                    "parks": ["一园"],
                    "plaques": ["甲牌"],
                    "approved_area_km2": "12.5",
                },
            )
            zone = await w.get(body["zone_ids_by_ref"]["a"], "2012-03-01")
            missing = await w.client.get(f"/v1/zones/{body['zone_ids_by_ref']['a']}", params={"as_of": "2012-02-29"})
        assert zone["name"] == "甲区"
        assert zone["parks"] == [{"name": "一园", "former_zone": None}]
        assert zone["plaques"] == ["甲牌"]
        assert zone["approved_area_km2"] == "12.5"
        assert zone["established_on"] == "2012-03-01"
        assert missing.status_code == 404

    async def test_rename_keeps_the_old_name_as_former_name_or_plaque(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            await w.act("2013-01-01", {"op": "rename", "zone_id": a, "name": "乙区"})
            await w.act("2014-01-01", {"op": "rename", "zone_id": a, "name": "丙区", "keep_old_name_as_plaque": True})
            z2013 = await w.get(a, "2013-06-01")
            z2014 = await w.get(a, "2014-06-01")
            old = await w.get(a, "2012-06-01")
        assert (old["name"], z2013["name"], z2014["name"]) == ("甲区", "乙区", "丙区")
        assert z2013["former_names"] == ["甲区"]
        assert z2014["plaques"] == ["乙区"]

    async def test_merge_into_parks_ends_the_sources(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            b = await w.zone("乙区", authority="130705")
            await w.act(
                "2015-01-01",
                {
                    "op": "merge",
                    "sources": [b],
                    "into": a,
                    "sources_become": "parks",
                    "keep_names_as_plaques": ["乙区"],
                },
            )
            za = await w.get(a, "2015-01-01")
            zb = await w.get(b, "2015-01-01")
        assert za["parks"] == [{"name": "甲区", "former_zone": None}, {"name": "乙区", "former_zone": b}]
        assert za["plaques"] == ["乙区"]
        assert (zb["status"], zb["successor"]) == ("merged", a)

    async def test_merge_absorbed_records_the_source_name_as_former(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            b = await w.zone("乙区")
            await w.act("2015-01-01", {"op": "merge", "sources": [b], "into": a, "sources_become": "absorbed"})
            za = await w.get(a, "2015-01-01")
        assert za["parks"] == []
        assert za["former_names"] == ["乙区"]

    async def test_split_moves_parks_to_a_zone_established_in_the_same_act(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区", parks=["东园", "西园"])
            body = await w.act(
                "2016-01-01",
                {"op": "establish", "ref": "new", "name": "乙区", "kind": "economic", "authority": "130730"},
                {"op": "split", "zone_id": a, "parks": ["西园"], "into": "new"},
            )
            new = await w.get(body["zone_ids_by_ref"]["new"], "2016-01-01")
            old = await w.get(a, "2016-01-01")
            lineage = (await w.client.get(f"/v1/zones/{body['zone_ids_by_ref']['new']}/lineage")).json()
        assert [p["name"] for p in new["parks"]] == ["西园"]
        assert [p["name"] for p in old["parks"]] == ["东园"]
        assert [(p["state"]["id"], p["operation"]) for p in lineage["predecessors"]] == [(a, "split")]

    async def test_plaques_and_parks_come_and_go(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            await w.act(
                "2013-01-01",
                {"op": "add_plaque", "zone_id": a, "name": "甲牌"},
                {"op": "add_park", "zone_id": a, "name": "新园"},
            )
            await w.act(
                "2014-01-01",
                {"op": "revoke_plaque", "zone_id": a, "name": "甲牌"},
                {"op": "remove_park", "zone_id": a, "name": "甲区"},
            )
            z13 = await w.get(a, "2013-01-01")
            z14 = await w.get(a, "2014-01-01")
        assert (z13["plaques"], [p["name"] for p in z13["parks"]]) == (["甲牌"], ["甲区", "新园"])
        assert (z14["plaques"], [p["name"] for p in z14["parks"]]) == ([], ["新园"])

    async def test_transfer_entrust_and_end_entrustment(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区", authority="130700")
            await w.act("2013-01-01", {"op": "entrust", "zone_id": a, "to": "130728"})
            await w.act("2014-01-01", {"op": "end_entrustment", "zone_id": a})
            await w.act("2015-01-01", {"op": "entrust", "zone_id": a, "to": "130705"})
            await w.act("2016-01-01", {"op": "transfer", "zone_id": a, "authority": "130705"})
            z13, z14, z15, z16 = [await w.get(a, f"{y}-06-01") for y in (2013, 2014, 2015, 2016)]
        assert (z13["entrusted_to"], z14["entrusted_to"], z15["entrusted_to"]) == ("130728", None, "130705")
        assert (z16["authority"], z16["entrusted_to"]) == ("130705", None)  # transfer to the host ends it

    async def test_level_kind_area_and_revocation(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            await w.act(
                "2013-01-01",
                {"op": "change_level", "zone_id": a, "level": "national"},
                {"op": "change_kind", "zone_id": a, "kind": "high_tech"},
                {"op": "change_area", "zone_id": a, "approved_area_km2": "30"},
            )
            await w.act("2014-01-01", {"op": "revoke", "zone_id": a, "reason": "连续两年被警告"})
            z13 = await w.get(a, "2013-01-01")
            z14 = await w.get(a, "2014-01-01")
            counts = (await w.client.get("/v1/zones/counts", params={"as_of": "2013-06-01"})).json()
            after = (await w.client.get("/v1/zones/counts", params={"as_of": "2014-06-01"})).json()
        assert (z13["level"], z13["kind"], z13["approved_area_km2"]) == ("national", "high_tech", "30")
        assert (z14["status"], z14["status_reason"]) == ("revoked", "连续两年被警告")
        assert counts["by_level"]["national"] == 1
        assert after["total"] == 0


class TestRefusals:
    async def test_every_bad_operation_is_listed_by_index_and_nothing_is_saved(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区", plaques=["甲牌"])
            b = await w.zone("乙区")
            c = await w.zone("戊区")
            body = await w.act(
                "2015-01-01",
                {"op": "rename", "zone_id": "nope", "name": "丙区"},
                {"op": "transfer", "zone_id": a, "authority": "130799"},
                {"op": "add_plaque", "zone_id": c, "name": "甲牌"},
                {"op": "remove_park", "zone_id": a, "name": "没有的园"},
                {"op": "revoke_plaque", "zone_id": a, "name": "没有的牌"},
                {"op": "merge", "sources": [a], "into": a},
                {"op": "revoke", "zone_id": b, "reason": "x"},
                {"op": "rename", "zone_id": b, "name": "丁区"},
                {"op": "end_entrustment", "zone_id": a},
                {"op": "entrust", "zone_id": a, "to": "130728"},
                {"op": "change_level", "zone_id": a, "level": "provincial"},
                expect=422,
            )
            unchanged = await w.get(b, "2015-06-01")
            acts = (await w.client.get("/v1/reorganisations")).json()["items"]
        assert body["status"] == 422
        assert faults(body) == [
            (0, "unknown_zone"),
            (1, "unknown_division"),
            (2, "duplicate_name"),
            (3, "unknown_park"),
            (4, "unknown_plaque"),
            (5, "merge_into_itself"),
            (7, "ended_in_this_act"),
            (8, "not_entrusted"),
            (9, "entrust_to_authority"),
            (10, "no_change"),
        ]
        assert unchanged["status"] == "active"
        assert len(acts) == 3

    async def test_a_zone_not_in_force_on_the_date_is_refused(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区", on="2015-01-01")
            early = await w.act("2014-01-01", {"op": "rename", "zone_id": a, "name": "乙区"}, expect=422)
            await w.act("2016-01-01", {"op": "revoke", "zone_id": a, "reason": "x"})
            late = await w.act("2017-01-01", {"op": "rename", "zone_id": a, "name": "乙区"}, expect=422)
        assert faults(early) == [(0, "inactive_zone")]
        assert faults(late) == [(0, "inactive_zone")]

    async def test_an_act_dated_before_a_later_event_on_its_zone_is_refused(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区", on="2010-01-01")
            await w.act("2016-01-01", {"op": "add_plaque", "zone_id": a, "name": "甲牌"})
            body = await w.act("2015-01-01", {"op": "add_park", "zone_id": a, "name": "新园"}, expect=422)
        assert faults(body) == [(0, "effective_date_before_later_event")]

    async def test_duplicate_refs_unknown_entrusted_division_and_duplicate_name_in_one_act(self, world: Any) -> None:
        async with world() as w:
            await w.zone("甲区")
            body = await w.act(
                "2015-01-01",
                {
                    "op": "establish",
                    "ref": "x",
                    "name": "乙区",
                    "kind": "economic",
                    "authority": "130728",
                    "entrusted_to": "130799",
                },
                {"op": "establish", "ref": "x", "name": "丙区", "kind": "economic", "authority": "130728"},
                {"op": "establish", "ref": "y", "name": "甲区", "kind": "economic", "authority": "130728"},
                expect=422,
            )
        assert faults(body) == [(0, "unknown_division"), (1, "duplicate_ref"), (2, "duplicate_name")]

    async def test_a_division_not_yet_in_force_is_unknown(self, world: Any) -> None:
        async with world() as w:
            r = await w.client.post(
                "/v1/divisions", headers=ADMIN, json={"code": "130708", "name": "万全区", "valid_from": "2016-01-01"}
            )
            assert r.status_code == 201
            body = await w.act(
                "2015-06-01",
                {"op": "establish", "ref": "a", "name": "甲区", "kind": "economic", "authority": "130708"},
                expect=422,
            )
        assert faults(body) == [(0, "unknown_division")]

    async def test_a_division_sent_again_is_answered_with_the_stored_state(self, world: Any) -> None:
        state = {"code": "130708", "name": "万全区", "valid_from": "2016-01-01", "replaces": ["130729"]}
        async with world() as w:
            old = {"code": "130729", "name": "万全县", "valid_from": "2000-01-01"}
            assert (await w.client.post("/v1/divisions", headers=ADMIN, json=old)).status_code == 201
            first = await w.client.post("/v1/divisions", headers=ADMIN, json=state)
            again = await w.client.post("/v1/divisions", headers=ADMIN, json=state)
            renamed = await w.client.post("/v1/divisions", headers=ADMIN, json={**state, "name": "万全新区"})
            versions = (await w.client.get("/v1/divisions/130708")).json()["items"]
            feed = (await w.client.get("/v1/changes")).json()["items"]
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert renamed.status_code == 422  # a different state on the same date is still refused
        assert len(versions) == 1
        assert sum(1 for c in feed if c["type"] == "division.recorded" and c["payload"]["code"] == "130708") == 1

    async def test_a_malformed_operation_is_a_validation_problem(self, world: Any) -> None:
        async with world() as w:
            body = await w.act("2015-01-01", {"op": "teleport", "zone_id": "x"}, expect=422)
        assert body["errors"][0]["loc"][:3] == ["body", "operations", 0]

    async def test_only_the_city_office_records_acts(self, world: Any) -> None:
        async with world() as w:
            r = await w.client.post(
                "/v1/reorganisations",
                headers=auth("county", division="130728"),
                json={
                    "legal_basis": "x",
                    "effective_on": "2015-01-01",
                    "title": "t",
                    "operations": [{"op": "revoke", "zone_id": "x", "reason": "r"}],
                },
            )
            anonymous = await w.client.post("/v1/reorganisations", json={})
        assert r.status_code == 403
        assert anonymous.status_code == 401


class TestDryRunAndAnnulment:
    async def test_dry_run_shows_the_result_and_saves_nothing(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            body = await w.act("2015-01-01", {"op": "rename", "zone_id": a, "name": "乙区"}, expect=200, dry_run="true")
            still = await w.get(a, "2015-06-01")
        assert body["dry_run"] is True
        assert body["id"] is None
        assert body["resulting"][0]["name"] == "乙区"
        assert still["name"] == "甲区"

    async def test_annulling_the_latest_act_restores_the_previous_state(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            b = await w.zone("乙区")
            before_a = await w.get(a, "2020-01-01")
            act = await w.act(
                "2015-01-01",
                {"op": "establish", "ref": "n", "name": "丙区", "kind": "economic", "authority": "130728"},
                {"op": "merge", "sources": [a, b], "into": "n"},
            )
            r = await w.client.post(
                f"/v1/reorganisations/{act['id']}/annul", headers=ADMIN, json={"reason": "录入错误"}
            )
            after_a = await w.get(a, "2020-01-01")
            new_zone = await w.client.get(f"/v1/zones/{act['zone_ids_by_ref']['n']}", params={"as_of": "2020-01-01"})
            recorded = (await w.client.get(f"/v1/reorganisations/{act['id']}")).json()
            again = await w.client.post(f"/v1/reorganisations/{act['id']}/annul", headers=ADMIN, json={"reason": "x"})
            lineage = (await w.client.get(f"/v1/zones/{a}/lineage")).json()
        assert r.status_code == 200
        assert after_a == before_a
        assert new_zone.status_code == 404
        assert recorded["annul_reason"] == "录入错误"
        assert recorded["operations"][0]["op"] == "establish"  # the act itself is kept
        assert again.status_code == 409
        assert lineage["successors"] == []

    async def test_an_act_followed_by_a_later_one_cannot_be_annulled(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            first = await w.act("2015-01-01", {"op": "add_plaque", "zone_id": a, "name": "甲牌"})
            await w.act("2016-01-01", {"op": "add_park", "zone_id": a, "name": "新园"})
            r = await w.client.post(f"/v1/reorganisations/{first['id']}/annul", headers=ADMIN, json={"reason": "x"})
        assert r.status_code == 409
        assert r.json()["zone_ids"] == [a]


class TestReads:
    async def test_history_lists_every_state_with_its_act(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            await w.act("2015-01-01", {"op": "rename", "zone_id": a, "name": "乙区"})
            history = (await w.client.get(f"/v1/zones/{a}/history")).json()
            missing = await w.client.get("/v1/zones/nope/history")
        assert [e["state"]["name"] for e in history["entries"]] == ["甲区", "乙区"]
        assert history["entries"][0]["state"]["valid_to"] == "2015-01-01"
        assert history["entries"][1]["changes"][0]["description"] == "renamed from 甲区 to 乙区"
        assert missing.status_code == 404

    async def test_list_filters_and_pages(self, world: Any) -> None:
        async with world() as w:
            ids = [await w.zone(f"区{i}号", authority="130728" if i % 2 else "130705") for i in range(5)]
            page1 = (await w.client.get("/v1/zones", params={"limit": 2, "as_of": "2020-01-01"})).json()
            page2 = (
                await w.client.get(
                    "/v1/zones", params={"limit": 2, "cursor": page1["next_cursor"], "as_of": "2020-01-01"}
                )
            ).json()
            huaian = (await w.client.get("/v1/zones", params={"authority": "130728", "as_of": "2020-01-01"})).json()
            search = (await w.client.get("/v1/zones", params={"q": "3号", "as_of": "2020-01-01"})).json()
        seen = [z["id"] for z in page1["items"] + page2["items"]]
        assert seen == sorted(ids)[:4]
        assert len(huaian["items"]) == 2
        assert [z["name"] for z in search["items"]] == ["区3号"]

    async def test_the_change_feed_follows_acts_and_annulments(self, world: Any) -> None:
        async with world() as w:
            start = (await w.client.get("/v1/changes")).json()
            a = await w.zone("甲区")
            act = await w.act("2015-01-01", {"op": "rename", "zone_id": a, "name": "乙区"})
            await w.client.post(f"/v1/reorganisations/{act['id']}/annul", headers=ADMIN, json={"reason": "x"})
            feed = (await w.client.get("/v1/changes", params={"cursor": start["next_cursor"]})).json()
            tail = (await w.client.get("/v1/changes", params={"cursor": feed["next_cursor"]})).json()
            one = (await w.client.get("/v1/changes", params={"cursor": start["next_cursor"], "limit": 1})).json()
            two = (await w.client.get("/v1/changes", params={"cursor": one["next_cursor"], "limit": 2})).json()
            old_name = await w.client.get("/v1/changes", params={"after": start["next_cursor"]})
        assert [c["type"] for c in feed["items"]] == [
            "reorganisation.recorded",
            "reorganisation.recorded",
            "reorganisation.annulled",
        ]
        assert set(feed) == {"items", "next_cursor"}
        assert feed["items"][1]["payload"]["zone_ids"] == [a]
        assert feed["items"][1]["payload"]["reorganisation"] == act["id"]
        assert feed["items"][2]["payload"] == {
            "reorganisation": act["id"],
            "effective_on": "2015-01-01",
            "zone_ids": [a],
        }
        assert all(isinstance(c["id"], str) and c["id"].isdigit() for c in feed["items"])
        assert tail["items"] == []
        assert tail["next_cursor"] == feed["next_cursor"]  # set on the last page too: a follower keeps polling
        assert [c["id"] for c in one["items"] + two["items"]] == [c["id"] for c in feed["items"]]
        assert len(one["items"]) == 1
        assert two["next_cursor"] == feed["next_cursor"]
        assert old_name.json()["items"] == [*start["items"], *feed["items"]]  # `after` is no parameter any more

    async def test_resolve_ignores_the_province_prefix_and_width(self, world: Any) -> None:
        async with world() as w:
            await w.zone("河北甲经济开发区")
            r = await w.client.get("/v1/zones/resolve", params={"name": "甲经济开发区", "as_of": "2020-01-01"})
        assert [(m["state"]["name"], m["match"]) for m in r.json()["matches"]] == [("河北甲经济开发区", "official")]


class TestTheConventions:
    """Act ids are digit strings in paths and answers; short lists page with limit and cursor."""

    async def test_an_act_id_is_a_string_in_answers_and_paths(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            act = await w.act("2015-01-01", {"op": "rename", "zone_id": a, "name": "乙区"})
            got = await w.client.get(f"/v1/reorganisations/{act['id']}")
            listed = (await w.client.get("/v1/reorganisations", params={"zone_id": a})).json()["items"]
            others = (await w.client.get("/v1/reorganisations", params={"zone_id": "nothere"})).json()["items"]
            state = await w.get(a, "2015-06-01")
            history = (await w.client.get(f"/v1/zones/{a}/history")).json()
            words = await w.client.get("/v1/reorganisations/first")
            zero = await w.client.get("/v1/reorganisations/0")
        assert isinstance(act["id"], str) and act["id"].isdigit()
        assert got.status_code == 200 and got.json()["id"] == act["id"]
        assert got.json()["operations"] == [
            {"op": "rename", "zone_id": a, "name": "乙区", "keep_old_name_as_plaque": False}
        ]
        assert got.json()["changes"][0]["zone_id"] == a
        assert [x["id"] for x in listed][-1] == act["id"] and len(listed) == 2  # the establishing act and this one
        assert others == []
        assert state["reorganisation"] == act["id"]
        assert history["zone_id"] == a
        assert history["entries"][1]["reorganisation"] == act["id"]
        assert (words.status_code, zero.status_code) == (422, 422)
        assert words.headers["content-type"].startswith("application/problem+json")

    async def test_the_old_zone_field_of_an_operation_is_refused(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            body = await w.act("2015-01-01", {"op": "rename", "zone": a, "name": "乙区"}, expect=422)
        assert ["body", "operations", 0, "rename", "zone_id"] in [e["loc"] for e in body["errors"]]

    async def test_a_division_s_versions_page_one_at_a_time(self, world: Any) -> None:
        async with world() as w:
            for state in (
                {"code": "130799", "name": "甲县", "valid_from": "2000-01-01"},
                {"code": "130799", "name": "甲区", "valid_from": "2010-01-01"},
                {"code": "130799", "name": "乙区", "valid_from": "2015-01-01"},
            ):
                assert (await w.client.post("/v1/divisions", headers=ADMIN, json=state)).status_code == 201
            names, cursor, pages = [], None, 0
            while True:
                params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
                page = (await w.client.get("/v1/divisions/130799", params=params)).json()
                names += [v["name"] for v in page["items"]]
                pages += 1
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            whole = (await w.client.get("/v1/divisions/130799")).json()
        assert names == ["甲县", "甲区", "乙区"]
        assert pages == 3
        assert [v["name"] for v in whole["items"]] == names and whole["next_cursor"] is None
