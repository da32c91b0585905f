"""How robust each rank is when the method's choices vary (Monte Carlo uncertainty analysis).

Each sample re-scores the zones ranked by a run with three choices drawn at random (a seeded
generator, so the same run, samples and seed always give the same answer):

- **weights**: every weight is multiplied by an independent factor drawn uniformly from
  [0.5, 1.5] (then renormalised within its group);
- **normalisation**: one scheme for every leaf, equally likely: the published ones, or all
  ``min_max``, all ``z_score``, all ``rank`` (transforms, winsorising, direction and missing
  values are kept);
- **aggregation**: equally likely the published one per group, every group arithmetic, or every
  group geometric (negative leaf scores floored at 0 there).

Each zone gets its published rank, its median rank over the samples and the 5–95% interval
(linear-interpolated percentiles), so a reader can see which ranks the method's choices could
overturn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from libs.domain.assessment.methodology import Group, Leaf, Methodology, Node, Normalisation
from libs.domain.assessment.scoring import RANK_DECIMALS, Subject
from libs.domain.assessment.transforms import FloatArray, aggregate, fit, normalise, transform, winsorise

MIN_SAMPLES = 10
MAX_SAMPLES = 1000
DEFAULT_SAMPLES = 200
WEIGHT_SPREAD = 0.5
SCHEMES = ("published", "min_max", "z_score", "rank")
AGGREGATION_MODES = ("published", "arithmetic", "geometric")


@dataclass(frozen=True, slots=True)
class RankInterval:
    """One zone's rank under the published method and across the samples."""

    zone: str
    name: str
    rank: int
    median_rank: float
    p5_rank: float
    p95_rank: float
    best_rank: int
    worst_rank: int


@dataclass(frozen=True)
class Sensitivity:
    """The analysis of one run."""

    samples: int
    seed: int
    zones: list[RankInterval]


def _leaf_scores(leaf: Leaf, method: str, raw: FloatArray) -> FloatArray:
    """The leaf's scores for every zone under normalisation ``method`` (missing values imputed)."""
    values = transform(leaf.transform, raw)
    if leaf.winsorise is not None:
        values = winsorise(values, leaf.winsorise.lower, leaf.winsorise.upper)
    norm = leaf.normalisation if method == "published" else Normalisation(method)
    s = normalise(fit(norm, leaf.transform, leaf.direction, values), values)
    absent = np.isnan(s)
    if absent.any():
        present = s[~absent]
        fill = float(present.mean()) if leaf.missing == "mean" and present.size else 0.0
        s = np.where(absent, fill, s)
    return s


def fast_ranks(scores: FloatArray) -> FloatArray:
    """Competition ranks (1 = best) of ``scores`` rounded like published ranks; NaN ranks last."""
    # numpy's rounding (not Python's) keeps this vectorised; a sample rank, unlike a published
    # one, can afford the rare half-way case rounding the other way.
    keyed = np.where(np.isnan(scores), -np.inf, np.round(scores, RANK_DECIMALS))
    ordered = np.sort(-keyed)
    return (np.searchsorted(ordered, -keyed, side="left") + 1).astype(np.float64)


def analyse(
    method: Methodology,
    subjects: Sequence[Subject],
    published_ranks: Sequence[int],
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> Sensitivity:
    """Rank intervals of ``subjects`` (the zones a run ranked) over ``samples`` random variations."""
    samples = max(MIN_SAMPLES, min(MAX_SAMPLES, samples))
    leaves = method.leaves
    n = len(subjects)
    if n == 0:
        return Sensitivity(samples, seed, [])
    raw = np.array(
        [[float("nan") if s.values.get(leaf.indicator) is None else s.values[leaf.indicator] for leaf in leaves]
         for s in subjects],
        dtype=np.float64,
    ).reshape(n, len(leaves))  # fmt: skip
    per_scheme = {
        scheme: np.column_stack([_leaf_scores(leaf, scheme, raw[:, j]) for j, leaf in enumerate(leaves)])
        for scheme in SCHEMES
    }
    index = {leaf.key: j for j, leaf in enumerate(leaves)}
    rng = np.random.default_rng(seed)
    ranks = np.empty((samples, n))

    def evaluate(node: Node, columns: FloatArray, mode: str, floor: bool) -> FloatArray:
        if isinstance(node, Leaf):
            col = columns[:, index[node.key]]
            return np.maximum(col, 0.0) if floor else col
        assert isinstance(node, Group)
        children = np.column_stack([evaluate(c, columns, mode, floor) for c in node.children])
        factors = rng.uniform(1 - WEIGHT_SPREAD, 1 + WEIGHT_SPREAD, size=len(node.children))
        weights = np.array([c.weight for c in node.children]) * factors
        weights = weights / weights.sum()
        aggregation = node.aggregation if mode == "published" else mode
        return aggregate(aggregation, list(weights), children)

    for k in range(samples):
        scheme = SCHEMES[int(rng.integers(len(SCHEMES)))]
        mode = AGGREGATION_MODES[int(rng.integers(len(AGGREGATION_MODES)))]
        scores = evaluate(method.root, per_scheme[scheme], mode, floor=mode == "geometric") * method.scale
        ranks[k] = fast_ranks(scores)
    median = np.median(ranks, axis=0)
    p5, p95 = np.percentile(ranks, [5, 95], axis=0)
    best, worst = ranks.min(axis=0), ranks.max(axis=0)
    zones = [
        RankInterval(
            zone=s.id,
            name=s.name,
            rank=int(published_ranks[i]),
            median_rank=float(median[i]),
            p5_rank=float(p5[i]),
            p95_rank=float(p95[i]),
            best_rank=int(best[i]),
            worst_rank=int(worst[i]),
        )
        for i, s in enumerate(subjects)
    ]
    zones.sort(key=lambda z: (z.rank, z.zone))
    return Sensitivity(samples, seed, zones)
