"""Reading imported files (CSV in UTF-8 or GB18030, xlsx).

Header: ``zone,indicator,period,value,unit,note`` or in Chinese ``开发区,指标,期间,数值,单位,备注``
(as the template writes it; other columns are ignored). A ``zone`` cell holds a zone id, a zone
name (official, former, plaque or park name, resolved through the registry as of the period),
or a 6-digit division code for that division's own totals. An ``indicator`` cell holds a code,
a Chinese name, or both as the template writes them (``地区生产总值（gdp）``).

Rows are numbered as Excel shows them, in both formats: the header is row 1 and the first data
row below it row 2. A CSV row is a record (a quoted cell may span lines, as Excel shows it in
one row; a blank line is a row); an xlsx row is the sheet's row, blank rows included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook

from libs.domain.kernel.errors import PayloadTooLarge, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.metrics.contracts import MAX_BATCH_ROWS

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATA_SHEETS = ("数据填报", "observations")  # the template's data sheet (and its former name); else the first
FIELDS = {"zone": "subject"}  # a column's name → the field a conflict names (others are the same)
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


@dataclass(slots=True)
class Table:
    """An imported file read: its data rows, the required columns its header lacks, how many rows
    without a value were skipped, and the header of each field's column as the file writes it
    (keyed by the field a conflict names: ``subject``, ``indicator``, ``period``, ``value``…)."""

    rows: list[FileRow]
    missing: list[str]
    skipped: int
    headers: dict[str, str]


def _column_map(header: Sequence[Any]) -> tuple[dict[str, int], list[str], dict[str, str]]:
    lookup = {alias.casefold(): name for name, aliases in ALIASES.items() for alias in aliases}
    found: dict[str, int] = {}
    headers: dict[str, str] = {}
    for i, cell in enumerate(header):
        text = str(cell or "").strip().lstrip("\ufeff").strip()
        name = lookup.get(text.casefold())
        if name and name not in found:
            found[name] = i
            headers[FIELDS.get(name, name)] = text
    return found, [c for c in REQUIRED if c not in found], headers


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
            Text("文件既不是 UTF-8 也不是 GB18030 编码的文本", "the file is neither UTF-8 nor GB18030 text"),
            errors=[
                {
                    "loc": ["body", "file"],
                    "msg": Text("无法识别文本编码（应为 UTF-8 或 GB18030）", "undecodable text"),
                    "type": "encoding",
                    "code": "undecodable_file",
                }
            ],
            code="undecodable_file",
        ) from exc


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return str(value.year)
    return str(value).strip()


def _rows_to_file_rows(rows: Iterable[tuple[int, Sequence[Any]]]) -> Table:
    """The data rows after the header (the first row with any text), numbered as given."""
    it = iter(rows)
    header: Sequence[Any] | None = None
    for _line, cells in it:
        if any(_cell_text(c) for c in cells):
            header = cells
            break
    if header is None:
        raise Unprocessable(
            Text("文件为空", "the file is empty"),
            errors=[
                {
                    "loc": ["body", "file"],
                    "msg": Text("没有表头行", "no header row"),
                    "type": "empty",
                    "code": "empty_file",
                }
            ],
            code="empty_file",
        )
    columns, missing, headers = _column_map(header)
    if missing:
        return Table([], missing, 0, headers)
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
            raise PayloadTooLarge(
                Text(
                    f"文件超过 {MAX_BATCH_ROWS} 行，请拆分后分别导入",
                    f"the file has more than {MAX_BATCH_ROWS} rows; split it",
                ),
                code="too_many_rows",
                limit_rows=MAX_BATCH_ROWS,
            )
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
    return Table(out, [], skipped, headers)


def read_csv(content: bytes) -> Table:
    """Rows of a CSV file (comma-separated; UTF-8 with or without BOM, or GB18030), numbered by
    record from 1, as Excel opens the file (a quoted cell spanning lines stays one row)."""
    text = decode_text(content)
    reader = csv.reader(io.StringIO(text, newline=""))
    return _rows_to_file_rows((i + 1, row) for i, row in enumerate(reader))


def read_xlsx(content: bytes) -> Table:
    """Rows of the template's data sheet (``数据填报``, formerly ``observations``) or else the first
    sheet of an xlsx workbook, numbered by sheet row (openpyxl yields the blank rows too)."""
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a corrupt file
        reason = type(exc).__name__
        raise Unprocessable(
            Text("文件不是可读取的 xlsx 工作簿", "the file is not a readable xlsx workbook"),
            errors=[
                {
                    "loc": ["body", "file"],
                    "msg": Text(f"无法读取 xlsx 工作簿（{reason}）", reason),
                    "type": "xlsx",
                    "code": "unreadable_xlsx",
                }
            ],
            code="unreadable_xlsx",
        ) from exc
    try:
        named = [workbook[n] for n in DATA_SHEETS if n in workbook.sheetnames]
        sheet = named[0] if named else workbook.worksheets[0]
        rows: Iterator[tuple[int, Sequence[Any]]] = (
            (i + 1, row) for i, row in enumerate(sheet.iter_rows(values_only=True))
        )
        return _rows_to_file_rows(rows)
    finally:
        workbook.close()


def read_table(content: bytes) -> Table:
    """Rows of an xlsx workbook (recognised by its zip signature) or else a CSV file."""
    if content[:4] == b"PK\x03\x04":
        return read_xlsx(content)
    return read_csv(content)
