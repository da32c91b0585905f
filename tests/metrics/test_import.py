"""File imports: CSV in UTF-8 (with and without BOM) and GB18030, xlsx, names resolved through the registry."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook, load_workbook

from tests.conftest import auth
from tests.helpers import assert_problem
from tests.metrics.builders import CITY, GAOXIN, XUANHUA, ZHUOLU, Registry, conflicts, values, zone

HEADER = "zone,indicator,period,value,unit,note\n"
ZHUOLU_COUNTY = auth("county", division="130731")


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(client: Any, content: bytes, name: str, headers: dict[str, str], **form: str) -> Any:
    files = {"file": (name, content, "application/octet-stream")}
    return await client.post("/v1/observations/import", files=files, data=form, headers=headers)


def by_subject(items: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    return {(v["zone_id"] or v["division"], v["indicator"], v["period"]): v["value"] for v in items}


class TestCsvImport:
    async def test_utf8_with_bom_by_zone_name_and_division_code(self, metrics: Any) -> None:
        text = HEADER + '河北涿鹿经济开发区,gdp,2017,"1,234.5",万元,县统计局\n130731,gdp,2017,2,亿元,\n'
        async with metrics() as client:
            r = await upload(
                client, b"\xef\xbb\xbf" + text.encode(), "push.csv", ZHUOLU_COUNTY | {"Idempotency-Key": "f"}
            )
            stored = by_subject(await values(client))
        assert r.status_code == 200, r.text
        assert r.json()["counts"]["created"] == 2
        assert stored == {(ZHUOLU, "gdp", "2017"): "1234.5", ("130731", "gdp", "2017"): "20000"}

    async def test_gb18030_with_chinese_headers_and_a_plaque_name(self, metrics: Any) -> None:
        # 河北涿鹿高新技术产业开发区 is a plaque of 河北涿鹿经济开发区 since 2016-10-14.
        text = "开发区,指标,期间,数值,单位,备注\n河北涿鹿高新技术产业开发区,exports,2017,12,万美元,海关数据\n"
        async with metrics() as client:
            r = await upload(client, text.encode("gb18030"), "导出.csv", ZHUOLU_COUNTY | {"Idempotency-Key": "g"})
            stored = await values(client)
        assert r.status_code == 200, r.text
        assert (stored[0]["zone_id"], stored[0]["division"]) == (ZHUOLU, None)
        assert stored[0]["note"] == "海关数据"

    async def test_utf8_without_bom_blank_values_are_skipped(self, metrics: Any) -> None:
        text = HEADER + f"{ZHUOLU},gdp,2017,,万元,\n{ZHUOLU},exports,2017,3,万美元,\n"
        async with metrics() as client:
            r = await upload(client, text.encode(), "push.csv", CITY)
        assert r.json()["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0, "skipped": 1}

    async def test_a_bad_row_is_reported_with_its_line_and_nothing_is_stored(self, metrics: Any) -> None:
        text = HEADER + f"{ZHUOLU},gdp,2017,5,万元,\n没有这个开发区,gdp,2017,5,万元,\n"
        async with metrics() as client:
            r = await upload(client, text.encode(), "push.csv", CITY)
            stored = await values(client)
        conflict = conflicts(assert_problem(r, 422))[0]
        assert (conflict["index"], conflict["line"], conflict["code"]) == (1, 3, "unknown_zone")
        assert stored == []

    async def test_a_missing_column_is_422(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await upload(client, b"zone,indicator,value\nx,gdp,1\n", "push.csv", CITY)
        body = assert_problem(r, 422)
        assert body["errors"][0]["type"] == "missing_column" and body["errors"][0]["line"] == 1
        assert "period" in body["detail"] and "unit" in body["detail"]

    async def test_a_name_carried_by_two_zones_is_ambiguous(self, metrics: Any, registry: Registry) -> None:
        registry.states["zdup"] = [zone("zdup", "河北张家口高新技术产业开发区", kind="high_tech", authority="130700")]
        text = HEADER + "河北张家口高新技术产业开发区,gdp,2017,1,万元,\n"
        async with metrics() as client:
            r = await upload(client, text.encode(), "push.csv", CITY)
        conflict = conflicts(assert_problem(r, 422))[0]
        assert conflict["code"] == "ambiguous_zone"
        assert GAOXIN in conflict["message"] and "zdup" in conflict["message"]

    async def test_a_replayed_upload_with_the_same_key_writes_nothing(self, metrics: Any) -> None:
        text = (HEADER + f"{ZHUOLU},gdp,2017,5,万元,\n").encode()
        headers = ZHUOLU_COUNTY | {"Idempotency-Key": "file-1"}
        async with metrics() as client:
            first = await upload(client, text, "a.csv", headers)
            replay = await upload(client, text, "a.csv", headers)
            other = await upload(client, (HEADER + f"{ZHUOLU},gdp,2017,6,万元,\n").encode(), "a.csv", headers)
        assert replay.json() == first.json() and replay.headers["idempotent-replayed"] == "true"
        assert assert_problem(other, 422)["errors"][0]["loc"] == ["header", "Idempotency-Key"]


class TestXlsxImport:
    async def test_a_former_zone_name_resolves_as_of_the_period(self, metrics: Any) -> None:
        # 河北涿鹿工业园 is the zone's name until 2016-10-14 and a former name afterwards.
        content = xlsx(
            [
                ["zone", "indicator", "period", "value", "unit", "note"],
                ["河北涿鹿工业园", "gdp", "2015", 800, "万元", "before the rename"],
                ["河北涿鹿工业园", "gdp", "2017", 1.25, "亿元", "former name after the rename"],
            ]
        )
        async with metrics() as client:
            r = await upload(client, content, "push.xlsx", ZHUOLU_COUNTY | {"Idempotency-Key": "x"})
            stored = by_subject(await values(client))
        assert r.status_code == 200, r.text
        assert stored == {(ZHUOLU, "gdp", "2015"): "800", (ZHUOLU, "gdp", "2017"): "12500"}

    async def test_an_unreadable_workbook_is_422(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await upload(client, b"PK\x03\x04 not really a zip", "x.xlsx", CITY)
        assert_problem(r, 422)


class TestTheTemplate:
    async def test_it_lists_the_divisions_zones_and_required_indicators_in_chinese(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.get(
                "/v1/templates/observations.xlsx",
                params={"division": "130731", "period": "2017"},
                headers=ZHUOLU_COUNTY,
            )
        book = load_workbook(io.BytesIO(r.content))
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert book.sheetnames == ["数据填报", "填写说明", "指标与单位"]
        sheet = book["数据填报"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][:6] == ("开发区", "指标", "期间", "数值", "单位", "备注")
        assert sheet["D1"].comment is not None and "1,234.5" in sheet["D1"].comment.text
        assert {row[0] for row in rows[1:]} == {ZHUOLU, "130731"}
        indicators = {row[1] for row in rows[1:]}
        assert "地区生产总值（gdp）" in indicators and "从业人员（employment）" in indicators
        assert not any("rd_intensity" in i for i in indicators)  # derived: its components are pushed
        instructions = "\n".join(str(row[0]) for row in book["填写说明"].iter_rows(values_only=True))
        assert "POST /v1/observations/import" in instructions and "1,234.5" in instructions
        assert "2025H1" in instructions and "2025Q3" in instructions
        units = {row[0]: row[4] for row in book["指标与单位"].iter_rows(min_row=2, values_only=True)}
        assert units["gdp"] == "元、千元、万元、百万元、亿元" and units["land_area_mu"] == "平方米、亩、公顷、平方公里"

    async def test_a_template_with_two_cells_filled_imports_without_other_edits(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.get(
                "/v1/templates/observations.xlsx",
                params={"division": "130731", "period": "2017"},
                headers=ZHUOLU_COUNTY,
            )
            book = load_workbook(io.BytesIO(r.content))
            sheet = book["数据填报"]
            filled = 0
            for row in sheet.iter_rows(min_row=2):
                if (row[0].value, row[1].value) == (ZHUOLU, "地区生产总值（gdp）"):
                    row[3].value = 42
                    filled += 1
                elif (row[0].value, row[1].value) == ("130731", "外贸出口总额（exports）"):
                    row[3].value = "1,234.5"
                    filled += 1
            out = io.BytesIO()
            book.save(out)
            back = await upload(client, out.getvalue(), "filled.xlsx", ZHUOLU_COUNTY | {"Idempotency-Key": "t"})
            stored = by_subject(await values(client))
        assert filled == 2
        assert back.status_code == 200, back.text
        total = sheet.max_row - 1  # data rows below the header
        assert back.json()["counts"]["created"] == 2 and back.json()["counts"]["skipped"] == total - 2
        # 42 万元 is gdp's own unit; 1,234.5 万美元 is exports' own unit
        assert stored == {(ZHUOLU, "gdp", "2017"): "42", ("130731", "exports", "2017"): "1234.5"}

    async def test_a_county_cannot_fetch_another_divisions_template(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.get(
                "/v1/templates/observations.xlsx",
                params={"division": "130705", "period": "2017"},
                headers=ZHUOLU_COUNTY,
            )
        assert_problem(r, 403)

    async def test_xuanhua_is_in_the_city_template(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.get("/v1/templates/observations.xlsx", params={"period": "2017"}, headers=CITY)
        rows = list(load_workbook(io.BytesIO(r.content))["数据填报"].iter_rows(values_only=True))
        assert XUANHUA in {row[0] for row in rows[1:]}
