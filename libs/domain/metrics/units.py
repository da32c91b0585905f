"""Units of the indicator catalog: the units people push, and their exact conversion factors.

Every unit belongs to a dimension (money in yuan, money in US dollars, area, persons, energy,
mass, volume, percent, count); a value converts exactly between units of one dimension by a
rational factor. A unit outside this table may still be an indicator's own canonical unit
(e.g. ``年`` or ``美元(PPP)``): such a unit only matches itself.

1 亩 is 10000/15 m² exactly (the legal definition: 15 亩 = 1 公顷), which docs/domain.md#indicators-and-targets
rounds to 666.67 m².
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from fractions import Fraction

SCALE = Decimal("0.000001")
"""Canonical values are kept to six decimal places."""

MAX_ABS = Decimal("1e17")
"""The largest magnitude a canonical value may have (the column holds 24 digits, 6 decimals)."""

_CONTEXT = Context(prec=40)  # wide enough for any conversion of a value below MAX_ABS exactly


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit: its dimension and its size in the dimension's reference unit."""

    symbol: str
    dimension: str
    factor: Fraction


def _units() -> dict[str, Unit]:
    table: list[tuple[str, str, Fraction, tuple[str, ...]]] = [
        ("元", "cny", Fraction(1), ("元人民币", "CNY", "yuan")),
        ("千元", "cny", Fraction(1_000), ()),
        ("万元", "cny", Fraction(10_000), ("万元人民币", "10k CNY")),
        ("百万元", "cny", Fraction(1_000_000), ()),
        ("亿元", "cny", Fraction(100_000_000), ("亿元人民币", "100m CNY")),
        ("美元", "usd", Fraction(1), ("USD", "dollar")),
        ("千美元", "usd", Fraction(1_000), ()),
        ("万美元", "usd", Fraction(10_000), ("10k USD",)),
        ("百万美元", "usd", Fraction(1_000_000), ()),
        ("亿美元", "usd", Fraction(100_000_000), ("100m USD",)),
        ("平方米", "area", Fraction(1), ("m2", "m²", "㎡")),
        ("亩", "area", Fraction(10_000, 15), ("mu",)),
        ("公顷", "area", Fraction(10_000), ("ha", "hm2", "hm²")),
        ("平方公里", "area", Fraction(1_000_000), ("平方千米", "km2", "km²")),
        ("人", "persons", Fraction(1), ("persons",)),
        ("万人", "persons", Fraction(10_000), ()),
        ("吨标准煤", "energy", Fraction(1), ("吨标煤", "tce")),
        ("万吨标准煤", "energy", Fraction(10_000), ("万吨标煤", "10k tce")),
        ("千克", "mass", Fraction(1, 1_000), ("kg", "公斤")),
        ("吨", "mass", Fraction(1), ("t",)),
        ("万吨", "mass", Fraction(10_000), ()),
        ("立方米", "volume", Fraction(1), ("m3", "m³")),
        ("万立方米", "volume", Fraction(10_000), ()),
        ("%", "percent", Fraction(1), ("％", "percent", "百分比")),
        ("‰", "percent", Fraction(1, 10), ()),
        ("个", "count", Fraction(1), ("家", "项")),
    ]
    out: dict[str, Unit] = {}
    for symbol, dimension, factor, aliases in table:
        unit = Unit(symbol, dimension, factor)
        for name in (symbol, *aliases):
            out[_key(name)] = unit
    return out


def _key(name: str) -> str:
    return name.strip().replace(" ", "").casefold()


_UNITS = _units()


class UnitError(ValueError):
    """A unit cannot be used: ``code`` is ``unknown_unit`` or ``incompatible_unit``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def lookup(name: str) -> Unit | None:
    """The unit called ``name`` (symbol or alias, spaces and case ignored), or ``None``."""
    return _UNITS.get(_key(name))


def is_known(name: str) -> bool:
    """True if ``name`` is a unit of the conversion table."""
    return lookup(name) is not None


def canonical_symbol(name: str) -> str:
    """The table's symbol for ``name`` (``"tce"`` → ``"吨标准煤"``); unknown names unchanged."""
    unit = lookup(name)
    return unit.symbol if unit else name.strip()


def accepted_units(unit: str) -> list[str]:
    """The units a value of an indicator in ``unit`` may be given in: every symbol of its
    dimension, smallest first (only ``unit`` itself when it is outside the table)."""
    own = lookup(unit)
    if own is None:
        return [unit.strip()]
    symbols = {u.symbol: u for u in _UNITS.values() if u.dimension == own.dimension}
    return sorted(symbols, key=lambda s: symbols[s].factor)


def conversion_factor(from_unit: str, to_unit: str) -> Fraction:
    """The exact factor turning a value in ``from_unit`` into ``to_unit``.

    Raises :class:`UnitError` (``unknown_unit``) when ``from_unit`` is neither in the table nor
    identical to ``to_unit``, and (``incompatible_unit``) when the dimensions differ.
    """
    if from_unit.strip() == to_unit.strip():
        return Fraction(1)
    source, target = lookup(from_unit), lookup(to_unit)
    if source is None:
        raise UnitError("unknown_unit", f"unknown unit {from_unit!r}")
    if target is None or source.dimension != target.dimension:
        raise UnitError("incompatible_unit", f"a value in {from_unit} cannot be converted to {to_unit}")
    return source.factor / target.factor


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """``value`` in ``from_unit`` expressed in ``to_unit``, rounded to :data:`SCALE`.

    Raises :class:`UnitError` as :func:`conversion_factor` does.
    """
    return apply_factor(value, conversion_factor(from_unit, to_unit))


def apply_factor(value: Decimal, factor: Fraction) -> Decimal:
    """``value × factor`` rounded to :data:`SCALE` (for callers that looked the factor up once)."""
    if factor.denominator == 1:
        if factor.numerator == 1:
            return value.quantize(SCALE, context=_CONTEXT)
        return _CONTEXT.multiply(value, Decimal(factor.numerator)).quantize(SCALE, context=_CONTEXT)
    scaled = _CONTEXT.divide(_CONTEXT.multiply(value, Decimal(factor.numerator)), Decimal(factor.denominator))
    return scaled.quantize(SCALE, context=_CONTEXT)


def scale(value: Decimal) -> Decimal:
    """``value`` rounded half-even to six decimal places (the canonical precision)."""
    return value.quantize(SCALE, context=_CONTEXT)


_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:[,，][0-9]{3})+(?:\.[0-9]+)?").fullmatch
"""A number whose thousands are separated by commas (ASCII or full-width), as spreadsheets print them."""


def parse_decimal(text: str | int | float | Decimal) -> Decimal:
    """A finite decimal from a number or a text such as ``"1,234.5"``; ``ValueError`` otherwise."""
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, bool):
        raise ValueError("a boolean is not a number")
    elif isinstance(text, int | float):
        value = Decimal(repr(text)) if isinstance(text, float) else Decimal(text)
    else:
        stripped = text.strip().replace(" ", "")
        if ("," in stripped or "，" in stripped) and not _GROUPED(stripped):
            # "1,5" is 1.5 in some notations and 15 after removing the comma: refuse, never guess.
            raise ValueError(f"not a number: {text!r} (thousands are separated as 1,234.5; the decimal mark is '.')")
        cleaned = stripped.replace(",", "").replace("，", "")
        if not cleaned:
            raise ValueError("empty value")
        try:
            value = Decimal(cleaned)
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return value
