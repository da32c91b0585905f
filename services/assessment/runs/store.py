"""Storing a run: every result, reference score and outcome of a new draft; the summons of a published one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.run import RunEvaluation
from libs.domain.assessment.sanction_outcomes import Outcome as DecidedOutcome
from services.assessment.runs import repository
from services.assessment.sanctions.service import SUMMONED
from services.assessment.tables import Assessment


async def store_evaluation(session: AsyncSession, run: Assessment, evaluation: RunEvaluation, now: datetime) -> None:
    """Store what ``run`` decided (its row is stored): results or reference scores, outcomes and summons."""
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
    if evaluation.outcomes:
        await _store_outcomes(session, run, evaluation, now)


async def _store_outcomes(session: AsyncSession, run: Assessment, evaluation: RunEvaluation, now: datetime) -> None:
    names = {z["id"]: z["name"] for z in run.inputs["zones"]}
    await repository.insert_outcomes(session, [_outcome_row(run, o, now, names) for o in evaluation.outcomes])


async def store_summons(session: AsyncSession, run: Assessment, now: datetime, sanctions: Mapping[str, Any]) -> None:
    """The summons (约谈) of the zones a run being published warned, unless its policy (``sanctions``:
    the sanction part of its inputs) says otherwise.

    Made on publication, not with the draft: a draft's warning summons nobody."""
    if not sanctions.get("policy", {}).get("summons_on_warning", True):
        return
    warned = [o for o in await repository.outcomes(session, run.id) if o.outcome == "warned"]
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
            for o in warned
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
