"""Data-quality rules for the statistics bureau: consistency, growth outliers, first digits.

- Consistency: a part larger than its whole (reused waste above generated waste), a share
  above 100%, the zones' sum above the total of the division they belong to.
- Growth outliers: the modified z-score of Iglewicz and Hoaglin (1993),
  ``0.6745 · (x − median) / MAD``, flagged beyond 3.5; when the MAD is zero the mean absolute
  deviation scaled by 1.253314 stands in for it.
- Benford's law for first digits, ``P(d) = log10(1 + 1/d)``, tested with Pearson's chi-square
  (8 degrees of freedom) and Nigrini's mean absolute deviation, only where a division pushed
  at least 50 values.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from libs.domain.metrics.catalog import PartOfWhole

MODIFIED_Z_THRESHOLD = 3.5
MIN_GROWTH_DEVIATION = 0.05
"""A growth is an outlier only if it is also this far (5 percentage points) from the median."""
RELATIVE_TOLERANCE = 1e-9
MODIFIED_Z_CONSTANT = 0.6745
MEAN_AD_CONSTANT = 1.253314
MIN_VALUES_FOR_OUTLIERS = 5
BENFORD_MIN_VALUES = 50
BENFORD_ALPHA = 0.01
BENFORD_PROBABILITIES: tuple[float, ...] = tuple(math.log10(1 + 1 / d) for d in range(1, 10))
"""P(first digit = d) for d = 1..9."""


def robust_z_scores(values: Mapping[str, float]) -> dict[str, float]:
    """The modified z-score of every value; empty when fewer than 5 values or no spread at all."""
    if len(values) < MIN_VALUES_FOR_OUTLIERS:
        return {}
    xs = list(values.values())
    med = statistics.median(xs)
    noise = RELATIVE_TOLERANCE * max(1.0, abs(med))  # differences of rounding are no spread
    mad = statistics.median(abs(x - med) for x in xs)
    if mad > noise:
        return {k: MODIFIED_Z_CONSTANT * (x - med) / mad for k, x in values.items()}
    mean_ad = statistics.fmean(abs(x - med) for x in xs)
    if mean_ad <= noise:
        return {}
    return {k: (x - med) / (MEAN_AD_CONSTANT * mean_ad) for k, x in values.items()}


@dataclass(frozen=True, slots=True)
class GrowthOutlier:
    """A subject whose growth stands far from the other subjects' growth."""

    key: str
    growth: float
    z: float
    current: float
    previous: float
    median_growth: float


def growth_rates(current: Mapping[str, float], previous: Mapping[str, float]) -> dict[str, float]:
    """``current / previous − 1`` for every key with a positive previous value."""
    return {k: current[k] / previous[k] - 1 for k in current if k in previous and previous[k] > 0}


def growth_outliers(
    current: Mapping[str, float], previous: Mapping[str, float], threshold: float = MODIFIED_Z_THRESHOLD
) -> list[GrowthOutlier]:
    """Keys whose growth has a modified z-score beyond ``threshold`` in absolute value and is at
    least :data:`MIN_GROWTH_DEVIATION` from the median growth."""
    growth = growth_rates(current, previous)
    z = robust_z_scores(growth)
    if not z:
        return []
    med = statistics.median(growth.values())
    return [
        GrowthOutlier(k, growth[k], z[k], current[k], previous[k], med)
        for k in sorted(z)
        if abs(z[k]) > threshold and abs(growth[k] - med) >= MIN_GROWTH_DEVIATION
    ]


def first_digit(value: Decimal | float) -> int | None:
    """The first significant digit of ``value`` (sign ignored); ``None`` for zero."""
    d = abs(Decimal(str(value)) if isinstance(value, float) else value)
    if d == 0 or not d.is_finite():
        return None
    digits = d.as_tuple().digits
    for digit in digits:
        if digit:
            return int(digit)
    return None


@dataclass(frozen=True, slots=True)
class BenfordOutcome:
    """Counts of first digits 1..9 against Benford's law."""

    n: int
    observed: tuple[int, ...]
    chi2: float
    p_value: float
    mad: float
    conforms: bool


def benford_test(values: Iterable[Decimal | float], alpha: float = BENFORD_ALPHA) -> BenfordOutcome | None:
    """Chi-square test of the first digits of ``values``; ``None`` under 50 non-zero values."""
    counts = [0] * 9
    for v in values:
        d = first_digit(v)
        if d is not None:
            counts[d - 1] += 1
    n = sum(counts)
    if n < BENFORD_MIN_VALUES:
        return None
    from scipy.stats import chisquare  # imported here: scipy.stats is heavy and rarely needed

    expected = [p * n for p in BENFORD_PROBABILITIES]
    result = chisquare(counts, expected)
    chi2 = float(result.statistic)
    p_value = float(result.pvalue)
    mad = sum(abs(c / n - p) for c, p in zip(counts, BENFORD_PROBABILITIES, strict=True)) / 9
    return BenfordOutcome(n, tuple(counts), chi2, p_value, mad, p_value >= alpha)


@dataclass(frozen=True, slots=True)
class PartExceedsWhole:
    """A subject whose part is larger than its whole."""

    key: str
    rule: PartOfWhole
    part: Decimal
    whole: Decimal


def parts_exceeding_wholes(
    values: Mapping[str, Mapping[str, Decimal]], rules: Iterable[PartOfWhole]
) -> list[PartExceedsWhole]:
    """For each subject (``values[key][indicator]``), the rules its values break."""
    out: list[PartExceedsWhole] = []
    rules = list(rules)
    for key in sorted(values):
        row = values[key]
        for rule in rules:
            part, whole = row.get(rule.part), row.get(rule.whole)
            if part is not None and whole is not None and part > whole:
                out.append(PartExceedsWhole(key, rule, part, whole))
    return out


def sum_exceeds_total(parts: Iterable[Decimal], total: Decimal) -> Decimal | None:
    """The sum of ``parts`` when it exceeds ``total``, else ``None``."""
    s = sum(parts, Decimal(0))
    return s if s > total else None
