"""A dry run's answer: the run as it would be stored, with what would refuse it, and nothing stored.

A city computes the current, unfinished period this way for internal use (the issue's "draft of
the current period"): the answer is never a run, has no id, and no outcome of it is in force.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.domain.assessment.contracts import AssessmentDryRun, MethodologyRef, OutcomeDecided, Refusal
from libs.domain.assessment.coverage import CoverageCount
from libs.domain.kernel.canonical import inputs_sha256
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.values import ZoneKind
from services.assessment.runs.commands import Evaluated, RunContext, RunRequest
from services.assessment.runs.reads import coverage_answer, reference_result, zone_result


@dataclass(frozen=True)
class DryRunAnswer:
    """The would-be run (an :class:`AssessmentDryRun`)."""

    answer: AssessmentDryRun


def dry_run_answer(
    context: RunContext,
    request: RunRequest,
    evaluated: Evaluated,
    covered: CoverageCount,
    refusals: list[Unprocessable],
) -> DryRunAnswer:
    """The would-be run of ``request``, with the refusals a stored run would meet."""
    evaluation = evaluated.evaluation
    method_row = request.method_row
    names = {r.zone: r.name for r in evaluation.results}
    ranked = evaluation.ranked if request.ranks_zones else sum(1 for r in evaluation.reference if r.score is not None)
    return DryRunAnswer(
        AssessmentDryRun(
            methodology=MethodologyRef(
                code=method_row.code, version=method_row.version, title=method_row.title, sha256=method_row.sha256
            ),
            kind=ZoneKind(request.kind),
            period=str(request.period),
            label=request.body.label,
            scope=request.body.scope,
            registry_as_of=request.registry_as_of,
            zone_count=evaluated.scored,
            ranked=ranked,
            inputs_sha256=inputs_sha256(evaluated.inputs, fast=context.fast_canonical_json),
            previous_assessment=evaluated.previous_id,
            notes=evaluated.notes,
            coverage=coverage_answer(covered.as_dict(), zones=request.ranks_zones),
            refusals=[Refusal(code=r.code, detail=r.detail) for r in refusals],
            outcomes=[
                OutcomeDecided(
                    zone_id=o.zone,
                    name=names.get(o.zone, ""),
                    outcome=o.outcome,
                    rule=o.rule,
                    label=o.label,
                    detail=o.detail,
                    numbers=o.numbers,
                    tie=o.tie,
                )
                for o in evaluation.outcomes
            ],
            results=[
                zone_result(r.zone, r.name, r.score, r.rank, r.previous_rank, r.rank_change, r.movement, r.detail())
                for r in evaluation.results
            ]
            if request.ranks_zones
            else [],
            reference_scores=[
                reference_result(r.division, r.name, r.score, r.reference_rank, r.recommended, r.detail())
                for r in evaluation.reference
            ],
        )
    )
