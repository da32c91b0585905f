"""Who sees what: applicants their own cases, clerks their zone's, reviewers their department's tasks.
Anything invisible is a 404, so its existence is not revealed."""

from __future__ import annotations

from typing import Any

from tests.helpers import assert_problem
from tests.permits.builders import (
    CLERK,
    ENTERPRISE,
    ENVIRONMENT,
    OTHER_CLERK,
    OTHER_ENTERPRISE,
    OTHER_PLANNING,
    OTHER_ZONE,
    PLANNING,
    ZONE,
    auth,
)


class TestApplicants:
    async def test_an_applicant_sees_only_their_own_cases(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            mine = await w.apply(item)
            theirs = await w.apply(item, headers=OTHER_ENTERPRISE)
            listed = await w.ok("GET", "/v1/applications", ENTERPRISE)
            assert [c["id"] for c in listed["items"]] == [mine["id"]]
            assert_problem(await w.client.get(f"/v1/applications/{theirs['id']}", headers=ENTERPRISE), 404)
            assert_problem(await w.client.get(f"/v1/applications/{theirs['id']}/messages", headers=ENTERPRISE), 404)

    async def test_the_applicant_sees_one_consolidated_status_never_internal_notes(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.accept(await w.apply(item))
            task = (await w.open_tasks(case["id"]))["planning"]
            await w.ok("POST", f"/v1/tasks/{task['id']}/approve", PLANNING, json={"note": "内部意见：同意"})
            mine = await w.case(case["id"], ENTERPRISE)
            assert mine["tasks"] == [] and mine["state"] == "in_review" and mine["deadline"]
            msgs = await w.client.get(f"/v1/applications/{case['id']}/messages", headers=ENTERPRISE)
            assert "内部意见" not in msgs.text
            assert_problem(await w.client.get(f"/v1/applications/{case['id']}/history", headers=ENTERPRISE), 403)


class TestClerks:
    async def test_a_clerk_sees_only_their_zones_cases(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item)
            assert [c["id"] for c in (await w.ok("GET", "/v1/applications", CLERK))["items"]] == [case["id"]]
            assert (await w.ok("GET", "/v1/applications", OTHER_CLERK))["items"] == []
            assert_problem(await w.client.get(f"/v1/applications/{case['id']}", headers=OTHER_CLERK), 404)


class TestReviewers:
    async def test_a_reviewer_sees_only_their_departments_tasks_in_their_zone(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.accept(await w.apply(item))
            tasks = await w.open_tasks(case["id"])
            mine = await w.ok("GET", "/v1/tasks", PLANNING)
            assert [t["department"] for t in mine["items"]] == ["planning"]
            assert (await w.ok("GET", "/v1/tasks", PLANNING, params={"department": "environment"}))["items"] == []
            assert (await w.ok("GET", "/v1/tasks", OTHER_PLANNING))["items"] == []
            assert_problem(await w.client.get(f"/v1/tasks/{tasks['environment']['id']}", headers=PLANNING), 404)
            seen = await w.case(case["id"], PLANNING)
            assert [t["department"] for t in seen["tasks"]] == ["planning"]
            assert_problem(await w.client.get(f"/v1/applications/{case['id']}", headers=OTHER_PLANNING), 404)

    async def test_a_reviewer_cannot_act_on_another_departments_task(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.accept(await w.apply(item))
            tasks = await w.open_tasks(case["id"])
            r = await w.client.post(f"/v1/tasks/{tasks['planning']['id']}/approve", headers=ENVIRONMENT, json={})
            assert_problem(r, 404)

    async def test_a_department_without_a_task_in_the_case_does_not_see_it(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.accept(await w.apply(item))
            construction = auth("reviewer", zone=ZONE, department="construction")
            assert_problem(await w.client.get(f"/v1/applications/{case['id']}", headers=construction), 404)
            _ = OTHER_ZONE
