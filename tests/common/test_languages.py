"""Problems speak Chinese first and English on request; a stable ``code`` is beside every message.

docs/api-conventions.md#languages. The expected texts are written here by hand from the
messages' definitions; the negotiation cases follow RFC 9110 §12.5.4 (weights, then order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from libs.domain.kernel.i18n import Text, negotiate
from libs.domain.kernel.values import Role
from services.common.validation_messages import validation_text
from tests.conftest import auth
from tests.helpers import assert_problem


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "zh"),
        ("", "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh;q=0.8", "en"),
        ("en", "en"),
        ("EN-gb", "en"),
        ("zh-Hans-CN", "zh"),
        ("en;q=0.2, zh;q=0.9", "zh"),  # the weight decides, not the order
        ("zh;q=0.5, en;q=0.5", "zh"),  # equal weights: the order decides
        ("fr-FR, de;q=0.9", "zh"),  # no language we speak: Chinese
        ("fr, en;q=0.3", "en"),  # English is the first we speak
        ("*", "zh"),
        ("en;q=0, zh;q=0.1", "zh"),  # q=0 means "not acceptable"
        ("en;q=abc", "zh"),  # an unreadable weight counts as 0
    ],
)
def test_the_language_is_chosen_by_weight_then_order(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_a_pydantic_fault_reads_in_chinese_with_its_numbers() -> None:
    text = validation_text(
        {"type": "string_too_long", "msg": "String should have at most 64 characters", "ctx": {"max_length": 64}}
    )
    assert text == Text("文本过长，至多 64 个字符", "String should have at most 64 characters")
    unknown = validation_text({"type": "something_new", "msg": "Something new went wrong"})
    assert unknown == Text("输入无效（Something new went wrong）", "Something new went wrong")


Client = Callable[..., Any]


@pytest.mark.parametrize("service", ["registry", "permits"])
async def test_without_accept_language_a_problem_is_chinese_with_its_code(app_client: Client, service: str) -> None:
    async with app_client(service) as client:
        del client.headers["Accept-Language"]
        response = await client.get("/v1/no-such-route")
        body = assert_problem(response, 404)
        assert body["title"] == "未找到"
        assert body["detail"] == "没有与 /v1/no-such-route 对应的接口"
        assert body["code"] == "no_route"
        assert response.headers["content-language"] == "zh-CN"
        assert "accept-language" in response.headers["vary"].lower()


async def test_english_on_request_with_the_same_code(app_client: Client) -> None:
    async with app_client("registry") as client:
        zh = assert_problem(await client.get("/v1/no-such-route", headers={"Accept-Language": "zh-CN"}), 404)
        en = assert_problem(await client.get("/v1/no-such-route", headers={"Accept-Language": "en-GB,en"}), 404)
    assert (zh["title"], en["title"]) == ("未找到", "Not Found")
    assert en["detail"] == "no route matches /v1/no-such-route"
    assert zh["code"] == en["code"] == "no_route"
    assert zh["type"] == en["type"]


async def test_a_missing_token_is_explained_in_chinese(app_client: Client) -> None:
    async with app_client("registry") as client:
        del client.headers["Accept-Language"]
        body = assert_problem(await client.post("/v1/divisions", json={}), 401)
    assert body["title"] == "需要登录凭据"
    assert body["detail"] == "此接口需要“Authorization: Bearer <令牌>”请求头"
    assert body["code"] == "token_missing"


async def test_every_validation_fault_has_a_chinese_msg_and_a_code(app_client: Client) -> None:
    async with app_client("registry") as client:
        del client.headers["Accept-Language"]
        response = await client.get("/v1/zones", params={"limit": "0", "as_of": "not-a-date"})
        body = assert_problem(response, 422)
        en = assert_problem(
            await client.get(
                "/v1/zones", params={"limit": "0", "as_of": "not-a-date"}, headers={"Accept-Language": "en"}
            ),
            422,
        )
    assert body["code"] == en["code"] == "validation_failed"
    assert body["title"] == "请求校验未通过" and en["title"] == "Request validation failed"
    by_loc = {tuple(e["loc"]): e for e in body["errors"]}
    assert by_loc[("query", "limit")]["msg"] == "应大于或等于 1"
    assert by_loc[("query", "limit")]["code"] == by_loc[("query", "limit")]["type"] == "greater_than_equal"
    assert by_loc[("query", "as_of")]["code"] == "date_from_datetime_parsing"
    assert by_loc[("query", "as_of")]["msg"].startswith("应为日期")
    en_by_loc = {tuple(e["loc"]): e for e in en["errors"]}
    assert en_by_loc[("query", "limit")]["msg"] == "Input should be greater than or equal to 1"
    assert (
        body["detail"] == "2 处字段无效：query.limit, query.as_of"
        or body["detail"] == "2 处字段无效：query.as_of, query.limit"
    )


async def test_a_validator_of_ours_speaks_both_languages(app_client: Client) -> None:
    # services/common/periods.py raises invalid("period", ...) for a period it cannot read.
    headers = auth(Role.CITY_ADMIN)
    async with app_client("metrics") as client:
        del client.headers["Accept-Language"]
        zh = assert_problem(await client.get("/v1/completeness", params={"period": "2025Q5"}, headers=headers), 422)
        english = {**headers, "Accept-Language": "en"}
        en = assert_problem(await client.get("/v1/completeness", params={"period": "2025Q5"}, headers=english), 422)
    [zh_error] = zh["errors"]
    [en_error] = en["errors"]
    assert zh_error["code"] == en_error["code"] == "period"
    assert zh_error["msg"].startswith("报告期无效：")
    assert en_error["msg"] == "not a period: '2025Q5' (expected 2025, 2025H1 or 2025Q3)"
