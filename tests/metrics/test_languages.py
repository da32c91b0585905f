"""The metrics service's problems and messages: Chinese without ``Accept-Language``, English on
request, the same ``code`` in both (docs/api-conventions.md#languages).

The expected texts are written here by hand from the messages' definitions
(libs/domain/metrics/messages.py and the services' raise sites), not copied from answers.
"""

from __future__ import annotations

from typing import Any

import pytest

from libs.domain.kernel.i18n import Text, reset_lang, use_lang
from libs.domain.metrics.contracts import ImportConflict
from tests.conftest import auth
from tests.helpers import assert_problem
from tests.metrics.builders import CITY, XUANHUA, ZHUOLU, indicator

ZHUOLU_COUNTY = auth("county", division="130731")
COMMERCE = auth("commerce_bureau")
ENGLISH = {"Accept-Language": "en"}


async def upload(client: Any, text: str, key: str, extra: dict[str, str] | None = None) -> Any:
    files = {"file": ("push.csv", text.encode(), "text/csv")}
    headers = ZHUOLU_COUNTY | {"Idempotency-Key": key} | (extra or {})
    return await client.post("/v1/observations/import", files=files, headers=headers)


async def both(client: Any, send: Any) -> tuple[Any, Any]:
    """The answer without ``Accept-Language`` (Chinese) and with ``Accept-Language: en``."""
    del client.headers["Accept-Language"]
    return await send(None, "zh"), await send(ENGLISH, "en")


class TestAFileRowConflict:
    async def test_says_row_column_fault_and_what_is_accepted_in_each_language(self, metrics: Any) -> None:
        text = f"zone,indicator,period,value,unit\n{ZHUOLU},gdp,2017,5,公顷\n"
        async with metrics() as client:
            zh, en = await both(client, lambda headers, key: upload(client, text, f"unit-{key}", headers))
        zh_body, en_body = assert_problem(zh, 422), assert_problem(en, 422)
        assert zh.headers["content-language"] == "zh-CN" and en.headers["content-language"] == "en"
        assert zh_body["code"] == en_body["code"] == "rows_conflict"
        assert zh_body["title"] == "请求违反规则"
        assert zh_body["detail"] == "1 行有误，未保存任何数据；每个问题见 errors"
        assert en_body["detail"] == "1 row(s) conflict; nothing was stored; each is listed in errors"
        [zh_error], [en_error] = zh_body["errors"], en_body["errors"]
        assert (
            zh_error["msg"]
            == "第 2 行“unit”列：单位 公顷 无法换算为 万元；该指标可用单位：元、千元、万元、百万元、亿元"
        )
        assert en_error["msg"] == (
            "row 2, column unit: a value in 公顷 cannot be converted to 万元; "
            "this indicator accepts 元, 千元, 万元, 百万元, 亿元"
        )
        assert zh_error["code"] == en_error["code"] == zh_error["type"] == "incompatible_unit"
        assert zh_error["accepted"] == en_error["accepted"] == ["元", "千元", "万元", "百万元", "亿元"]
        assert (zh_error["line"], zh_error["column"]) == (en_error["line"], en_error["column"]) == (2, "unit")

    async def test_a_missing_column_names_what_the_header_should_be(self, metrics: Any) -> None:
        text = f"zone,indicator,period,value\n{ZHUOLU},gdp,2017,5\n"
        async with metrics() as client:
            zh, en = await both(client, lambda headers, key: upload(client, text, f"header-{key}", headers))
        zh_body, en_body = assert_problem(zh, 422), assert_problem(en, 422)
        assert zh_body["code"] == en_body["code"] == "missing_column"
        assert zh_body["detail"] == (
            "表头缺少列：unit（应为 开发区,指标,期间,数值,单位,备注 或 zone,indicator,period,value,unit,note）"
        )
        assert (
            en_body["detail"] == "the header lacks the column(s): unit (expected zone,indicator,period,value,unit,note)"
        )
        assert zh_body["errors"][0]["msg"] == zh_body["detail"]
        assert zh_body["errors"][0]["code"] == en_body["errors"][0]["code"] == "missing_column"


class TestARowOutsideTheCallersScope:
    async def test_is_refused_in_each_language_with_its_row(self, metrics: Any) -> None:
        text = f"zone,indicator,period,value,unit\n{XUANHUA},gdp,2017,1,万元\n"
        async with metrics() as client:
            zh, en = await both(client, lambda headers, key: upload(client, text, f"scope-{key}", headers))
        zh_body, en_body = assert_problem(zh, 403), assert_problem(en, 403)
        assert zh_body["code"] == en_body["code"] == "outside_scope"
        assert zh_body["title"] == "无权进行此操作"
        assert zh_body["detail"] == (
            "1 行不在本账号可报送的范围内（第 2 行），`rows` 列出每一行、其开发区所属的县（区）以及本账号可报送的开发区"
        )
        assert en_body["detail"] == (
            "1 row(s) are outside the caller's scope: rows 2; `rows` lists each with the division of its zone "
            "and the zones the caller may write for"
        )
        assert (
            zh_body["rows"][0]["msg"]
            == f"第 2 行“zone”列：{XUANHUA} 属于 130705，本账号不能报送；该期间可报送 1 个开发区"
        )
        assert en_body["rows"][0]["msg"] == (
            f"row 2, column zone: {XUANHUA} belongs to 130705, outside the caller's scope; "
            "the caller may write for 1 zone(s) then"
        )


class TestLocks:
    async def test_a_lock_that_exists_is_a_conflict_in_each_language(self, metrics: Any) -> None:
        body = {"period": "2025", "kind": "economic", "reason": "2025 assessment published"}
        async with metrics() as client:
            assert (await client.post("/v1/locks", json=body, headers=CITY)).status_code == 201
            zh, en = await both(
                client, lambda headers, _: client.post("/v1/locks", json=body, headers=CITY | (headers or {}))
            )
        zh_body, en_body = assert_problem(zh, 409), assert_problem(en, 409)
        assert zh_body["code"] == en_body["code"] == "period_already_locked"
        assert (zh_body["title"], en_body["title"]) == ("与当前状态冲突", "Conflict with the current state")
        assert zh_body["detail"] == "报告期 2025 的经济开发区数据已锁定"
        assert en_body["detail"] == "period 2025 is already locked for economic zones"

    async def test_a_bureau_locking_another_kind_is_refused_in_each_language(self, metrics: Any) -> None:
        body = {"period": "2025", "kind": "high_tech", "reason": "not ours"}
        async with metrics() as client:
            zh, en = await both(
                client, lambda headers, _: client.post("/v1/locks", json=body, headers=COMMERCE | (headers or {}))
            )
        zh_body, en_body = assert_problem(zh, 403), assert_problem(en, 403)
        assert zh_body["code"] == en_body["code"] == "lock_kind_not_allowed"
        assert zh_body["detail"] == (
            "商务局只能锁定经济开发区、科技局只能锁定高新技术产业开发区的报告期，本令牌不能锁定高新技术产业开发区"
        )
        assert en_body["detail"] == (
            "the commerce bureau locks economic zones and the science bureau high-tech zones only: "
            "this token may not lock high_tech zones"
        )


class TestIndicators:
    async def test_an_unknown_indicator_is_not_found_in_each_language(self, metrics: Any) -> None:
        async with metrics() as client:
            zh, en = await both(client, lambda headers, _: client.get("/v1/indicators/nope/versions", headers=headers))
        zh_body, en_body = assert_problem(zh, 404), assert_problem(en, 404)
        assert zh_body["code"] == en_body["code"] == "indicator_not_found"
        assert (zh_body["title"], zh_body["detail"]) == ("未找到", "指标 nope 不存在")
        assert en_body["detail"] == "indicator nope does not exist"

    async def test_a_bad_definition_lists_its_faults_in_each_language(self, metrics: Any) -> None:
        body = indicator("sample", min=10, max=5)
        async with metrics() as client:
            zh, en = await both(
                client, lambda headers, _: client.post("/v1/indicators", json=body, headers=CITY | (headers or {}))
            )
        zh_body, en_body = assert_problem(zh, 422), assert_problem(en, 422)
        assert zh_body["code"] == en_body["code"] == "invalid_indicator"
        assert (zh_body["detail"], en_body["detail"]) == ("指标定义无效", "the indicator is not valid")
        [zh_error], [en_error] = zh_body["errors"], en_body["errors"]
        assert (zh_error["msg"], en_error["msg"]) == ("max 必须大于 min", "max must be greater than min")
        assert zh_error["code"] == en_error["code"] == "bad_range"
        assert zh_error["type"] == "range"


@pytest.mark.parametrize(
    ("lang", "expected"), [("zh", "期间 2030 尚未开始"), ("en", "period 2030 has not started yet")]
)
def test_a_conflict_in_an_answer_is_written_in_the_request_s_language(lang: Any, expected: str) -> None:
    conflict = ImportConflict(
        index=0,
        field="period",
        code="future_period",
        message=Text("期间 2030 尚未开始", "period 2030 has not started yet"),
    )
    token = use_lang(lang)
    try:
        assert conflict.model_dump(mode="json")["message"] == expected
    finally:
        reset_lang(token)
