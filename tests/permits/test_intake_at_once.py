"""Accepting on the spot (当场受理): ``POST /v1/applications`` with ``accept`` records the case,
both transitions, the deadline, the first stage's tasks, the message and both outbox events in one
transaction; and the intake's cache of items and calendar never serves an edit late on this replica.

Dates worked out by hand on the 2026 calendar: accepted Monday 2 March 2026 (no holiday near),
the item's 10 working days end on Monday 16 March (3, 4, 5, 6, 9, 10, 11, 12, 13, 16); the first
stage's share 0.6 gives 6 working days, Tuesday 10 March.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text

from services.permits.cache import ReadCache
from services.permits.calendar.service import calendar
from services.permits.cases.fast_paths.group_commit import IntakeWriter
from services.permits.dependencies import registry_client
from services.permits.tables import Application, CalendarOverride, OutboxEvent, Task, Transition
from services.permits.workers import sweep_once
from tests.helpers import TcpProxy, assert_problem
from tests.permits.builders import ADMIN, CITY, CLERK, ENTERPRISE, OTHER_CLERK, Window, fake_registry


def body_for(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "item": item["id"],
        "zone_id": item["zone_id"],
        "project_name": "示例项目",
        "applicant": {"name": "企业"},
        **extra,
    }


async def count(w: Any, model: Any) -> int:
    async with w.runtime.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


class TestAcceptedOnTheSpot:
    async def test_one_call_submits_and_accepts_with_deadline_tasks_history_and_events(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            r = await w.client.post("/v1/applications", headers=CLERK, json=body_for(item, accept=True))
            # Without the mandatory materials acceptance is refused (nothing is stored).
            assert_problem(r, 422)
            assert await count(w, Application) == 0
            case = await w.apply(item, headers=CLERK, accept=True)
            assert case["state"] == "in_review"
            assert (case["accepted_on"], case["deadline"], case["provisional"]) == ("2026-03-02", "2026-03-16", False)
            assert case["version"] == 2 and case["stage"] == 1
            assert sorted((t["department"], t["deadline"], t["state"]) for t in case["tasks"]) == [
                ("environment", "2026-03-10", "open"),
                ("planning", "2026-03-10", "open"),
            ]
            history = (await w.ok("GET", f"/v1/applications/{case['id']}/history", CITY))["items"]
            assert [(h["action"], h["from_state"], h["to_state"]) for h in history] == [
                ("submit", None, "submitted"),
                ("accept", "submitted", "in_review"),
            ]
            async with w.runtime.db.sessions() as s:
                events = list(
                    await s.scalars(
                        select(OutboxEvent).where(OutboxEvent.application_id == case["id"]).order_by(OutboxEvent.seq)
                    )
                )
            assert [(e.payload["from_state"], e.payload["to_state"]) for e in events] == [
                (None, "submitted"),
                ("submitted", "in_review"),
            ]
            assert len({e.id for e in events}) == 2
            messages = (await w.ok("GET", f"/v1/applications/{case['id']}/messages", CLERK))["items"]
            assert [m["kind"] for m in messages] == ["accepted"] and "2026-03-16" in messages[0]["body"]
            # What was answered is what was stored.
            assert await w.case(case["id"]) == case

    async def test_the_same_case_as_the_two_calls(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            at_once = await w.apply(item, headers=CLERK, accept=True)
            two_calls = await w.accept(await w.apply(item, headers=CLERK))
            ignore = {"id", "submitted_at", "materials", "tasks"}
            assert {k: v for k, v in at_once.items() if k not in ignore} == {
                k: v for k, v in two_calls.items() if k not in ignore
            }
            assert sorted((t["department"], t["deadline"]) for t in at_once["tasks"]) == sorted(
                (t["department"], t["deadline"]) for t in two_calls["tasks"]
            )
            # Either way the case can go on: it is a normal case in review.
            assert_problem(await w.client.post(f"/v1/applications/{at_once['id']}/accept", headers=CLERK, json={}), 409)

    async def test_a_minor_material_may_be_pending_and_the_note_is_recorded(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            pending = [{"code": "m3", "commitment": "5个工作日内补交授权委托书"}]
            case = await w.apply(
                item, codes=("m1", "m2"), headers=CLERK, accept={"pending": pending, "note": "当场受理"}
            )
            assert case["state"] == "in_review" and case["pending_materials"][0]["code"] == "m3"
            history = (await w.ok("GET", f"/v1/applications/{case['id']}/history", CITY))["items"]
            assert history[-1]["note"] == "当场受理"
            r = await w.client.post(
                "/v1/applications", headers=CLERK, json=body_for(item, accept={"pending": [{"code": "m1"}]})
            )
            assert_problem(r, 422)

    async def test_only_the_window_accepts(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            r = await w.client.post("/v1/applications", headers=ENTERPRISE, json=body_for(item, accept=True))
            assert_problem(r, 403)
            r = await w.client.post("/v1/applications", headers=OTHER_CLERK, json=body_for(item, accept=True))
            assert_problem(r, 403)
            assert_problem(
                await w.client.post("/v1/applications", headers=CLERK, json=body_for(item, accept="yes")), 422
            )
            assert await count(w, Application) == 0
            # Without `accept` the applicant still files for themselves.
            await w.ok("POST", "/v1/applications", ENTERPRISE, 201, json=body_for(item, accept=False))

    async def test_retries_with_one_idempotency_key_make_one_accepted_case(self, window: Any) -> None:
        async with window() as w:
            item = await w.item(
                accept_pending_minor=False, materials=[{"code": "m1", "name": "申请表", "mandatory": False}]
            )
            headers = {**CLERK, "Idempotency-Key": "spot-1"}
            answers = await asyncio.gather(
                w.client.post("/v1/applications", headers=headers, json=body_for(item, accept=True)),
                w.client.post("/v1/applications", headers=headers, json=body_for(item, accept=True)),
            )
            # One runs; the other finds it running (409) or, if it came after, answers its answer.
            assert sorted(r.status_code for r in answers) in ([201, 201], [201, 409]), [r.text for r in answers]
            a = next(r.json() for r in answers if r.status_code == 201)
            assert a["state"] == "in_review"
            again = await w.ok("POST", "/v1/applications", headers, 201, json=body_for(item, accept=True))
            assert again["id"] == a["id"]
            assert (await count(w, Application), await count(w, Task), await count(w, OutboxEvent)) == (1, 2, 2)


class TestTheIntakeSeesEditsAtOnce:
    async def test_a_calendar_override_applies_to_the_next_intake(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            first = await w.apply(item, headers=CLERK, accept=True)
            assert first["deadline"] == "2026-03-16"
            await w.ok("PUT", "/v1/calendar/days/2026-03-04", ADMIN, json={"working": False, "note": "停电"})
            # 4 March off: 3, 5, 6, 9, 10, 11 (stage one), 12, 13, 16, 17.
            second = await w.apply(item, headers=CLERK, accept=True)
            assert second["deadline"] == "2026-03-17"
            assert {t["deadline"] for t in second["tasks"]} == {"2026-03-11"}
            two_calls = await w.accept(await w.apply(item, headers=CLERK))
            assert two_calls["deadline"] == "2026-03-17"

    async def test_an_item_edit_applies_to_the_next_intake(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            assert (await w.apply(item, headers=CLERK, accept=True))["limit_days"] == 10
            from tests.permits.builders import item_body

            await w.ok("PUT", f"/v1/catalog/items/{item['id']}", ADMIN, json=item_body(promised_limit_days=5))
            case = await w.apply(item, headers=CLERK, accept=True)
            # 5 working days: 3, 4, 5 (stage one: round(5 x 0.6) = 3), 6, 9.
            assert (case["limit_days"], case["deadline"]) == (5, "2026-03-09")
            assert {t["deadline"] for t in case["tasks"]} == {"2026-03-05"}

    async def test_another_replicas_edit_shows_after_the_ttl_and_the_sweeper_settles_deadlines(
        self, window: Any
    ) -> None:
        async with window() as w:
            now = [1000.0]
            w.runtime.read_cache = ReadCache(2.0, load_calendar=calendar, clock=lambda: now[0])
            item = await w.item()
            await w.apply(item, headers=CLERK, accept=True)  # fills the cache
            # Another replica's override: written to the database, not through this app.
            async with w.runtime.db.sessions() as s:
                s.add(
                    CalendarOverride(
                        day=date(2026, 3, 4), working=False, note="停电", updated_at=datetime.now(UTC), updated_by="x"
                    )
                )
                await s.commit()
            stale = await w.apply(item, headers=CLERK, accept=True)
            assert stale["deadline"] == "2026-03-16"  # inside the TTL: still the cached calendar
            now[0] += 2.5
            fresh = await w.apply(item, headers=CLERK, accept=True)
            assert fresh["deadline"] == "2026-03-17"
            await sweep_once(w.runtime.db, w.runtime.official_calendar, today=date(2026, 3, 2), worker="test")
            assert (await w.case(stale["id"]))["deadline"] == "2026-03-17"

    async def test_a_read_that_started_before_an_edit_is_not_kept(self, window: Any) -> None:
        async with window() as w:
            cache: ReadCache = w.runtime.read_cache
            item = await w.item()

            class EditedMeanwhile:
                """A session whose query returns after an edit committed (and emptied the cache)."""

                def __init__(self, session: Any) -> None:
                    self.session = session

                async def execute(self, statement: Any) -> Any:
                    result = await self.session.execute(statement)
                    cache.invalidate()
                    return result

            async with w.runtime.db.sessions() as s:
                read = await cache.item(lambda: EditedMeanwhile(s), item["id"])  # type: ignore[arg-type,return-value]
                assert read is not None and read.promised_limit_days == 10
                assert cache._items == {}  # what it read may predate the edit: not kept
                await cache.item(lambda: s, item["id"])
            assert list(cache._items) == [item["id"]]


def case_rows(item: dict[str, Any], *, departments: tuple[str, ...] = ("planning",)) -> Any:
    """A new case's rows by table, as the intake builds them."""
    now, today = datetime.now(UTC), date(2026, 3, 2)
    case_id = uuid.uuid4().hex
    case = {
        "id": case_id,
        "zone": item["zone_id"],
        "item_id": item["id"],
        "item_code": "c",
        "item_name": "n",
        "item_snapshot": {},
        "project_name": "p",
        "applicant_sub": None,
        "applicant": {"name": "x"},
        "land_use": None,
        "findings": [],
        "pending_materials": [],
        "state": "in_review",
        "version": 2,
        "stage": 1,
        "proposed_outcome": None,
        "refusal_reasons": [],
        "submitted_at": now,
        "submitted_on": today,
        "accepted_on": today,
        "limit_days": 10,
        "extension_days": 0,
        "deadline": today,
        "provisional": False,
        "finished_on": None,
        "created_by": "clerk",
        "updated_at": now,
    }
    task = {
        "application_id": case_id,
        "zone": item["zone_id"],
        "stage": 1,
        "state": "open",
        "version": 1,
        "opened_on": today,
        "offset_days": 6,
        "deadline": today,
        "provisional": False,
        "completed_on": None,
        "completed_at": None,
        "completed_by": None,
        "note": None,
        "reasons": [],
        "updated_at": now,
    }
    transition = {
        "application_id": case_id,
        "task_id": None,
        "action": "submit",
        "from_state": None,
        "to_state": "submitted",
        "actor": "clerk",
        "at": now,
        "note": None,
    }
    tasks = [{**task, "id": uuid.uuid4().hex, "department": d} for d in departments]
    return {"application": [case], "task": tasks, "transition": [transition]}


@pytest.mark.parametrize("backend", ["sqlite"])
class TestNoGroupCommitOnSqlite:
    async def test_each_intake_writes_in_its_own_transaction(self, window: Any, backend: str) -> None:
        async with window() as w:
            assert w.runtime.intake_writer is None


@pytest.mark.parametrize("backend", ["postgresql"])  # group commit is the PostgreSQL path
class TestGroupCommit:
    """PostgreSQL: concurrent intakes are written together, each case atomic, errors kept apart."""

    async def test_a_batch_is_one_statement_and_a_faulty_case_fails_alone(self, window: Any, backend: str) -> None:
        async with window() as w:
            writer: IntakeWriter | None = w.runtime.intake_writer
            assert writer is not None
            item = await w.item()
            before = writer.statements
            good = [case_rows(item) for _ in range(3)]
            assert await asyncio.gather(*(writer.write(r) for r in good)) == [None, None, None]
            assert writer.statements == before + 1  # one statement for the three
            assert (await count(w, Application), await count(w, Task), await count(w, Transition)) == (3, 3, 3)
            # A case whose second task repeats a department breaks a unique constraint.
            bad = case_rows(item, departments=("planning", "planning"))
            fine = case_rows(item)
            outcome = await asyncio.gather(writer.write(fine), writer.write(bad), return_exceptions=True)
            assert outcome[0] is None and isinstance(outcome[1], asyncpg.UniqueViolationError)
            assert writer.statements == before + 4  # the failed batch, then each case alone
            assert (await count(w, Application), await count(w, Task), await count(w, Transition)) == (4, 4, 4)
            async with w.runtime.db.sessions() as s:
                ids = set(await s.scalars(select(Application.id)))
            assert fine["application"][0]["id"] in ids and bad["application"][0]["id"] not in ids

    async def test_a_value_that_cannot_be_sent_fails_its_case_alone(self, window: Any, backend: str) -> None:
        async with window() as w:
            writer: IntakeWriter = w.runtime.intake_writer
            item = await w.item()
            bad = case_rows(item)
            bad["application"][0]["version"] = "two"  # not an integer: refused before it is sent
            fine = case_rows(item)
            outcome = await asyncio.gather(writer.write(bad), writer.write(fine), return_exceptions=True)
            assert isinstance(outcome[0], asyncpg.DataError) and outcome[1] is None
            assert await count(w, Application) == 1
            await writer.write(case_rows(item))  # the connection was kept and still works
            assert await count(w, Application) == 2

    async def test_rows_are_stored_as_given_json_null_included(self, window: Any, backend: str) -> None:
        async with window() as w:
            writer: IntakeWriter = w.runtime.intake_writer
            item = await w.item()
            rows = case_rows(item)
            rows["application"][0]["applicant"] = {"name": "示例企业", "note": '引号"和\\反斜杠'}
            await writer.write(rows)
            case_id = rows["application"][0]["id"]
            async with w.runtime.db.sessions() as s:
                stored = (
                    await s.execute(
                        text(
                            "SELECT land_use IS NULL, json_typeof(land_use), applicant::text, submitted_at, "
                            "deadline, provisional FROM application WHERE id = :id"
                        ),
                        {"id": case_id},
                    )
                ).one()
            # Python None in a JSON column is JSON null (as SQLAlchemy's JSON type stores it), not SQL NULL.
            assert stored[0] is False and stored[1] == "null"
            assert json.loads(stored[2]) == {"name": "示例企业", "note": '引号"和\\反斜杠'}
            assert stored[3] == rows["application"][0]["submitted_at"]
            assert (stored[4], stored[5]) == (date(2026, 3, 2), False)

    async def test_a_row_missing_a_column_is_refused_before_sending(self, window: Any, backend: str) -> None:
        async with window() as w:
            writer: IntakeWriter = w.runtime.intake_writer
            item = await w.item()
            rows = case_rows(item)
            del rows["task"][0]["offset_days"]
            with pytest.raises(KeyError, match="offset_days"):
                await writer.write(rows)
            assert await count(w, Application) == 0


@pytest.mark.parametrize("backend", ["postgresql"])  # an embedded SQLite file cannot become unreachable
class TestDatabaseOutage:
    """The group-commit writer keeps a connection: when the database goes, intakes are 503
    problems, nothing is half-stored, and the writer reconnects by itself."""

    async def test_an_intake_during_an_outage_is_503_then_stored_once_on_retry(
        self, app_client: Any, databases: Any, backend: str
    ) -> None:
        url = databases.url("permits", "postgresql")
        host_port = url.rsplit("@", 1)[1].split("/", 1)[0]
        host, port = host_port.split(":")
        proxy = TcpProxy(host, int(port))
        await proxy.start()
        overrides = {registry_client: lambda: fake_registry()}
        try:
            async with app_client(
                "permits", database_url=url.replace(host_port, f"127.0.0.1:{proxy.port}"), overrides=overrides
            ) as client:
                w = Window(client)
                w.today(date(2026, 3, 2))
                item = await w.item(materials=[{"code": "m1", "name": "申请表", "mandatory": False}])
                body = body_for(item, accept=True)
                await w.ok("POST", "/v1/applications", CLERK, 201, json=body)  # the writer is connected
                await proxy.stop()
                # Without a key the intake goes straight to the writer (item and calendar are cached):
                # its kept connection is dead, and a new one cannot be had.
                assert_problem(await client.post("/v1/applications", headers=CLERK, json=body), 503)
                headers = {**CLERK, "Idempotency-Key": "cut-1"}
                assert_problem(await client.post("/v1/applications", headers=headers, json=body), 503)
                await proxy.start()
                stored = await w.ok("POST", "/v1/applications", headers, 201, json=body)
                again = await w.ok("POST", "/v1/applications", headers, 201, json=body)
                assert again["id"] == stored["id"] and stored["state"] == "in_review"
                await w.ok("POST", "/v1/applications", CLERK, 201, json=body)
                listed = await w.ok("GET", "/v1/applications", CITY)
                assert len(listed["items"]) == 3  # the first, the retried one, the last: nothing from the outage
        finally:
            await proxy.stop()
