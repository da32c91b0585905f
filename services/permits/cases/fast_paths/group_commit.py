"""Group commit of new cases on PostgreSQL: concurrent intakes written by one statement.

Each intake builds its rows in memory and hands them to the app's :class:`IntakeWriter`, then
waits. The writer takes everything queued, writes it with the one statement of
:mod:`services.permits.cases.fast_paths.one_statement` (all the cases' rows in the same arrays) on a
connection it keeps, and answers every waiting request once that statement has committed.
Under load a batch holds as many intakes as arrived while the previous one was being written;
alone, an intake is written at once.

Correctness per case:

- **Atomic per case**: a batch is one statement, so all its cases commit together or none does;
  a case is never half written.
- **Errors isolated per case**: if a batch fails for a data reason (a constraint, a value the
  driver cannot send), nothing of it was stored and each of its cases is written again on its
  own, so only the faulty case gets the error.
- **Committed before answered**: a request is answered after the statement holding its case
  has committed; a lost connection answers every waiting request with 503 (the intake did not
  happen, or the commit raced the loss).

The seam is :func:`write_case`: without a writer (SQLite, or ``PERMITS_GROUP_COMMIT=false``) it
declines and the intake writes its case in the request's own transaction, the plain path that
``tests/permits/test_fast_paths.py`` holds this one to. An intake with an ``Idempotency-Key``
is given no writer, so it takes the plain path too: its key's answer is stored in the same
transaction as its case (:mod:`services.common.idempotency`), which the writer's statement,
committed on a connection of its own, cannot hold.

The kept connection is checked out of the service's pool once (and again after a failure), so
intakes pay neither a checkout nor the pool's liveness ping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from libs.domain.kernel.errors import UpstreamUnavailable
from libs.domain.kernel.i18n import Text
from services.common.audit import group_commit_rows
from services.permits.cases.fast_paths import one_statement as onestatement

log = structlog.get_logger("devzones.permits.writer")

Rows = Mapping[str, Sequence[dict[str, Any]]]
"""One case's rows by table name."""

MAX_BATCH = 64
"""At most this many cases per statement (bounds the statement's size and a retry's work)."""

CASE_KEY_CONSTRAINT = "pk_application"

_CONNECTION_ERRORS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, TimeoutError)


def _lost(exc: BaseException) -> bool:
    """True when the connection failed, as opposed to the rows (a value asyncpg cannot encode
    raises an InterfaceError that is also a ValueError: the fault of one case)."""
    return isinstance(exc, _CONNECTION_ERRORS) and not isinstance(exc, ValueError)


@dataclass
class _Pending:
    rows: Rows
    done: asyncio.Future[None]


def _merge(batch: Sequence[_Pending]) -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, list[dict[str, Any]]] = {}
    for p in batch:
        for name, values in p.rows.items():
            merged.setdefault(name, []).extend(values)
    return merged


async def write_one(raw: Any, rows: Rows, *, again: bool = False) -> None:
    """Write one case by the one statement.

    ``again``: this is a second attempt after a lost connection; the case's own id found
    stored means the first attempt committed, so the case is stored."""
    try:
        await raw.execute(onestatement.SQL, *onestatement.parameters(rows))
    except asyncpg.UniqueViolationError as exc:
        if again and exc.constraint_name == CASE_KEY_CONSTRAINT:
            return
        raise


class IntakeWriter:
    """Writes the new cases of concurrent requests together (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None
        self._busy = False
        self.statements = 0  # how many statements were sent (batches and single retries)
        self.cases = 0  # how many cases were stored

    def start(self) -> None:
        """Start the writing task."""
        self._task = asyncio.create_task(self._run(), name="permits-intake-writer")

    async def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then stop and give the connection back."""
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        while (self._queue or self._busy) and self._task is not None and not self._task.done():
            if loop.time() > until:
                break
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for p in self._queue:
            if not p.done.done():
                p.done.set_exception(
                    UpstreamUnavailable(
                        Text("服务正在停止", "the service is stopping"), code="database_unavailable", service="database"
                    )
                )
        self._queue.clear()
        await self._release()

    async def write(self, rows: Rows) -> None:
        """Store one case (its rows by table name); returns once committed. Raises
        :class:`UpstreamUnavailable` when the database cannot be reached."""
        if self._task is None or self._task.done():
            raise UpstreamUnavailable(
                Text("收件写入程序未运行", "the intake writer is not running"),
                code="database_unavailable",
                service="database",
            )
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(rows, done))
        self._wake.set()
        return await asyncio.shield(done)  # a client gone away does not cancel the write

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                self._busy = True
                try:
                    await self._write(batch)
                except asyncio.CancelledError:  # stopped mid-write: the requests must not wait forever
                    self._unavailable(batch)
                    raise
                finally:
                    self._busy = False

    async def _raw(self) -> Any:
        if self._conn is None:
            self._conn = await self.engine.connect()
        raw = (await self._conn.get_raw_connection()).driver_connection
        assert raw is not None
        return raw

    async def _release(self, *, broken: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if broken:
                await conn.invalidate()
            await conn.close()

    def _unavailable(self, batch: Sequence[_Pending]) -> None:
        for p in batch:
            if not p.done.done():
                p.done.set_exception(
                    UpstreamUnavailable(
                        Text("保存时数据库无法连接", "database unreachable while saving"),
                        code="database_unavailable",
                        service="database",
                    )
                )

    async def _write(self, batch: list[_Pending]) -> None:
        # A kept connection may have died since its last use (the database restarted): the batch is
        # then sent once more on a fresh connection. That is safe even if the lost attempt had
        # committed, because the rows carry their ids: the second attempt finds them stored.
        for attempt in (1, 2):
            try:
                raw = await self._raw()
            except Exception as exc:  # noqa: BLE001 - no connection to be had: the database is unreachable
                log.warning("intake_writer_cannot_connect", error_type=type(exc).__name__, error=str(exc)[:200])
                await self._release(broken=True)
                self._unavailable(batch)
                return
            try:
                await self._send(raw, batch, again=attempt > 1)
                return
            except Exception as exc:  # noqa: BLE001 - the writer must survive anything; the requests get the error
                await self._release(broken=True)
                if _lost(exc):
                    log.warning("intake_writer_connection_lost", error_type=type(exc).__name__, error=str(exc)[:200])
                    continue
                log.error("intake_writer_failed", error_type=type(exc).__name__, error=str(exc)[:200])
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(exc)
                return
        self._unavailable(batch)

    async def _send(self, raw: Any, batch: list[_Pending], *, again: bool) -> None:
        """Write the batch in one statement; if that fails for a data reason, each case alone."""
        waiting = [p for p in batch if not p.done.done()]
        if len(waiting) > 1:
            try:
                self.statements += 1
                await raw.execute(onestatement.SQL, *onestatement.parameters(_merge(waiting)))
            except Exception as exc:
                if _lost(exc):
                    raise
                log.info("intake_batch_retried_one_by_one", cases=len(waiting), error_type=type(exc).__name__)
            else:
                self.cases += len(waiting)
                for p in waiting:
                    if not p.done.done():
                        p.done.set_result(None)
                return
        for p in waiting:  # alone, or one by one after a failed batch
            try:
                self.statements += 1
                await write_one(raw, p.rows, again=again)
            except Exception as exc:
                if _lost(exc):
                    raise
                if not p.done.done():  # this case's own fault, answered to its request
                    p.done.set_exception(exc)
                continue
            self.cases += 1
            if not p.done.done():
                p.done.set_result(None)


async def write_case(writer: IntakeWriter | None, rows: Rows) -> bool | None:
    """Store one new case (its rows by table name) through the group-commit ``writer``: True once
    committed; ``None`` (nothing done) without a writer. The case's statement carries the request's
    audit row (the writer commits outside any session, where the audit seam cannot add it)."""
    if writer is None:
        return None
    await writer.write(group_commit_rows(rows))  # the request's audit row, in the case's statement
    return True
