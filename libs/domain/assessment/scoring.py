"""Scoring subjects with a methodology, and ranking them.

Per leaf the math of :mod:`libs.domain.assessment.transforms` applies (transform, winsorise,
normalisation, direction), then:

5. ``missing``: ``zero`` (the leaf scores 0, the default), ``mean`` (the mean leaf score of the
   zones ranked that have the value), or ``exclude_zone`` (the zone is not ranked; the reason is
   given).

The final score is the root's value × ``scale``. Ranks are standard competition ranks
(1, 2, 2, 4) on the score rounded to 6 decimals.

Everything here is pure: no IO, deterministic for the same inputs, so a stored run can be
recomputed bit for bit (see :func:`libs.domain.kernel.canonical.inputs_sha256`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from libs.domain.assessment.methodology import Leaf, Methodology, Node, finite_number
from libs.domain.assessment.transforms import Fitted, FloatArray, aggregate, fit, normalise, transform, winsorise

RANK_DECIMALS = 6

_IMPUTED_ZERO = 1
_IMPUTED_MEAN = 2


@dataclass(frozen=True)
class Subject:
    """Something scored: a zone (ranked) or a division scored by reference."""

    id: str
    name: str
    values: Mapping[str, float | None]


@dataclass
class SubjectScore:
    """A subject's score with everything that produced it."""

    id: str
    name: str
    score: float | None
    groups: dict[str, float | None]
    missing: list[str]
    excluded: str | None = None
    normalised: list[float | None] = field(default_factory=list)
    """Every leaf's normalised score in the method's leaf order (the compact stored form)."""
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per leaf key, the leaf's fields beyond indicator, raw and normalised (only leaves with any)."""
    raw: list[float | None] = field(default_factory=list)
    """Every leaf's raw value in the method's leaf order."""
    leaf_keys: Sequence[str] = ()
    """The method's leaf keys, in order."""
    indicators: Sequence[str] = ()
    """The method's leaf indicators, in order."""

    @property
    def leaves(self) -> dict[str, dict[str, Any]]:
        """Per leaf key: indicator, raw value, normalised score, and any extras (built when asked for).

        A national run has 100,000 leaves: they are kept as the compact lists above and only
        become dictionaries for an answer or a comparison.
        """
        out = {
            key: {"indicator": code, "raw": r, "normalised": v}
            for key, code, r, v in zip(self.leaf_keys, self.indicators, self.raw, self.normalised, strict=True)
        }
        for key, extra in self.extras.items():
            out[key].update(extra)
        return out


@dataclass
class Computation:
    """The result of applying a methodology to the zones ranked (and any reference subjects)."""

    ranked: list[SubjectScore]
    excluded: list[SubjectScore]
    reference: list[SubjectScore]
    fitted: dict[str, Fitted]


def _float_or_nan(value: Any) -> float:
    if value is None:
        return math.nan
    if type(value) is float:
        return value
    number = finite_number(value)
    return math.nan if number is None else number


def _raw_matrix(subjects: Sequence[Subject], codes: Sequence[str]) -> tuple[FloatArray, list[list[float | None]]]:
    """The subjects' values of ``codes`` as floats (NaN where a value is absent or not a number),
    and the same as lists (None there)."""
    rows = [[*map(s.values.get, codes)] for s in subjects]
    kinds = set(map(type, chain.from_iterable(rows)))
    if kinds <= {float, type(None)}:  # the usual case: numpy reads None as NaN
        matrix = np.array(rows, dtype=np.float64).reshape(len(subjects), len(codes))
        if int(np.isnan(matrix).sum()) == sum(row.count(None) for row in rows):
            return matrix, rows  # no NaN given as a float: the lists already say None
    else:
        matrix = np.array([[_float_or_nan(v) for v in row] for row in rows], dtype=np.float64).reshape(
            len(subjects), len(codes)
        )
    return matrix, _rows_without_nan(matrix)


def _rows_without_nan(matrix: FloatArray) -> list[list[float | None]]:
    """``matrix`` as lists, NaN as None."""
    rows: list[list[float | None]] = matrix.tolist()
    nan = np.isnan(matrix)
    for i in np.nonzero(nan.any(axis=1))[0].tolist():
        rows[i] = [None if v != v else v for v in rows[i]]
    return rows


def compute(method: Methodology, subjects: Sequence[Subject], *, reference: Sequence[Subject] = ()) -> Computation:
    """Score every subject with ``method``.

    ``subjects`` are the zones to rank: they provide every observed statistic. ``reference``
    subjects (e.g. counties without a zone) are scored with the zones' statistics and never
    change them.
    """
    leaves = method.leaves
    everyone = [*subjects, *reference]
    n_rank, n_all = len(subjects), len(everyone)
    codes = [leaf.indicator for leaf in leaves]
    raw, raw_rows = _raw_matrix(everyone, codes)
    transformed = np.column_stack([transform(leaf.transform, raw[:, j]) for j, leaf in enumerate(leaves)]).reshape(
        n_all, len(leaves)
    )
    excluded_reason = _exclusions(leaves, transformed)
    ranked_mask = np.array([excluded_reason[i] is None for i in range(n_rank)] + [False] * (n_all - n_rank), dtype=bool)
    scored = _score_leaves(leaves, transformed, ranked_mask)
    group_values, root_value = _aggregate_tree(method, leaves, scored.scores)
    ranked: list[SubjectScore] = []
    excluded: list[SubjectScore] = []
    refs: list[SubjectScore] = []
    rows = _rows(method, leaves, transformed, scored, group_values, root_value)
    for i, result in enumerate(_subject_scores(leaves, everyone, raw_rows, rows, excluded_reason)):
        if i >= n_rank:
            refs.append(result)
        elif result.excluded:
            excluded.append(result)
        else:
            ranked.append(result)
    return Computation(ranked=ranked, excluded=excluded, reference=refs, fitted=scored.fitted)


def _exclusions(leaves: Sequence[Leaf], transformed: FloatArray) -> list[str | None]:
    """Per subject, why it is not ranked: a value missing (or outside its transform's domain) under ``exclude_zone``."""
    excluded_reason: list[str | None] = [None] * transformed.shape[0]
    strict = [j for j, leaf in enumerate(leaves) if leaf.missing == "exclude_zone"]
    if strict:
        for i in np.nonzero(np.isnan(transformed[:, strict]).any(axis=1))[0].tolist():
            gaps = [leaves[j].indicator for j in strict if math.isnan(transformed[i, j])]
            excluded_reason[i] = (
                "not ranked: no usable value for "
                + ", ".join(dict.fromkeys(gaps))
                + (" (the method excludes a zone missing it)")
            )
    return excluded_reason


@dataclass(frozen=True, slots=True)
class _LeafScores:
    """Every subject's leaf values as normalised (after winsorising), their scores, and the imputed ones."""

    used: FloatArray
    scores: FloatArray
    imputed: npt.NDArray[np.int8]
    """0 where the leaf has its own score, else how it was imputed (``_IMPUTED_ZERO``, ``_IMPUTED_MEAN``)."""
    fitted: dict[str, Fitted]


def _score_leaves(leaves: Sequence[Leaf], transformed: FloatArray, ranked_mask: npt.NDArray[np.bool_]) -> _LeafScores:
    """Winsorise, fit on the zones ranked, normalise, and fill missing scores, leaf by leaf."""
    n_all = transformed.shape[0]
    used = transformed.copy()
    fitted: dict[str, Fitted] = {}
    scores = np.full((n_all, len(leaves)), np.nan)
    imputed = np.zeros((n_all, len(leaves)), dtype=np.int8)
    for j, leaf in enumerate(leaves):
        if leaf.winsorise is not None:
            used[:, j] = winsorise(
                transformed[:, j], leaf.winsorise.lower, leaf.winsorise.upper, population=transformed[ranked_mask, j]
            )
        f = fit(leaf.normalisation, leaf.transform, leaf.direction, used[ranked_mask, j])
        fitted[leaf.key] = f
        s = normalise(f, used[:, j])
        absent = np.isnan(s)
        if absent.any():
            if leaf.missing == "mean":
                pool = s[ranked_mask & ~absent]
                fill = float(pool.mean()) if pool.size else 0.0
                imputed[absent, j] = _IMPUTED_MEAN
            else:
                fill = 0.0
                imputed[absent, j] = _IMPUTED_ZERO
            s = np.where(absent, fill, s)
        scores[:, j] = s
    return _LeafScores(used, scores, imputed, fitted)


def _aggregate_tree(
    method: Methodology, leaves: Sequence[Leaf], scores: FloatArray
) -> tuple[dict[str, FloatArray], FloatArray]:
    """Every group's value per subject, and the final score (the root's value × scale)."""
    n_all = scores.shape[0]
    group_values: dict[str, FloatArray] = {}
    leaf_index = {leaf.key: j for j, leaf in enumerate(leaves)}

    def value(node: Node) -> FloatArray:
        if isinstance(node, Leaf):
            return scores[:, leaf_index[node.key]]
        columns = np.column_stack([value(child) for child in node.children]).reshape(n_all, len(node.children))
        out = aggregate(node.aggregation, node.normalised_weights(), columns)
        group_values[node.key] = out
        return out

    root_value = value(method.root) * method.scale
    return group_values, root_value


class _Rows(NamedTuple):
    """The matrices of a computation as plain Python lists, what the per-subject loop reads.

    Indexing numpy scalars one by one is what a 100,000-leaf run would spend its time on.
    """

    scores: list[list[float | None]]
    shaped: list[int]
    """Leaves with a transform (their transformed values are reported)."""
    transformed: list[list[float]]
    clipped: list[int]
    """Leaves that are winsorised."""
    used: list[list[float]]
    clipped_from: list[list[float]]
    flagged: dict[int, list[tuple[int, int]]]
    """Per subject, its imputed leaves and how."""
    missing_at: dict[int, list[str]]
    groups: dict[str, list[float]]
    totals: list[float]


def _rows(
    method: Methodology,
    leaves: Sequence[Leaf],
    transformed: FloatArray,
    scored: _LeafScores,
    group_values: Mapping[str, FloatArray],
    root_value: FloatArray,
) -> _Rows:
    shaped = [j for j, leaf in enumerate(leaves) if leaf.transform != "none"]
    clipped = [j for j, leaf in enumerate(leaves) if leaf.winsorise is not None]
    imputed = scored.imputed
    flagged: dict[int, list[tuple[int, int]]] = {}
    for i, j in zip(*np.nonzero(imputed), strict=True):
        flagged.setdefault(int(i), []).append((int(j), int(imputed[i, j])))
    # A leaf is missing when its value is, or when the value is outside its transform's domain.
    absent = np.isnan(transformed)
    missing_at: dict[int, list[str]] = {}
    for i in np.nonzero(absent.any(axis=1))[0].tolist():
        missing_at[i] = list(dict.fromkeys(leaves[j].indicator for j in np.nonzero(absent[i])[0].tolist()))
    return _Rows(
        scores=_rows_without_nan(scored.scores),
        shaped=shaped,
        transformed=transformed[:, shaped].tolist(),
        clipped=clipped,
        used=scored.used[:, clipped].tolist(),
        clipped_from=transformed[:, clipped].tolist(),
        flagged=flagged,
        missing_at=missing_at,
        groups={g.key: group_values[g.key].tolist() for g in method.groups},
        totals=root_value.tolist(),
    )


def _subject_scores(
    leaves: Sequence[Leaf],
    everyone: Sequence[Subject],
    raw_rows: list[list[float | None]],
    rows: _Rows,
    excluded_reason: list[str | None],
) -> list[SubjectScore]:
    """Each subject's score, sub-scores and leaves, in ``everyone``'s order."""
    codes = [leaf.indicator for leaf in leaves]
    keys = [leaf.key for leaf in leaves]
    shaped, clipped, flagged, missing_at = rows.shaped, rows.clipped, rows.flagged, rows.missing_at
    transformed_rows, used_rows, clipped_from = rows.transformed, rows.used, rows.clipped_from
    score_rows, group_rows, totals = rows.scores, rows.groups, rows.totals
    out: list[SubjectScore] = []
    for i, subject in enumerate(everyone):
        raw_i = raw_rows[i]
        # Each leaf's fields beyond the core ones (indicator, raw, normalised), in leaf order.
        extra: dict[int, dict[str, Any]] = {}
        for j, t in zip(shaped, transformed_rows[i], strict=True):
            if t == t:  # NaN is the only value unequal to itself
                extra[j] = {"transformed": t}
            elif raw_i[j] is None:
                extra[j] = {"transformed": None}
            else:
                note = f"{raw_i[j]:g} is outside the domain of {leaves[j].transform}: counted as missing"
                extra[j] = {"transformed": None, "note": note}
        ordered_from = len(extra)
        for j, u, t in zip(clipped, used_rows[i], clipped_from[i], strict=True):
            if u == u and u != t:
                extra.setdefault(j, {})["winsorised"] = u
        for j, flag in flagged.get(i, ()):
            extra.setdefault(j, {})["imputed"] = "zero" if flag == _IMPUTED_ZERO else "mean"
        reason = excluded_reason[i]
        total = totals[i]
        if reason is None and total != total:
            reason = "not ranked: a geometric group received a negative value"
        out.append(
            SubjectScore(
                id=subject.id,
                name=subject.name,
                score=None if reason else total,
                groups={k: (None if reason or g[i] != g[i] else g[i]) for k, g in group_rows.items()},
                missing=list(missing_at.get(i, ())),
                excluded=reason,
                normalised=score_rows[i],
                # In leaf order: the transformed leaves come first in ``extra``, already in order,
                # so only a row with winsorised or imputed leaves needs sorting.
                extras={keys[j]: extra[j] for j in (sorted(extra) if ordered_from < len(extra) else extra)},
                raw=raw_i,
                leaf_keys=keys,
                indicators=codes,
            )
        )
    return out


# --- ranks ----------------------------------------------------------------------------------------


def rank_key(score: float, decimals: int = RANK_DECIMALS) -> float:
    """The score ranks are decided on: rounded to ``decimals`` (so float noise never splits a tie)."""
    return round(score, decimals)


def competition_ranks(
    scores: Sequence[float | None], *, descending: bool = True, decimals: int = RANK_DECIMALS
) -> list[int | None]:
    """Standard competition ranks (1, 2, 2, 4) on scores rounded to ``decimals``; None stays unranked."""
    keyed = [(rank_key(s, decimals), i) for i, s in enumerate(scores) if s is not None and not math.isnan(s)]
    keyed.sort(key=lambda t: -t[0] if descending else t[0])
    ranks: list[int | None] = [None] * len(scores)
    previous: float | None = None
    current = 0
    for position, (key, i) in enumerate(keyed, start=1):
        if key != previous:
            current = position
            previous = key
        ranks[i] = current
    return ranks
