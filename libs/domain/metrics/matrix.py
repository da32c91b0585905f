"""The values matrix: one period's base, stock and derived values for a list of zones.

Pure computation over values already read: a row's components are the zone's own plus,
with pro-forma lineage, those of the predecessor zones merged into it after the period
(:func:`proforma_predecessors`); derived values are then computed from the summed
components, so a merged zone's ratio is a ratio of sums, never an average of ratios. Values
built from sub-periods (:mod:`libs.domain.metrics.periods`) enter as pushed ones do; the rows
then say which of theirs were built and why the missing ones are missing (:class:`Sources`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from libs.domain.metrics.formula import Formula, Vector, base_components, dependency_order
from libs.domain.metrics.periods import Provenance
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
    """A computed row: requested values (``None`` = missing), the predecessors that contributed,
    the requested codes whose value was built from sub-periods, and for each missing value what
    lacks (``"gdp 2025Q2"``, ``"city(gdp) 2025"``)."""

    zone: str
    name: str
    values: dict[str, float | None]
    proforma_from: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)


def proforma_predecessors(links: Iterable[LineageLink], period_end: date) -> list[str]:
    """Predecessor zones whose values belong in a row for a period ending on ``period_end``.

    A zone merged in on date D reported separately for every period ending before D; from
    the period containing D on, the successor reports the whole. Splits move only parks,
    whose values are not known apart from their zone's, so they are not added.
    """
    out: list[str] = []
    for link in links:
        if link.operation == "merge" and period_end < link.on and link.state.id not in out:
            out.append(link.state.id)
    return out


def compute_rows(
    specs: Sequence[RowSpec],
    values: Mapping[str, Mapping[str, float]],
    division_values: Mapping[str, Mapping[str, float]],
    formulas: Mapping[str, Formula],
    requested: Sequence[str],
    sources: Sources | None = None,
) -> list[Row]:
    """The rows of a matrix.

    ``values[zone][code]`` holds each zone's base and stock values for the period,
    ``division_values[code][indicator]`` the divisions' totals (for ``city(...)``), ``formulas``
    every derived indicator that may be needed. Derived values are computed column by column.
    ``sources`` says which of those values were built from sub-periods and why others are
    missing; each row then names its built codes and the reasons of its missing values.
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
    rows = [
        Row(zone=spec.zone, name=spec.name, values=dict(zip(requested, cells, strict=True)), proforma_from=contributors)
        for spec, cells, contributors in zip(
            specs, zip(*out, strict=True) if out else [()] * size, contributed, strict=True
        )
    ]
    if sources is not None:
        sources.annotate(rows, specs, merged_rows, division_values, formulas, requested)
    return rows


@dataclass(frozen=True, slots=True)
class Sources:
    """Where a matrix's stored values come from: ``zones`` for the rows' own (and their
    predecessors') values, ``divisions`` for the divisions' totals read by ``city(...)``."""

    zones: Provenance
    divisions: Provenance

    def annotate(
        self,
        rows: Sequence[Row],
        specs: Sequence[RowSpec],
        merged_rows: Sequence[Mapping[str, float]],
        division_values: Mapping[str, Mapping[str, float]],
        formulas: Mapping[str, Formula],
        requested: Sequence[str],
    ) -> None:
        """Fill in each row's ``built`` codes and ``missing`` reasons. A row none of whose
        subjects had a value built or missing is left as it is (the common case, at no cost)."""
        zones, divisions = self.zones, self.divisions
        if not (zones or divisions):
            return
        terms = {c: _terms(c, formulas) for c in requested}
        labels: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        empty: Mapping[str, float] = {}
        for row, spec, merged in zip(rows, specs, merged_rows, strict=True):
            subjects = [spec.zone, *row.proforma_from]
            city = city_of(spec.authority)
            if not (any(zones.touches(s) for s in subjects) or divisions.touches(city)):
                continue
            built = set().union(*(zones.built.get(s, ()) for s in subjects))
            lacking = [m for s in subjects if (m := zones.missing.get(s)) is not None]
            city_built = divisions.built.get(city, set())
            city_lacking = divisions.missing.get(city, {})
            city_values = division_values.get(city, empty)
            for code in requested:
                own, cities = terms[code]
                if row.values[code] is not None:
                    if not built.isdisjoint(own) or not city_built.isdisjoint(cities):
                        row.built.append(code)
                    continue
                reasons: list[str] = []
                for v in own:
                    if v not in merged:
                        for m in lacking:
                            if periods := m.get(v):
                                reasons += _labels(labels, v, periods)
                for v in cities:
                    if v not in city_values and (periods := city_lacking.get(v)):
                        reasons += _labels(labels, f"city({v})", periods)
                if reasons:
                    # Several subjects (pro-forma predecessors) may lack the same.
                    row.missing[code] = list(dict.fromkeys(reasons)) if len(lacking) > 1 else reasons


def _terms(code: str, formulas: Mapping[str, Formula]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The stored codes ``code`` reads for the row itself and through ``city(...)``, sorted."""
    if code not in formulas:
        return (code,), ()
    own, city = base_components(code, formulas)
    return tuple(sorted(own)), tuple(sorted(city))


def _labels(cache: dict[tuple[str, tuple[str, ...]], list[str]], term: str, periods: tuple[str, ...]) -> list[str]:
    """``term`` lacking each of ``periods``, as a row's ``missing`` says it (``"gdp 2025Q2"``);
    worked out once per matrix, since most rows lack the same."""
    key = (term, periods)
    got = cache.get(key)
    if got is None:
        got = cache[key] = [f"{term} {p}" for p in periods]
    return got


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
