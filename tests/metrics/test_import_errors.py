"""Import errors speak the county's language: each conflict names the row as Excel shows it, the
column as the file heads it, what was wrong and what is accepted (in the language asked for:
Chinese by default, English as the test client asks here; tests/metrics/test_languages.py has the
Chinese); indicators may be named by their Chinese name."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook

from tests.conftest import auth
from tests.helpers import assert_problem
from tests.metrics.builders import CITY, DONGSHAN, XUANHUA, ZHUOLU, Registry, batch, indicator, obs, values, zone

ZHUOLU_COUNTY = auth("county", division="130731")
CNY = ["元", "千元", "万元", "百万元", "亿元"]  # units.py's money-in-yuan dimension, smallest first
XUANHUA_HEIR = f"{XUANHUA} 河北宣化经济开发区"  # 东山 merged into 宣化 on 2016-10-14


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(client: Any, content: bytes, name: str, key: str, headers: dict[str, str] = ZHUOLU_COUNTY) -> Any:
    files = {"file": (name, content, "application/octet-stream")}
    return await client.post("/v1/observations/import", files=files, headers=headers | {"Idempotency-Key": key})


def errors(problem: dict[str, Any]) -> list[tuple[int, int | None, str | None, str, list[str] | None]]:
    """(row index, Excel row, column, code, accepted) of each conflict of a 422."""
    return [(e["loc"][1], e["line"], e.get("column"), e["type"], e.get("accepted")) for e in problem["errors"]]


# Four faulty rows and one good one, each worked by hand against the test city and the seed catalog:
# - ZHUOLU's gdp in 公顷: an area, not money; gdp accepts the yuan units (元 … 亿元);
# - 东山 (DONGSHAN) in 2017: merged into 宣化 on 2016-10-14, so ended; its successor is 宣化;
# - 外贸出口总额 is the Chinese name of `exports`: accepted;
# - 地区生产总量 is no indicator; difflib finds 地区生产总值 (ratio 10/12 = 0.83) and
#   地区生产总值占全市比重 (10/17 = 0.59) above the 0.5 cut-off, best first;
# - 约3000 is not a number.
GDP_CLOSE = ["gdp（地区生产总值）", "gdp_share_of_city（地区生产总值占全市比重）"]


def rows(header: list[str]) -> list[list[Any]]:
    return [
        header,
        [ZHUOLU, "gdp", "2017", "5", "公顷", "县统计局\n初步数"],
        [DONGSHAN, "exports", "2017", "3", "万美元", ""],
        [ZHUOLU, "外贸出口总额", "2017", "12", "万美元", ""],
        [ZHUOLU, "地区生产总量", "2017", "1", "万元", ""],
        [ZHUOLU, "fiscal_revenue", "2017", "约3000", "万元", ""],
    ]


def csv_bytes(table: list[list[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    return out.getvalue().encode()


class TestEachConflictSaysRowColumnAndWhatIsAccepted:
    async def test_a_csv_with_english_headers(self, metrics: Any) -> None:
        # Row 2's note spans two physical lines (quoted); Excel shows it as one row, so the next
        # record is row 3 although it starts on the file's fourth line.
        content = csv_bytes(rows(["zone", "indicator", "period", "value", "unit", "note"]))
        async with metrics() as client:
            r = await upload(client, content, "push.csv", "csv-1")
            stored = await values(client)
        body = assert_problem(r, 422)
        assert errors(body) == [
            (0, 2, "unit", "incompatible_unit", CNY),
            (1, 3, "zone", "zone_ended", [XUANHUA_HEIR]),
            (3, 5, "indicator", "unknown_indicator", GDP_CLOSE),
            (4, 6, "value", "bad_value", ["1234.5", "1,234.5"]),
        ]
        # each says the row as Excel shows it, the column, what is wrong and what is accepted (in
        # English, as the test client asks; in Chinese: tests/metrics/test_languages.py)
        assert [e["msg"] for e in body["errors"]] == [
            "row 2, column unit: a value in 公顷 cannot be converted to 万元; "
            "this indicator accepts 元, 千元, 万元, 百万元, 亿元",
            f"row 3, column zone: zone {DONGSHAN} had ended by the end of 2017; "
            f"its successor {XUANHUA_HEIR} reports it",
            "row 5, column indicator: no indicator '地区生产总量' in the catalog; "
            "close matches: gdp（地区生产总值）, gdp_share_of_city（地区生产总值占全市比重）",
            "row 6, column value: '约3000' is not a number; "
            "a value is a plain number with '.' as the decimal mark, thousands grouped only as 1,234.5",
        ]
        assert body["summary"]["counts"]["rejected"] == 4
        assert stored == []

    async def test_an_xlsx_with_chinese_headers_and_a_blank_row(self, metrics: Any) -> None:
        # The blank sheet row 3 counts, as in Excel: the rows after it are 4, 5, 6, 7.
        table = rows(["开发区", "指标", "期间", "数值", "单位", "备注"])
        table.insert(2, [None] * 6)
        async with metrics() as client:
            r = await upload(client, xlsx(table), "push.xlsx", "xlsx-1")
        assert errors(assert_problem(r, 422)) == [
            (0, 2, "单位", "incompatible_unit", CNY),
            (1, 4, "开发区", "zone_ended", [XUANHUA_HEIR]),
            (3, 6, "指标", "unknown_indicator", GDP_CLOSE),
            (4, 7, "数值", "bad_value", ["1234.5", "1,234.5"]),
        ]

    async def test_the_same_faults_pushed_as_json_have_no_row_or_column(self, metrics: Any) -> None:
        body = batch(
            obs({"zone_id": ZHUOLU}, "gdp", "2017", "5", "公顷"),
            obs({"zone_id": DONGSHAN}, "exports", "2017", "3", "万美元"),
        )
        async with metrics() as client:
            r = await client.post("/v1/observations", json=body, headers=CITY)
        problem = assert_problem(r, 422)
        assert errors(problem) == [
            (0, None, None, "incompatible_unit", CNY),
            (1, None, None, "zone_ended", [XUANHUA_HEIR]),
        ]
        assert problem["errors"][0]["msg"] == (
            "a value in 公顷 cannot be converted to 万元; this indicator accepts 元, 千元, 万元, 百万元, 亿元"
        )


class TestIndicatorsByChineseName:
    async def test_a_file_naming_indicators_in_chinese_stores_them_under_their_codes(self, metrics: Any) -> None:
        text = (
            "开发区,指标,期间,数值,单位,备注\n"
            + f"{ZHUOLU},地区生产总值,2017,5,亿元,\n{ZHUOLU},从业人员（employment）,2017,30,人,\n"
        )
        async with metrics() as client:
            r = await upload(client, text.encode("gb18030"), "中文.csv", "zh-1")
            stored = {(v["indicator"], v["value"]) for v in await values(client)}
        assert r.status_code == 200, r.text
        # 5 亿元 = 50000 万元 (gdp's unit); 30 人 as is
        assert stored == {("gdp", "50000"), ("employment", "30")}

    async def test_a_name_two_indicators_carry_is_unknown_naming_both(self, metrics: Any) -> None:
        async with metrics() as client:
            for code in ("sample_b", "sample_a"):  # the builder names both 示例指标
                assert (await client.post("/v1/indicators", json=indicator(code), headers=CITY)).status_code == 201
            text = f"zone,indicator,period,value,unit\n{ZHUOLU},示例指标,2017,1,万元\n"
            r = await upload(client, text.encode(), "push.csv", "zh-2")
        [error] = assert_problem(r, 422)["errors"]
        assert (error["line"], error["column"], error["type"]) == (2, "indicator", "unknown_indicator")
        assert error["accepted"] == ["sample_a（示例指标）", "sample_b（示例指标）"]
        assert error["msg"] == (
            "row 2, column indicator: '示例指标' names several indicators: "
            "sample_a（示例指标）, sample_b（示例指标）; use the code"
        )


class TestAZoneOfAnotherCounty:
    async def test_is_refused_naming_its_division_and_the_zones_the_county_may_write_for(self, metrics: Any) -> None:
        # 涿鹿县 (130731) administers only ZHUOLU in the test city; 宣化 belongs to 130705.
        text = "开发区,指标,期间,数值,单位\n" + f"{ZHUOLU},gdp,2017,1,万元\n{XUANHUA},gdp,2017,1,万元\n"
        async with metrics() as client:
            r = await upload(client, text.encode(), "push.csv", "scope-1")
        body = assert_problem(r, 403)
        [row] = body["rows"]
        keys = ("index", "line", "column", "zone_id", "division", "accepted", "accepted_count")
        assert {k: row[k] for k in keys} == {
            "index": 1,
            "line": 3,
            "column": "开发区",
            "zone_id": XUANHUA,
            "division": "130705",
            "accepted": [f"{ZHUOLU} 河北涿鹿经济开发区"],
            "accepted_count": 1,
        }
        assert row["msg"] == (
            f"row 3, column 开发区: {XUANHUA} belongs to 130705, outside the caller's scope; "
            "the caller may write for 1 zone(s) then"
        )
        assert body["detail"].startswith(  # the row as Excel shows it, not the batch index 1
            "1 row(s) are outside the caller's scope: rows 3; "
        )

    async def test_the_accepted_zones_are_bounded_to_twenty_with_their_count(
        self, metrics: Any, registry: Registry
    ) -> None:
        for n in range(1, 23):  # 22 more zones of 涿鹿县: 23 in all
            registry.states[f"zextra{n:06d}"] = [zone(f"zextra{n:06d}", f"涿鹿园区{n:02d}", authority="130731")]
        text = f"zone,indicator,period,value,unit\n{XUANHUA},gdp,2017,1,万元\n"
        async with metrics() as client:
            r = await upload(client, text.encode(), "push.csv", "scope-2")
        [row] = assert_problem(r, 403)["rows"]
        # sorted by name: 河 (U+6CB3) before 涿 (U+6DBF), so ZHUOLU first, then 涿鹿园区01…19
        assert row["accepted_count"] == 23 and len(row["accepted"]) == 20
        assert row["accepted"][0] == f"{ZHUOLU} 河北涿鹿经济开发区"
        assert row["accepted"][-1] == "zextra000019 涿鹿园区19"
        assert row["msg"] == (
            f"row 2, column zone: {XUANHUA} belongs to 130705, outside the caller's scope; "
            "the caller may write for 23 zone(s) then (the first 20 listed)"
        )
