"""Rank robustness under varied method choices (libs/domain/assessment/sensitivity.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from libs.domain.assessment.scoring import Subject, competition_ranks, compute
from libs.domain.assessment.sensitivity import MAX_SAMPLES, MIN_SAMPLES, analyse, fast_ranks
from libs.domain.assessment.validation import parse_methodology

METHOD: dict[str, Any] = {
    "code": "s",
    "version": 1,
    "title": "sensitivity",
    "applies_to": ["economic"],
    "period_type": "year",
    "scale": 100,
    "root": {
        "aggregation": "arithmetic",
        "children": [
            {"indicator": "a", "weight": 2, "normalisation": {"method": "goalposts", "min": 0, "max": 100}},
            {"indicator": "b", "weight": 1, "normalisation": {"method": "goalposts", "min": 0, "max": 100}},
        ],
    },
}


def run(subjects: list[Subject], **kw: Any) -> Any:
    method = parse_methodology(METHOD)
    result = compute(method, subjects)
    ranks = competition_ranks([s.score for s in result.ranked])
    return analyse(method, [s for s in subjects if s.id in {r.id for r in result.ranked}], ranks, **kw)  # type: ignore[arg-type]


class TestRankIntervals:
    def test_a_zone_best_on_every_indicator_stays_first_under_every_variation(self) -> None:
        subjects = [
            Subject("top", "top", {"a": 90, "b": 90}),
            Subject("mid", "mid", {"a": 50, "b": 50}),
            Subject("low", "low", {"a": 10, "b": 10}),
        ]
        result = run(subjects, samples=100, seed=7)
        first = result.zones[0]
        assert (first.zone, first.rank, first.median_rank, first.p5_rank, first.p95_rank) == ("top", 1, 1, 1, 1)
        assert (result.zones[-1].best_rank, result.zones[-1].worst_rank) == (3, 3)

    def test_zones_that_trade_places_under_other_weights_get_a_wide_interval(self) -> None:
        # x wins with the published weights (2:1): 2×60 + 40 = 160 > 2×40 + 70 = 150, but the
        # weights drawn from [0.5, 1.5] × (2, 1) sometimes favour b enough for y to win.
        subjects = [Subject("x", "x", {"a": 60, "b": 40}), Subject("y", "y", {"a": 40, "b": 70})]
        result = run(subjects, samples=400, seed=1)
        x = next(z for z in result.zones if z.zone == "x")
        assert x.rank == 1 and x.best_rank == 1 and x.worst_rank == 2

    def test_the_same_seed_gives_the_same_answer(self) -> None:
        subjects = [Subject(f"z{i}", f"z{i}", {"a": float(i * 7 % 10), "b": float(i * 3 % 10)}) for i in range(8)]
        assert run(subjects, samples=50, seed=3) == run(subjects, samples=50, seed=3)

    def test_the_number_of_samples_is_bounded(self) -> None:
        subjects = [Subject("a", "a", {"a": 1, "b": 1})]
        assert run(subjects, samples=1).samples == MIN_SAMPLES
        assert run(subjects, samples=10**9).samples == MAX_SAMPLES


class TestFastRanks:
    def test_competition_ranks_with_ties_and_missing_last(self) -> None:
        assert list(fast_ranks(np.array([90.0, 80.0, 80.0, np.nan, 70.0]))) == [1, 2, 2, 5, 4]
