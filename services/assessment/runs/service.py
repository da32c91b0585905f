"""Use cases on runs: compute and store a run, read it, verify it, its outcomes, sensitivity, bulletin."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import (
    AssessmentCreate,
    AssessmentRead,
    AssessmentSummary,
    Difference,
    MethodologyRef,
    OutcomeRead,
    RankIntervalRead,
    SensitivityRead,
    VerificationRead,
)
from libs.domain.assessment.history import zones_needing_lineage
from libs.domain.assessment.run import (
    RunEvaluation,
    build_inputs,
    differences,
    evaluate_run,
    full_detail,
    leaf_keys,
)
from libs.domain.assessment.sanctions import Outcome as DecidedOutcome
from libs.domain.assessment.scoring import Subject
from libs.domain.assessment.sensitivity import WEIGHT_SPREAD, analyse
from libs.domain.assessment.validation import parse_methodology
from libs.domain.clients.metrics import MetricsClient
from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.canonical import canonical_with_sha256, inputs_sha256
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Conflict, NotFound, Unprocessable
from libs.domain.kernel.values import Period, ZoneKind, ZoneStatus
from libs.domain.metrics.contracts import MatrixRead
from services.assessment.dependencies import authorise_kinds
from services.assessment.methodologies import repository as methodology_repo
from services.assessment.reports import bulletin_render
from services.assessment.runs import repository
from services.assessment.sanctions import service as sanctions_service
from services.assessment.sanctions.service import SUMMONED, outcome_read
from services.assessment.tables import Assessment, AssessmentResult, Methodology
from services.assessment.tables import ReferenceScore as ReferenceRow

MAX_DIFFERENCES = 200
KIND_ZH = bulletin_render.KIND_ZH


_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a run builds, stores and answers its results.

    A national run makes about 100,000 small acyclic dicts and lists (one per leaf per zone);
    with the collector on, its full passes walk all of them again and again, about a third of
    the run's computing time. Reference counting frees them as usual; the collector resumes
    when the last overlapping pause ends (and only if it was on to begin with).
    """
    global _gc_pauses, _gc_was_enabled
    if _gc_pauses == 0:
        _gc_was_enabled = gc.isenabled()
        gc.disable()
    _gc_pauses += 1
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0 and _gc_was_enabled:
            gc.enable()


def _period(text: str, loc: list[str | int]) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise Unprocessable(str(exc), errors=[{"loc": loc, "msg": str(exc), "type": "period"}]) from exc


async def _methodology(session: AsyncSession, code: str, version: int | None) -> Methodology:
    row = await (
        methodology_repo.latest(session, code) if version is None else methodology_repo.get(session, code, version)
    )
    if row is None:
        what = f"methodology {code}" + ("" if version is None else f" version {version}")
        raise NotFound(f"{what} does not exist")
    return row


async def _predecessors(registry: RegistryClient, zones: Iterable[str]) -> dict[str, list[str]]:
    """Each zone's predecessors (transitively) by the registry's lineage, in bulk calls."""
    wanted = list(zones)
    if not wanted:
        return {}
    found = await registry.lineages(wanted)
    out = {z: sorted({link.zone.id for link in found[z].predecessors}) for z in wanted if z in found}
    return {z: preds for z, preds in out.items() if preds}


def _subjects(matrix: MatrixRead, wanted: Sequence[tuple[str, str]], codes: Sequence[str]) -> list[Subject]:
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


@dataclass(frozen=True)
class RunAnswer:
    """A run's id and its answer, as JSON (an :class:`AssessmentRead`)."""

    id: int
    content: bytes


async def _stored_answer(session: AsyncSession, run_id: int) -> RunAnswer:
    return RunAnswer(run_id, (await get_run(session=session, run_id=run_id)).model_dump_json().encode())


@dataclass
class _Sanctions:
    inputs: dict[str, Any] | None
    notes: list[str]


async def _sanction_inputs(
    session: AsyncSession,
    metrics: MetricsClient,
    kind: str,
    period: Period,
    extra_known: Callable[[list[str]], None] = lambda extra: None,
) -> tuple[_Sanctions, list[str]]:
    """The policy, the earlier annual runs' warnings, and the extra indicators the rules read.

    ``extra_known`` hears of those indicators as soon as they are known (before the earlier
    runs are read): the values can be asked for meanwhile.
    """
    if period.type != "year":
        extra_known([])
        return _Sanctions(None, ["rewards and warnings are decided by annual runs only (三十: 当年综合考评结果)"]), []
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
    for back in range(1, policy.consecutive_warnings_for_review):
        run = await repository.annual_run(session, kind=kind, year_start=date(period.year - back, 1, 1))
        if run is None:
            break
        earlier.append(await repository.warned_zones(session, run.id))
        labels.append(f"{run.period} run #{run.id} ({run.label})")
    data = {"policy": policy.as_dict(), "policy_version": version, "earlier_warned": earlier, "earlier_labels": labels}
    return _Sanctions(data, notes), extra


T = TypeVar("T")
U = TypeVar("U")


async def _alongside(upstream: Awaitable[T], local: Awaitable[U]) -> tuple[T, U]:
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


async def _cancelled(task: asyncio.Future[Any] | None) -> None:
    """Stop ``task`` (if any) and wait for it, whatever it raises."""
    if task is None:
        return
    task.cancel()
    with suppress(BaseException):
        await task


async def _no_sanctions(extra_known: Callable[[list[str]], None]) -> tuple[_Sanctions, list[str]]:
    extra_known([])
    return _Sanctions(None, []), []


_History = tuple[Assessment | None, dict[str, int | None] | None, dict[str, list[str]]]


async def _no_history() -> _History:
    return None, None, {}


async def _history(
    session: AsyncSession, registry: RegistryClient, code: str, kind: str, period: Period, zones: Sequence[str]
) -> _History:
    """The earlier run to compare with, its ranks, and the lineage of the zones it lacks."""
    previous = await repository.previous_run(
        session, code=code, kind=kind, period_type=period.type, before=period.start
    )
    if previous is None:
        return None, None, {}
    ranks = await repository.ranks(session, previous.id)
    return previous, ranks, await _predecessors(registry, zones_needing_lineage(zones, ranks))


def _check_request(body: AssessmentCreate, method_row: Methodology, period: Period) -> None:
    """422 unless the methodology applies to the kind and period type asked for."""
    kind = body.kind.value
    if kind not in method_row.applies_to:
        raise Unprocessable(
            f"methodology {method_row.code} v{method_row.version} applies to {', '.join(method_row.applies_to)}, "
            f"not {kind}",
            errors=[{"loc": ["body", "kind"], "msg": "not a kind the methodology applies to", "type": "kind"}],
        )
    if period.type != method_row.period_type:
        raise Unprocessable(
            f"methodology {method_row.code} is applied per {method_row.period_type}, got the {period.type} {period}",
            errors=[{"loc": ["body", "period"], "msg": f"expected a {method_row.period_type}", "type": "period"}],
        )
    if body.subjects == "zones" and body.divisions:
        raise Unprocessable(
            "`divisions` only applies to divisions_without_zone runs",
            errors=[{"loc": ["body", "divisions"], "msg": "only with divisions_without_zone", "type": "subjects"}],
        )


async def _reference_subjects(
    registry: RegistryClient, metrics: MetricsClient, body: AssessmentCreate, period: Period, codes: Sequence[str]
) -> list[Subject]:
    """The county-level divisions without a provincial zone (all, or those asked for) with their own values."""
    divisions = await registry.divisions(as_of=period.end)
    eligible = sorted((d.code, d.name) for d in divisions if not d.is_city and not d.has_provincial_zone)
    if body.divisions is not None:
        known = {c for c, _ in eligible}
        bad = [i for i, c in enumerate(body.divisions) if c not in known]
        if bad:
            raise Unprocessable(
                "only county-level divisions without a provincial zone can be scored by reference",
                errors=[
                    {
                        "loc": ["body", "divisions", i],
                        "msg": "has a provincial zone or is not a division",
                        "type": "division",
                    }
                    for i in bad
                ],
            )
        eligible = [(c, n) for c, n in eligible if c in set(body.divisions)]
    if not eligible:
        return []
    matrix = await metrics.division_matrix(
        period=str(period), indicators=codes, divisions=[c for c, _ in eligible], as_of=period.end
    )
    return _subjects(matrix, eligible, codes)


async def create_run(
    *,
    session: AsyncSession,
    registry: RegistryClient,
    metrics: MetricsClient,
    actor: Actor,
    body: AssessmentCreate,
    idempotency_key: str | None,
) -> tuple[RunAnswer, bool]:
    """Compute a run from the registry and metrics services and store it; True when newly stored.

    If either service is down the 503 propagates before anything is written.
    """
    authorise_kinds(actor, [body.kind.value])
    request_sha = inputs_sha256(body.model_dump(mode="json"))
    if idempotency_key:
        earlier = await repository.by_idempotency_key(session, actor.sub, idempotency_key)
        if earlier is not None:
            if earlier.request_sha256 != request_sha:
                raise Unprocessable(
                    "this Idempotency-Key was used for a different request",
                    errors=[{"loc": ["header", "Idempotency-Key"], "msg": "reused with another body", "type": "reuse"}],
                )
            return await _stored_answer(session, earlier.id), False
    period = _period(body.period, ["body", "period"])
    method_row = await _methodology(session, body.methodology, body.version)
    _check_request(body, method_row, period)
    kind = body.kind.value
    method = parse_methodology(method_row.document)
    as_of = period.end
    notes: list[str] = []
    if method_row.document.get("note"):
        notes.append(f"methodology note: {method_row.document['note']}")
    # The upstream calls overlap with the database reads (never two on the session at once).
    # The matrix needs only the indicators: it is asked for as soon as they are known, while
    # the registry lists the zones. A failing call surfaces in the same order as before:
    # the registry's first, then the metrics service's.
    matrix_call: asyncio.Future[MatrixRead] | None = None

    def ask_matrix(extra: list[str]) -> None:
        nonlocal matrix_call
        wanted = list(dict.fromkeys([*method.indicators, *extra]))
        matrix_call = asyncio.ensure_future(
            metrics.matrix(period=str(period), indicators=wanted, kind=kind, as_of=as_of, lineage="proforma")
        )

    try:
        zone_list, (sanctions, extra) = await _alongside(
            registry.list_zones(as_of=as_of, kind=body.kind, status=ZoneStatus.ACTIVE),
            _sanction_inputs(session, metrics, kind, period, ask_matrix)
            if body.subjects == "zones"
            else _no_sanctions(ask_matrix),
        )
    except BaseException:
        await _cancelled(matrix_call)
        raise
    assert matrix_call is not None
    zone_refs = sorted(((z.id, z.name) for z in zone_list), key=lambda t: t[0])
    codes = list(dict.fromkeys([*method.indicators, *extra]))
    matrix, history = await _alongside(
        matrix_call,
        _history(session, registry, method_row.code, kind, period, [z for z, _ in zone_refs])
        if body.subjects == "zones"
        else _no_history(),
    )
    zone_subjects = _subjects(matrix, zone_refs, codes)
    without_values = sum(1 for s in zone_subjects if all(v is None for v in s.values.values()))
    if without_values:
        notes.append(f"{without_values} zone(s) have no values for {period} in the metrics service")
    reference: list[Subject] = []
    previous, previous_ranks, predecessors = history
    if body.subjects == "divisions_without_zone":
        reference = await _reference_subjects(registry, metrics, body, period, codes)
        notes.append(
            f"reference scores against the statistics of the {len(zone_subjects)} {KIND_ZH[kind]} "
            "(参照省考核办法, 二十八); the zones' own results are not stored by this run"
        )
    elif previous is None:
        notes.append(f"no earlier run of {method_row.code} for {kind} zones: no rank changes")

    def inputs_with(preds: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        return build_inputs(
            methodology=method_row.document,
            methodology_sha256=method_row.sha256,
            kind=kind,
            period=str(period),
            subjects=body.subjects,
            registry_as_of=as_of.isoformat(),
            zones=zone_subjects,
            reference=reference,
            previous_assessment=previous.id if previous else None,
            previous_ranks=previous_ranks,
            predecessors=preds,
            sanctions=sanctions.inputs,
        )

    inputs = inputs_with(predecessors)
    evaluation = evaluate_run(inputs)
    if sanctions.inputs and sanctions.inputs["earlier_warned"]:
        # A zone warned now may carry on a warning of a zone merged into it: those zones' lineage too.
        warned_before = {z for group in sanctions.inputs["earlier_warned"] for z in group}
        warned = {o.zone for o in evaluation.outcomes if o.outcome == "warned"}
        more = sorted(z for z in warned if z not in warned_before and z not in predecessors)
        if more:
            found = await _predecessors(registry, more)
            if any(p in warned_before for preds in found.values() for p in preds):
                predecessors = {**predecessors, **found}
                inputs = inputs_with(predecessors)
                evaluation = evaluate_run(inputs)
    notes.extend(sanctions.notes)
    canonical, sha = canonical_with_sha256(inputs)
    now = datetime.now(UTC)
    scored = len(reference) if body.subjects == "divisions_without_zone" else len(zone_subjects)
    ranked = (
        sum(1 for r in evaluation.reference if r.score is not None)
        if body.subjects == "divisions_without_zone"
        else evaluation.ranked
    )
    # The answer's results are written while the run is stored (a chunk of zones at a time,
    # in the database's waits); it is only returned once everything is stored.
    answer = asyncio.ensure_future(_results_json(evaluation, zones=body.subjects == "zones"))
    try:
        async with session.begin_nested():
            run = await repository.insert_run(
                session,
                methodology_id=method_row.id,
                methodology_code=method_row.code,
                methodology_version=method_row.version,
                kind=kind,
                period=str(period),
                period_start_on=period.start,
                period_type=period.type,
                label=body.label,
                subjects=body.subjects,
                registry_as_of=as_of,
                inputs=inputs,
                inputs_json=canonical,
                inputs_sha256=sha,
                previous_assessment_id=previous.id if previous else None,
                zone_count=scored,
                ranked_count=ranked,
                outcome_count=len(evaluation.outcomes),
                notes=notes,
                idempotency_key=idempotency_key,
                request_sha256=request_sha,
                created_at=now,
                created_by=actor.sub,
            )
            await _store_evaluation(session, run, evaluation, now)
    except BaseException as exc:
        await _cancelled(answer)
        if not isinstance(exc, IntegrityError):
            raise
        if idempotency_key:
            raced = await repository.by_idempotency_key(session, actor.sub, idempotency_key)
            if raced is not None and raced.request_sha256 == request_sha:
                return await _stored_answer(session, raced.id), False
        raise Conflict("a run with this Idempotency-Key was stored at the same time") from exc
    return RunAnswer(run.id, _read(run, method_row, *await answer)), True


async def _store_evaluation(session: AsyncSession, run: Assessment, evaluation: RunEvaluation, now: datetime) -> None:
    await repository.insert_results(
        session,
        [
            {
                "assessment_id": run.id,
                "position": i,
                "zone": r.zone,
                "name": r.name,
                "score": r.score,
                "rank": r.rank,
                "previous_rank": r.previous_rank,
                "rank_change": r.rank_change,
                "movement": r.movement,
                "detail": r.stored(),
            }
            for i, r in enumerate(evaluation.results)
        ]
        if run.subjects == "zones"
        else [],
    )
    await repository.insert_reference(
        session,
        [
            {
                "assessment_id": run.id,
                "position": i,
                "division": r.division,
                "name": r.name,
                "score": r.score,
                "reference_rank": r.reference_rank,
                "recommended": r.recommended,
                "detail": r.stored(),
            }
            for i, r in enumerate(evaluation.reference)
        ],
    )
    if not evaluation.outcomes:
        return
    names = {z["id"]: z["name"] for z in run.inputs["zones"]}
    stored = await repository.insert_outcomes(session, [_outcome_row(run, o, now, names) for o in evaluation.outcomes])
    policy = (run.inputs.get("sanctions") or {}).get("policy", {})
    if policy.get("summons_on_warning", True):
        await repository.insert_summons(
            session,
            [
                {
                    "outcome_id": o.id,
                    "assessment_id": run.id,
                    "zone": o.zone,
                    "name": o.name,
                    "summoned": SUMMONED,
                    "reason": f"{o.label}: {o.detail}",
                    "status": "pending",
                    "created_at": now,
                }
                for o in stored
                if o.outcome == "warned"
            ],
        )


def _outcome_row(run: Assessment, outcome: DecidedOutcome, now: datetime, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "assessment_id": run.id,
        "zone": outcome.zone,
        "name": names.get(outcome.zone, ""),
        "kind": run.kind,
        "period": run.period,
        "outcome": outcome.outcome,
        "rule": outcome.rule,
        "label": outcome.label,
        "detail": outcome.detail,
        "numbers": outcome.numbers,
        "tie": outcome.tie,
        "created_at": now,
    }


# --- reading ---------------------------------------------------------------------------------------


def _summary_fields(run: Assessment, method: Methodology) -> dict[str, Any]:
    return {
        "id": run.id,
        "methodology": MethodologyRef(
            code=run.methodology_code, version=run.methodology_version, title=method.title, sha256=method.sha256
        ),
        "kind": ZoneKind(run.kind),
        "period": run.period,
        "label": run.label,
        "subjects": run.subjects,
        "registry_as_of": run.registry_as_of,
        "zones": run.zone_count,
        "ranked": run.ranked_count,
        "inputs_sha256": run.inputs_sha256,
        "created_at": run.created_at,
        "created_by": run.created_by,
    }


def _zone_result(
    zone: str,
    name: str,
    score: float | None,
    rank: int | None,
    previous_rank: int | None,
    rank_change: int | None,
    movement: str | None,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "zone": zone,
        "name": name,
        "score": score,
        "rank": rank,
        "previous_rank": previous_rank,
        "rank_change": rank_change,
        "movement": movement,
        "previous_via": detail.get("previous_via", []),
        "groups": detail["groups"],
        "leaves": detail["leaves"],
        "missing": detail["missing"],
        "excluded": detail.get("excluded"),
    }


def _reference_result(
    division: str,
    name: str,
    score: float | None,
    reference_rank: int | None,
    recommended: bool,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "division": division,
        "name": name,
        "score": score,
        "reference_rank": reference_rank,
        "recommended": recommended,
        "groups": detail["groups"],
        "leaves": detail["leaves"],
        "missing": detail["missing"],
        "excluded": detail.get("excluded"),
    }


RESULTS_CHUNK = 100
"""Zones per chunk of a new run's answer: the storing goes on between chunks."""


async def _results_json(evaluation: RunEvaluation, *, zones: bool) -> tuple[bytes, bytes]:
    """A new run's results and reference scores as JSON arrays, a chunk of zones at a time.

    Built from typed values in the contract's shape (what :func:`get_run` validates from the
    stored run) and written by orjson: validating and serialising 100,000 leaves through the
    model was the largest cost of answering a national run. Between chunks the event loop
    runs, so the database works on the rows being stored meanwhile.
    """
    rows = evaluation.results if zones else []
    parts = []
    for start in range(0, len(rows), RESULTS_CHUNK):
        chunk = [
            {  # the fields of _zone_result, in its order, without the intermediate detail dict
                "zone": r.zone,
                "name": r.name,
                "score": r.score,
                "rank": r.rank,
                "previous_rank": r.previous_rank,
                "rank_change": r.rank_change,
                "movement": r.movement,
                "previous_via": r.previous_via,
                "groups": r.scored.groups,
                "leaves": r.scored.leaves,
                "missing": r.scored.missing,
                "excluded": r.scored.excluded,
            }
            for r in rows[start : start + RESULTS_CHUNK]
        ]
        parts.append(orjson.dumps(chunk)[1:-1])
        await asyncio.sleep(0)
    references = orjson.dumps(
        [
            _reference_result(r.division, r.name, r.score, r.reference_rank, r.recommended, r.detail())
            for r in evaluation.reference
        ]
    )
    return b"[" + b",".join(parts) + b"]", references


def _read(run: Assessment, method: Methodology, results: bytes, references: bytes) -> bytes:
    """The answer of a new run: its summary (through the contract model, as :func:`get_run`) and results."""
    head = AssessmentRead.model_construct(
        **_summary_fields(run, method),
        previous_assessment=run.previous_assessment_id,
        outcomes=run.outcome_count,
        notes=run.notes,
        results=[],
        reference_scores=[],
    ).model_dump(mode="json")
    head["results"] = orjson.Fragment(results)
    head["reference_scores"] = orjson.Fragment(references)
    return orjson.dumps(head)


async def _run_and_method(
    session: AsyncSession, run_id: int, *, with_inputs: bool = False
) -> tuple[Assessment, Methodology]:
    run = await repository.get(session, run_id, with_inputs=with_inputs)
    if run is None:
        raise NotFound(f"assessment {run_id} does not exist")
    method = await methodology_repo.by_id(session, run.methodology_id)
    assert method is not None
    return run, method


class _Expander:
    """Rebuilds stored results' leaves from the compact stored form and the run's inputs."""

    def __init__(self, inputs: Mapping[str, Any]) -> None:
        self.keys = leaf_keys(parse_methodology(inputs["methodology"]))
        self.values = {z["id"]: z["values"] for z in [*inputs["zones"], *(inputs.get("reference") or [])]}

    def __call__(self, subject: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        return full_detail(stored, self.keys, self.values.get(subject, {}))


def _stored_results(results: Sequence[AssessmentResult], expand: _Expander) -> list[dict[str, Any]]:
    return [
        _zone_result(
            r.zone, r.name, r.score, r.rank, r.previous_rank, r.rank_change, r.movement, expand(r.zone, r.detail)
        )
        for r in results
    ]


def _stored_references(references: Sequence[ReferenceRow], expand: _Expander) -> list[dict[str, Any]]:
    return [
        _reference_result(r.division, r.name, r.score, r.reference_rank, r.recommended, expand(r.division, r.detail))
        for r in references
    ]


async def get_run(*, session: AsyncSession, run_id: int) -> AssessmentRead:
    """A stored run with every result."""
    run, method = await _run_and_method(session, run_id, with_inputs=True)
    expand = _Expander(run.inputs)
    return AssessmentRead.model_validate(
        {
            **_summary_fields(run, method),
            "previous_assessment": run.previous_assessment_id,
            "outcomes": run.outcome_count,
            "notes": run.notes,
            "results": _stored_results(await repository.results(session, run_id), expand),
            "reference_scores": _stored_references(await repository.reference_scores(session, run_id), expand),
        }
    )


async def list_runs(
    *,
    session: AsyncSession,
    kind: ZoneKind | None,
    code: str | None,
    period: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[AssessmentSummary], int | None]:
    """Runs, newest first."""
    rows = await repository.page(
        session, kind=kind.value if kind else None, code=code, period=period, after=after, limit=limit
    )
    methods = {r.methodology_id: await methodology_repo.by_id(session, r.methodology_id) for r in rows}
    items = [AssessmentSummary.model_validate(_summary_fields(r, methods[r.methodology_id])) for r in rows]  # type: ignore[arg-type]
    return items, rows[-1].id if len(rows) == limit else None


async def run_outcomes(*, session: AsyncSession, run_id: int) -> list[OutcomeRead]:
    """The outcomes a run decided."""
    await _run_and_method(session, run_id)
    rows = await repository.outcomes(session, run_id)
    summons = await repository.summons_for_outcomes(session, [r.id for r in rows])
    return [outcome_read(r, summons.get(r.id)) for r in rows]


# --- verification ------------------------------------------------------------------------------------

_RESULT_FIELDS = (
    "name",
    "score",
    "rank",
    "previous_rank",
    "rank_change",
    "movement",
    "previous_via",
    "groups",
    "leaves",
    "missing",
    "excluded",
)
_REFERENCE_FIELDS = ("name", "score", "reference_rank", "recommended", "groups", "leaves", "missing", "excluded")
_OUTCOME_FIELDS = ("label", "detail", "numbers", "tie")


async def verify(*, session: AsyncSession, run_id: int) -> VerificationRead:
    """Recompute a run from its stored inputs and compare with what was stored."""
    run, _ = await _run_and_method(session, run_id, with_inputs=True)
    recomputed_sha = inputs_sha256(run.inputs)
    evaluation = evaluate_run(run.inputs)
    expand = _Expander(run.inputs)
    stored_results = _stored_results(await repository.results(session, run_id), expand)
    again_results = (
        [
            _zone_result(r.zone, r.name, r.score, r.rank, r.previous_rank, r.rank_change, r.movement, r.detail())
            for r in evaluation.results
        ]
        if run.subjects == "zones"
        else []
    )
    stored_refs = _stored_references(await repository.reference_scores(session, run_id), expand)
    again_refs = [
        _reference_result(r.division, r.name, r.score, r.reference_rank, r.recommended, r.detail())
        for r in evaluation.reference
    ]
    stored_outcomes = [
        {
            "key": f"{o.zone}|{o.outcome}|{o.rule}",
            "label": o.label,
            "detail": o.detail,
            "numbers": o.numbers,
            "tie": o.tie,
        }
        for o in await repository.outcomes(session, run_id)
    ]
    again_outcomes = [
        {
            "key": f"{o.zone}|{o.outcome}|{o.rule}",
            "label": o.label,
            "detail": o.detail,
            "numbers": o.numbers,
            "tie": o.tie,
        }
        for o in evaluation.outcomes
    ]
    found = [
        *differences(stored_results, again_results, key="zone", fields=_RESULT_FIELDS),
        *differences(stored_refs, again_refs, key="division", fields=_REFERENCE_FIELDS),
        *differences(stored_outcomes, again_outcomes, key="key", fields=_OUTCOME_FIELDS),
    ]
    intact = recomputed_sha == run.inputs_sha256
    return VerificationRead(
        assessment=run.id,
        identical=intact and not found,
        inputs_intact=intact,
        inputs_sha256=run.inputs_sha256,
        recomputed_sha256=recomputed_sha,
        subjects_checked=len(stored_results) + len(stored_refs),
        outcomes_checked=len(stored_outcomes),
        differences=[Difference.model_validate(d) for d in found[:MAX_DIFFERENCES]],
    )


# --- sensitivity -------------------------------------------------------------------------------------


async def sensitivity(*, session: AsyncSession, run_id: int, samples: int, seed: int | None) -> SensitivityRead:
    """Rank intervals of a run's ranked zones when weights, normalisations and aggregation vary."""
    run, _ = await _run_and_method(session, run_id, with_inputs=True)
    if run.subjects != "zones":
        raise Unprocessable(
            "sensitivity applies to runs that rank zones",
            errors=[{"loc": ["path", "assessment_id"], "msg": "a reference-score run", "type": "subjects"}],
        )
    method = parse_methodology(run.inputs["methodology"])
    ranks = {r.zone: r.rank for r in await repository.results(session, run_id) if r.rank is not None}
    subjects = [Subject(z["id"], z["name"], z["values"]) for z in run.inputs["zones"] if z["id"] in ranks]
    used_seed = run.id if seed is None else seed
    result = analyse(method, subjects, [ranks[s.id] for s in subjects], samples=samples, seed=used_seed)
    return SensitivityRead(
        assessment=run.id,
        samples=result.samples,
        seed=used_seed,
        variations=[
            f"every weight × a factor drawn uniformly from [{1 - WEIGHT_SPREAD:g}, {1 + WEIGHT_SPREAD:g}], "
            "renormalised within its group",
            "normalisation of every leaf: the published one, or all min_max, all z_score, all rank (equally likely)",
            "aggregation: the published one, every group arithmetic, or every group geometric (equally likely)",
            "ranks: standard competition ranking on the score rounded to 6 decimals; intervals are the 5th and 95th "
            "percentiles of each zone's ranks over the samples",
        ],
        zones=[RankIntervalRead.model_validate(z, from_attributes=True) for z in result.zones],
    )


# --- bulletin ----------------------------------------------------------------------------------------

BulletinFormat = Literal["html", "csv", "xlsx"]


def _group_titles(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    method = parse_methodology(document)
    return [(g.key, g.title or g.code or g.key) for g in method.groups if g is not method.root]


async def bulletin(*, session: AsyncSession, run_id: int) -> bulletin_render.Bulletin:
    """The ranking bulletin (通报) of a run, ready to render."""
    run, method = await _run_and_method(session, run_id)
    groups = _group_titles(method.document)
    outcome_rows = await repository.outcomes(session, run_id)
    verdicts: dict[str, list[str]] = {}
    word = {"commended": "表扬", "warned": "警告", "revocation_review": "提请撤销审查"}
    for o in outcome_rows:
        verdicts.setdefault(o.zone, []).append(
            f"{word.get(o.outcome, o.outcome)}：{o.label}" + ("（并列）" if o.tie else "")
        )
    kind_zh = KIND_ZH.get(run.kind, run.kind)
    title = f"{run.label}（{kind_zh}）"
    subtitle = (
        f"考评方法：{method.title}（{run.methodology_code} 第{run.methodology_version}版）；期间：{run.period}；"
        f"开发区登记日期：{run.registry_as_of.isoformat()}；输入数据 SHA-256：{run.inputs_sha256}"
    )
    notes = [
        "排名按综合得分（保留6位小数）采用并列排名（1、2、2、4）；名次变化 = 上期排名 − 本期排名（↑为进位，↓为退位）。",
        "经合并组建的开发区沿用其前身在上期的最好名次；新设开发区标注“新设”。",
        *(f"说明：{n}" for n in run.notes),
    ]
    sections: list[bulletin_render.Section] = []
    if run.subjects == "zones":
        results = await repository.results(session, run_id)
        columns = [
            "排名",
            "开发区",
            "综合得分",
            "上期排名",
            "名次变化",
            *(t for _, t in groups),
            "缺失指标",
            "奖惩及说明",
        ]
        rows: list[list[bulletin_render.Cell]] = []
        chart: list[bulletin_render.Bar] = []
        for r in results:
            detail = r.detail
            remark = "；".join(verdicts.get(r.zone, []))
            if detail.get("excluded"):
                remark = "；".join(filter(None, [detail["excluded"], remark]))
            rows.append(
                [
                    r.rank,
                    r.name,
                    r.score,
                    r.previous_rank,
                    bulletin_render.change_text(r.rank_change, r.movement),
                    *(detail["groups"].get(key) for key, _ in groups),
                    "、".join(detail["missing"]) or None,
                    remark or None,
                ]
            )
            if r.rank is not None:
                chart.append(bulletin_render.Bar(r.name, r.score, r.rank_change))
        sections.append(bulletin_render.Section("综合排名", columns, rows, chart=chart, value_label="综合得分"))
    else:
        references = await repository.reference_scores(session, run_id)
        columns = ["县（区）", "区划代码", "参考得分", "相当于开发区排名", "优先推荐申报", "缺失指标", "说明"]
        rows = [
            [
                r.name,
                r.division,
                r.score,
                r.reference_rank,
                "是" if r.recommended else "否",
                "、".join(r.detail["missing"]) or None,
                r.detail.get("excluded"),
            ]
            for r in references
        ]
        chart = [bulletin_render.Bar(r.name, r.score) for r in references if r.score is not None]
        sections.append(
            bulletin_render.Section(
                "未设省级开发区的县（区）参考得分", columns, rows, chart=chart, value_label="参考得分"
            )
        )
    return bulletin_render.Bulletin(title=title, subtitle=subtitle, sections=sections, notes=notes)


def render(document: bulletin_render.Bulletin, fmt: BulletinFormat) -> tuple[bytes, str]:
    """Render a bulletin as bytes with its media type."""
    if fmt == "csv":
        return bulletin_render.render_csv(document), "text/csv; charset=utf-8"
    if fmt == "xlsx":
        return (
            bulletin_render.render_xlsx(document),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    return bulletin_render.render_html(document).encode("utf-8"), "text/html; charset=utf-8"
