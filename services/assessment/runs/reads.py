"""Reading runs: a run with every result, the list of runs, a run's outcomes, and a new run's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import (
    AssessmentRead,
    AssessmentSummary,
    Coverage,
    MethodologyRef,
    OutcomeRead,
    RunEvent,
    RunStatus,
)
from libs.domain.assessment.run import RunEvaluation, full_detail, leaf_keys
from libs.domain.assessment.validation import parse_methodology
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden, NotFound, Unauthorized
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import COMPUTED_DECIMALS, Period, Role, ZoneKind
from services.assessment.methodologies import repository as methodology_repo
from services.assessment.runs import repository
from services.assessment.sanctions.service import outcome_read
from services.assessment.tables import Assessment, AssessmentResult, Methodology
from services.assessment.tables import ReferenceScore as ReferenceRow


@dataclass(frozen=True)
class RunAnswer:
    """A run's id and its answer, as JSON (an :class:`AssessmentRead`)."""

    id: int
    content: bytes


def summary_fields(run: Assessment, method: Methodology) -> dict[str, Any]:
    """The fields of an :class:`AssessmentSummary` of ``run``."""
    return {
        "id": run.id,
        "methodology": MethodologyRef(
            code=run.methodology_code, version=run.methodology_version, title=method.title, sha256=method.sha256
        ),
        "kind": ZoneKind(run.kind),
        "period": run.period,
        "label": run.label,
        "scope": run.subjects,
        "registry_as_of": run.registry_as_of,
        "zone_count": run.zone_count,
        "ranked": run.ranked_count,
        "inputs_sha256": run.inputs_sha256,
        "created_at": run.created_at,
        "created_by": run.created_by,
        "status": run.status,
        "published_at": run.published_at,
        "published_by": run.published_by,
        "superseded_by": run.superseded_by,
        "withdrawn_at": run.withdrawn_at,
        "withdrawn_reason": run.withdrawn_reason,
    }


_LEAF_OPTIONAL = ("transformed", "winsorised", "imputed", "note")


def leaf_answer(leaf: Mapping[str, Any]) -> dict[str, Any]:
    """A leaf in the contract's shape (``LeafResult``): every key present, null where it does not apply."""
    return {
        "indicator": leaf["indicator"],
        "raw": leaf.get("raw"),
        "normalised": leaf.get("normalised"),
        **{k: leaf.get(k) for k in _LEAF_OPTIONAL},
    }


def _leaves(leaves: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key: leaf_answer(leaf) for key, leaf in leaves.items()}


def _rounded(value: float | None) -> float | None:
    """A computed number as the API writes it (``Computed``)."""
    return None if value is None else round(value, COMPUTED_DECIMALS)


def _decimal_text(value: float | None) -> str | None:
    """A stored measurement as the API writes it (``DecimalText``), exact from the float's repr."""
    if value is None:
        return None
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _leaves_json(leaves: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """:func:`_leaves` already written as JSON values: the raw value a decimal string, scores rounded."""
    return {
        key: {
            "indicator": leaf["indicator"],
            "raw": _decimal_text(leaf.get("raw")),
            "normalised": _rounded(leaf.get("normalised")),
            "transformed": _rounded(leaf.get("transformed")),
            "winsorised": _rounded(leaf.get("winsorised")),
            "imputed": leaf.get("imputed"),
            "note": leaf.get("note"),
        }
        for key, leaf in leaves.items()
    }


def zone_result(
    zone: str,
    name: str,
    score: float | None,
    rank: int | None,
    previous_rank: int | None,
    rank_change: int | None,
    movement: str | None,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    """A zone's result in the contract's shape."""
    return {
        "zone_id": zone,
        "name": name,
        "score": score,
        "rank": rank,
        "previous_rank": previous_rank,
        "rank_change": rank_change,
        "movement": movement,
        "previous_via": detail.get("previous_via", []),
        "groups": detail["groups"],
        "leaves": _leaves(detail["leaves"]),
        "missing": detail["missing"],
        "excluded": detail.get("excluded"),
    }


def reference_result(
    division: str,
    name: str,
    score: float | None,
    reference_rank: int | None,
    recommended: bool,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    """A division's reference score in the contract's shape."""
    return {
        "division": division,
        "name": name,
        "score": score,
        "reference_rank": reference_rank,
        "recommended": recommended,
        "groups": detail["groups"],
        "leaves": _leaves(detail["leaves"]),
        "missing": detail["missing"],
        "excluded": detail.get("excluded"),
    }


RESULTS_CHUNK = 100
"""Zones per chunk of a new run's answer: the storing goes on between chunks."""


async def results_json(evaluation: RunEvaluation, *, zones: bool) -> tuple[bytes, bytes]:
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
            {  # the fields of zone_result, in its order, written as JSON values (rounded, decimal strings)
                "zone_id": r.zone,
                "name": r.name,
                "score": _rounded(r.score),
                "rank": r.rank,
                "previous_rank": r.previous_rank,
                "rank_change": r.rank_change,
                "movement": r.movement,
                "previous_via": r.previous_via,
                "groups": {k: _rounded(v) for k, v in r.scored.groups.items()},
                "leaves": _leaves_json(r.scored.leaves),
                "missing": r.scored.missing,
                "excluded": r.scored.excluded,
            }
            for r in rows[start : start + RESULTS_CHUNK]
        ]
        parts.append(orjson.dumps(chunk)[1:-1])
        await asyncio.sleep(0)
    references = orjson.dumps(
        [
            {
                **reference_result(r.division, r.name, r.score, r.reference_rank, r.recommended, r.detail()),
                "score": _rounded(r.score),
                "groups": {k: _rounded(v) for k, v in r.groups.items()},
                "leaves": _leaves_json(r.leaves),
            }
            for r in evaluation.reference
        ]
    )
    return b"[" + b",".join(parts) + b"]", references


def new_run_answer(
    run: Assessment, method: Methodology, results: bytes, references: bytes, *, events: Sequence[RunEvent]
) -> bytes:
    """The answer of a new run: its summary (through the contract model, as :func:`get_run`) and results."""
    head = AssessmentRead.model_construct(
        **summary_fields(run, method),
        previous_assessment=run.previous_assessment_id,
        outcomes=run.outcome_count,
        notes=run.notes,
        coverage=_coverage(run),
        events=list(events),
        results=[],
        reference_scores=[],
    ).model_dump(mode="json")
    head["results"] = orjson.Fragment(results)
    head["reference_scores"] = orjson.Fragment(references)
    return orjson.dumps(head)


DRAFT_READERS = (Role.CITY_ADMIN, Role.COMMERCE_BUREAU, Role.SCIENCE_BUREAU)
"""Who sees draft runs: the bureaus that assess (a draft is not public)."""


def sees_drafts(actor: Actor | None) -> bool:
    """Whether ``actor`` may see draft runs."""
    return actor is not None and actor.has(*DRAFT_READERS)


async def run_and_method(
    session: AsyncSession, run_id: int, *, with_inputs: bool = False
) -> tuple[Assessment, Methodology]:
    """A run (404 when there is none) and the methodology version it applied (visible or not: see
    :func:`visible_run_and_method` for what a caller may read)."""
    run = await repository.get(session, run_id, with_inputs=with_inputs)
    if run is None:
        raise NotFound(
            Text(f"考评 #{run_id} 不存在", f"assessment {run_id} does not exist"), code="assessment_not_found"
        )
    method = await methodology_repo.by_id(session, run.methodology_id)
    assert method is not None
    return run, method


async def visible_run_and_method(
    session: AsyncSession, run_id: int, actor: Actor | None, *, with_inputs: bool = False
) -> tuple[Assessment, Methodology]:
    """:func:`run_and_method`, and 404 for a draft ``actor`` may not see (a draft is not public)."""
    run, method = await run_and_method(session, run_id, with_inputs=with_inputs)
    if run.status == "draft" and not sees_drafts(actor):
        raise NotFound(
            Text(
                f"考评 #{run_id} 不存在，或为草稿（草稿仅对市级管理员和考评部门可见）",
                f"assessment {run_id} does not exist or is a draft (drafts are visible to city_admin and the "
                "assessing bureaus)",
            ),
            code="assessment_not_found",
        )
    return run, method


async def ensure_visible(session: AsyncSession, run_id: int, actor: Actor | None) -> Assessment:
    """The run (light), or 404 when there is none or it is a draft ``actor`` may not see."""
    run, _ = await visible_run_and_method(session, run_id, actor)
    return run


class Expander:
    """Rebuilds stored results' leaves from the compact stored form and the run's inputs."""

    def __init__(self, inputs: Mapping[str, Any]) -> None:
        self.keys = leaf_keys(parse_methodology(inputs["methodology"]))
        self.values = {z["id"]: z["values"] for z in [*inputs["zones"], *(inputs.get("reference") or [])]}

    def __call__(self, subject: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        return full_detail(stored, self.keys, self.values.get(subject, {}))


def stored_results(results: Sequence[AssessmentResult], expand: Expander) -> list[dict[str, Any]]:
    """Stored zone results in the contract's shape."""
    return [
        zone_result(
            r.zone, r.name, r.score, r.rank, r.previous_rank, r.rank_change, r.movement, expand(r.zone, r.detail)
        )
        for r in results
    ]


def stored_references(references: Sequence[ReferenceRow], expand: Expander) -> list[dict[str, Any]]:
    """Stored reference scores in the contract's shape."""
    return [
        reference_result(r.division, r.name, r.score, r.reference_rank, r.recommended, expand(r.division, r.detail))
        for r in references
    ]


def coverage_answer(stored: Mapping[str, Any], *, zones: bool) -> Coverage:
    """Coverage as stored (each missing value naming its ``subject``) in the contract's shape: the
    subject is a ``zone_id`` in a run of zones, a ``division`` in a run of divisions."""
    missing = [
        {
            "zone_id": m["subject"] if zones else None,
            "division": None if zones else m["subject"],
            "indicator": m["indicator"],
        }
        for m in stored["missing"]
    ]
    return Coverage.model_validate({**stored, "missing": missing})


def _coverage(run: Assessment) -> Coverage | None:
    """A run's stored coverage (None for runs stored before it was measured)."""
    return coverage_answer(run.coverage, zones=run.subjects == "zones") if run.coverage else None


async def run_events(session: AsyncSession, run_id: int) -> list[RunEvent]:
    """A run's life, oldest first."""
    return [
        RunEvent(event=e.event, at=e.at, by=e.by, reason=e.reason, related=e.related)
        for e in await repository.events(session, run_id)
    ]


async def get_run(*, session: AsyncSession, run_id: int, actor: Actor | None = None) -> AssessmentRead:
    """A stored run with every result (a draft only for those who may see drafts)."""
    run, method = await visible_run_and_method(session, run_id, actor, with_inputs=True)
    expand = Expander(run.inputs)
    return AssessmentRead.model_validate(
        {
            **summary_fields(run, method),
            "previous_assessment": run.previous_assessment_id,
            "outcomes": run.outcome_count,
            "notes": run.notes,
            "coverage": _coverage(run),
            "events": await run_events(session, run_id),
            "results": stored_results(await repository.results(session, run_id), expand),
            "reference_scores": stored_references(await repository.reference_scores(session, run_id), expand),
        }
    )


async def list_runs(
    *,
    session: AsyncSession,
    kind: ZoneKind | None,
    code: str | None,
    period: Period | None,
    status: RunStatus | None,
    actor: Actor | None,
    after: int | None,
    limit: int,
) -> tuple[list[AssessmentSummary], int | None]:
    """Runs, newest first: drafts only for those who may see them (401/403 when asked for without)."""
    if status == "draft" and not sees_drafts(actor):
        if actor is None:
            raise Unauthorized(
                Text("草稿仅对市级管理员和考评部门可见，请携带令牌。", "Drafts need a bearer token."),
                code="drafts_need_token",
            )
        raise Forbidden(
            Text("草稿仅对市级管理员和考评部门可见。", "Drafts are visible to city_admin and the assessing bureaus."),
            code="drafts_not_visible",
        )
    public = ["published", "superseded", "withdrawn"]
    statuses = [status] if status else [*public, "draft"] if sees_drafts(actor) else public
    rows = await repository.page(
        session,
        kind=kind.value if kind else None,
        code=code,
        period=str(period) if period is not None else None,
        statuses=statuses,
        after=after,
        limit=limit,
    )
    methods = {r.methodology_id: await methodology_repo.by_id(session, r.methodology_id) for r in rows}
    items = [AssessmentSummary.model_validate(summary_fields(r, methods[r.methodology_id])) for r in rows]  # type: ignore[arg-type]
    return items, rows[-1].id if len(rows) == limit else None


async def run_outcomes(
    *, session: AsyncSession, run_id: int, actor: Actor | None = None, after: int | None = None, limit: int
) -> tuple[list[OutcomeRead], int | None]:
    """A page of the outcomes a run decided (a draft's: nothing in force), and the key after which the
    next page starts (None on the last page)."""
    run, _ = await visible_run_and_method(session, run_id, actor)
    rows = await repository.outcomes(session, run_id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    summons = await repository.summons_for_outcomes(session, [r.id for r in rows])
    items = [outcome_read(r, summons.get(r.id), draft=run.status == "draft") for r in rows]
    return items, rows[-1].id if more else None
