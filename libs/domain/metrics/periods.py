"""A period's value built from its parts when none was pushed for the period itself.

The half-year bulletins (每半年通报主要指标排名) rank zones on halves that counties mostly report
by quarter, and an annual assessment may find only halves or quarters
(docs/domain.md#indicators-and-targets). So a period's value is the one pushed for it, else it
is built from its parts (a year's halves, a half's quarters, each pushed or itself built) by the
indicator's kind:

- a flow (``base``: GDP, revenue, exports) is summed over the parts, and every part is needed;
- a stock (employment, developed land, cumulative investment) is a level at the period's end,
  so it is the last part's value, and only that part is needed;
- a derived indicator is never built: it is computed from its (pushed or built) components, so
  a ratio is a ratio of sums, never an average of ratios.

A year whose halves cannot both be had cannot be had from its four quarters either (they would
build both halves), so building a year from its halves, each pushed or built from its quarters,
covers both routes. What is missing is said in the coarsest periods that lack anything at all:
``2025H1`` when nothing of the first half was pushed, ``2025Q2`` when only its second quarter lacks.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field

from libs.domain.kernel.values import Period

PeriodValues = Mapping[str, float]
"""The values pushed for one subject and indicator, by period text (the period asked and its parts)."""


@dataclass(frozen=True, slots=True)
class Built:
    """A period's value (``None``: missing), whether it was built from parts, and, when missing,
    the periods whose values would complete it."""

    value: float | None
    built: bool = False
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PeriodTree:
    """A period with its parts, each with its own, worked out once for every value built: ``within``
    holds the texts of the period and of every period inside it."""

    text: str
    parts: tuple[PeriodTree, ...]
    within: frozenset[str]

    @classmethod
    def of(cls, period: Period) -> PeriodTree:
        """The tree of ``period``: a year's halves and their quarters, a half's quarters."""
        parts = tuple(cls.of(p) for p in period.parts())
        text = str(period)
        return cls(text, parts, frozenset([text]).union(*(p.within for p in parts)))

    def build(self, pushed: PeriodValues, *, stock: bool) -> Built:
        """The period's value: pushed for itself, else built from its parts (summed for a flow,
        the last part's for a ``stock``), else missing with the periods that lack."""
        value = pushed.get(self.text)
        if value is not None:
            return Built(value)
        missing: list[str] = []
        value = self._value(pushed, stock, missing)
        if value is None:
            return Built(None, missing=tuple(missing))
        return Built(value, built=True)

    def _value(self, pushed: PeriodValues, stock: bool, missing: list[str]) -> float | None:
        value = pushed.get(self.text)
        if value is not None:
            return value
        if not self.parts or self.within.isdisjoint(pushed):
            missing.append(self.text)
            return None
        total: float | None = 0.0
        for part in self.parts[-1:] if stock else self.parts:
            got = part._value(pushed, stock, missing)
            if got is None:
                total = None
            elif total is not None:
                total += got
        return total


def build(period: Period, pushed: PeriodValues, *, stock: bool) -> Built:
    """The value of ``period`` from the values ``pushed`` for it and its sub-periods (by text):
    :meth:`PeriodTree.build` of its tree."""
    return PeriodTree.of(period).build(pushed, stock=stock)


def sub_periods(period: Period) -> list[Period]:
    """Every period a value of ``period`` may be built from: its halves and quarters, in order."""
    out: list[Period] = []
    for part in period.parts():
        out.append(part)
        out.extend(sub_periods(part))
    return out


@dataclass(slots=True)
class Provenance:
    """Of one period's values, by subject then indicator: those built from parts, and the periods
    lacking for those still missing (as text, e.g. ``("2025Q2",)``)."""

    built: dict[str, set[str]] = field(default_factory=dict)
    missing: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        """Whether any value was built or is missing."""
        return bool(self.built or self.missing)

    def touches(self, subject: str) -> bool:
        """Whether any of ``subject``'s values was built or is missing."""
        return subject in self.built or subject in self.missing


def gaps(
    values: Mapping[str, Mapping[str, float]], subjects: Iterable[str], codes: Collection[str], read: int
) -> list[tuple[str, str]]:
    """The (subject, indicator) cells of ``subjects`` × ``codes`` without a value in ``values``.

    ``values`` were read for ``read`` codes, ``codes`` among them: a subject with that many
    values lacks none (the common case, answered without looking at each code).
    """
    out: list[tuple[str, str]] = []
    for subject in subjects:
        row = values.get(subject)
        if row is None:
            out.extend((subject, code) for code in codes)
        elif len(row) < read:
            out.extend((subject, code) for code in codes if code not in row)
    return out


def fill_from_parts(
    period: Period,
    values: MutableMapping[str, dict[str, float]],
    cells: Iterable[tuple[str, str]],
    parts: Mapping[tuple[str, str], PeriodValues],
    stocks: Collection[str],
) -> Provenance:
    """Build each of ``cells`` (subject, indicator) missing from ``values`` from its ``parts``
    (the values pushed for its sub-periods, by period text), storing what can be built into ``values``.

    Returns which cells were built and, for those still missing, the periods that lack.
    """
    provenance = Provenance()
    tree = PeriodTree.of(period)
    nothing = (tree.text,)
    for subject, code in cells:
        pushed = parts.get((subject, code))
        if pushed is None:
            provenance.missing.setdefault(subject, {})[code] = nothing
            continue
        got = tree.build(pushed, stock=code in stocks)
        if got.value is None:
            provenance.missing.setdefault(subject, {})[code] = got.missing
        else:
            values.setdefault(subject, {})[code] = got.value
            provenance.built.setdefault(subject, set()).add(code)
    return provenance
