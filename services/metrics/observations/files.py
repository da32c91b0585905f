"""Reading imported files (CSV in UTF-8 or GB18030, xlsx) and writing the xlsx template.

Header: ``zone,indicator,period,value,unit,note`` (Chinese headers 开发区/指标/期间/数值/单位/备注
are accepted too; other columns are ignored). A ``zone`` cell holds a zone id, a zone name
(official, former, plaque or park name, resolved through the registry as of the period), or a
6-digit division code for that division's own totals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill

from libs.domain.kernel.errors import PayloadTooLarge, Unprocessable
from libs.domain.metrics.contracts import MAX_BATCH_ROWS, IndicatorRead
from libs.domain.registry.contracts import ZoneRead

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = ("zone", "indicator", "period", "value", "unit", "note")
REQUIRED = ("zone", "indicator", "period", "value", "unit")
ALIASES: dict[str, tuple[str, ...]] = {
    "zone": ("zone", "开发区", "园区", "开发区名称", "subject"),
    "indicator": ("indicator", "指标", "指标代码"),
    "period": ("period", "期间", "时期", "报告期"),
    "value": ("value", "数值", "值"),
    "unit": ("unit", "单位"),
    "note": ("note", "备注", "说明"),
}


@dataclass(slots=True)
class FileRow:
    """One data row of an imported file, as text."""

    line: int
    zone: str
    indicator: str
    period: str
    value: str | Decimal | None
    unit: str
    note: str | None


def _column_map(header: Sequence[Any]) -> tuple[dict[str, int], list[str]]:
    lookup = {alias.casefold(): name for name, aliases in ALIASES.items() for alias in aliases}
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        name = lookup.get(str(cell or "").strip().lstrip("\ufeff").casefold())
        if name and name not in found:
            found[name] = i
    return found, [c for c in REQUIRED if c not in found]


def decode_text(content: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM), else GB18030; 422 when neither fits."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            "the file is neither UTF-8 nor GB18030 text",
            errors=[{"loc": ["body", "file"], "msg": "undecodable text", "type": "encoding"}],
        ) from exc


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return str(value.year)
    return str(value).strip()


def _rows_to_file_rows(rows: Iterable[tuple[int, Sequence[Any]]]) -> tuple[list[FileRow], list[str], int]:
    """Data rows after the header; (rows, missing columns, rows without a value)."""
    it = iter(rows)
    header: Sequence[Any] | None = None
    for _line, cells in it:
        if any(_cell_text(c) for c in cells):
            header = cells
            break
    if header is None:
        raise Unprocessable(
            "the file is empty", errors=[{"loc": ["body", "file"], "msg": "no header row", "type": "empty"}]
        )
    columns, missing = _column_map(header)
    if missing:
        return [], missing, 0
    out: list[FileRow] = []
    skipped = 0

    def cell(cells: Sequence[Any], name: str) -> Any:
        i = columns.get(name)
        return cells[i] if i is not None and i < len(cells) else None

    for line, cells in it:
        if not any(_cell_text(c) for c in cells):
            continue
        raw_value = cell(cells, "value")
        if raw_value is None or (isinstance(raw_value, str) and not raw_value.strip()):
            skipped += 1
            continue
        if len(out) >= MAX_BATCH_ROWS:
            raise PayloadTooLarge(f"the file has more than {MAX_BATCH_ROWS} rows; split it", limit_rows=MAX_BATCH_ROWS)
        value: str | Decimal
        if isinstance(raw_value, bool):
            value = str(raw_value)
        elif isinstance(raw_value, int | float):
            value = Decimal(repr(raw_value)) if isinstance(raw_value, float) else Decimal(raw_value)
        else:
            value = str(raw_value)
        note = _cell_text(cell(cells, "note")) or None
        out.append(
            FileRow(
                line=line,
                zone=_cell_text(cell(cells, "zone")),
                indicator=_cell_text(cell(cells, "indicator")),
                period=_cell_text(cell(cells, "period")),
                value=value,
                unit=_cell_text(cell(cells, "unit")),
                note=note,
            )
        )
    return out, [], skipped


def read_csv(content: bytes) -> tuple[list[FileRow], list[str], int]:
    """Rows of a CSV file (comma-separated; UTF-8 with or without BOM, or GB18030)."""
    text = decode_text(content)
    reader = csv.reader(io.StringIO(text, newline=""))
    return _rows_to_file_rows((i + 1, row) for i, row in enumerate(reader))


def read_xlsx(content: bytes) -> tuple[list[FileRow], list[str], int]:
    """Rows of the first sheet (or the sheet named ``observations``) of an xlsx workbook."""
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a corrupt file
        raise Unprocessable(
            "the file is not a readable xlsx workbook",
            errors=[{"loc": ["body", "file"], "msg": type(exc).__name__, "type": "xlsx"}],
        ) from exc
    try:
        sheet = workbook["observations"] if "observations" in workbook.sheetnames else workbook.worksheets[0]
        rows: Iterator[tuple[int, Sequence[Any]]] = (
            (i + 1, row) for i, row in enumerate(sheet.iter_rows(values_only=True))
        )
        return _rows_to_file_rows(rows)
    finally:
        workbook.close()


def read_table(content: bytes) -> tuple[list[FileRow], list[str], int]:
    """Rows of an xlsx workbook (recognised by its zip signature) or else a CSV file."""
    if content[:4] == b"PK\x03\x04":
        return read_xlsx(content)
    return read_csv(content)


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
    sheet.title = "observations"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    sheet.append([*COLUMNS, "zone_name (ignored)", "indicator_name (ignored)"])
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = fill
    for zone in zones:
        for ind in indicators:
            sheet.append([zone.id, ind.code, period, None, ind.unit, None, zone.name, ind.name_zh])
    for division in divisions:
        for ind in indicators:
            sheet.append([division, ind.code, period, None, ind.unit, None, f"division {division} total", ind.name_zh])
    for col, width in zip("ABCDEFGH", (16, 30, 10, 16, 12, 30, 36, 40), strict=True):
        sheet.column_dimensions[col].width = width
    sheet.freeze_panes = "A2"
    catalog = workbook.create_sheet("indicators")
    catalog.append(["code", "name_zh", "name_en", "unit", "kind", "period_types"])
    for cell in catalog[1]:
        cell.font = bold
    for ind in indicators:
        catalog.append([ind.code, ind.name_zh, ind.name_en, ind.unit, ind.kind, ",".join(ind.period_types)])
    readme = workbook.create_sheet("README")
    for line in (
        "Fill in the value column and upload this file to POST /v1/observations/import.",
        "zone: a zone id or name (official, former, plaque or park name), or a 6-digit division code for "
        "that division's own totals.",
        "unit: any unit of the indicator's dimension (元/万元/亿元, 美元/万美元, 亩/公顷/平方公里, …).",
        "Rows without a value are skipped; extra columns are ignored.",
    ):
        readme.append([line])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
