"""Correctness beyond our own tests: the UNDP Human Development Index, reproduced.

Source of the data and of the expected scores and ranks
-------------------------------------------------------
United Nations Development Programme, *Human Development Report 2021/2022: Uncertain Times,
Unsettled Lives* (New York, 2022), Statistical Annex, **Table 1 "Human Development Index and
its components"**, year 2021. The values in ``tests/data/hdr_2021_22_hdi_sample.csv`` are the
unrounded inputs UNDP publishes with that report in its data file
``HDR21-22_Composite_indices_complete_time_series.csv`` (hdr.undp.org, "Documentation and
downloads"; columns ``hdi_rank_2021``, ``hdi_2021``, ``le_2021``, ``eys_2021``, ``mys_2021``,
``gnipc_2021``), whose rounded values are Table 1's (e.g. Switzerland: HDI 0.962, life
expectancy 84.0, expected years of schooling 16.5, mean years 13.9, GNI per capita 66,933
2017 PPP $; Chad: 0.394, rank 190). The sample is the complete top ten (ranks 1–10) plus
seven countries spread over the rest of the table.

The method (HDR 2021/22 Technical notes, "Technical note 1. Human Development Index"):
dimension indices with goalposts — life expectancy 20 to 85 years; expected years of schooling
0 to 18; mean years of schooling 0 to 15; GNI per capita (2017 PPP $) 100 to 75,000 on the
natural log — each capped at 1 (Hong Kong's 85.5 years of life expectancy, Australia's 21.1
expected years, Ireland's 76,169 $ income all exceed a maximum); the education index is the
arithmetic mean of its two indices; the HDI is the geometric mean of the three dimension
indices. Table 1 prints HDI to three decimals and ranks countries on it.

Nothing below is computed by the code under test: the expected values are the published ones.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from libs.domain.assessment.scoring import Subject, competition_ranks, compute
from libs.domain.assessment.validation import parse_methodology

DATA = Path(__file__).resolve().parents[1] / "data" / "hdr_2021_22_hdi_sample.csv"

HDI_METHOD: dict[str, Any] = {
    "code": "undp-hdi",
    "version": 1,
    "title": "Human Development Index (UNDP HDR 2021/22 technical note 1)",
    "applies_to": ["economic"],
    "period_type": "year",
    "scale": 1,
    "root": {
        "aggregation": "geometric",
        "children": [
            {
                "title": "Long and healthy life",
                "indicator": "le",
                "weight": 1,
                "normalisation": {"method": "goalposts", "min": 20, "max": 85},
            },
            {
                "code": "education",
                "title": "Knowledge",
                "weight": 1,
                "aggregation": "arithmetic",
                "children": [
                    {"indicator": "eys", "weight": 1, "normalisation": {"method": "goalposts", "min": 0, "max": 18}},
                    {"indicator": "mys", "weight": 1, "normalisation": {"method": "goalposts", "min": 0, "max": 15}},
                ],
            },
            {
                "title": "Decent standard of living",
                "indicator": "gnipc",
                "weight": 1,
                "transform": "ln",
                "normalisation": {"method": "goalposts", "min": 100, "max": 75000},
            },
        ],
    },
}


def published() -> list[dict[str, str]]:
    with DATA.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def subjects() -> list[Subject]:
    return [
        Subject(
            id=row["iso3"],
            name=row["country"],
            values={code: float(row[f"{code}_2021"]) for code in ("le", "eys", "mys", "gnipc")},
        )
        for row in published()
    ]


class TestTheHumanDevelopmentIndexIsReproducedFromItsPublishedInputs:
    def test_every_hdi_value_matches_table_1_to_the_published_three_decimals(self) -> None:
        method = parse_methodology(HDI_METHOD)
        result = compute(method, subjects())
        scores = {s.id: s.score for s in result.ranked}
        assert len(scores) == 17 and not result.excluded
        for row in published():
            score = scores[row["iso3"]]
            assert score is not None
            assert f"{score:.3f}" == row["hdi_2021"], row["country"]

    def test_the_top_ten_get_exactly_their_published_ranks_and_the_rest_keep_the_published_order(self) -> None:
        method = parse_methodology(HDI_METHOD)
        result = compute(method, subjects())
        ranks = dict(
            zip([s.id for s in result.ranked], competition_ranks([s.score for s in result.ranked]), strict=True)
        )
        rows = published()
        for row in rows:
            if int(row["hdi_rank_2021"]) <= 10:
                assert ranks[row["iso3"]] == int(row["hdi_rank_2021"]), row["country"]
        by_published = [r["iso3"] for r in sorted(rows, key=lambda r: int(r["hdi_rank_2021"]))]
        assert sorted(ranks, key=lambda z: ranks[z]) == by_published

    def test_the_caps_at_the_maximum_goalposts_matter(self) -> None:
        # Hong Kong's life expectancy (85.47) is above the 85-year maximum: uncapped, its HDI would
        # print 0.954 instead of the published 0.952.
        method = parse_methodology(HDI_METHOD)
        hong_kong = next(s for s in compute(method, subjects()).ranked if s.id == "HKG")
        assert hong_kong.leaves["le"]["normalised"] == 1.0
        assert hong_kong.score is not None and f"{hong_kong.score:.3f}" == "0.952"

    @pytest.mark.parametrize(("iso3", "education_index"), [("CHE", "0.920"), ("TCD", "0.309")])
    def test_the_education_sub_score_is_the_mean_of_its_two_indices(self, iso3: str, education_index: str) -> None:
        # HDR 2021/22 Table 1 does not print the education index; these are hand-computed from the
        # published inputs: Switzerland (16.500/18 + 13.860/15) / 2 = 0.920, Chad (8.036/18 + 2.574/15) / 2 = 0.309.
        method = parse_methodology(HDI_METHOD)
        subject = next(s for s in compute(method, subjects()).ranked if s.id == iso3)
        assert f"{subject.groups['education']:.3f}" == education_index
