"""The checks of a batch's rows that ask nothing of the registry or the database.

The checks depending only on a row's indicator, period and unit texts run once per distinct
combination (:class:`Static`): a batch repeats a few dozen of them thousands of times, so the
loop per row stays tight.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal
from fractions import Fraction

import msgspec

from libs.domain.kernel.values import Period
from libs.domain.metrics import messages
from libs.domain.metrics.contracts import ConflictCode, ImportConflict, IndicatorRead
from libs.domain.metrics.ledger import NULL, copy_text, line_template
from libs.domain.metrics.messages import Text
from libs.domain.metrics.naming import close_matches, named
from libs.domain.metrics.units import (
    MAX_ABS,
    SCALE,
    UnitError,
    accepted_units,
    apply_factor,
    conversion_factor,
    parse_decimal,
)
from services.metrics.indicators.service import Catalog
from services.metrics.observations.decoding import RowIn
from services.metrics.observations.repository import Key

DIVISION_RE = re.compile(r"\A[1-9][0-9]{5}\Z")  # ASCII digits only, nothing after (not even a newline)
NUMBER_EXAMPLES = ["1234.5", "1,234.5"]  # what a value that does not read is told is accepted
MAX_DIGITS = 25  # values of 10^25 or more are refused before any arithmetic
_EXACT = Context(prec=40)  # as wide as metrics_units' conversions: exact for any value below MAX_ABS


Fault = tuple[str, ConflictCode, Text, list[str] | None]
"""A fault of a row: its field, code, message and what the field accepts (if that helps)."""


def conflict(
    index: int,
    field_: str,
    code: ConflictCode,
    text: Text,
    *,
    line: int | None = None,
    column: str | None = None,
    accepted: Sequence[str] | None = None,
) -> ImportConflict:
    """A conflict of row ``index``; a row read from a file says where it is (row as in Excel, column)."""
    return ImportConflict(
        index=index,
        field=field_,
        code=code,
        message=text.at(line, column),
        line=line,
        column=column if line is not None else None,
        accepted=list(accepted) if accepted is not None else None,
    )


class Faults:
    """Every fault of a batch, and the row indices they name; for a file, each row's number (as
    in Excel) and the header of each field's column."""

    def __init__(
        self,
        items: Sequence[ImportConflict] = (),
        lines: dict[int, int | None] | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> None:
        self.items: list[ImportConflict] = list(items)
        self.lines = lines if lines is not None else {}
        self.columns: Mapping[str, str] = columns if columns is not None else {}
        self.rows: set[int] = {c.index for c in self.items}

    def add(
        self, index: int, field_: str, code: ConflictCode, text: Text, accepted: Sequence[str] | None = None
    ) -> None:
        """Record a fault of row ``index``."""
        line = self.lines.get(index)
        self.items.append(
            conflict(index, field_, code, text, line=line, column=self.columns.get(field_), accepted=accepted)
        )
        self.rows.add(index)


@dataclass(slots=True)
class Static:
    """What the checks make of one (indicator, period, unit) text combination, whatever the row.

    ``faults`` are reported for every row of the combination; when ``fatal``, its rows are not
    checked further. ``unit_fault`` is reported only for rows whose value reads (the checks'
    order: value, then unit). ``ok`` is false when its rows may not be stored. The rest is what
    storing a row needs, computed once: the factor, the range, and the texts of the lines.

    A value's first version (no previous version, old value or lock) is written as
    ``{seq}{after_seq}{subject_type}{between_subject}{subject_id}{after_subject}{value}{after_value}``
    ``{original value}{after_original}{note}{after_note}{batch}{end}``: the texts between the
    fields of the ledger's canonical line (:func:`line_template`) that vary per row.
    """

    indicator: IndicatorRead | None
    period: Period | None
    period_text: str
    faults: list[Fault]
    fatal: bool
    ok: bool
    factor: Fraction | None
    unit_fault: tuple[ConflictCode, Text, list[str] | None] | None
    identity: bool = False
    low: Decimal | None = None
    high: Decimal | None = None
    code: str = ""
    code_text: str = ""
    period_end: str = ""  # with the tab that follows it on a line
    unit_text: str = ""
    original_unit_text: str = ""
    period_end_bytes: bytes = b""
    after_seq: str = ""
    between_subject: str = ""
    after_subject: str = ""
    after_value: str = ""
    after_original: str = ""
    after_note: str = ""
    end: str = ""


def static_checks(
    indicator: IndicatorRead | None,
    code: str,
    period_text: str,
    unit: str,
    today: date,
    known: Mapping[str, IndicatorRead] | None = None,
) -> Static:
    """The checks of a row that depend only on its indicator, period and unit texts (``known``:
    the catalog, to name close matches of an unknown indicator)."""
    faults: list[Fault] = []
    if indicator is None:
        same = named(code, known) if known else []
        if len(same) > 1:  # a Chinese name several indicators carry: name them all
            close = [f"{c}（{known[c].name_zh}）" for c in same] if known else []
            text = messages.unknown_indicator(code, [], close)
        else:
            close = close_matches(code, known) if known else []
            text = messages.unknown_indicator(code, close)
        faults.append(("indicator", "unknown_indicator", text, close or None))
        return Static(None, None, "", faults, fatal=True, ok=False, factor=None, unit_fault=None)
    ok = True
    if indicator.kind == "derived":
        faults.append(
            ("indicator", "derived_indicator", messages.derived_indicator(indicator.code, indicator.formula), None)
        )
        ok = False
    try:
        period = Period.parse(period_text)
    except ValueError as exc:
        faults.append(("period", "bad_period", messages.bad_period(period_text, str(exc)), None))
        return Static(indicator, None, "", faults, fatal=True, ok=False, factor=None, unit_fault=None)
    if period.type not in indicator.period_types:
        text = messages.period_type_not_allowed(indicator.code, indicator.period_types, period.type)
        faults.append(("period", "period_type_not_allowed", text, list(indicator.period_types)))
        ok = False
    if period.start > today:
        faults.append(("period", "future_period", messages.future_period(str(period)), None))
        ok = False
    factor: Fraction | None = None
    unit_fault: tuple[ConflictCode, Text, list[str] | None] | None = None
    try:
        factor = conversion_factor(unit, indicator.unit)
    except UnitError as exc:
        accepted = accepted_units(indicator.unit)
        if exc.code == "unknown_unit":
            unit_fault = ("unknown_unit", messages.unknown_unit(unit, indicator.unit, accepted), accepted)
        else:
            unit_fault = ("incompatible_unit", messages.incompatible_unit(unit, indicator.unit, accepted), accepted)
    static = Static(indicator, period, str(period), faults, fatal=False, ok=ok, factor=factor, unit_fault=unit_fault)
    _storing(static, indicator, period, unit)
    return static


def _storing(static: Static, indicator: IndicatorRead, period: Period, unit: str) -> None:
    """Fill in what storing the combination's rows needs."""
    static.identity = static.factor == 1
    static.low = None if indicator.min is None else Decimal(indicator.min)
    static.high = None if indicator.max is None else Decimal(indicator.max)
    static.code = indicator.code
    static.code_text = copy_text(indicator.code)
    static.period_end = period.end.isoformat() + "\t"
    static.period_end_bytes = static.period_end.encode()
    static.unit_text = copy_text(indicator.unit)
    static.original_unit_text = copy_text(unit)
    (
        _,
        static.after_seq,
        static.between_subject,
        static.after_subject,
        static.after_value,
        static.after_original,
        static.after_note,
        static.end,
    ) = line_template(
        prev_seq=NULL,
        indicator_code=static.code_text,
        indicator_version=str(indicator.version),
        period=static.period_text,
        old_value=NULL,
        unit=static.unit_text,
        original_unit=static.original_unit_text,
        lock_id=NULL,
    )


def canonical_value(original: Decimal, static: Static, unit: str) -> Decimal | tuple[ConflictCode, Text]:
    """A value read (``original``, in the unit pushed) in its indicator's unit with six decimals,
    or its fault: too large to store, or outside the indicator's range.

    A zero is always positive zero: PostgreSQL's ``numeric`` has no negative zero, so a stored
    ``-0.000000`` reads back as ``0.000000``, and the ledger must hash what is stored.
    """
    if original.adjusted() >= MAX_DIGITS:
        return "bad_value", messages.bad_value(str(original), "too_large", unit)
    if static.identity:
        value = original.quantize(SCALE, context=_EXACT)
    else:
        assert static.factor is not None
        value = apply_factor(original, static.factor)
    if not value:
        value = value.copy_abs()
    if abs(value) >= MAX_ABS:
        return "bad_value", messages.bad_value(str(original), "too_large", unit)
    if (static.low is not None and value < static.low) or (static.high is not None and value > static.high):
        low = static.low if static.low is not None else "-∞"
        high = static.high if static.high is not None else "∞"
        assert static.indicator is not None
        return "out_of_range", messages.out_of_range(str(value), static.indicator.unit, str(low), str(high))
    return value


class Checked(msgspec.Struct, gc=False):
    """A row that passed the static checks: its combination, its value in the canonical unit and
    that value's six-decimal text, the value as pushed (plain text), its key."""

    index: int
    subject_type: str
    subject_id: str
    static: Static
    value: Decimal
    value_text: str
    original_text: str
    note: str | None
    key: Key


def _read_value(raw: Decimal | str | None) -> Decimal | Text:
    """A value as given (a decimal from JSON, a text from a file); the fault's message if it does not read."""
    if type(raw) is Decimal:
        return raw if raw.is_finite() else messages.bad_value(str(raw))
    try:
        if raw is None:
            raise ValueError("no value")
        return parse_decimal(raw)
    except ValueError:
        return messages.bad_value("" if raw is None else str(raw))


def check_rows(
    rows: Sequence[RowIn],
    catalog: Catalog,
    faults: Faults,
    today: date,
    seen: dict[Key, int] | None = None,
    statics: dict[tuple[str, str, str], Static] | None = None,
) -> list[Checked]:
    """The static checks of every row; returns the rows without any fault.

    A batch checked a part at a time passes the same ``seen`` (keys already met, for
    duplicates) and ``statics`` to each part.
    """
    out: list[Checked] = []
    seen = {} if seen is None else seen
    statics = {} if statics is None else statics
    add = faults.add
    divisions_ok: dict[str, bool] = {}
    for row in rows:
        index, note, subject, unit = row.position, row.note, row.subject, row.unit
        ok = True
        if note is not None and "\x00" in note:  # no database text type holds NUL; refuse it everywhere
            add(index, "note", "bad_text", messages.bad_text())
            ok = False
        if subject is None:
            ok = False
            subject_type = subject_id = ""
        else:
            subject_type, subject_id = subject
            if subject_type == "division":
                good = divisions_ok.get(subject_id)
                if good is None:
                    good = divisions_ok[subject_id] = DIVISION_RE.match(subject_id) is not None
                if not good:
                    add(index, "subject", "bad_subject", messages.bad_subject("division", subject_id))
                    ok = False
        combo = (row.indicator, row.period, unit)
        static = statics.get(combo)
        if static is None:
            indicator = catalog.get(row.indicator)
            static = statics[combo] = static_checks(
                indicator, row.indicator, row.period, unit, today, catalog.indicators
            )
        if static.faults:
            for field_, fault_code, message, accepted in static.faults:
                add(index, field_, fault_code, message, accepted)
            if static.fatal:
                continue
            ok = False
        raw = row.value
        original = raw if type(raw) is Decimal and raw.is_finite() else _read_value(raw)
        if isinstance(original, Text):
            add(index, "value", "bad_value", original, NUMBER_EXAMPLES)
            continue
        if static.unit_fault is not None:
            add(index, "unit", *static.unit_fault)
            continue
        value = canonical_value(original, static, unit)
        if isinstance(value, tuple):
            add(index, "value", *value)
            continue
        if not ok:
            continue
        key = (subject_type, subject_id, static.code, static.period_text)
        first = seen.setdefault(key, index)
        if first != index:
            add(index, "subject", "duplicate_row", messages.duplicate_row(faults.lines.get(first) or first))
            continue
        out.append(
            Checked(
                index, subject_type, subject_id, static, value, format(value, "f"), format(original, "f"), note, key
            )
        )
    return out
