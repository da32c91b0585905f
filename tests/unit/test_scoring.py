"""The scoring math and the methodology's validation (libs/domain/assessment: methodology, validation, transforms,
scoring).

Expected numbers are worked by hand from the definitions in the modules' docstrings (and the
issue): three zones with values 10, 20 and 40 unless said otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from libs.domain.assessment.methodology import IndicatorInfo, canonical_document
from libs.domain.assessment.scoring import Subject, competition_ranks, compute
from libs.domain.assessment.transforms import aggregate, transform, winsorise
from libs.domain.assessment.validation import parse_methodology, validate_methodology
from libs.domain.kernel.errors import Unprocessable

CATALOG = {
    "gdp": IndicatorInfo("gdp", minimum=0.0, unit="万元"),
    "rd_intensity": IndicatorInfo("rd_intensity", minimum=0.0, maximum=100.0, unit="%"),
    "growth": IndicatorInfo("growth", minimum=None, unit="%"),
    "energy_intensity": IndicatorInfo("energy_intensity", minimum=0.0, direction="lower_is_better"),
    "tax_per_mu": IndicatorInfo("tax_per_mu", minimum=0.0, period_types=("year",)),
}


def leaf(indicator: str = "gdp", **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"indicator": indicator, "normalisation": {"method": "min_max"}}
    node.update(extra)
    return node


def method(
    *children: dict[str, Any], aggregation: str = "arithmetic", scale: float = 1, **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "code": "test",
        "version": 1,
        "title": "test method",
        "applies_to": ["economic"],
        "period_type": "year",
        "scale": scale,
        "root": {"aggregation": aggregation, "children": list(children)},
    }
    doc.update(extra)
    return doc


def zones(*values: float | None, code: str = "gdp") -> list[Subject]:
    return [Subject(f"z{i}", f"zone {i}", {code: v}) for i, v in enumerate(values)]


def scores_of(doc: dict[str, Any], subjects: list[Subject]) -> dict[str, float | None]:
    result = compute(parse_methodology(doc), subjects)
    return {s.id: s.score for s in [*result.ranked, *result.excluded]}


class TestValidationListsEveryFaultWithItsJsonPath:
    def test_a_document_with_five_different_faults_reports_all_five(self) -> None:
        doc = method(
            leaf("no_such_indicator"),
            {"code": "empty", "aggregation": "arithmetic", "children": []},
            leaf(weight=0),
            leaf(normalisation={"method": "goalposts", "min": 5, "max": 5}),
            {"aggregation": "geometric", "children": [leaf("growth", normalisation={"method": "target", "target": 3})]},
        )
        method_, faults = validate_methodology(doc, catalog=CATALOG, loc=["body"])
        assert method_ is None
        located = {(tuple(f["loc"]), f["type"]) for f in faults}
        assert located == {
            (("body", "root", "children", 0, "indicator"), "unknown"),
            (("body", "root", "children", 1, "children"), "empty_group"),
            (("body", "root", "children", 2, "weight"), "weight"),
            (("body", "root", "children", 3, "normalisation"), "goalposts"),
            (("body", "root", "children", 4, "children", 0), "geometric_negative"),
        }

    def test_parse_raises_a_422_carrying_the_faults(self) -> None:
        with pytest.raises(Unprocessable) as caught:
            parse_methodology(method(leaf(weight=-1)), catalog=CATALOG)
        assert caught.value.status == 422
        assert caught.value.errors[0]["loc"] == ["root", "children", 0, "weight"]

    def test_goalposts_with_min_above_max_are_refused(self) -> None:
        _, faults = validate_methodology(method(leaf(normalisation={"method": "goalposts", "min": 9, "max": 1})))
        assert [f["type"] for f in faults] == ["goalposts"]

    def test_a_log_transform_needs_positive_goalposts(self) -> None:
        doc = method(leaf(transform="ln", normalisation={"method": "goalposts", "min": 0, "max": 10}))
        _, faults = validate_methodology(doc)
        assert faults[0]["loc"] == ["root", "children", 0, "normalisation", "min"]

    def test_a_node_cannot_be_both_group_and_leaf_nor_neither(self) -> None:
        doc = method({"indicator": "gdp", "children": [leaf()]}, {"title": "nothing"})
        _, faults = validate_methodology(doc)
        assert [f["loc"] for f in faults] == [["root", "children", 0], ["root", "children", 1]]

    def test_leaf_and_group_fields_stay_where_they_belong(self) -> None:
        doc = method(leaf(aggregation="geometric"), {"children": [leaf()], "direction": "lower_is_better"})
        _, faults = validate_methodology(doc)
        assert {tuple(f["loc"]) for f in faults} == {
            ("root", "children", 0, "aggregation"),
            ("root", "children", 1, "direction"),
        }

    def test_bad_choices_are_named(self) -> None:
        doc = method(
            leaf(direction="sideways", transform="cube", missing="guess", normalisation={"method": "magic"}),
            aggregation="harmonic",
        )
        _, faults = validate_methodology(doc)
        assert {f["loc"][-1] for f in faults} >= {"aggregation", "direction", "transform", "missing", "method"}

    def test_winsorise_needs_lower_below_upper(self) -> None:
        _, faults = validate_methodology(method(leaf(winsorise={"lower": 0.9, "upper": 0.1})))
        assert faults[0]["loc"] == ["root", "children", 0, "winsorise"]

    def test_an_indicator_not_reported_for_the_period_type_is_refused(self) -> None:
        _, faults = validate_methodology(method(leaf("tax_per_mu"), period_type="half"), catalog=CATALOG)
        assert faults[0]["type"] == "period_type"

    def test_a_geometric_group_of_target_normalised_non_negative_indicators_is_accepted(self) -> None:
        doc = method(
            leaf("gdp", normalisation={"method": "target", "target": 10}),
            leaf("rd_intensity", normalisation={"method": "distance_to_leader"}),
            aggregation="geometric",
        )
        method_, faults = validate_methodology(doc, catalog=CATALOG)
        assert faults == [] and method_ is not None

    def test_a_log_of_an_indicator_that_can_be_below_one_can_make_a_geometric_group_negative(self) -> None:
        doc = method(
            leaf("gdp", transform="ln", normalisation={"method": "target", "target": 100}), aggregation="geometric"
        )
        _, faults = validate_methodology(doc, catalog=CATALOG)
        assert [f["type"] for f in faults] == ["geometric_negative"]

    def test_the_document_header_is_checked(self) -> None:
        doc = method(leaf(), applies_to=["other"], period_type="decade", scale=0, title="")
        _, faults = validate_methodology(doc)
        assert {f["loc"][0] for f in faults} == {"applies_to", "period_type", "scale", "title"}

    def test_unknown_fields_are_refused_rather_than_ignored(self) -> None:
        _, faults = validate_methodology(method(leaf(wieght=2)))
        assert faults[0]["loc"] == ["root", "children", 0, "wieght"]


class TestTheStoredDocumentMakesEveryDefaultExplicit:
    def test_defaults_are_written_out(self) -> None:
        canonical = canonical_document(parse_methodology(method(leaf("energy_intensity")), catalog=CATALOG))
        child = canonical["root"]["children"][0]
        assert child == {
            "indicator": "energy_intensity",
            "weight": 1.0,
            "direction": "lower_is_better",  # taken from the catalog when the leaf omits it
            "transform": "none",
            "normalisation": {"method": "min_max"},
            "missing": "zero",
        }
        assert canonical["root"]["aggregation"] == "arithmetic"

    def test_the_canonical_document_parses_to_the_same_method(self) -> None:
        first = parse_methodology(method(leaf(), leaf("rd_intensity", weight=3)), catalog=CATALOG)
        again = parse_methodology(canonical_document(first))
        assert canonical_document(again) == canonical_document(first)


class TestTransforms:
    def test_each_transform_on_values_in_its_domain(self) -> None:
        assert transform("ln", np.array([math.e]))[0] == pytest.approx(1.0)
        assert transform("log10", np.array([100.0]))[0] == pytest.approx(2.0)
        assert transform("sqrt", np.array([16.0]))[0] == 4.0
        assert transform("none", np.array([-3.0]))[0] == -3.0

    def test_values_outside_the_domain_become_missing_with_a_note(self) -> None:
        doc = method(leaf(transform="ln", normalisation={"method": "goalposts", "min": 1, "max": 100}))
        result = compute(parse_methodology(doc), zones(10, 0))
        z1 = next(s for s in result.ranked if s.id == "z1")
        assert z1.missing == ["gdp"]
        assert "outside the domain of ln" in z1.leaves["gdp"]["note"]
        assert z1.score == 0.0  # missing: zero

    def test_the_goalposts_are_transformed_like_the_values(self) -> None:
        # log10: goalposts 1..1000 become 0..3; the value 10 becomes 1, i.e. one third of the way.
        doc = method(leaf(transform="log10", normalisation={"method": "goalposts", "min": 1, "max": 1000}))
        assert scores_of(doc, zones(10))["z0"] == pytest.approx(1 / 3)


class TestWinsorising:
    def test_values_are_clipped_to_the_quantiles_of_the_population(self) -> None:
        # [1, 2, 3, 4, 100]: the 0.25 quantile (linear) is 2, the 0.75 quantile is 4.
        out = winsorise(np.array([1.0, 2.0, 3.0, 4.0, 100.0]), 0.25, 0.75)
        assert list(out) == [2.0, 2.0, 3.0, 4.0, 4.0]

    def test_winsorising_comes_before_min_max(self) -> None:
        # Without it the outlier 100 squeezes everyone else near 0; with upper 0.75, 100 → 4 and
        # min_max over [1 .. 4] gives (x − 1) / 3.
        doc = method(leaf(winsorise={"lower": 0, "upper": 0.75}))
        scores = scores_of(doc, zones(1, 2, 3, 4, 100))
        assert [scores[f"z{i}"] for i in range(5)] == pytest.approx([0, 1 / 3, 2 / 3, 1, 1])


class TestNormalisations:
    @pytest.mark.parametrize(
        ("normalisation", "expected"),
        [
            ({"method": "goalposts", "min": 0, "max": 50}, [0.2, 0.4, 0.8]),
            ({"method": "goalposts", "min": 15, "max": 30}, [0.0, 1 / 3, 1.0]),  # clipped to [0, 1]
            ({"method": "min_max"}, [0.0, 1 / 3, 1.0]),
            ({"method": "z_score"}, [0.1425247, 0.3946340, 0.9092754]),  # Φ((x − 23.333) / 12.4722)
            ({"method": "target", "target": 25}, [0.4, 0.8, 1.0]),
            ({"method": "rank"}, [0.0, 0.5, 1.0]),
            ({"method": "distance_to_leader"}, [0.25, 0.5, 1.0]),
        ],
    )
    def test_higher_is_better(self, normalisation: dict[str, Any], expected: list[float]) -> None:
        scores = scores_of(method(leaf(normalisation=normalisation)), zones(10, 20, 40))
        assert [scores["z0"], scores["z1"], scores["z2"]] == pytest.approx(expected, abs=1e-7)

    @pytest.mark.parametrize(
        ("normalisation", "expected"),
        [
            ({"method": "min_max"}, [1.0, 2 / 3, 0.0]),
            ({"method": "goalposts", "min": 0, "max": 50}, [0.8, 0.6, 0.2]),
            ({"method": "target", "target": 25}, [1.0, 1.0, 0.625]),  # target ÷ value, capped at 1
            ({"method": "rank"}, [1.0, 0.5, 0.0]),
            ({"method": "distance_to_leader"}, [0.75, 0.5, 0.0]),  # 1 − value ÷ leader
        ],
    )
    def test_lower_is_better(self, normalisation: dict[str, Any], expected: list[float]) -> None:
        doc = method(leaf(direction="lower_is_better", normalisation=normalisation))
        scores = scores_of(doc, zones(10, 20, 40))
        assert [scores["z0"], scores["z1"], scores["z2"]] == pytest.approx(expected)

    def test_a_percentile_rank_gives_ties_their_mid_rank(self) -> None:
        scores = scores_of(method(leaf(normalisation={"method": "rank"})), zones(10, 20, 20))
        assert [scores["z0"], scores["z1"], scores["z2"]] == [0.0, 0.75, 0.75]

    @pytest.mark.parametrize("name", ["min_max", "z_score", "rank"])
    def test_zones_that_cannot_be_told_apart_all_score_one_half(self, name: str) -> None:
        scores = scores_of(method(leaf(normalisation={"method": name})), zones(7, 7))
        assert scores == {"z0": 0.5, "z1": 0.5}

    def test_a_value_below_zero_scores_below_zero_against_a_target(self) -> None:
        doc = method(leaf("growth", normalisation={"method": "target", "target": 10}))
        assert scores_of(doc, zones(-5, 5, code="growth"))["z0"] == pytest.approx(-0.5)


class TestAggregation:
    def test_weights_are_normalised_within_a_group(self) -> None:
        # weights 3 and 1 → 0.75 and 0.25; scores 0.2 and 0.6 → 0.15 + 0.15 = 0.3
        assert aggregate("arithmetic", [0.75, 0.25], np.array([[0.2, 0.6]]))[0] == pytest.approx(0.3)
        doc = method(
            leaf("a", weight=3, normalisation={"method": "goalposts", "min": 0, "max": 10}),
            leaf("b", weight=1, normalisation={"method": "goalposts", "min": 0, "max": 10}),
            scale=100,
        )
        assert scores_of(doc, [Subject("z", "z", {"a": 2, "b": 6})])["z"] == pytest.approx(30.0)

    def test_the_geometric_mean_is_the_weighted_product(self) -> None:
        # 0.2^0.75 × 0.6^0.25 = exp(0.75 ln 0.2 + 0.25 ln 0.6) = 0.2632148
        doc = method(
            leaf("a", weight=3, normalisation={"method": "goalposts", "min": 0, "max": 10}),
            leaf("b", weight=1, normalisation={"method": "goalposts", "min": 0, "max": 10}),
            aggregation="geometric",
        )
        assert scores_of(doc, [Subject("z", "z", {"a": 2, "b": 6})])["z"] == pytest.approx(0.2632148)

    def test_a_zero_child_makes_a_geometric_group_zero(self) -> None:
        assert aggregate("geometric", [0.5, 0.5], np.array([[0.0, 0.9]]))[0] == 0.0

    def test_sub_scores_of_every_group_are_reported(self) -> None:
        doc = method(
            {
                "code": "innovation",
                "title": "科技创新",
                "weight": 1,
                "children": [leaf("a", normalisation={"method": "goalposts", "min": 0, "max": 10})],
            },
            {"weight": 1, "children": [leaf("b", normalisation={"method": "goalposts", "min": 0, "max": 10})]},
        )
        result = compute(parse_methodology(doc), [Subject("z", "z", {"a": 4, "b": 8})])
        assert result.ranked[0].groups == pytest.approx({"root": 0.6, "innovation": 0.4, "root.1": 0.8})


class TestValuesThatAreNotFloats:
    def test_integers_count_as_numbers_and_booleans_nan_and_none_as_missing(self) -> None:
        doc = method(leaf(normalisation={"method": "goalposts", "min": 0, "max": 20}))
        subjects = [Subject("i", "i", {"gdp": 5}), Subject("b", "b", {"gdp": True})]
        subjects += [
            Subject("n", "n", {"gdp": math.nan}),
            Subject("o", "o", {"gdp": None}),
            Subject("f", "f", {"gdp": 10.0}),
        ]
        result = {s.id: s for s in compute(parse_methodology(doc), subjects).ranked}
        assert {z: s.leaves["gdp"]["raw"] for z, s in result.items()} == {
            "i": 5.0,
            "b": None,
            "n": None,
            "o": None,
            "f": 10.0,
        }
        assert {z: s.missing for z, s in result.items()} == {"i": [], "b": ["gdp"], "n": ["gdp"], "o": ["gdp"], "f": []}
        assert {z: s.score for z, s in result.items()} == {"i": 0.25, "b": 0.0, "n": 0.0, "o": 0.0, "f": 0.5}
        assert result["b"].leaves["gdp"] == {"indicator": "gdp", "raw": None, "normalised": 0.0, "imputed": "zero"}
        assert result["i"].leaves["gdp"] == {"indicator": "gdp", "raw": 5.0, "normalised": 0.25}


class TestMissingValues:
    def test_zero_is_the_default(self) -> None:
        scores = scores_of(method(leaf(normalisation={"method": "goalposts", "min": 0, "max": 50})), zones(10, None))
        assert scores["z1"] == 0.0

    def test_mean_takes_the_mean_leaf_score_of_the_zones_that_have_the_value(self) -> None:
        doc = method(leaf(missing="mean", normalisation={"method": "goalposts", "min": 0, "max": 50}))
        result = compute(parse_methodology(doc), zones(10, 40, None))
        z2 = next(s for s in result.ranked if s.id == "z2")
        assert z2.score == pytest.approx(0.5)  # (0.2 + 0.8) / 2
        assert z2.leaves["gdp"]["imputed"] == "mean" and z2.missing == ["gdp"]

    def test_exclude_zone_lists_the_zone_as_not_ranked_and_keeps_it_out_of_the_statistics(self) -> None:
        doc = method(leaf(missing="exclude_zone"))
        result = compute(parse_methodology(doc), zones(10, None, 40, 20))
        assert [s.id for s in result.excluded] == ["z1"]
        assert result.excluded[0].score is None and "gdp" in (result.excluded[0].excluded or "")
        scores = {s.id: s.score for s in result.ranked}
        assert scores == pytest.approx({"z0": 0.0, "z2": 1.0, "z3": 1 / 3})


class TestNothingToScore:
    def test_no_zones_give_an_empty_computation(self) -> None:
        result = compute(parse_methodology(method(leaf(), leaf("rd_intensity"))), [])
        assert (result.ranked, result.excluded, result.reference) == ([], [], [])


class TestReferenceSubjectsAreScoredWithTheZonesRuler:
    def test_a_county_is_scored_against_the_zones_statistics_without_moving_them(self) -> None:
        doc = method(leaf())
        alone = compute(parse_methodology(doc), zones(10, 40))
        with_counties = compute(
            parse_methodology(doc), zones(10, 40), reference=[Subject("130703", "桥西区", {"gdp": 25}),
                                                                Subject("130709", "崇礼区", {"gdp": 55})]
        )  # fmt: skip
        assert [s.score for s in with_counties.ranked] == [s.score for s in alone.ranked] == [0.0, 1.0]
        assert [r.score for r in with_counties.reference] == pytest.approx([0.5, 1.0])  # 55 is clipped at the max


class TestCompetitionRanks:
    def test_equal_scores_share_a_rank_and_the_next_rank_is_skipped(self) -> None:
        assert competition_ranks([90.0, 80.0, 80.0, 70.0]) == [1, 2, 2, 4]

    def test_scores_equal_to_six_decimals_tie(self) -> None:
        assert competition_ranks([80.0000001, 80.0000004, 79.0]) == [1, 1, 3]
        assert competition_ranks([80.000001, 80.000002]) == [2, 1]

    def test_unranked_zones_get_no_rank(self) -> None:
        assert competition_ranks([None, 5.0, float("nan")]) == [None, 1, None]
