"""A change of a case writes its new rows in one statement on PostgreSQL.

Accepting a case adds its first stage's tasks, a transition, an outbox event and a message to the
applicant; approving a task adds a transition (and, when the stage or the case moves on, more).
On PostgreSQL those rows go in one statement (``CaseRepository.insert_rows`` through the intake's
statement), on SQLite one statement per table. Both must store the same rows: the history, the
messages and the tasks read back afterwards are compared with what the actions must have written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from services.common.runtime import runtime_of
from services.permits.runtime import PermitsRuntime
from tests.permits.builders import CITY, CLERK, ENTERPRISE


def _inserts(app: Any) -> list[str]:
    """Record the INSERT statements sent through the app's engine (the list fills as they go)."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "INSERT INTO" in statement.upper():
            seen.append(" ".join(statement.split())[:80])

    event.listen(runtime_of(app, PermitsRuntime).db.engine.sync_engine, "before_cursor_execute", before)
    return seen


async def test_accepting_writes_the_new_rows_in_one_statement_on_postgresql(window: Any, backend: str) -> None:
    async with window() as w:
        item = await w.item()
        case = await w.apply(item)
        inserts = _inserts(w.app)
        accepted = await w.accept(case)
        # tasks, transition, outbox event, message: four tables; then the audit entry, added by the
        # commit in its own statement (services/common/audit.py)
        audited = [i for i in inserts if i.startswith("INSERT INTO audit_log")]
        assert len(audited) == 1 and inserts[-1] == audited[0], inserts
        assert len(inserts) - 1 == (1 if backend == "postgresql" else 4), inserts

        assert sorted(t["department"] for t in accepted["tasks"]) == ["environment", "planning"]
        history = (await w.ok("GET", f"/v1/applications/{case['id']}/history", CITY))["items"]
        assert [(h["action"], h["from_state"], h["to_state"]) for h in history] == [
            ("submit", None, "submitted"),
            ("accept", "submitted", "in_review"),
        ]
        messages = (await w.ok("GET", f"/v1/applications/{case['id']}/messages", ENTERPRISE))["items"]
        assert [m["kind"] for m in messages] == ["accepted"]

        inserts.clear()
        await w.approve_all(case["id"])
        # three approvals: each writes its transition (the one closing stage 1 opens stage 2's
        # task, the last one announces awaiting_decision): one statement each on PostgreSQL
        case_rows = [i for i in inserts if not i.startswith("INSERT INTO audit_log")]
        assert len(inserts) - len(case_rows) == 3, inserts  # one audit entry per approval
        if backend == "postgresql":
            assert len(case_rows) == 3, inserts
        else:
            assert len(case_rows) >= 3, inserts
        finished = await w.case(case["id"], CLERK)
        assert finished["state"] == "awaiting_decision"
        actions = [h["action"] for h in (await w.ok("GET", f"/v1/applications/{case['id']}/history", CITY))["items"]]
        assert actions.count("approve") == 3
