"""The case state machine, land-use checks, document numbers and statistics helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from libs.domain.kernel.errors import Conflict
from libs.domain.permits.docnum import document_number
from libs.domain.permits.land import LandUse, check_land_use
from libs.domain.permits.states import (
    CASE_ACTION_PATHS,
    TASK_ACTION_PATHS,
    CaseAction,
    CaseState,
    TaskAction,
    TaskState,
    allowed_actions,
    next_case_state,
    next_task_state,
)
from libs.domain.permits.stats import median, percentile, rate
from tests.permits.builders import LEGAL

A, S = CaseAction, CaseState

PATH_NAMES = {
    A.ACCEPT: "accept",
    A.REQUEST_SUPPLEMENTS: "request-supplements",
    A.DECLINE: "decline",
    A.SUPPLEMENT: "supplements",
    A.START_SPECIAL_PROCEDURE: "special-procedures",
    A.END_SPECIAL_PROCEDURE: "end",
    A.EXTEND: "extensions",
    A.DECIDE: "decision",
    A.RATE: "rating",
}


class TestTheCaseStateMachine:
    @pytest.mark.parametrize("state", list(CaseState))
    def test_allowed_actions_are_exactly_the_legal_ones(self, state: CaseState) -> None:
        assert set(allowed_actions(state)) == LEGAL[state]

    @pytest.mark.parametrize(("state", "action"), [(s, a) for s in CaseState for a in CaseAction if a not in LEGAL[s]])
    def test_every_illegal_action_is_a_conflict_naming_state_and_allowed_actions(
        self, state: CaseState, action: CaseAction
    ) -> None:
        with pytest.raises(Conflict) as err:
            next_case_state(state, action, None)
        assert err.value.extra["state"] == state.value
        assert set(err.value.extra["allowed_actions"]) == {PATH_NAMES[a] for a in LEGAL[state] if a != A.REVIEW}

    def test_each_case_action_is_named_by_the_last_segment_of_its_post(self) -> None:
        # Written out from the routes in services/permits/cases/api.py; a review is done on a task.
        assert CASE_ACTION_PATHS == PATH_NAMES
        assert A.REVIEW not in CASE_ACTION_PATHS
        assert TASK_ACTION_PATHS == {
            TaskAction.APPROVE: "approve",
            TaskAction.REJECT: "reject",
            TaskAction.REQUEST_SUPPLEMENTS: "request-supplements",
        }

    def test_the_ordinary_path(self) -> None:
        assert next_case_state(S.SUBMITTED, A.ACCEPT) is S.IN_REVIEW
        assert next_case_state(S.SUPPLEMENTS_REQUESTED, A.SUPPLEMENT) is S.SUBMITTED
        assert next_case_state(S.REVIEW_SUPPLEMENTS, A.SUPPLEMENT) is S.IN_REVIEW
        assert next_case_state(S.IN_REVIEW, A.REVIEW, S.AWAITING_DECISION) is S.AWAITING_DECISION
        assert next_case_state(S.AWAITING_DECISION, A.DECIDE) is S.DECIDED

    def test_a_review_cannot_jump_to_a_decision(self) -> None:
        with pytest.raises(ValueError, match="cannot lead"):
            next_case_state(S.IN_REVIEW, A.REVIEW, S.DECIDED)


class TestTheTaskStateMachine:
    def test_only_an_open_task_can_be_acted_on(self) -> None:
        assert next_task_state(TaskState.OPEN, TaskAction.APPROVE) is TaskState.APPROVED
        assert next_task_state(TaskState.OPEN, TaskAction.REJECT) is TaskState.REJECTED
        for state in (TaskState.APPROVED, TaskState.REJECTED, TaskState.CANCELLED):
            for action in TaskAction:
                with pytest.raises(Conflict) as err:
                    next_task_state(state, action)
                assert err.value.extra == {"state": state.value, "action": action.value, "allowed_actions": []}


class TestLandUseChecks:
    def test_the_limits_of_eighteen_are_inclusive(self) -> None:
        assert check_land_use(LandUse(Decimal("1.0"), Decimal("40"), Decimal("7"))) == []

    def test_each_broken_rule_is_a_finding(self) -> None:
        findings = check_land_use(LandUse(Decimal("0.8"), Decimal("35.5"), Decimal("7.01")))
        assert [f.field for f in findings] == [
            "plot_ratio",
            "building_coverage_percent",
            "admin_living_share_percent",
        ]
        assert findings[0].submitted == Decimal("0.8") and findings[0].required == ">= 1.0"


class TestDocumentNumbers:
    def test_rendered_like_the_bureau_writes_them(self) -> None:
        assert document_number("张经审", 2026, 17) == "张经审〔2026〕17号"

    @pytest.mark.parametrize(("prefix", "year", "seq"), [("", 2026, 1), ("张经审", 2026, 0), ("a b", 2026, 1)])
    def test_nonsense_is_refused(self, prefix: str, year: int, seq: int) -> None:
        with pytest.raises(ValueError):
            document_number(prefix, year, seq)


class TestStatistics:
    def test_median_and_nearest_rank_percentile(self) -> None:
        values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]  # sorted: 1 1 2 3 3 4 5 5 6 9
        assert median(values) == 3.5
        assert percentile(values, 0.9) == 6.0  # rank ceil(9) = 9th value
        assert percentile([7], 0.9) == 7.0
        assert median([]) is None and percentile([], 0.9) is None

    def test_rate(self) -> None:
        assert rate(2, 3) == 0.6667 and rate(0, 0) is None
