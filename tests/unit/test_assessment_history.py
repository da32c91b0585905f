"""Previous ranks across reorganisations (libs/domain/assessment/history.py)."""

from __future__ import annotations

from libs.domain.assessment.history import (
    PreviousStanding,
    inherited_flags,
    previous_standings,
    zones_needing_lineage,
)


class TestAZoneThatWasRankedBeforeKeepsItsOwnHistory:
    def test_the_change_is_previous_minus_current(self) -> None:
        out = previous_standings({"a": 1, "b": 2, "c": 3}, {"a": 3, "b": 2, "c": 1}, {})
        assert out["a"] == PreviousStanding(3, 2, "up")
        assert out["b"] == PreviousStanding(2, 0, "same")
        assert out["c"] == PreviousStanding(1, -2, "down")

    def test_without_an_earlier_run_nothing_moves(self) -> None:
        assert previous_standings({"a": 1}, None, {})["a"] == PreviousStanding(None, None, None)

    def test_a_zone_excluded_last_time_is_unranked_before(self) -> None:
        assert previous_standings({"a": 1}, {"a": None}, {})["a"].movement == "unranked_before"

    def test_a_zone_excluded_now_has_its_previous_rank_but_no_change(self) -> None:
        assert previous_standings({"a": None}, {"a": 4}, {}) == {"a": PreviousStanding(4, None, "unranked")}


class TestAMergedZoneContinuesItsPredecessorsHistory:
    def test_the_best_previous_rank_among_ended_predecessors_is_used(self) -> None:
        # 南山 (ranked 7) and 怀安工业园 (ranked 4) merged into the new 怀安经济开发区, now 2nd.
        out = previous_standings(
            {"huaian": 2, "other": 1},
            {"nanshan": 7, "gongyeyuan": 4, "other": 1},
            {"huaian": ["nanshan", "gongyeyuan"]},
        )
        assert out["huaian"] == PreviousStanding(4, 2, "up", ("gongyeyuan", "nanshan"))

    def test_a_predecessor_that_still_stands_is_not_inherited(self) -> None:
        # A zone that only gave a park away by a split keeps its own history; the receiver is new.
        out = previous_standings({"giver": 1, "receiver": 2}, {"giver": 1}, {"receiver": ["giver"]})
        assert out["receiver"].movement == "new"

    def test_a_zone_with_no_ranked_predecessor_is_new(self) -> None:
        out = previous_standings({"fresh": 3}, {"other": 1}, {"fresh": ["never-ranked"]})
        assert out["fresh"] == PreviousStanding(None, None, "new")

    def test_only_zones_absent_from_the_earlier_run_need_the_lineage(self) -> None:
        assert zones_needing_lineage(["a", "b", "c"], {"a": 1, "c": None}) == ["b"]


class TestWarningsCarryOnThroughMergers:
    def test_a_zone_carries_its_own_or_its_ended_predecessors_flags(self) -> None:
        carried = inherited_flags(["x", "merged", "y"], ["x", "old"], {"merged": ["old"], "y": ["x"]})
        assert carried == {"x": ("x",), "merged": ("old",)}
