"""A run's inputs and their evaluation: the one function both a new run and its verification call.

A run stores exactly what it was computed from (the methodology document, every zone's values,
the registry date, the earlier run's ranks and the lineage used to carry them over, the
sanction policy and the earlier warnings) as one JSON document; :func:`evaluate_run` turns such
a document into results, reference scores and outcomes, deterministically, so recomputing a
stored run must give the stored numbers bit for bit (:func:`differences`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from libs.domain.assessment.history import previous_standings
from libs.domain.assessment.methodology import Methodology
from libs.domain.assessment.sanction_outcomes import Outcome, Standing, evaluate
from libs.domain.assessment.sanctions import parse_policy
from libs.domain.assessment.scoring import Computation, Subject, SubjectScore, competition_ranks, compute, rank_key
from libs.domain.assessment.validation import parse_methodology

INPUTS_FORMAT = 1


_FLOAT_OR_NONE = frozenset({float, type(None)})


def subject_dict(subject: Subject) -> dict[str, Any]:
    """A subject as stored in a run's inputs (values as floats; not finite or not a number: null)."""
    values = subject.values
    if set(map(type, values.values())) <= _FLOAT_OR_NONE:
        total = sum(filter(None, values.values()))
        if total - total == 0:  # every value a finite float or None, the usual case
            return {"id": subject.id, "name": subject.name, "values": dict(values)}
    clean = {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in values.items()}
    return {"id": subject.id, "name": subject.name, "values": clean}


def build_inputs(
    *,
    methodology: Mapping[str, Any],
    methodology_sha256: str,
    kind: str,
    period: str,
    subjects: str,
    registry_as_of: str,
    zones: Sequence[Subject],
    reference: Sequence[Subject] = (),
    previous_assessment: int | None = None,
    previous_ranks: Mapping[str, int | None] | None = None,
    predecessors: Mapping[str, Sequence[str]] | None = None,
    sanctions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The inputs document of a run (what is stored and hashed)."""
    return {
        "format": INPUTS_FORMAT,
        "methodology": dict(methodology),
        "methodology_sha256": methodology_sha256,
        "kind": kind,
        "period": period,
        "subjects": subjects,
        "registry_as_of": registry_as_of,
        "zones": [subject_dict(z) for z in zones],
        "reference": [subject_dict(r) for r in reference],
        "previous": None
        if previous_ranks is None
        else {"assessment": previous_assessment, "ranks": dict(sorted(previous_ranks.items()))},
        "predecessors": {k: sorted(v) for k, v in sorted((predecessors or {}).items()) if v},
        "sanctions": None if sanctions is None else dict(sanctions),
    }


class _ScoredRow:
    """A result's parts read from the subject's score (shared by zone results and reference scores)."""

    scored: SubjectScore

    @property
    def groups(self) -> dict[str, float | None]:
        """Every group's value."""
        return self.scored.groups

    @property
    def leaves(self) -> dict[str, dict[str, Any]]:
        """Every leaf's detail (built when asked for: a national run has 100,000)."""
        return self.scored.leaves

    @property
    def missing(self) -> list[str]:
        """The indicators without a usable value."""
        return self.scored.missing

    @property
    def excluded(self) -> str | None:
        """Why the subject is not ranked (None: it is)."""
        return self.scored.excluded


@dataclass
class ResultRow(_ScoredRow):
    """A zone's result in a run."""

    zone: str
    name: str
    score: float | None
    rank: int | None
    previous_rank: int | None
    rank_change: int | None
    movement: str | None
    previous_via: list[str]
    scored: SubjectScore

    def detail(self) -> dict[str, Any]:
        """What is stored beside the indexed columns."""
        return {
            "previous_via": self.previous_via,
            "groups": self.groups,
            "leaves": self.leaves,
            "missing": self.missing,
            "excluded": self.excluded,
        }

    def stored(self) -> dict[str, Any]:
        """:func:`stored_detail` of :meth:`detail`, from the compact form the computation kept."""
        return {
            "previous_via": self.previous_via,
            "groups": self.groups,
            "missing": self.missing,
            "excluded": self.excluded,
            "scores": self.scored.normalised,
            "extras": self.scored.extras,
        }


@dataclass
class ReferenceRow(_ScoredRow):
    """A division's reference score."""

    division: str
    name: str
    score: float | None
    reference_rank: int | None
    recommended: bool
    scored: SubjectScore

    def detail(self) -> dict[str, Any]:
        """What is stored beside the indexed columns."""
        return {"groups": self.groups, "leaves": self.leaves, "missing": self.missing, "excluded": self.excluded}

    def stored(self) -> dict[str, Any]:
        """:func:`stored_detail` of :meth:`detail`, from the compact form the computation kept."""
        return {
            "groups": self.groups,
            "missing": self.missing,
            "excluded": self.excluded,
            "scores": self.scored.normalised,
            "extras": self.scored.extras,
        }


@dataclass
class RunEvaluation:
    """Everything a run decides."""

    method: Methodology
    results: list[ResultRow]
    reference: list[ReferenceRow]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ranked(self) -> int:
        """How many zones were ranked."""
        return sum(1 for r in self.results if r.rank is not None)


def _subjects(items: Sequence[Mapping[str, Any]]) -> list[Subject]:
    # The values are read, never changed: no copies (a national run has 100,000).
    return [Subject(str(i["id"]), str(i["name"]), i.get("values") or {}) for i in items]


def evaluate_run(inputs: Mapping[str, Any]) -> RunEvaluation:
    """Compute a run from its inputs document."""
    method = parse_methodology(inputs["methodology"])
    zones = _subjects(inputs["zones"])
    computation = compute(method, zones, reference=_subjects(inputs.get("reference") or []))
    rows = _result_rows(computation, inputs)
    outcomes: list[Outcome] = []
    sanctions = inputs.get("sanctions")
    if sanctions:
        outcomes = _outcomes(sanctions, rows, {z.id: z.values for z in zones}, inputs.get("predecessors"))
    return RunEvaluation(method, rows, _reference_rows(computation), outcomes)


def _result_rows(computation: Computation, inputs: Mapping[str, Any]) -> list[ResultRow]:
    """The zones' results: the ranked ones by rank, then the excluded ones, with their rank changes."""
    ranks = competition_ranks([s.score for s in computation.ranked])
    rank_of: dict[str, int | None] = {s.id: r for s, r in zip(computation.ranked, ranks, strict=True)}
    for s in computation.excluded:
        rank_of[s.id] = None
    previous = inputs.get("previous")
    standings = previous_standings(
        rank_of,
        None if previous is None else dict(previous["ranks"]),
        {k: list(v) for k, v in (inputs.get("predecessors") or {}).items()},
    )

    def row(s: SubjectScore) -> ResultRow:
        st = standings[s.id]
        return ResultRow(
            zone=s.id,
            name=s.name,
            score=s.score,
            rank=rank_of[s.id],
            previous_rank=st.previous_rank,
            rank_change=st.change,
            movement=st.movement,
            previous_via=list(st.via),
            scored=s,
        )

    ranked_rows = sorted((row(s) for s in computation.ranked), key=lambda r: (r.rank or 0, r.zone))
    excluded_rows = sorted((row(s) for s in computation.excluded), key=lambda r: r.zone)
    return [*ranked_rows, *excluded_rows]


def _reference_rows(computation: Computation) -> list[ReferenceRow]:
    """The reference subjects with the rank each would have among the zones, best first."""
    zone_keys = sorted((rank_key(s.score) for s in computation.ranked if s.score is not None), reverse=True)

    def would_be_rank(score: float | None) -> int | None:
        if score is None:
            return None
        key = rank_key(score)
        return 1 + sum(1 for k in zone_keys if k > key)

    best = max((rank_key(r.score) for r in computation.reference if r.score is not None), default=None)
    reference_rows = [
        ReferenceRow(
            division=r.id,
            name=r.name,
            score=r.score,
            reference_rank=would_be_rank(r.score),
            recommended=r.score is not None and best is not None and rank_key(r.score) == best,
            scored=r,
        )
        for r in computation.reference
    ]
    reference_rows.sort(key=lambda r: (r.score is None, -(r.score or 0.0), r.division))
    return reference_rows


def _outcomes(
    sanctions: Mapping[str, Any],
    rows: Sequence[ResultRow],
    values: Mapping[str, Mapping[str, float | None]],
    predecessors: Mapping[str, Sequence[str]] | None,
) -> list[Outcome]:
    """What the stored sanction policy gives the zones ranked among ``rows``."""
    policy, faults = parse_policy(sanctions["policy"])
    if policy is None:
        raise ValueError(f"stored sanction policy is invalid: {faults}")
    standings = [
        Standing(
            zone=r.zone,
            name=r.name,
            score=r.score,
            rank=r.rank,
            change=r.rank_change,
            previous_rank=r.previous_rank,
            values=values.get(r.zone, {}),
        )
        for r in rows
        if r.score is not None and r.rank is not None
    ]
    return evaluate(
        policy,
        standings,
        earlier_warned=[list(w) for w in sanctions.get("earlier_warned") or []],
        predecessors={k: list(v) for k, v in (predecessors or {}).items()},
        earlier_labels=list(sanctions.get("earlier_labels") or []),
    )


_CORE = ("indicator", "raw", "normalised")


def stored_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """A result's detail as stored: leaf scores as one list in the method's leaf order, extras sparse.

    The raw values are not repeated: they are the run's stored inputs.
    """
    leaves: Mapping[str, Mapping[str, Any]] = detail["leaves"]
    extras = {}
    scores = []
    core = len(_CORE)
    for key, leaf in leaves.items():
        scores.append(leaf["normalised"])
        # Every leaf has the three core fields: only a longer one carries extras (most do not).
        if len(leaf) > core:
            extras[key] = {f: v for f, v in leaf.items() if f not in _CORE}
    out = {k: v for k, v in detail.items() if k != "leaves"}
    out["scores"] = scores
    out["extras"] = extras
    return out


def full_detail(
    stored: Mapping[str, Any], leaf_keys: Sequence[tuple[str, str]], values: Mapping[str, float | None]
) -> dict[str, Any]:
    """The inverse of :func:`stored_detail`, given the method's (key, indicator) leaves and the raw values."""
    extras: Mapping[str, Mapping[str, Any]] = stored.get("extras") or {}
    leaves: dict[str, dict[str, Any]] = {}
    for (key, indicator), score in zip(leaf_keys, stored["scores"], strict=True):
        leaf: dict[str, Any] = {"indicator": indicator, "raw": values.get(indicator), "normalised": score}
        extra = extras.get(key)
        if extra:
            leaf.update(extra)
        leaves[key] = leaf
    out = {k: v for k, v in stored.items() if k not in ("scores", "extras")}
    out["leaves"] = leaves
    return out


def leaf_keys(method: Methodology) -> list[tuple[str, str]]:
    """The method's leaves as (result key, indicator code), in document order."""
    return [(leaf.key, leaf.indicator) for leaf in method.leaves]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def differences(
    stored: Sequence[Mapping[str, Any]],
    recomputed: Sequence[Mapping[str, Any]],
    *,
    key: str,
    fields: Sequence[str],
) -> list[dict[str, Any]]:
    """Field-by-field differences between stored and recomputed rows matched on ``key``."""
    out: list[dict[str, Any]] = []
    stored_by = {str(r[key]): r for r in stored}
    again_by = {str(r[key]): r for r in recomputed}
    for subject in sorted(set(stored_by) | set(again_by)):
        a, b = stored_by.get(subject), again_by.get(subject)
        if a is None or b is None:
            out.append(
                {
                    "subject": subject,
                    "field": "presence",
                    "stored": a is not None,
                    "recomputed": b is not None,
                }
            )
            continue
        for name in fields:
            if not _same(a.get(name), b.get(name)):
                out.append({"subject": subject, "field": name, "stored": a.get(name), "recomputed": b.get(name)})
    return out
