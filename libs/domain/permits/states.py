"""The life of an approval case and of its department tasks, as state machines.

A case (办件) goes: ``submitted`` → (intake) ``accepted`` into ``in_review``, or back to the
applicant with one notice of everything missing (``supplements_requested``), or ``declined``.
In review, department tasks open stage by stage (内部流转); a reviewer may ask for supplements
(``review_supplements``, clock stopped) and the bureau may start a special procedure
(``special_procedure``, clock stopped). When every stage is approved, or any department
refuses, the case is ``awaiting_decision``; only the window issues the decision (``decided``),
after which the applicant may rate the service.

Every action not allowed in the current state raises :class:`~libs.domain.kernel.errors.Conflict`
naming the state and the actions that are allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar

from libs.domain.kernel.errors import Conflict
from libs.domain.kernel.i18n import Text


class CaseState(StrEnum):
    """Where a case stands."""

    SUBMITTED = "submitted"
    SUPPLEMENTS_REQUESTED = "supplements_requested"
    DECLINED = "declined"
    IN_REVIEW = "in_review"
    REVIEW_SUPPLEMENTS = "review_supplements"
    SPECIAL_PROCEDURE = "special_procedure"
    AWAITING_DECISION = "awaiting_decision"
    DECIDED = "decided"


class CaseAction(StrEnum):
    """What can be done to a case."""

    ACCEPT = "accept"
    REQUEST_SUPPLEMENTS = "request_supplements"
    DECLINE = "decline"
    SUPPLEMENT = "supplement"
    REVIEW = "review"  # a department approves, refuses or asks for supplements on its task
    START_SPECIAL_PROCEDURE = "start_special_procedure"
    END_SPECIAL_PROCEDURE = "end_special_procedure"
    EXTEND = "extend"
    DECIDE = "decide"
    RATE = "rate"


class TaskState(StrEnum):
    """Where a department's task stands."""

    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # another department refused first; the case no longer needs this one


class TaskAction(StrEnum):
    """What a reviewer can do to a task."""

    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_SUPPLEMENTS = "request_supplements"


class Outcome(StrEnum):
    """The decision issued by the window."""

    APPROVED = "approved"
    REFUSED = "refused"


CASE_ACTION_PATHS: dict[CaseAction, str] = {
    CaseAction.ACCEPT: "accept",
    CaseAction.REQUEST_SUPPLEMENTS: "request-supplements",
    CaseAction.DECLINE: "decline",
    CaseAction.SUPPLEMENT: "supplements",
    CaseAction.START_SPECIAL_PROCEDURE: "special-procedures",
    CaseAction.END_SPECIAL_PROCEDURE: "end",
    CaseAction.EXTEND: "extensions",
    CaseAction.DECIDE: "decision",
    CaseAction.RATE: "rating",
}
"""How the API names each case action in ``allowed_actions``: the last path segment of the ``POST``
that performs it (docs/api-conventions.md#one-set-of-conventions). ``review`` has none of its own:
it is done on the case's tasks, whose ``allowed_actions`` name it (``approve``, ``reject``,
``request-supplements``)."""

TASK_ACTION_PATHS: dict[TaskAction, str] = {
    TaskAction.APPROVE: "approve",
    TaskAction.REJECT: "reject",
    TaskAction.REQUEST_SUPPLEMENTS: "request-supplements",
}
"""How the API names each task action: the last path segment of its ``POST /v1/tasks/{task_id}/…``."""


def case_action_names(actions: Iterable[CaseAction]) -> list[str]:
    """``actions`` as the API names them (see :data:`CASE_ACTION_PATHS`), in order."""
    return [CASE_ACTION_PATHS[a] for a in actions if a in CASE_ACTION_PATHS]


def task_action_names(actions: Iterable[TaskAction]) -> list[str]:
    """Task ``actions`` as the API names them (see :data:`TASK_ACTION_PATHS`), in order."""
    return [TASK_ACTION_PATHS[a] for a in actions]


# What clerks, reviewers and applicants call the states and actions (the problems' Chinese).
CASE_STATE_ZH: dict[CaseState, str] = {
    CaseState.SUBMITTED: "待受理",
    CaseState.SUPPLEMENTS_REQUESTED: "待补正",
    CaseState.DECLINED: "不予受理",
    CaseState.IN_REVIEW: "审查中",
    CaseState.REVIEW_SUPPLEMENTS: "审查中待补正",
    CaseState.SPECIAL_PROCEDURE: "特别程序中",
    CaseState.AWAITING_DECISION: "待决定",
    CaseState.DECIDED: "已决定",
}
CASE_ACTION_ZH: dict[CaseAction, str] = {
    CaseAction.ACCEPT: "受理",
    CaseAction.REQUEST_SUPPLEMENTS: "一次性告知补正",
    CaseAction.DECLINE: "不予受理",
    CaseAction.SUPPLEMENT: "提交补正材料",
    CaseAction.REVIEW: "审查",
    CaseAction.START_SPECIAL_PROCEDURE: "启动特别程序",
    CaseAction.END_SPECIAL_PROCEDURE: "结束特别程序",
    CaseAction.EXTEND: "延期",
    CaseAction.DECIDE: "作出决定",
    CaseAction.RATE: "评价",
}
TASK_STATE_ZH: dict[TaskState, str] = {
    TaskState.OPEN: "待审查",
    TaskState.APPROVED: "已通过",
    TaskState.REJECTED: "已退回",
    TaskState.CANCELLED: "已撤销",
}
TASK_ACTION_ZH: dict[TaskAction, str] = {
    TaskAction.APPROVE: "通过",
    TaskAction.REJECT: "退回",
    TaskAction.REQUEST_SUPPLEMENTS: "要求补正",
}


_A = TypeVar("_A", bound=StrEnum)


def _zh_actions(allowed: list[str], names: Mapping[_A, str], paths: Mapping[_A, str]) -> str:
    """The allowed actions (as the API names them) in Chinese, each with its name
    (``受理（accept）``); 无 when none."""
    by_path = {paths[k]: v for k, v in names.items() if k in paths}
    return "、".join(f"{by_path.get(a, a)}（{a}）" for a in allowed) or "无"


# The states an action may be taken in. Where an action can lead to more than one state
# (a review action may or may not complete the case) the use case picks among these targets.
CASE_TRANSITIONS: dict[CaseAction, dict[CaseState, frozenset[CaseState]]] = {
    CaseAction.ACCEPT: {CaseState.SUBMITTED: frozenset({CaseState.IN_REVIEW})},
    CaseAction.REQUEST_SUPPLEMENTS: {CaseState.SUBMITTED: frozenset({CaseState.SUPPLEMENTS_REQUESTED})},
    CaseAction.DECLINE: {CaseState.SUBMITTED: frozenset({CaseState.DECLINED})},
    CaseAction.SUPPLEMENT: {
        CaseState.SUPPLEMENTS_REQUESTED: frozenset({CaseState.SUBMITTED}),
        CaseState.REVIEW_SUPPLEMENTS: frozenset({CaseState.IN_REVIEW}),
    },
    CaseAction.REVIEW: {
        CaseState.IN_REVIEW: frozenset({CaseState.IN_REVIEW, CaseState.AWAITING_DECISION, CaseState.REVIEW_SUPPLEMENTS})
    },
    CaseAction.START_SPECIAL_PROCEDURE: {CaseState.IN_REVIEW: frozenset({CaseState.SPECIAL_PROCEDURE})},
    CaseAction.END_SPECIAL_PROCEDURE: {CaseState.SPECIAL_PROCEDURE: frozenset({CaseState.IN_REVIEW})},
    CaseAction.EXTEND: {
        s: frozenset({s})
        for s in (
            CaseState.IN_REVIEW,
            CaseState.REVIEW_SUPPLEMENTS,
            CaseState.SPECIAL_PROCEDURE,
            CaseState.AWAITING_DECISION,
        )
    },
    CaseAction.DECIDE: {CaseState.AWAITING_DECISION: frozenset({CaseState.DECIDED})},
    CaseAction.RATE: {CaseState.DECIDED: frozenset({CaseState.DECIDED})},
}

TASK_TRANSITIONS: dict[TaskAction, dict[TaskState, TaskState]] = {
    TaskAction.APPROVE: {TaskState.OPEN: TaskState.APPROVED},
    TaskAction.REJECT: {TaskState.OPEN: TaskState.REJECTED},
    TaskAction.REQUEST_SUPPLEMENTS: {TaskState.OPEN: TaskState.OPEN},
}

ACTIVE_STATES = frozenset(
    {CaseState.IN_REVIEW, CaseState.REVIEW_SUPPLEMENTS, CaseState.SPECIAL_PROCEDURE, CaseState.AWAITING_DECISION}
)
"""States in which the clock of an accepted case runs or is stopped (accepted, not decided)."""

CLOCK_RUNNING_STATES = frozenset({CaseState.IN_REVIEW, CaseState.AWAITING_DECISION})
"""States in which the clock counts (so a case can become overdue)."""

TERMINAL_STATES = frozenset({CaseState.DECLINED, CaseState.DECIDED})
"""States a case never leaves (rating a decided case does not change its state)."""


def allowed_actions(state: CaseState) -> list[CaseAction]:
    """The actions allowed on a case in ``state``, in declaration order."""
    return list(_CASE_ACTIONS[state])


def case_targets(state: CaseState, action: CaseAction) -> frozenset[CaseState]:
    """The states ``action`` may lead to from ``state``; 409 :class:`Conflict` if not allowed."""
    targets = CASE_TRANSITIONS[action].get(state)
    if targets is None:
        allowed = case_action_names(allowed_actions(state))
        raise Conflict(
            Text(
                f"办件当前状态为“{CASE_STATE_ZH[state]}”（{state.value}），不能{CASE_ACTION_ZH[action]}；"
                f"可进行的操作：{_zh_actions(allowed, CASE_ACTION_ZH, CASE_ACTION_PATHS)}",
                f"cannot {action.value.replace('_', ' ')} a case in state '{state.value}'; "
                f"allowed: {', '.join(allowed) or 'nothing'}",
            ),
            code="case_not_in_state",
            state=state.value,
            action=action.value,
            allowed_actions=allowed,
        )
    return targets


def next_case_state(state: CaseState, action: CaseAction, target: CaseState | None = None) -> CaseState:
    """The state after ``action``; ``target`` picks one when the action can lead to several.

    Raises :class:`Conflict` when the action is not allowed, and ``ValueError`` when ``target``
    is not one of the action's targets from ``state`` (a programming error, not a user error).
    """
    targets = case_targets(state, action)
    if target is None:
        if len(targets) != 1:
            raise ValueError(f"{action} from {state} needs an explicit target")
        return next(iter(targets))
    if target not in targets:
        raise ValueError(f"{action} cannot lead from {state} to {target}")
    return target


def allowed_task_actions(state: TaskState) -> list[TaskAction]:
    """The actions allowed on a task in ``state``."""
    return list(_TASK_ACTIONS[state])


# Both tables are constant: the actions of each state are worked out once (cases are read often).
_CASE_ACTIONS: dict[CaseState, tuple[CaseAction, ...]] = {
    state: tuple(a for a, table in CASE_TRANSITIONS.items() if state in table) for state in CaseState
}
_TASK_ACTIONS: dict[TaskState, tuple[TaskAction, ...]] = {
    state: tuple(a for a, table in TASK_TRANSITIONS.items() if state in table) for state in TaskState
}


def next_task_state(state: TaskState, action: TaskAction) -> TaskState:
    """The task's state after ``action``; 409 :class:`Conflict` if not allowed."""
    target = TASK_TRANSITIONS[action].get(state)
    if target is None:
        allowed = task_action_names(allowed_task_actions(state))
        raise Conflict(
            Text(
                f"审查任务当前状态为“{TASK_STATE_ZH[state]}”（{state.value}），不能{TASK_ACTION_ZH[action]}；"
                f"可进行的操作：{_zh_actions(allowed, TASK_ACTION_ZH, TASK_ACTION_PATHS)}",
                f"cannot {action.value.replace('_', ' ')} a task in state '{state.value}'; "
                f"allowed: {', '.join(allowed) or 'nothing'}",
            ),
            code="task_not_in_state",
            state=state.value,
            action=action.value,
            allowed_actions=allowed,
        )
    return target
