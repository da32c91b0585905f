"""The case read model is built as a plain dict (``case_document``), not as pydantic models.

The window's intake answers with that dict serialised as it is (``dump_document``); every other
route validates it as an :class:`ApplicationRead`. Both must say the same thing, so here every
document the service builds while cases go through each state, read by each kind of reader, is
held to the model: it must validate, and its JSON must be byte for byte what pydantic writes for
the validated model (same fields, same order, same date and time formats).

The expected bytes come from pydantic's own serialisation of the contract, not from the code
under test; the scenario must reach every state (asserted), so a document shape that only a later
state has cannot slip past.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from libs.domain.permits.contracts import ApplicationRead
from libs.domain.permits.states import CaseState
from services.permits.cases import documents, filing
from tests.permits.builders import ADMIN, CLERK, ENTERPRISE, PLANNING, REVIEWERS, STATES, case_in

LAND_FAILING = {"plot_ratio": "0.8", "building_coverage_percent": "45", "admin_living_share_percent": "9"}


async def _through_every_state(w: Any) -> None:
    """Cases left in every state a case can be in, each read by staff, a reviewer and the applicant,
    and the shapes the states alone do not give (findings, 容缺, an extension, a completed task,
    a refusal, a rating with its rectification)."""
    await w.bureau()
    item = await w.item()
    ids = [(await case_in(w, item, state))["id"] for state in STATES]

    industrial = await w.item(code="gyxm", land_use_check=True)
    pending = [{"code": "m3", "commitment": "5个工作日内补交授权委托书", "due_on": "2026-03-09"}]
    at_once = await w.apply(
        industrial, codes=("m1", "m2"), headers=CLERK, land_use=LAND_FAILING, accept={"pending": pending}
    )
    ids.append(at_once["id"])

    second_stage = await w.accept(await w.apply(item))
    await w.ok("POST", f"/v1/applications/{second_stage['id']}/extensions", ADMIN, json={"days": 3, "reason": "论证"})
    for task in (await w.open_tasks(second_stage["id"])).values():
        await w.approve(task)
    ids.append(second_stage["id"])

    rated = await case_in(w, item, "decided")
    await w.ok("POST", f"/v1/applications/{rated['id']}/rating", ENTERPRISE, 201, json={"score": 1, "comment": "慢"})
    ids.append(rated["id"])

    refused = await w.accept(await w.apply(item))
    task = next(iter((await w.open_tasks(refused["id"])).values()))
    reviewer = REVIEWERS[task["department"]]
    await w.ok("POST", f"/v1/tasks/{task['id']}/reject", reviewer, json={"reasons": ["不符合规划"]})
    ids.append(refused["id"])

    w.today(date(2026, 11, 26))
    for case_id in ids:
        for reader in (ADMIN, CLERK, PLANNING, ENTERPRISE):  # a reader who may not see the case gets 404
            assert (await w.client.get(f"/v1/applications/{case_id}", headers=reader)).status_code in (200, 404)
    await w.ok("GET", "/v1/applications", CLERK)
    await w.ok("GET", "/v1/applications", ENTERPRISE)


async def test_every_document_is_the_model_byte_for_byte(window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []
    original = documents.case_document

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        document = original(*args, **kwargs)
        built.append(document)
        return document

    for builder in (documents, filing):  # the read model's two callers: the reads and the intake
        monkeypatch.setattr(builder, "case_document", recording)
    async with window() as w:
        await _through_every_state(w)

    states = {d["state"] for d in built}
    assert states == {s.value for s in CaseState}, f"the scenario reached only {sorted(states)}"
    shapes = {
        "tasks": any(d["tasks"] for d in built),
        "completed task": any(t["completed_on"] for d in built for t in d["tasks"]),
        "refusal reasons": any(t["reasons"] for d in built for t in d["tasks"]),
        "materials": any(d["materials"] for d in built),
        "pending": any(d["pending_materials"] for d in built),
        "findings": any(d["findings"] for d in built),
        "decision": any(d["decision"] for d in built),
        "rating with rectification": any(d["rating"] and d["rating"]["rectification"] for d in built),
        "stopped clock": any(d["days_stopped"] or d["clock"] == "stopped" for d in built),
    }
    assert all(shapes.values()), f"not reached: {[k for k, v in shapes.items() if not v]}"
    for document in built:
        expected = ApplicationRead.model_validate(document).model_dump_json().encode()
        assert documents.dump_document(document) == expected
