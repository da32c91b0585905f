"""The assessment service's own messages: Chinese first, English on request, the same ``code`` in both.

docs/api-conventions.md#languages. Each fault is asked twice, without ``Accept-Language`` (Chinese)
and with ``Accept-Language: en``; the expected texts are written here by hand from the messages'
definitions, with the run ids, dates and counts of the requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.assessment.runtime import AssessmentRuntime
from services.common.runtime import runtime_of
from tests.assessment.builders import (
    ADMIN,
    COMMERCE,
    RUN_2025,
    World,
    assessment,
    descending,
    econ_world,
    method_doc,
    publish,
    run,
)
from tests.helpers import assert_problem

EN = {"Accept-Language": "en"}


async def test_an_unknown_run_is_not_found_in_both_languages(app_client: Any) -> None:
    async with assessment(app_client, World()) as client:
        del client.headers["Accept-Language"]
        zh_response = await client.get("/v1/assessments/999")
        en = assert_problem(await client.get("/v1/assessments/999", headers=EN), 404)
    zh = assert_problem(zh_response, 404)
    assert zh_response.headers["content-language"] == "zh-CN"
    assert (zh["title"], zh["detail"]) == ("未找到", "考评 #999 不存在")
    assert (en["title"], en["detail"]) == ("Not found", "assessment 999 does not exist")
    assert zh["code"] == en["code"] == "assessment_not_found"


async def test_publishing_a_published_run_again_is_refused_in_both_languages(app_client: Any) -> None:
    async with assessment(app_client, econ_world(p2025=descending())) as client:
        del client.headers["Accept-Language"]
        await publish(client, method_doc())
        created = await run(client, "2025")  # created and published
        url = f"/v1/assessments/{created['id']}/publish"
        zh = assert_problem(await client.post(url, headers=ADMIN), 409)
        en = assert_problem(await client.post(url, headers={**ADMIN, **EN}), 409)
    run_id = created["id"]
    assert zh["title"] == "与当前状态冲突"
    assert zh["detail"] == f"考评 #{run_id} 的状态是已发布，只有草稿可以发布。"
    assert en["detail"] == f"Run {run_id} is published: only a draft can be published."
    assert zh["code"] == en["code"] == "not_a_draft"
    assert zh["run_status"] == en["run_status"] == "published"


async def test_each_fault_of_a_methodology_is_a_row_in_both_languages(app_client: Any) -> None:
    doc = method_doc(
        {"indicator": "gdp", "weight": -2, "normalisation": {"method": "min_max"}},
        {"indicator": "no_such", "normalisation": {"method": "min_max"}},
    )
    async with assessment(app_client, World()) as client:
        del client.headers["Accept-Language"]
        zh = assert_problem(await client.post("/v1/methodologies", json=doc, headers=ADMIN), 422)
        en = assert_problem(await client.post("/v1/methodologies", json=doc, headers={**ADMIN, **EN}), 422)
    assert (zh["detail"], en["detail"]) == ("考评办法有 2 处不符合规则", "the methodology breaks 2 rule(s)")
    assert zh["code"] == en["code"] == "methodology_invalid"
    zh_rows = {tuple(e["loc"]): e for e in zh["errors"]}
    en_rows = {tuple(e["loc"]): e for e in en["errors"]}
    weight = ("body", "root", "children", 0, "weight")
    unknown = ("body", "root", "children", 1, "indicator")
    # the body's weight is a number (float) in the contract: -2 is read as -2.0
    assert zh_rows[weight]["msg"] == "权重须为正数，实为 -2.0"
    assert en_rows[weight]["msg"] == "weights must be positive numbers, got -2.0"
    assert zh_rows[weight]["code"] == en_rows[weight]["code"] == zh_rows[weight]["type"] == "weight"
    assert zh_rows[unknown]["msg"] == "未知指标 'no_such'：不在指标目录中"
    assert en_rows[unknown]["msg"] == "unknown indicator 'no_such': not in the metrics catalog"
    assert zh_rows[unknown]["code"] == en_rows[unknown]["code"] == "unknown"


async def test_a_bureau_writing_for_another_kind_is_told_why_in_both_languages(app_client: Any) -> None:
    high_tech = method_doc(code="ht-annual", applies_to=["high_tech"])
    async with assessment(app_client, World()) as client:
        del client.headers["Accept-Language"]
        zh = assert_problem(await client.post("/v1/methodologies", json=high_tech, headers=COMMERCE), 403)
        en = assert_problem(await client.post("/v1/methodologies", json=high_tech, headers={**COMMERCE, **EN}), 403)
    assert zh["title"] == "无权进行此操作"
    assert zh["detail"] == "经济开发区由商务局考评，高新技术产业开发区由科技局考评：此令牌无权为 high_tech 写入"
    assert en["detail"] == (
        "the commerce bureau assesses economic zones and the science bureau high-tech zones: "
        "this token may not write for high_tech"
    )
    assert zh["code"] == en["code"] == "kind_not_allowed"
    assert zh["allowed_kinds"] == en["allowed_kinds"] == ["economic"]


async def test_a_dry_run_names_its_refusal_in_the_language_asked_for(app_client: Any) -> None:
    now = datetime.fromisoformat("2025-07-01T08:00:00+08:00")
    body = {**RUN_2025, "dry_run": True}
    async with assessment(app_client, econ_world(p2025=descending())) as client:
        runtime_of(client.app, AssessmentRuntime).clock = lambda: now  # type: ignore[attr-defined]
        del client.headers["Accept-Language"]
        await publish(client, method_doc())
        zh_response = await client.post("/v1/assessments", json=body, headers=ADMIN)
        en_response = await client.post("/v1/assessments", json=body, headers={**ADMIN, **EN})
        real = assert_problem(await client.post("/v1/assessments", json=RUN_2025, headers=ADMIN), 422)
    assert zh_response.status_code == en_response.status_code == 200, zh_response.text
    [zh] = zh_response.json()["refusals"]
    [en] = en_response.json()["refusals"]
    assert zh["code"] == en["code"] == "period_not_ended"
    assert zh["detail"] == (
        "2025年至 2025-12-31 才结束，今天（北京时间）是 2025-07-01：只能考评已结束的期间（可用 dry_run 试算，不保存）。"
    )
    assert en["detail"] == "Period 2025 runs until 2025-12-31: only an ended period can be assessed."
    # the run itself is refused with the same text and code, and its errors[] row in Chinese
    assert (real["code"], real["detail"]) == ("period_not_ended", zh["detail"])
    assert real["errors"] == [
        {"loc": ["body", "period"], "msg": "报告期尚未结束", "type": "period_not_ended", "code": "period_not_ended"}
    ]
