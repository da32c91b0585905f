"""The checks of a batch's rows that ask nothing of the registry or the database.

The checks depending only on a row's indicator, period and unit texts run once per distinct
combination (:class:`Static`): a batch repeats a few dozen of them thousands of times, so the
loop per row stays tight.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal
from fractions import Fraction

import msgspec

from libs.domain.kernel.values import Period
from libs.domain.metrics.contracts import ConflictCode, ImportConflict, IndicatorRead
from libs.domain.metrics.ledger import NULL, copy_text, line_template
from libs.domain.metrics.units import MAX_ABS, SCALE, UnitError, apply_factor, conversion_factor, parse_decimal
from services.metrics.indicators.service import Catalog
from services.metrics.observations.decoding import RowIn
from services.metrics.observations.repository import Key

DIVISION_RE = re.compile(r"\A[1-9][0-9]{5}\Z")  # ASCII digits only, nothing after (not even a newline)
MAX_DIGITS = 25  # values of 10^25 or more are refused before any arithmetic
_EXACT = Context(prec=40)  # as wide as metrics_units' conversions: exact for any value below MAX_ABS


class Faults:
    """Every fault of a batch, and the row indices they name."""

    def __init__(self, items: Sequence[ImportConflict] = (), lines: dict[int, int | None] | None = None) -> None:
        self.items: list[ImportConflict] = list(items)
        self.lines = lines if lines is not None else {}
        self.rows: set[int] = {c.index for c in self.items}

    def add(self, index: int, field_: str, code: ConflictCode, message: str) -> None:
        """Record a fault of row ``index``."""
        self.items.append(
            ImportConflict(index=index, field=field_, code=code, message=message, line=self.lines.get(index))
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
    faults: list[tuple[str, ConflictCode, str]]
    fatal: bool
    ok: bool
    factor: Fraction | None
    unit_fault: tuple[ConflictCode, str] | None
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


def static_checks(indicator: IndicatorRead | None, code: str, period_text: str, unit: str, today: date) -> Static:
    """The checks of a row that depend only on its indicator, period and unit texts."""
    faults: list[tuple[str, ConflictCode, str]] = []
    if indicator is None:
        faults.append(("indicator", "unknown_indicator", f"no indicator {code!r} in the catalog"))
        return Static(None, None, "", faults, fatal=True, ok=False, factor=None, unit_fault=None)
    ok = True
    if indicator.kind == "derived":
        msg = f"{indicator.code} is derived ({indicator.formula}); push its components instead"
        faults.append(("indicator", "derived_indicator", msg))
        ok = False
    try:
        period = Period.parse(period_text)
    except ValueError as exc:
        faults.append(("period", "bad_period", str(exc)))
        return Static(indicator, None, "", faults, fatal=True, ok=False, factor=None, unit_fault=None)
    if period.type not in indicator.period_types:
        msg = f"{indicator.code} is reported per {', '.join(indicator.period_types)}, not per {period.type}"
        faults.append(("period", "period_type_not_allowed", msg))
        ok = False
    if period.start > today:
        faults.append(("period", "future_period", f"period {period} has not started yet"))
        ok = False
    factor: Fraction | None = None
    unit_fault: tuple[ConflictCode, str] | None = None
    try:
        factor = conversion_factor(unit, indicator.unit)
    except UnitError as exc:
        unit_code: ConflictCode = "unknown_unit" if exc.code == "unknown_unit" else "incompatible_unit"
        unit_fault = (unit_code, f"{exc} (the indicator's unit is {indicator.unit})")
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


def canonical_value(original: Decimal, static: Static, unit: str) -> Decimal | tuple[ConflictCode, str]:
    """A value read (``original``, in the unit pushed) in its indicator's unit with six decimals,
    or its fault: too large to store, or outside the indicator's range.

    A zero is always positive zero: PostgreSQL's ``numeric`` has no negative zero, so a stored
    ``-0.000000`` reads back as ``0.000000``, and the ledger must hash what is stored.
    """
    if original.adjusted() >= MAX_DIGITS:
        return "bad_value", f"{original} {unit} is too large to store"
    if static.identity:
        value = original.quantize(SCALE, context=_EXACT)
    else:
        assert static.factor is not None
        value = apply_factor(original, static.factor)
    if not value:
        value = value.copy_abs()
    if abs(value) >= MAX_ABS:
        return "bad_value", f"{original} {unit} is too large to store"
    if (static.low is not None and value < static.low) or (static.high is not None and value > static.high):
        low = static.low if static.low is not None else "-∞"
        high = static.high if static.high is not None else "∞"
        assert static.indicator is not None
        return "out_of_range", f"{value} {static.indicator.unit} is outside [{low}, {high}]"
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


def _read_value(raw: Decimal | str | None) -> Decimal | str:
    """A value as given (a decimal from JSON, a text from a file); the fault's message if it does not read."""
    if type(raw) is Decimal:
        return raw if raw.is_finite() else f"not a finite number: {raw}"
    try:
        if raw is None:
            raise ValueError("no value")
        return parse_decimal(raw)
    except ValueError as exc:
        return str(exc)


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
            add(index, "note", "bad_text", "the note contains a NUL character (U+0000)")
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
                    add(index, "subject", "bad_subject", f"{subject_id!r} is not a 6-digit division code")
                    ok = False
        combo = (row.indicator, row.period, unit)
        static = statics.get(combo)
        if static is None:
            static = statics[combo] = static_checks(catalog.get(row.indicator), row.indicator, row.period, unit, today)
        if static.faults:
            for field_, fault_code, message in static.faults:
                add(index, field_, fault_code, message)
            if static.fatal:
                continue
            ok = False
        raw = row.value
        original = raw if type(raw) is Decimal and raw.is_finite() else _read_value(raw)
        if isinstance(original, str):
            add(index, "value", "bad_value", original)
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
            add(index, "subject", "duplicate_row", f"the same value as row {first} (subject, indicator, period)")
            continue
        out.append(
            Checked(
                index, subject_type, subject_id, static, value, format(value, "f"), format(original, "f"), note, key
            )
        )
    return out
