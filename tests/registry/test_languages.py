"""The registry's problems speak Chinese first and English on request, with the same ``code``.

docs/api-conventions.md#languages. Each expected text is written here by hand from the message's
definition (services/registry, libs/domain/registry); the ids come from the acts recorded here.
"""

from __future__ import annotations

from typing import Any

from tests.helpers import assert_problem
from tests.registry.builders import ADMIN

EN = {"Accept-Language": "en"}


async def _both(w: Any, method: str, url: str, status: int, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The problem without ``Accept-Language`` (Chinese) and with ``en``."""
    headers = kw.pop("headers", {})
    del w.client.headers["Accept-Language"]
    zh_response = await w.client.request(method, url, headers=headers, **kw)
    zh = assert_problem(zh_response, status)
    assert zh_response.headers["content-language"] == "zh-CN"
    en_response = await w.client.request(method, url, headers={**headers, **EN}, **kw)
    en = assert_problem(en_response, status)
    assert en_response.headers["content-language"] == "en"
    assert zh["code"] == en["code"]
    assert zh["type"] == en["type"]
    return zh, en


async def test_a_zone_out_of_force_on_the_day(world: Any) -> None:
    async with world() as w:
        zone = await w.zone("甲经济开发区", on="2010-01-01")
        zh, en = await _both(w, "GET", f"/v1/zones/{zone}", 404, params={"as_of": "2009-12-31"})
    assert zh["code"] == "zone_not_in_force"
    assert (zh["title"], en["title"]) == ("未找到", "Not found")
    assert zh["detail"] == f"开发区 {zone} 在 2009-12-31 不在有效期内"
    assert en["detail"] == f"zone {zone} was not in force on 2009-12-31"
    assert zh["zone_id"] == en["zone_id"] == zone


async def test_an_operation_fault_in_errors(world: Any) -> None:
    async with world() as w:
        zone = await w.zone("甲区", on="2010-01-01")
        body = {
            "legal_basis": "测试〔2020〕1号",
            "effective_on": "2015-01-01",
            "title": "test act",
            "operations": [{"op": "rename", "zone_id": zone, "name": "甲区"}],
        }
        zh, en = await _both(w, "POST", "/v1/reorganisations", 422, headers=ADMIN, json=body)
    assert zh["code"] == "reorganisation_invalid"
    assert zh["detail"] == "该整合调整在 2015-01-01 无法生效：1 项操作有误"
    assert en["detail"] == "the reorganisation is invalid on 2015-01-01: 1 operation fault(s)"
    [zh_fault] = zh["errors"]
    [en_fault] = en["errors"]
    assert zh_fault["msg"] == f"开发区 {zone} 的名称已是 甲区"
    assert en_fault["msg"] == f"zone {zone} is already named 甲区"
    assert zh_fault["code"] == en_fault["code"] == zh_fault["type"] == "no_change"
    assert zh_fault["loc"] == en_fault["loc"] == ["body", "operations", 0, "name"]


async def test_an_act_that_is_not_the_latest_cannot_be_annulled(world: Any) -> None:
    async with world() as w:
        established = await w.act(
            "2010-01-01",
            {"op": "establish", "ref": "z", "name": "甲区", "kind": "economic", "authority": "130728"},
        )
        zone = established["zone_ids_by_ref"]["z"]
        await w.act("2015-01-01", {"op": "rename", "zone_id": zone, "name": "乙区"})
        url = f"/v1/reorganisations/{established['id']}/annul"
        zh, en = await _both(w, "POST", url, 409, headers=ADMIN, json={"reason": "录入错误"})
    assert zh["code"] == "not_latest_act"
    assert (zh["title"], en["title"]) == ("与当前状态冲突", "Conflict with the current state")
    assert zh["detail"] == f"整合调整 {established['id']} 不是开发区 {zone} 的最近一次调整：请先作废其后的调整"
    assert en["detail"] == (
        f"reorganisation {established['id']} is not the latest act on zone(s) {zone}: annul the later acts first"
    )


async def test_a_division_that_was_never_recorded(world: Any) -> None:
    async with world() as w:
        zh, en = await _both(w, "GET", "/v1/divisions/130799", 404)
    assert zh["code"] == "division_not_found"
    assert zh["detail"] == "未登记行政区划 130799"
    assert en["detail"] == "division 130799 is not recorded"


async def test_a_division_that_cannot_be_recorded_lists_why(world: Any) -> None:
    # 130728 (怀安县) is recorded from 2000-01-01: a state from 1999 is not the latest.
    async with world() as w:
        body = {"code": "130728", "name": "怀安县", "valid_from": "1999-01-01"}
        zh, en = await _both(w, "POST", "/v1/divisions", 422, headers=ADMIN, json=body)
    assert zh["code"] == "division_not_recordable"
    assert (zh["detail"], en["detail"]) == ("无法登记该行政区划", "the division cannot be recorded")
    [zh_fault] = zh["errors"]
    [en_fault] = en["errors"]
    assert zh_fault["msg"] == "行政区划 130728 已有自该日期或更晚日期起的记录"
    assert en_fault["msg"] == "130728 already has a state from this date or later"
    assert zh_fault["code"] == en_fault["code"] == "not_latest"
