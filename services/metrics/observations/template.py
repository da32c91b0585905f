"""The xlsx template a county fills in and uploads back, written for county statistics staff.

Headers and instructions are in Chinese; the indicator column shows the Chinese name with the
code (``地区生产总值（gdp）``), which the import reads back, so a filled template imports without
edits. Three sheets: ``数据填报`` (the rows to fill), ``填写说明`` (what each column means), and
``指标与单位`` (each indicator's periods and the units it accepts).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill

from libs.domain.metrics.contracts import IndicatorRead
from libs.domain.metrics.units import accepted_units
from libs.domain.registry.contracts import ZoneRead
from services.metrics.observations.files import DATA_SHEETS

HEADERS = ("开发区", "指标", "期间", "数值", "单位", "备注", "开发区名称（参考，导入时忽略）")
PERIOD_TYPES_ZH = {"year": "年（2025）", "half": "半年（2025H1、2025H2）", "quarter": "季度（2025Q1…2025Q4）"}
IMPORT_ROUTE = "POST /v1/observations/import"
HEADER_NOTES = (
    "开发区 id（12 位）、开发区名称（正式名称、曾用名、牌子或园区名均可），或县（区）6 位区划代码（填本级合计）。",
    "指标代码或中文名称；模板写作“中文名称（代码）”，原样保留即可。",
    "报告期：年 2025，半年 2025H1，季度 2025Q3。",
    "普通数字，小数点用“.”，千位分隔只能写作 1,234.5；不要写“约3000”“3千”等。空着的行导入时跳过。",
    "该指标可用的单位见“指标与单位”表，导入时按目录单位换算。",
    "可选，说明数据来源等。",
    "仅供核对，导入时忽略此列。",
)


def _instructions(period: str) -> list[str]:
    return [
        "开发区统计数据填报模板（填写说明）",
        "",
        f"1. 在“{DATA_SHEETS[0]}”表的“数值”列填写数据，保存后上传到 {IMPORT_ROUTE}（表单字段 file），无需修改其他列。",
        "2. 各列含义：",
        *(f"   {h}：{note}" for h, note in zip(HEADERS, HEADER_NOTES, strict=True)),
        f"3. 期间：本模板为 {period}。可用的报告期写法：年 2025，半年 2025H1/2025H2，季度 2025Q1…2025Q4；"
        "每个指标按哪些报告期报送见“指标与单位”表。",
        "4. 数值：普通数字，小数点用“.”（如 1234.5），千位分隔只能写作 1,234.5；“1,5”“约3000”不被接受。",
        "5. 单位：每个指标可用的单位见“指标与单位”表（如 元、万元、亿元），导入时换算为目录单位。",
        "6. 数值为空的行导入时跳过；其他列（如“开发区名称”）导入时忽略。",
        "7. 有错误时整份文件不保存，返回的每条错误写明 Excel 行号、列名、错在哪里以及可接受的值。",
        "8. 也可用英文表头 zone,indicator,period,value,unit,note。",
    ]


def indicator_cell(indicator: IndicatorRead) -> str:
    """How the template writes an indicator: its Chinese name with its code (the import reads both)."""
    return f"{indicator.name_zh}（{indicator.code}）"


def build_template(
    *,
    period: str,
    zones: Sequence[ZoneRead],
    divisions: Sequence[str],
    indicators: Sequence[IndicatorRead],
) -> bytes:
    """An xlsx workbook pre-filled with a row per zone (and division total) and required indicator."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = DATA_SHEETS[0]
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    sheet.append(list(HEADERS))
    for cell, note in zip(sheet[1], HEADER_NOTES, strict=True):
        cell.font = bold
        cell.fill = fill
        cell.comment = Comment(note, "devzones", width=320, height=120)
    for zone in zones:
        for ind in indicators:
            sheet.append([zone.id, indicator_cell(ind), period, None, ind.unit, None, zone.name])
    for division in divisions:
        for ind in indicators:
            sheet.append([division, indicator_cell(ind), period, None, ind.unit, None, f"{division} 本级合计"])
    for col, width in zip("ABCDEFG", (16, 40, 10, 16, 12, 30, 36), strict=True):
        sheet.column_dimensions[col].width = width
    sheet.freeze_panes = "A2"

    readme = workbook.create_sheet("填写说明")
    for line in _instructions(period):
        readme.append([line])
    readme["A1"].font = Font(bold=True, size=14)
    readme.column_dimensions["A"].width = 120
    for row in readme.iter_rows():
        row[0].alignment = Alignment(wrap_text=True, vertical="top")

    catalog = workbook.create_sheet("指标与单位")
    catalog.append(["指标代码", "中文名称", "英文名称", "目录单位", "可用单位", "报告期"])
    for cell in catalog[1]:
        cell.font = bold
        cell.fill = fill
    for ind in indicators:
        periods = "、".join(PERIOD_TYPES_ZH.get(p, p) for p in ind.period_types)
        units = "、".join(accepted_units(ind.unit))
        catalog.append([ind.code, ind.name_zh, ind.name_en, ind.unit, units, periods])
    for col, width in zip("ABCDEF", (34, 40, 44, 12, 50, 50), strict=True):
        catalog.column_dimensions[col].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
