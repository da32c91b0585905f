"""The permits service's messages: Chinese without ``Accept-Language``, English on request, the same
``code`` in both (docs/api-conventions.md#languages).

The expected texts are written here by hand from the messages' definitions (the case-state names
clerks use: 待受理, 受理, 一次性告知补正, 不予受理, 作出决定…), never read back from the code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from libs.domain.kernel.errors import Conflict
from libs.domain.kernel.i18n import Text
from libs.domain.permits.states import TaskAction, TaskState, next_task_state
from tests.helpers import assert_problem
from tests.permits.builders import ADMIN, CITY, CLERK, OTHER_ENTERPRISE, PLANNING, item_body

EN = {"Accept-Language": "en"}
Send = Callable[[dict[str, str]], Awaitable[httpx.Response]]


async def both(client: httpx.AsyncClient, send: Send, status: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The problem in Chinese (no ``Accept-Language``) and in English (``en``)."""
    client.headers.pop("Accept-Language", None)
    zh = await send({})
    assert zh.headers["content-language"] == "zh-CN"
    en = await send(EN)
    assert en.headers["content-language"] == "en"
    return assert_problem(zh, status), assert_problem(en, status)


async def test_a_case_missing_materials_is_refused_row_by_row_in_both_languages(window: Any) -> None:
    async with window() as w:
        item = await w.item()
        case = await w.apply(item, codes=("m1",))
        url = f"/v1/applications/{case['id']}/accept"
        zh, en = await both(w.client, lambda h: w.client.post(url, headers={**CLERK, **h}, json={}), 422)
    assert zh["code"] == en["code"] == "not_acceptable"
    assert (zh["title"], en["title"]) == ("请求违反规则", "The request breaks a rule")
    assert zh["detail"] == "该申请目前不符合受理条件"
    assert en["detail"] == "the application cannot be accepted as it stands"
    [zh_row] = zh["errors"]
    [en_row] = en["errors"]
    assert zh_row["loc"] == en_row["loc"] == ["body"]
    assert zh_row["type"] == zh_row["code"] == en_row["code"] == "materials_missing"
    assert zh_row["msg"] == "缺少必要材料：m2、m3；请改为一次性告知补正"
    assert en_row["msg"] == "mandatory materials missing: m2, m3; request supplements instead"


async def test_an_action_the_state_does_not_allow_names_the_state_and_the_actions(window: Any) -> None:
    async with window() as w:
        item = await w.item()
        case = await w.apply(item)
        url = f"/v1/applications/{case['id']}/decision"
        zh, en = await both(w.client, lambda h: w.client.post(url, headers={**CLERK, **h}, json={}), 409)
    assert zh["code"] == en["code"] == "case_not_in_state"
    assert zh["title"] == "与当前状态冲突"
    assert zh["detail"] == (
        "办件当前状态为“待受理”（submitted），不能作出决定；"
        "可进行的操作：受理（accept）、一次性告知补正（request-supplements）、不予受理（decline）"
    )
    assert en["detail"] == "cannot decide a case in state 'submitted'; allowed: accept, request-supplements, decline"
    for body in (zh, en):  # the machine-readable extras do not change with the language
        assert body["state"] == "submitted"
        assert body["action"] == "decide"
        assert body["allowed_actions"] == ["accept", "request-supplements", "decline"]


async def test_a_case_another_applicant_cannot_see_is_not_found(window: Any) -> None:
    async with window() as w:
        item = await w.item()
        case = await w.apply(item)
        url = f"/v1/applications/{case['id']}"
        zh, en = await both(w.client, lambda h: w.client.get(url, headers={**OTHER_ENTERPRISE, **h}), 404)
    assert zh["code"] == en["code"] == "application_not_found"
    assert zh["detail"] == f"办件 {case['id']} 不存在"
    assert en["detail"] == f"application {case['id']} does not exist"


async def test_a_catalog_rule_of_the_contract_speaks_both_languages(window: Any) -> None:
    body = item_body(
        stages=[
            {"departments": ["planning"], "share": "0.6"},
            {"departments": ["construction"], "share": "0.3"},
        ]
    )
    async with window() as w:
        zh, en = await both(
            w.client, lambda h: w.client.post("/v1/catalog/items", headers={**ADMIN, **h}, json=body), 422
        )
    assert zh["code"] == en["code"] == "validation_failed"
    [zh_row] = zh["errors"]
    [en_row] = en["errors"]
    assert zh_row["code"] == en_row["code"] == "stage_shares"
    assert zh_row["msg"] == "各阶段时限占比之和应为 1（现为 0.9）"
    assert en_row["msg"] == "stage shares must add up to 1 (they add up to 0.9)"


async def test_a_land_use_finding_reads_in_the_reviewers_language(window: Any) -> None:
    async with window() as w:
        item = await w.item(land_use_check=True)
        land = {"plot_ratio": "0.8", "building_coverage_percent": "45", "admin_living_share_percent": "7"}
        case = await w.apply(item, land_use=land)
        await w.accept(case)
        url = f"/v1/applications/{case['id']}"
        w.client.headers.pop("Accept-Language", None)
        zh = (await w.client.get(url, headers=PLANNING)).json()
        en = (await w.client.get(url, headers={**CITY, **EN})).json()
    [zh_finding] = zh["findings"]
    [en_finding] = en["findings"]
    assert zh_finding["code"] == en_finding["code"] == "land_use.plot_ratio"
    assert zh_finding["message"] == "容积率 0.8 低于下限 1.0"
    assert en_finding["message"] == "plot ratio 0.8 is below the minimum 1.0 (容积率)"


def test_a_task_action_the_state_does_not_allow_reads_in_the_reviewers_terms() -> None:
    with pytest.raises(Conflict) as err:
        next_task_state(TaskState.APPROVED, TaskAction.REJECT)
    assert err.value.code == "task_not_in_state"
    assert err.value.detail == Text(
        "审查任务当前状态为“已通过”（approved），不能退回；可进行的操作：无",
        "cannot reject a task in state 'approved'; allowed: nothing",
    )
