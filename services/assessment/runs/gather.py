"""Gathering a new run's inputs: the zones and their values, the earlier run and lineage, the sanction policy.

The calls to the registry and metrics services overlap with the database reads (never two on
the session at once). The matrix needs only the indicators: it is asked for as soon as they are
known, while the registry lists the zones. A failing call surfaces in the same order as if each
were awaited in turn: the registry's first, then the metrics service's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import AssessmentCreate
from libs.domain.assessment.history import zones_needing_lineage
from libs.domain.assessment.scoring import Subject
from libs.domain.clients.metrics import MetricsClient
from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period, ZoneStatus
from libs.domain.metrics.contracts import MatrixRead
from services.assessment.runs import repository
from services.assessment.runs.commands import RunContext, RunRequest
from services.assessment.sanctions import service as sanctions_service
from services.assessment.tables import Assessment

T = TypeVar("T")
U = TypeVar("U")


class Named(NamedTuple):
    """A subject to score, before its values: a zone or a division."""

    id: str
    name: str


@dataclass
class SanctionInputs:
    """The sanction part of a run's inputs, the notes on it, and the extra indicators its rules read."""

    inputs: dict[str, Any] | None
    notes: list[str]
    extra: list[str] = field(default_factory=list)


class History(NamedTuple):
    """The earlier run to compare with, its ranks, and the lineage of the zones it lacks."""

    previous: Assessment | None
    ranks: dict[str, int | None] | None
    predecessors: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Gathered:
    """Everything a run is computed from besides the methodology."""

    zones: list[Subject]
    reference: list[Subject]
    history: History
    sanctions: SanctionInputs


async def gather(context: RunContext, request: RunRequest) -> Gathered:
    """The zones of the kind with their values, the earlier run, and (annual runs) the sanction policy."""
    period, kind, as_of = request.period, request.kind, request.registry_as_of
    metrics = context.metrics
    matrix_call: asyncio.Future[MatrixRead] | None = None

    def ask_matrix(extra: list[str]) -> None:
        nonlocal matrix_call
        wanted = list(dict.fromkeys([*request.method.indicators, *extra]))
        matrix_call = asyncio.ensure_future(
            metrics.matrix(period=str(period), indicators=wanted, kind=kind, as_of=as_of, lineage="proforma")
        )

    try:
        zone_list, sanctions = await alongside(
            context.registry.list_zones(as_of=as_of, kind=request.body.kind, status=ZoneStatus.ACTIVE),
            _sanction_inputs(context.session, metrics, kind, period, ask_matrix)
            if request.ranks_zones
            else _no_sanctions(ask_matrix),
        )
    except BaseException:
        await cancelled(matrix_call)
        raise
    assert matrix_call is not None
    zone_refs = sorted((Named(z.id, z.name) for z in zone_list), key=lambda t: t[0])
    codes = list(dict.fromkeys([*request.method.indicators, *sanctions.extra]))
    matrix, history = await alongside(
        matrix_call,
        _history(context.session, context.registry, request, [z for z, _ in zone_refs])
        if request.ranks_zones
        else _no_history(),
    )
    zones = _subjects(matrix, zone_refs, codes)
    reference: list[Subject] = []
    if not request.ranks_zones:
        reference = await _reference_subjects(context.registry, metrics, request.body, period, codes, as_of)
    return Gathered(zones, reference, history, sanctions)


async def predecessors(registry: RegistryClient, zones: Iterable[str]) -> dict[str, list[str]]:
    """Each zone's predecessors (transitively) by the registry's lineage, in bulk calls."""
    wanted = list(zones)
    if not wanted:
        return {}
    found = await registry.lineages(wanted)
    out = {z: sorted({link.state.id for link in found[z].predecessors}) for z in wanted if z in found}
    return {z: preds for z, preds in out.items() if preds}


def _subjects(matrix: MatrixRead, wanted: Sequence[Named], codes: Sequence[str]) -> list[Subject]:
    """Subjects in ``wanted`` order with the matrix's values (a subject the matrix lacks has none)."""
    rows = {r.zone: r for r in matrix.rows}
    columns = set(codes)
    out = []
    for ident, name in wanted:
        row = rows.get(ident)
        if row is None:
            values: dict[str, float | None] = dict.fromkeys(codes)
        elif row.values.keys() == columns:  # the usual case: exactly the indicators asked for
            values = dict(row.values)
        else:
            values = dict(zip(codes, map(row.values.get, codes), strict=True))
        out.append(Subject(ident, name, values))
    return out


async def _sanction_inputs(
    session: AsyncSession,
    metrics: MetricsClient,
    kind: str,
    period: Period,
    extra_known: Callable[[list[str]], None] = lambda extra: None,
) -> SanctionInputs:
    """The policy, the earlier annual runs' warnings, and the extra indicators the rules read.

    ``extra_known`` hears of those indicators as soon as they are known (before the earlier
    runs are read): the values can be asked for meanwhile.
    """
    if period.type != "year":
        extra_known([])
        return SanctionInputs(None, ["rewards and warnings are decided by annual runs only (三十: 当年综合考评结果)"])
    policy, version = await sanctions_service.current_policy(session, kind)
    notes = [f"sanction policy: {'source defaults (' + policy.source + ')' if version == 0 else f'version {version}'}"]
    extra = policy.indicators
    if extra:
        known = {i.code for i in await metrics.indicators()}
        missing = [c for c in extra if c not in known]
        if missing:
            notes.append(f"indicator(s) {', '.join(missing)} not in the metrics catalog: their rules cannot apply")
        extra = [c for c in extra if c in known]
    extra_known(extra)
    earlier: list[list[str]] = []
    labels: list[str] = []
    runs: list[int] = []
    for back in range(1, policy.consecutive_warnings_for_review):
        # Only a published run's warnings count (a draft, superseded or withdrawn one's are not in force).
        run = await repository.published_annual_run(session, kind=kind, year_start=date(period.year - back, 1, 1))
        if run is None:
            break
        earlier.append(await repository.warned_zones(session, run.id))
        labels.append(f"{run.period} run #{run.id} ({run.label})")
        runs.append(run.id)
    data = {
        "policy": policy.as_dict(),
        "policy_version": version,
        "earlier_warned": earlier,
        "earlier_labels": labels,
        "earlier_runs": runs,
    }
    return SanctionInputs(data, notes, extra)


async def _no_sanctions(extra_known: Callable[[list[str]], None]) -> SanctionInputs:
    extra_known([])
    return SanctionInputs(None, [])


async def _history(
    session: AsyncSession, registry: RegistryClient, request: RunRequest, zones: Sequence[str]
) -> History:
    """The published run of the previous period to compare with, its ranks, and the lineage of the zones it lacks
    (never another run of the same period: a re-run is not progress)."""
    previous = await repository.published_run(
        session, code=request.method_row.code, kind=request.kind, period=str(request.period.previous())
    )
    if previous is None:
        return History(None, None, {})
    ranks = await repository.ranks(session, previous.id)
    return History(previous, ranks, await predecessors(registry, zones_needing_lineage(zones, ranks)))


async def _no_history() -> History:
    return History(None, None, {})


async def _reference_subjects(
    registry: RegistryClient,
    metrics: MetricsClient,
    body: AssessmentCreate,
    period: Period,
    codes: Sequence[str],
    as_of: date,
) -> list[Subject]:
    """The county-level divisions without a provincial zone (all, or those asked for) with their own values."""
    divisions = await registry.divisions(as_of=as_of)
    eligible = sorted(Named(d.code, d.name) for d in divisions if not d.is_city and not d.has_provincial_zone)
    if body.divisions is not None:
        known = {c for c, _ in eligible}
        bad = [i for i, c in enumerate(body.divisions) if c not in known]
        if bad:
            raise Unprocessable(
                Text(
                    "只有未设省级开发区的县级行政区才能计算参照得分",
                    "only county-level divisions without a provincial zone can be scored by reference",
                ),
                code="divisions_not_eligible",
                errors=[
                    {
                        "loc": ["body", "divisions", i],
                        "msg": Text("已设省级开发区，或不是县级行政区", "has a provincial zone or is not a division"),
                        "type": "division",
                        "code": "division",
                    }
                    for i in bad
                ],
            )
        eligible = [n for n in eligible if n.id in set(body.divisions)]
    if not eligible:
        return []
    matrix = await metrics.division_matrix(
        period=str(period), indicators=codes, divisions=[c for c, _ in eligible], as_of=as_of
    )
    return _subjects(matrix, eligible, codes)


async def alongside(upstream: Awaitable[T], local: Awaitable[U]) -> tuple[T, U]:
    """Both results, ``upstream`` (HTTP calls only, never the session) running while ``local`` is awaited.

    Errors come out as if ``upstream`` had been awaited first: when ``local`` fails, ``upstream``
    is finished and its own error, if any, wins (a 503 from a service that is down names the
    same service as before, and nothing is left running or stored). Cancelled, both stop.
    """
    task = asyncio.ensure_future(upstream)
    try:
        mine = await local
    except Exception:
        await asyncio.wait([task])
        first = None if task.cancelled() else task.exception()
        if first is not None:
            raise first  # noqa: B904 - the upstream's error is the one the caller would have seen first
        raise
    except BaseException:
        task.cancel()
        with suppress(BaseException):
            await task
        raise
    return await task, mine


async def cancelled(task: asyncio.Future[Any] | None) -> None:
    """Stop ``task`` (if any) and wait for it, whatever it raises."""
    if task is None:
        return
    task.cancel()
    with suppress(BaseException):
        await task
