"""Small statistics of the single window's figures (medians and percentiles of working days)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[int], q: float) -> float | None:
    """The ``q``-quantile (0-1) by the nearest-rank method; ``None`` for no values.

    Nearest rank (the smallest value with at least ``q`` of the values at or below it) keeps the
    answer one of the observed working-day counts, which is what a bureau can check by hand.
    """
    if not values:
        return None
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    data = sorted(values)
    rank = math.ceil(q * len(data))
    return float(data[max(rank, 1) - 1])


def median(values: Sequence[int]) -> float | None:
    """The median (mean of the two middle values for an even count); ``None`` for no values."""
    if not values:
        return None
    data = sorted(values)
    mid = len(data) // 2
    if len(data) % 2:
        return float(data[mid])
    return (data[mid - 1] + data[mid]) / 2


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places; ``None`` when ``whole`` is 0."""
    if whole == 0:
        return None
    return round(part / whole, 4)
