"""Bulletin rendering (services/assessment/reports/bulletin_render.py)."""

from __future__ import annotations

import csv
import io
from xml.etree import ElementTree

from openpyxl import load_workbook

from services.assessment.reports.bulletin_chart import Bar, render_svg_chart
from services.assessment.reports.bulletin_render import (
    Bulletin,
    Section,
    change_text,
    render_csv,
    render_html,
    render_xlsx,
)

COLUMNS = ["排名", "开发区", "综合得分", "名次变化"]


def bulletin(sections: int = 1) -> Bulletin:
    return Bulletin(
        title="2025 年度综合考评通报（示例）",
        subtitle="方法 econ-annual 第1版",
        sections=[
            Section(
                title=f"分项{i + 1}",
                columns=COLUMNS,
                rows=[[1, "河北张家口经济开发区", 87.5, "↑2"], [2, "河北宣化经济开发区<b>", 80.25, "新设"]],
                chart=[Bar("河北张家口经济开发区", 87.5, 2), Bar("河北宣化经济开发区<b>", 80.25, None)],
            )
            for i in range(sections)
        ],
        notes=["权重为示例，非官方。"],
    )


class TestRankChangesReadLikeABulletin:
    def test_up_down_same_new(self) -> None:
        assert [change_text(3), change_text(-2), change_text(0), change_text(None, "new"), change_text(None)] == [
            "↑3",
            "↓2",
            "持平",
            "新设",
            "—",
        ]


class TestCsv:
    def test_utf8_with_bom_and_chinese_headers(self) -> None:
        data = render_csv(bulletin())
        assert data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert rows[0] == COLUMNS
        assert rows[1] == ["1", "河北张家口经济开发区", "87.50", "↑2"]  # two decimals, as the HTML shows

    def test_several_sections_share_one_table_with_a_leading_column(self) -> None:
        rows = list(csv.reader(io.StringIO(render_csv(bulletin(2)).decode("utf-8-sig"))))
        assert rows[0] == ["分项", *COLUMNS] and rows[3][0] == "分项2" and len(rows) == 5


class TestXlsx:
    def test_one_sheet_per_section_with_the_headers_on_row_four(self) -> None:
        book = load_workbook(io.BytesIO(render_xlsx(bulletin(2))))
        assert book.sheetnames == ["分项1", "分项2"]
        sheet = book["分项1"]
        assert sheet["A1"].value == "2025 年度综合考评通报（示例）"
        assert [c.value for c in sheet[4]] == COLUMNS
        assert sheet["C5"].value == 87.5
        assert any(row[0].value == "权重为示例，非官方。" for row in sheet.iter_rows())


class TestHtml:
    def test_the_page_carries_an_inline_svg_chart_and_escapes_names(self) -> None:
        page = render_html(bulletin())
        assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
        assert "<svg" in page and "@media print" in page
        assert "河北宣化经济开发区&lt;b&gt;" in page and "<b>" not in page.replace("<body>", "")
        assert "<script" not in page

    def test_the_chart_is_well_formed_svg_with_a_bar_per_zone_and_the_changes_printed(self) -> None:
        svg = render_svg_chart([Bar("甲", 90.0, 3), Bar("乙", 45.0, -1), Bar("丙", None, 0)])
        root = ElementTree.fromstring(svg)
        ns = "{http://www.w3.org/2000/svg}"
        texts = [t.text for t in root.iter(f"{ns}text")]
        assert {"甲", "乙", "丙", "↑3", "↓1", "持平", "未排名", "90.00", "45.00"} <= set(texts)
        bars = [r for r in root.iter(f"{ns}rect") if r.get("fill") == "#444"]
        assert len(bars) == 2
        assert float(bars[0].get("width", 0)) == 2 * float(bars[1].get("width", 0))
