"""The compact stored form of a run's results (libs/domain/assessment/run.py).

A stored result keeps every leaf's normalised score as one list in the method's leaf order and
only the leaves' extra fields (transformed value, imputation, ...); the raw values are the run's
stored inputs. The expected numbers are worked by hand below.
"""

from __future__ import annotations

from typing import Any

from libs.domain.assessment.run import build_inputs, evaluate_run, stored_detail
from libs.domain.assessment.scoring import Subject

METHOD: dict[str, Any] = {
    "code": "stored-form",
    "version": 1,
    "title": "two leaves",
    "applies_to": ["economic"],
    "period_type": "year",
    "scale": 100,
    "root": {
        "aggregation": "arithmetic",
        "children": [
            {
                "indicator": "a",
                "weight": 1,
                "direction": "higher_is_better",
                "transform": "log10",
                "normalisation": {"method": "goalposts", "min": 1, "max": 100},
            },
            {
                "indicator": "b",
                "weight": 1,
                "direction": "higher_is_better",
                "transform": "none",
                "normalisation": {"method": "goalposts", "min": 0, "max": 10},
            },
        ],
    },
}


def evaluated(*zones: Subject) -> dict[str, Any]:
    inputs = build_inputs(
        methodology=METHOD,
        methodology_sha256="0" * 64,
        kind="economic",
        period="2025",
        subjects="zones",
        registry_as_of="2025-12-31",
        zones=zones,
    )
    return {r.zone: r for r in evaluate_run(inputs).results}


class TestAStoredResultKeepsScoresInLeafOrderAndOnlyTheExtras:
    def test_a_transformed_leaf_keeps_its_transformed_value(self) -> None:
        # log10(10) = 1 on goalposts log10(1) = 0 .. log10(100) = 2: 0.5; b = 5 on 0..10: 0.5.
        row = evaluated(Subject("Z1", "甲", {"a": 10.0, "b": 5.0}))["Z1"]
        stored = row.stored()
        assert stored["scores"] == [0.5, 0.5]
        assert stored["extras"] == {"a": {"transformed": 1.0}}
        assert "leaves" not in stored

    def test_a_missing_value_is_stored_as_imputed_zero(self) -> None:
        # a missing: no transformed value, scored 0 (the default `missing: zero`); b = 10: 1.0.
        rows = evaluated(Subject("Z1", "甲", {"a": 10.0, "b": 5.0}), Subject("Z2", "乙", {"a": None, "b": 10.0}))
        stored = rows["Z2"].stored()
        assert stored["scores"] == [0.0, 1.0]
        assert stored["extras"] == {"a": {"transformed": None, "imputed": "zero"}}
        assert stored["missing"] == ["a"]

    def test_it_is_the_stored_form_of_the_full_detail(self) -> None:
        rows = evaluated(Subject("Z1", "甲", {"a": 10.0, "b": 5.0}), Subject("Z2", "乙", {"a": None, "b": 10.0}))
        for row in rows.values():
            assert row.stored() == stored_detail(row.detail())
