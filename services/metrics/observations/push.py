"""The push use case: a batch (JSON or an imported file) checked as a whole and stored atomically.

Every bad row is reported, a row outside the caller's scope makes it a 403, a locked period a
423, and only a batch without any fault is stored, in one transaction: the current values, one
revision per changed value, and a batch record sealing those revisions as the next link of the
ledger's hash chain. A batch of new values may first be tried by the speculative ``COPY``
(:func:`~services.metrics.observations.fast_paths.copy.try_push`), which answers the same or declines.
"""

from __future__ import annotations

from datetime import date

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period, Role, today_in_china
from libs.domain.metrics.contracts import MAX_BATCH_ROWS, ImportSummary
from services.metrics.indicators.service import Catalog, load_catalog
from services.metrics.observations.checks import Faults, check_rows
from services.metrics.observations.commands import PushContext, PushValues
from services.metrics.observations.decoding import too_many
from services.metrics.observations.fast_paths import copy
from services.metrics.observations.ledger_writer import LedgerWriter
from services.metrics.observations.locks import row_locks
from services.metrics.observations.repository import ObservationRepository
from services.metrics.observations.scope import Outside, check_zones, writable_zones
from services.metrics.observations.summaries import conflicted, counts, first_rows, summary


async def push(command: PushValues, context: PushContext) -> ImportSummary:
    """Check and (unless a dry run) store a batch; raise on any fault, storing nothing."""
    count = len(command.rows)
    if count > MAX_BATCH_ROWS:
        raise too_many(count)
    if command.restatement_reason is not None and not context.actor.has(Role.CITY_ADMIN):
        raise Forbidden(
            Text(
                "只有市级管理员（city_admin）可以更正已锁定的数据（restatement_reason）",
                "only a city_admin may restate values (restatement_reason)",
            ),
            code="restatement_not_allowed",
        )
    session = context.session
    catalogs = context.catalogs
    catalog = await (catalogs.get(session=session) if catalogs is not None else load_catalog(session=session))
    today = today_in_china()
    if context.fast_copy and (done := await copy.try_push(command, context, catalog, today)) is not None:
        return done
    return await _checked_push(command, context, catalog, today)


def _accepted(row: Outside, zones: dict[Period, list[str]], actor: Actor) -> list[str]:
    """What a refused row may name instead: the caller's zones then, or for a division's totals
    the county's own division."""
    if row.subject_type == "division":
        return [actor.division] if actor.division and actor.has(Role.COUNTY) else []
    return zones[row.period]


async def _checked_push(command: PushValues, context: PushContext, catalog: Catalog, today: date) -> ImportSummary:
    """The plain path: every check, then the values stored (or the first fault raised)."""
    dry_run, restatement_reason = command.dry_run, command.restatement_reason
    rows, conflicts = command.rows.read()
    faults = Faults(conflicts, command.rows.lines(), command.rows.columns())
    checked = check_rows(rows, catalog, faults, today)
    if faults.rows:
        checked = [r for r in checked if r.index not in faults.rows]
    outside, kinds = await check_zones(
        checked, actor=context.actor, registry=context.registry, jurisdiction=context.jurisdiction, faults=faults
    )
    if outside:  # rows of a file are named as Excel shows them, rows of a JSON batch by index
        indices = [faults.lines.get(o.position) or o.position for o in outside]
        accepted = {
            o.period: await writable_zones(
                context.actor, o.period, registry=context.registry, jurisdiction=context.jurisdiction
            )
            for o in {o.period: o for o in outside}.values()
        }
        raise Forbidden(
            Text(
                f"{len(outside)} 行不在本账号可报送的范围内（{first_rows(indices, zh=True)}），"
                "`rows` 列出每一行、其开发区所属的县（区）以及本账号可报送的开发区",
                f"{len(outside)} row(s) are outside the caller's scope: {first_rows(indices)}; `rows` lists each "
                "with the division of its zone and the zones the caller may write for",
            ),
            code="outside_scope",
            rows=[o.view(faults.lines, faults.columns, _accepted(o, accepted, context.actor)) for o in sorted(outside)],
        )
    rejected = faults.rows
    good = [r for r in checked if r.index not in rejected] if rejected else checked
    repo = ObservationRepository(context.session)
    if not dry_run and not faults.items:
        await repo.lock_writes()
    current = await repo.current(
        [r.subject_type for r in good],
        [r.subject_id for r in good],
        [r.static.code for r in good],
        [r.static.period_text for r in good],
    )
    if faults.items:
        raise conflicted(faults, counts(good, current, len(rejected), command.skipped), dry_run=dry_run)
    tally = counts(good, current, 0, command.skipped)
    if current:
        to_write = [r for r in good if (old := current.get(r.key)) is None or old.value != r.value]
    else:
        to_write = good
    held = await row_locks(context.session, to_write, kinds, restatement_reason=restatement_reason)
    if dry_run or not to_write:
        return summary(faults, tally, dry_run=dry_run)
    write = LedgerWriter(repo, context.actor, command.source, command.filename, len(command.rows), restatement_reason)
    batch_id = await write(to_write, tally, current, held)
    return summary(faults, tally, dry_run=False, batch=batch_id, restatement=restatement_reason is not None)
