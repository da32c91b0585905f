"""Bulletin quality: names that fit, numbers the three formats agree on, drafts that say so."""

from __future__ import annotations

import csv
import io
from typing import Any
from xml.etree import ElementTree

from openpyxl import load_workbook

from libs.domain.clients.metrics import FakeMetricsClient
from services.assessment.reports.bulletin_chart import (
    Bar,
    fit_label,
    number_text,
    render_svg_chart,
    rounded,
    text_width,
)
from services.assessment.reports.bulletin_render import (
    Bulletin,
    Section,
    number_format,
    render_csv,
    render_html,
    render_xlsx,
)
from tests.assessment.builders import CATALOG, Registry, World, assessment, matrix, method_doc, publish, run, zone

SVG = "{http://www.w3.org/2000/svg}"
LONG = "张家口经济技术开发区高新技术产业园区配套服务区"  # 23 full-width characters


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def scores(*, draft: bool = False) -> Bulletin:
    section = Section(
        "综合排名",
        ["排名", "开发区", "综合得分", "指数"],
        [[1, "甲", 87.125, 0.12345], [2, "乙", 2.675, None]],
        chart=[Bar("甲", 87.125, 1), Bar("乙", 2.675, -1)],
        digits={"指数": 3},
    )
    return Bulletin("2025年 综合考评通报", "方法 econ-annual 第1版", [section], draft=draft)


class TestNumbersAreRoundedHalfUpOnWhatTheApiShows:
    def test_the_shortest_decimal_form_is_rounded_half_up(self) -> None:
        # 2.675 is 2.67499999… in binary (format() gives 2.67); its shortest form 2.675 rounds up.
        assert (str(rounded(2.675, 2)), str(rounded(87.125, 2)), str(rounded(0.12345, 3))) == ("2.68", "87.13", "0.123")
        assert number_text(1234567.891) == "1,234,567.89" and number_text(-0.004) == "0.00"  # no negative zero


class TestTheThreeFormatsPrintTheSameNumbers:
    def test_html_csv_and_xlsx_round_each_column_to_its_digits(self) -> None:
        page = render_html(scores())
        assert '<td class="n">87.13</td>' in page and '<td class="n">0.123</td>' in page
        assert '<td class="n">2.68</td>' in page
        rows = csv_rows(render_csv(scores()))
        assert rows[1] == ["1", "甲", "87.13", "0.123"] and rows[2] == ["2", "乙", "2.68", ""]
        sheet = load_workbook(io.BytesIO(render_xlsx(scores())))["综合排名"]
        assert [sheet["A5"].value, sheet["C5"].value, sheet["D5"].value, sheet["C6"].value] == [1, 87.13, 0.123, 2.68]
        formats = [sheet["A5"].number_format, sheet["C5"].number_format, sheet["D5"].number_format]
        assert formats == ["0", "#,##0.00", "#,##0.000"]

    def test_the_chart_prints_values_as_the_table_does(self) -> None:
        svg = ElementTree.fromstring(render_svg_chart(scores().sections[0].chart or []))
        texts = [t.text for t in svg.iter(f"{SVG}text")]
        assert "87.13" in texts and "2.68" in texts

    def test_number_formats_follow_the_digits(self) -> None:
        assert [number_format(0), number_format(2), number_format(6)] == ["#,##0", "#,##0.00", "#,##0.000000"]


class TestADraftSaysSoInEveryFormat:
    def test_html_has_a_watermark_and_draft_in_title_and_heading(self) -> None:
        page = render_html(scores(draft=True))
        assert "<title>2025年 综合考评通报（草稿）</title>" in page and "<h1>2025年 综合考评通报（草稿）</h1>" in page
        assert '<div class="watermark" aria-hidden="true">草稿</div>' in page and "草稿 – 未发布" in page
        assert "print-color-adjust: exact" in page.split(".watermark", 2)[2]  # the print rule keeps it grey

    def test_csv_begins_with_the_draft_line(self) -> None:
        rows = csv_rows(render_csv(scores(draft=True)))
        assert rows[0] == ["草稿 – 未发布"] and rows[1] == ["排名", "开发区", "综合得分", "指数"]

    def test_xlsx_says_it_in_each_sheets_heading(self) -> None:
        sheet = load_workbook(io.BytesIO(render_xlsx(scores(draft=True))))["综合排名"]
        assert sheet["A1"].value == "2025年 综合考评通报（草稿 – 未发布）"
        assert [c.value for c in sheet[4]] == ["排名", "开发区", "综合得分", "指数"]  # the table has not moved

    def test_a_published_bulletin_carries_none_of_it(self) -> None:
        page, data = render_html(scores()), render_csv(scores()).decode("utf-8-sig")
        sheet = load_workbook(io.BytesIO(render_xlsx(scores())))["综合排名"]
        assert "草稿" not in page and "草稿" not in data and sheet["A1"].value == "2025年 综合考评通报"


class TestZoneNamesAreMeasuredBeforeTheyArePlaced:
    def test_a_long_cjk_name_wraps_onto_a_second_line(self) -> None:
        # 222 px at 12 px per full-width character: 18 characters a line (19 would be 228 px).
        assert fit_label(LONG, 222) == [LONG[:18], "配套服务区"]

    def test_past_two_lines_it_is_cut_with_an_ellipsis(self) -> None:
        # line 2: 17 characters + "…" (one em) = 216 px ≤ 222; 18 + "…" would be 228 px.
        assert fit_label(LONG * 2, 222) == [LONG[:18], LONG[18:] + LONG[:12] + "…"]

    def test_latin_words_break_at_a_space(self) -> None:
        # "Zhangjiakou International" is 14.06 em = 168.7 px; adding " Logistics" makes 235.6 px > 222.
        name = "Zhangjiakou International Logistics Park 张家口国际物流园区"
        assert fit_label(name, 222) == ["Zhangjiakou International", "Logistics Park 张家口国际物流园区"]

    def test_every_line_is_within_the_width(self) -> None:
        for name in [LONG * 3, "W" * 80, "怀来县沙城经济开发区（Huailai Shacheng Economic Development Zone）", "宣化"]:
            assert all(text_width(line) <= 222 for line in fit_label(name, 222)), name

    def test_the_full_name_stays_in_a_tooltip(self) -> None:
        root = ElementTree.fromstring(render_svg_chart([Bar(LONG * 2, 50.0), Bar("宣化", 40.0)]))
        groups = root.findall(f"{SVG}g")
        assert [g.findtext(f"{SVG}title") for g in groups] == [LONG * 2, "宣化"]
        spans = [s.text for s in groups[0].iter(f"{SVG}tspan")]
        assert len(spans) == 2 and spans[1] is not None and spans[1].endswith("…")


class TestTheRunBulletinPutsGroupsOnTheTotalsScale:
    async def test_group_scores_and_the_total_are_both_out_of_100(self, app_client: Any) -> None:
        doc = method_doc()
        doc["root"]["children"] = [
            {"code": "scale", "title": "经济规模", "weight": 1, "aggregation": "arithmetic",
             "children": [{"indicator": "gdp", "normalisation": {"method": "goalposts", "min": 0, "max": 100}}]},
            {"code": "tax", "title": "税收", "weight": 1, "aggregation": "arithmetic",
             "children": [{"indicator": "tax_revenue", "normalisation": {"method": "goalposts", "min": 0, "max": 8}}]},
        ]  # fmt: skip
        values = {"A": {"gdp": 80, "tax_revenue": 5}, "B": {"gdp": 60, "tax_revenue": 1}}
        world = World(
            registry=Registry([zone("A", "甲开发区"), zone("B", "乙开发区")]),
            metrics=FakeMetricsClient({"2025": matrix("2025", values)}, indicators=CATALOG),
        )
        async with assessment(app_client, world) as client:
            await publish(client, doc)
            body = await run(client, "2025")
            data = (await client.get(f"/v1/assessments/{body['id']}/bulletin.csv")).content
        rows = csv_rows(data)
        assert rows[0][2] == "综合得分（100分制）" and rows[0][5:7] == ["经济规模（100分制）", "税收（100分制）"]
        # A: gdp 80/100 = 0.8 → 80.00; tax 5/8 = 0.625 → 62.50; total (0.8 + 0.625) / 2 × 100 = 71.25.
        # B: 0.6 → 60.00; 1/8 = 0.125 → 12.50; total (0.6 + 0.125) / 2 × 100 = 36.25.
        assert [r[:3] + r[5:7] for r in rows[1:]] == [
            ["1", "甲开发区", "71.25", "80.00", "62.50"],
            ["2", "乙开发区", "36.25", "60.00", "12.50"],
        ]
