"""Rewards and warnings by the source policy's rules (libs/domain/assessment/sanctions.py).

The rules are those of 张发〔2016〕12号 (三十): economic zones commended in the top 10, the top
10 by rank improvement or with foreign investment used ≥ USD 100 million (10,000 万美元);
warned in the bottom 5 or the 5 largest drops; high-tech zones commended in the top 3 and
warned in the bottom 2; warned two years running → revocation review.
"""

from __future__ import annotations

from libs.domain.assessment.sanction_outcomes import Outcome, Standing, evaluate
from libs.domain.assessment.sanctions import (
    DEFAULT_POLICIES,
    FOREIGN_INVESTMENT_INDICATOR,
    Rule,
    SanctionPolicy,
    parse_policy,
)
from libs.domain.assessment.scoring import competition_ranks


def field(
    scores: list[float], changes: list[int | None] | None = None, fdi: list[float | None] | None = None
) -> list[Standing]:
    ranks = competition_ranks(scores)
    out = []
    for i, score in enumerate(scores):
        change = changes[i] if changes else None
        rank = ranks[i]
        assert rank is not None
        out.append(
            Standing(
                zone=f"z{i + 1:02d}",
                name=f"zone {i + 1}",
                score=score,
                rank=rank,
                change=change,
                previous_rank=None if change is None else rank + change,
                values={FOREIGN_INVESTMENT_INDICATOR: fdi[i] if fdi else None},
            )
        )
    return out


def zones_with(outcomes: list[Outcome], outcome: str, rule: str) -> list[str]:
    return sorted(o.zone for o in outcomes if o.outcome == outcome and o.rule == rule)


class TestHighTechZones:
    def test_the_top_three_are_commended_and_the_bottom_two_warned(self) -> None:
        standings = field([90, 85, 80, 75, 70, 65, 60])
        outcomes = evaluate(DEFAULT_POLICIES["high_tech"], standings)
        assert zones_with(outcomes, "commended", "top_by_score") == ["z01", "z02", "z03"]
        assert zones_with(outcomes, "warned", "bottom_by_score") == ["z06", "z07"]

    def test_a_tie_at_the_cut_off_includes_every_tied_zone_and_says_so(self) -> None:
        standings = field([90, 85, 80, 80, 70, 65, 60])  # ranks 1, 2, 3, 3, 5, 6, 7
        outcomes = evaluate(DEFAULT_POLICIES["high_tech"], standings)
        top = [o for o in outcomes if o.rule == "top_by_score"]
        assert sorted(o.zone for o in top) == ["z01", "z02", "z03", "z04"]
        tied = [o for o in top if o.tie]
        assert sorted(o.zone for o in tied) == ["z03", "z04"]
        assert all("tied at the cut-off" in o.detail and "all are included" in o.detail for o in tied)

    def test_each_outcome_states_its_rule_and_numbers(self) -> None:
        outcomes = evaluate(DEFAULT_POLICIES["high_tech"], field([90, 85, 80, 75, 70]))
        first = next(o for o in outcomes if o.zone == "z01")
        assert first.label == "综合排名前3名"
        assert first.numbers["rank"] == 1 and first.numbers["score"] == 90 and first.numbers["ranked"] == 5
        assert "rank 1 of 5" in first.detail


class TestEconomicZones:
    def test_improvements_and_drops_count_only_zones_that_moved(self) -> None:
        # 20 zones; changes: z01..z12 moved up 12..1, z13 same, z14..z20 moved down 1..7.
        changes: list[int | None] = [12 - i for i in range(12)] + [0] + [-(i + 1) for i in range(7)]
        standings = field([100 - i for i in range(20)], changes)
        outcomes = evaluate(DEFAULT_POLICIES["economic"], standings)
        assert zones_with(outcomes, "commended", "top_by_improvement") == [f"z{i:02d}" for i in range(1, 11)]
        assert zones_with(outcomes, "warned", "largest_drops") == ["z16", "z17", "z18", "z19", "z20"]
        drop = next(o for o in outcomes if o.zone == "z20" and o.rule == "largest_drops")
        assert drop.numbers["change"] == -7 and "down 7 places" in drop.detail

    def test_a_tie_in_improvement_at_the_cut_off_includes_all_tied(self) -> None:
        changes: list[int | None] = [5, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1]
        policy = SanctionPolicy("economic", commend=(Rule("top_by_improvement", "进位幅度前3名", n=3),), warn=())
        outcomes = evaluate(policy, field([100 - i for i in range(12)], changes))
        assert zones_with(outcomes, "commended", "top_by_improvement") == ["z01", "z02", "z03", "z04", "z05"]

    def test_foreign_investment_of_one_hundred_million_dollars_is_commended(self) -> None:
        # 1亿美元 = 10,000 万美元: exactly the threshold counts, 9,999.9 does not.
        fdi: list[float | None] = [None, 10_000.0, 9_999.9, 25_000.0]
        outcomes = evaluate(DEFAULT_POLICIES["economic"], field([40, 30, 20, 10], fdi=fdi))
        assert zones_with(outcomes, "commended", "indicator_at_least") == ["z02", "z04"]

    def test_in_a_small_field_a_zone_is_not_both_commended_and_warned_by_score(self) -> None:
        # 12 zones: top 10 commended; the bottom 5 are taken among the 2 zones not commended.
        outcomes = evaluate(DEFAULT_POLICIES["economic"], field([100 - i for i in range(12)]))
        assert len(zones_with(outcomes, "commended", "top_by_score")) == 10
        warned = [o for o in outcomes if o.rule == "bottom_by_score"]
        assert sorted(o.zone for o in warned) == ["z11", "z12"]
        assert "not already commended by score" in warned[0].detail

    def test_the_overlap_can_be_resolved_the_other_way_or_not_at_all(self) -> None:
        base = DEFAULT_POLICIES["economic"]
        standings = field([100 - i for i in range(12)])
        for overlap, commended, warned in (("warn_first", 7, 5), ("both", 10, 5)):
            policy = SanctionPolicy(base.kind, base.commend, base.warn, score_overlap=overlap)
            outcomes = evaluate(policy, standings)
            assert len(zones_with(outcomes, "commended", "top_by_score")) == commended
            assert len(zones_with(outcomes, "warned", "bottom_by_score")) == warned


class TestWarnedTwoYearsRunning:
    def test_a_zone_warned_again_is_flagged_for_revocation_review(self) -> None:
        standings = field([90, 85, 80, 75, 70])
        outcomes = evaluate(
            DEFAULT_POLICIES["high_tech"], standings, earlier_warned=[["z05", "z01"]], earlier_labels=["2024 (#3)"]
        )
        flagged = [o for o in outcomes if o.outcome == "revocation_review"]
        assert [o.zone for o in flagged] == ["z05"]
        assert "2024 (#3)" in flagged[0].detail

    def test_a_merged_zone_carries_its_predecessors_warning(self) -> None:
        standings = field([90, 85, 80, 75, 70])
        outcomes = evaluate(
            DEFAULT_POLICIES["high_tech"], standings, earlier_warned=[["old"]], predecessors={"z04": ["old"]}
        )
        flagged = [o for o in outcomes if o.outcome == "revocation_review"]
        assert [o.zone for o in flagged] == ["z04"] and "old" in flagged[0].detail

    def test_without_the_earlier_annual_run_nobody_is_flagged(self) -> None:
        outcomes = evaluate(DEFAULT_POLICIES["high_tech"], field([90, 85, 80]))
        assert not [o for o in outcomes if o.outcome == "revocation_review"]


class TestPoliciesAreData:
    def test_the_defaults_round_trip_through_their_stored_form(self) -> None:
        for kind, policy in DEFAULT_POLICIES.items():
            parsed, faults = parse_policy(policy.as_dict())
            assert faults == [] and parsed == policy, kind

    def test_a_bad_policy_lists_every_fault_with_its_path(self) -> None:
        _, faults = parse_policy(
            {
                "kind": "economic",
                "commend": [{"rule": "bottom_by_score", "n": 5, "label": "x"}, {"rule": "top_by_score", "label": "y"}],
                "warn": [{"rule": "indicator_at_least", "label": "z", "indicator": "gdp"}],
                "score_overlap": "sometimes",
            },
            loc=["body"],
        )
        assert {tuple(f["loc"]) for f in faults} == {
            ("body", "commend", 0, "rule"),
            ("body", "commend", 1, "n"),
            ("body", "warn", 0, "threshold"),
            ("body", "score_overlap"),
        }
