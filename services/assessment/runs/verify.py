"""Verifying a run: recompute it from its stored inputs and compare with what was stored, and compare
those inputs with the values the metrics service answers today (:mod:`.restated`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import Difference, VerificationRead
from libs.domain.assessment.run import differences, evaluate_run
from libs.domain.clients.metrics import MetricsClient
from libs.domain.kernel.canonical import inputs_sha256
from services.assessment.runs import repository
from services.assessment.runs.gather import alongside
from services.assessment.runs.reads import (
    Expander,
    reference_result,
    run_and_method,
    stored_references,
    stored_results,
    zone_result,
)
from services.assessment.runs.restated import check_values
from services.assessment.tables import Assessment

MAX_DIFFERENCES = 200

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


class _AnOutcome(Protocol):
    """A stored or a recomputed outcome: what the comparison reads."""

    @property
    def zone(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def numbers(self) -> dict[str, Any]: ...
    @property
    def tie(self) -> bool: ...


def _outcome_rows(outcomes: Iterable[_AnOutcome]) -> list[dict[str, Any]]:
    return [
        {
            "key": f"{o.zone}|{o.outcome}|{o.rule}",
            "label": o.label,
            "detail": o.detail,
            "numbers": o.numbers,
            "tie": o.tie,
        }
        for o in outcomes
    ]


def _named(difference: dict[str, Any], what: str) -> dict[str, Any]:
    """A difference as the contract names its subject: a ``zone_id``, a ``division``, or an outcome
    (``zone|outcome|rule``: its zone and ``outcome|rule``)."""
    out = {k: v for k, v in difference.items() if k != "subject"}
    subject = str(difference["subject"])
    if what == "outcome":
        zone, _, rest = subject.partition("|")
        return {**out, "zone_id": zone, "outcome": rest}
    return {**out, what: subject}


async def verify(
    *, session: AsyncSession, metrics: MetricsClient, run_id: int, fast_canonical_json: bool = True
) -> VerificationRead:
    """Recompute a run from its stored inputs and compare with what was stored; meanwhile compare
    its stored input values with the metrics service's today (``restated``, never ``identical``)."""
    run, _ = await run_and_method(session, run_id, with_inputs=True)
    values, recomputed = await alongside(
        check_values(metrics, run), _recompute(session, run, fast_canonical_json=fast_canonical_json)
    )
    return recomputed.model_copy(
        update={"values_checked": values.checked, "values_note": values.note, "restated": values.restated}
    )


async def _recompute(session: AsyncSession, run: Assessment, *, fast_canonical_json: bool) -> VerificationRead:
    """The verification of the stored run by itself: its inputs' digest and its recomputation."""
    run_id = run.id
    recomputed_sha = inputs_sha256(run.inputs, fast=fast_canonical_json)
    evaluation = evaluate_run(run.inputs)
    expand = Expander(run.inputs)
    stored_zones = stored_results(await repository.results(session, run_id), expand)
    again_zones = (
        [
            zone_result(r.zone, r.name, r.score, r.rank, r.previous_rank, r.rank_change, r.movement, r.detail())
            for r in evaluation.results
        ]
        if run.subjects == "zones"
        else []
    )
    stored_refs = stored_references(await repository.reference_scores(session, run_id), expand)
    again_refs = [
        reference_result(r.division, r.name, r.score, r.reference_rank, r.recommended, r.detail())
        for r in evaluation.reference
    ]
    stored_outcomes = _outcome_rows(await repository.outcomes(session, run_id))
    found = [
        *(_named(d, "zone_id") for d in differences(stored_zones, again_zones, key="zone_id", fields=_RESULT_FIELDS)),
        *(
            _named(d, "division")
            for d in differences(stored_refs, again_refs, key="division", fields=_REFERENCE_FIELDS)
        ),
        *(
            _named(d, "outcome")
            for d in differences(stored_outcomes, _outcome_rows(evaluation.outcomes), key="key", fields=_OUTCOME_FIELDS)
        ),
    ]
    intact = recomputed_sha == run.inputs_sha256
    return VerificationRead(
        assessment=run.id,
        identical=intact and not found,
        inputs_intact=intact,
        inputs_sha256=run.inputs_sha256,
        recomputed_sha256=recomputed_sha,
        subjects_checked=len(stored_zones) + len(stored_refs),
        outcomes_checked=len(stored_outcomes),
        differences=[Difference.model_validate(d) for d in found[:MAX_DIFFERENCES]],
    )
