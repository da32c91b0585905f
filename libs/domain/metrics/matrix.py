"""The values matrix: one period's base, stock and derived values for a list of zones.

Pure computation over values already read: a row's components are the zone's own plus,
with pro-forma lineage, those of the predecessor zones merged into it after the period
(:func:`proforma_predecessors`); derived values are then computed from the summed
components, so a merged zone's ratio is a ratio of sums, never an average of ratios.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from libs.domain.metrics.formula import Formula, Vector, dependency_order
from libs.domain.metrics.scope import city_of
from libs.domain.registry.contracts import LineageLink


@dataclass(frozen=True, slots=True)
class RowSpec:
    """A zone to compute: its id, name, administering authority and the predecessors to add."""

    zone: str
    name: str
    authority: str
    add: tuple[str, ...] = ()


@dataclass(slots=True)
class Row:
    """A computed row: requested values (``None`` = missing) and the predecessors that contributed."""

    zone: str
    name: str
    values: dict[str, float | None]
    proforma_from: list[str] = field(default_factory=list)


def proforma_predecessors(links: Iterable[LineageLink], period_end: date) -> list[str]:
    """Predecessor zones whose values belong in a row for a period ending on ``period_end``.

    A zone merged in on date D reported separately for every period ending before D; from
    the period containing D on, the successor reports the whole. Splits move only parks,
    whose values are not known apart from their zone's, so they are not added.
    """
    out: list[str] = []
    for link in links:
        if link.operation == "merge" and period_end < link.on and link.zone.id not in out:
            out.append(link.zone.id)
    return out


def compute_rows(
    specs: Sequence[RowSpec],
    values: Mapping[str, Mapping[str, float]],
    division_values: Mapping[str, Mapping[str, float]],
    formulas: Mapping[str, Formula],
    requested: Sequence[str],
) -> list[Row]:
    """The rows of a matrix.

    ``values[zone][code]`` holds each zone's base and stock values for the period,
    ``division_values[code][indicator]`` the divisions' totals (for ``city(...)``), ``formulas``
    every derived indicator that may be needed. Derived values are computed column by column.
    """
    wanted_derived = _needed_derived(requested, formulas, dependency_order(formulas))
    empty: Mapping[str, float] = {}
    merged_rows: list[Mapping[str, float]] = []
    contributed: list[list[str]] = []
    for spec in specs:
        own = values.get(spec.zone, empty)
        contributors = [p for p in spec.add if p in values]
        contributed.append(contributors)
        if not contributors:
            merged_rows.append(own)
            continue
        merged: dict[str, float] = dict(own)
        for pred in contributors:
            for code, v in values[pred].items():
                current = merged.get(code)
                merged[code] = v if current is None else current + v
        merged_rows.append(merged)
    size = len(specs)
    nan = float("nan")
    base_codes = {c for c in requested if c not in formulas}
    city_codes: set[str] = set()
    for code in wanted_derived:
        base_codes |= {v for v in formulas[code].variables if v not in formulas}
        city_codes |= set(formulas[code].city_variables)
    columns: dict[str, Vector] = {
        code: np.fromiter((row.get(code, nan) for row in merged_rows), dtype=np.float64, count=size)
        for code in base_codes
    }
    cities = [division_values.get(city_of(spec.authority), empty) for spec in specs]
    city_columns: dict[str, Vector] = {
        code: np.fromiter((city.get(code, nan) for city in cities), dtype=np.float64, count=size) for code in city_codes
    }
    for code in wanted_derived:
        columns[code] = formulas[code].evaluate_columns(columns, city_columns, size)
    out = [[None if x != x else x for x in columns[code].tolist()] for code in requested]
    return [
        Row(zone=spec.zone, name=spec.name, values=dict(zip(requested, cells, strict=True)), proforma_from=contributors)
        for spec, cells, contributors in zip(
            specs, zip(*out, strict=True) if out else [()] * size, contributed, strict=True
        )
    ]


def _needed_derived(requested: Sequence[str], formulas: Mapping[str, Formula], order: Sequence[str]) -> list[str]:
    need: set[str] = set()
    stack = [c for c in requested if c in formulas]
    while stack:
        code = stack.pop()
        if code in need:
            continue
        need.add(code)
        stack.extend(v for v in formulas[code].variables if v in formulas)
    return [c for c in order if c in need]
