"""The math on one leaf of a methodology, in the order it is applied.

1. ``transform`` (``none``, ``ln``, ``log10``, ``sqrt``) of the value — and of the goalposts or
   target alike. A value outside the transform's domain (ln of 0) counts as missing.
2. ``winsorise`` (optional): values are clipped to the ``lower``/``upper`` quantiles (linear
   interpolation) of the zones ranked.
3. ``normalisation`` to a score s (see :func:`normalise`); statistics (minimum, maximum, mean,
   standard deviation, percentiles, leader) are those of the zones ranked, never of the subjects
   scored by reference (counties without a zone are scored against the zones' ruler).
4. ``direction``: ``lower_is_better`` turns s into 1 − s (for ``target``: target ÷ value).

Then groups :func:`aggregate` their children's scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from libs.domain.assessment.methodology import Normalisation

FloatArray = npt.NDArray[np.float64]

NEUTRAL = 0.5
"""The score every subject gets when a relative normalisation cannot tell them apart."""


def transform_scalar(transform: str, value: float) -> float | None:
    """``transform`` of one number, or None outside the transform's domain."""
    if transform == "none":
        return value
    if transform == "sqrt":
        return math.sqrt(value) if value >= 0 else None
    if value <= 0:
        return None
    return math.log(value) if transform == "ln" else math.log10(value)


def transform(name: str, values: FloatArray) -> FloatArray:
    """Apply a transform element-wise; values outside its domain become NaN."""
    if name == "none":
        return values.astype(np.float64, copy=True)
    out = np.full(values.shape, np.nan)
    if name == "sqrt":
        ok = values >= 0
        out[ok] = np.sqrt(values[ok])
        return out
    ok = values > 0
    out[ok] = np.log(values[ok]) if name == "ln" else np.log10(values[ok])
    return out


def winsorise(values: FloatArray, lower: float, upper: float, *, population: FloatArray | None = None) -> FloatArray:
    """Clip ``values`` to the ``lower``/``upper`` quantiles (linear interpolation) of ``population``.

    ``population`` defaults to ``values``; NaNs are ignored and kept.
    """
    pop = values if population is None else population
    present = pop[~np.isnan(pop)]
    if present.size == 0:
        return values.copy()
    lo, hi = np.quantile(present, [lower, upper])
    return np.where(np.isnan(values), np.nan, np.clip(values, lo, hi))


@dataclass(frozen=True)
class Fitted:
    """Statistics of a leaf's values over the zones ranked, enough to score any subject alike."""

    method: str
    transform: str
    direction: str
    low: float = math.nan  # goalpost min / observed min (transformed)
    high: float = math.nan  # goalpost max / observed max / leader (transformed)
    mean: float = math.nan
    sd: float = math.nan
    target: float = math.nan
    ranks_x: tuple[float, ...] = ()
    ranks_y: tuple[float, ...] = ()
    count: int = 0


def fit(normalisation: Normalisation, transform_name: str, direction: str, population: FloatArray) -> Fitted:
    """The statistics ``normalisation`` needs, from the (transformed, winsorised) population values."""
    present = population[~np.isnan(population)]
    method = normalisation.method
    base = Fitted(method=method, transform=transform_name, direction=direction, count=int(present.size))
    if method == "goalposts":
        assert normalisation.min is not None and normalisation.max is not None
        low = transform_scalar(transform_name, normalisation.min)
        high = transform_scalar(transform_name, normalisation.max)
        assert low is not None and high is not None
        return replace(base, low=low, high=high)
    if method == "target":
        assert normalisation.target is not None
        target = transform_scalar(transform_name, normalisation.target)
        assert target is not None
        return replace(base, target=target)
    if present.size == 0:
        return base
    if method == "min_max":
        return replace(base, low=float(present.min()), high=float(present.max()))
    if method == "z_score":
        return replace(base, mean=float(present.mean()), sd=float(present.std()))
    if method == "distance_to_leader":
        return replace(base, high=float(present.max()))
    # rank: the percentile rank of each distinct value, mid-rank for ties: (average rank − 1) / (n − 1)
    xs, counts = np.unique(present, return_counts=True)
    below = np.concatenate(([0], np.cumsum(counts)[:-1]))
    avg_rank = below + (counts + 1) / 2.0
    n = present.size
    ys = (avg_rank - 1) / (n - 1) if n > 1 else np.full(xs.shape, NEUTRAL)
    return replace(base, ranks_x=tuple(float(x) for x in xs), ranks_y=tuple(float(y) for y in ys))


def normalise(fitted: Fitted, values: FloatArray) -> FloatArray:
    """Leaf scores after direction; NaN where the value is missing.

    - goalposts: (x − min) ÷ (max − min), clipped to [0, 1];
    - min_max: the same with the observed minimum and maximum (all equal: 0.5);
    - z_score: Φ((x − mean) ÷ sd), the standard normal CDF, population sd (sd 0: 0.5);
    - target: x ÷ target, capped at 1 (lower is better: target ÷ x, capped at 1; x ≤ 0 meets it);
    - rank: percentile rank among the zones ranked, ties at their mid-rank, 0 (lowest) to 1 (highest);
    - distance_to_leader: x ÷ the best observed value, capped at 1 (leader ≤ 0: 0.5).

    ``target`` and ``distance_to_leader`` are not floored at 0: a negative value scores negatively
    (validation keeps such leaves out of geometric groups). Then ``lower_is_better`` turns s into
    1 − s, except for ``target``.
    """
    x = values
    lower = fitted.direction == "lower_is_better"
    method = fitted.method
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "target":
            if lower:
                s = np.where(x > 0, np.minimum(fitted.target / x, 1.0), 1.0)
            else:
                s = np.minimum(x / fitted.target, 1.0)
            return np.where(np.isnan(x), np.nan, s)
        if method in ("goalposts", "min_max"):
            span = fitted.high - fitted.low
            if fitted.count == 0 and method == "min_max":
                s = np.full(x.shape, NEUTRAL)
            elif span > 0:
                s = np.clip((x - fitted.low) / span, 0.0, 1.0)
            else:
                s = np.full(x.shape, NEUTRAL)
        elif method == "z_score":
            if fitted.count == 0 or not fitted.sd > 0:
                s = np.full(x.shape, NEUTRAL)
            else:
                s = ndtr((x - fitted.mean) / fitted.sd)
        elif method == "distance_to_leader":
            if fitted.count == 0 or not fitted.high > 0:
                s = np.full(x.shape, NEUTRAL)
            else:
                s = np.minimum(x / fitted.high, 1.0)
        else:  # rank
            if fitted.count == 0:
                s = np.full(x.shape, NEUTRAL)
            else:
                s = np.interp(x, np.array(fitted.ranks_x), np.array(fitted.ranks_y), left=0.0, right=1.0)
        s = np.asarray(s, dtype=np.float64)
        if lower:
            s = 1.0 - s
            s = np.minimum(s, 1.0)
    return np.where(np.isnan(x), np.nan, s)


def aggregate(aggregation: str, weights: Sequence[float], scores: FloatArray) -> FloatArray:
    """Aggregate child scores (one column per child) with weights that sum to 1.

    ``arithmetic``: Σ wᵢsᵢ; ``geometric``: Π sᵢ^wᵢ (0 if any sᵢ is 0, NaN if any is negative).
    """
    w = np.asarray(weights, dtype=np.float64)
    if aggregation == "arithmetic":
        return scores @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(scores > 0, scores, 1.0))
        out = np.exp(logs @ w)
    out = np.where((scores == 0).any(axis=1), 0.0, out)
    return cast(FloatArray, np.where((scores < 0).any(axis=1) | np.isnan(scores).any(axis=1), np.nan, out))
