"""Comparing a run's stored input values with what the metrics service answers today.

A published run keeps the values it was computed from; a city_admin may later restate a value of
the locked period (docs/metrics.md#locks). Verification then says which of the run's values the
metrics service now answers differently, without touching the run: the recomputation from the
stored inputs stays the run's own check (``identical``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from libs.domain.assessment.contracts import RestatedValue
from libs.domain.assessment.validation import parse_methodology
from libs.domain.clients.metrics import MetricsClient
from libs.domain.kernel.errors import DomainError
from libs.domain.kernel.i18n import Lang, Text
from services.assessment.tables import Assessment

MAX_RESTATED = 200

ABSOLUTE_TOLERANCE = 5e-7
"""Half a unit of the sixth decimal: the metrics service stores every value rounded half-even to six
decimals (``libs.domain.metrics.units.scale``) and the matrix answers it as the nearest float, so a
restated value differs by 1e-6 at least, while the same stored value always gives the same float."""

RELATIVE_TOLERANCE = 1e-14
"""Derived values (ratios, sums of pro-forma predecessors) are computed in float64 and not rounded:
this leaves them a few dozen units in the last place (2.2e-16 relatively) for another order of
summation, and hides no restatement a float can hold (at 1e6, 1e-8; the sixth decimal is 1e-6)."""


@dataclass(frozen=True, slots=True)
class ValuesCheck:
    """What the comparison found: whether it ran, why not (or that the list is cut short), the values."""

    checked: bool
    note: Text | None = None
    restated: list[RestatedValue] = field(default_factory=list)


def _in(detail: str | Text, lang: Lang) -> str:
    return detail.render(lang) if isinstance(detail, Text) else detail


def same_value(stored: float | None, current: float | None) -> bool:
    """Whether the metrics service still answers ``stored`` (both missing counts as the same)."""
    if stored is None or current is None:
        return stored is None and current is None
    return math.isclose(stored, current, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def restated_values(
    zones: Sequence[Mapping[str, Any]], current: Mapping[str, Mapping[str, float | None]]
) -> list[RestatedValue]:
    """Each stored value (``zones`` as a run's inputs hold them) that ``current`` (values per zone
    today) answers differently, in the stored order; a zone ``current`` lacks has no values today."""
    out: list[RestatedValue] = []
    for subject in zones:
        now = current.get(subject["id"], {})
        for code, stored in subject["values"].items():
            today = now.get(code)
            if not same_value(stored, today):
                out.append(RestatedValue(zone_id=subject["id"], indicator=code, stored=stored, current=today))
    return out


def _codes(methodology: Mapping[str, Any], zones: Sequence[Mapping[str, Any]]) -> list[str]:
    """The indicators the run asked for, in its order: the method's, then those the sanction rules
    read (the stored values carry both, but sorted as canonical JSON sorts them)."""
    stored = dict.fromkeys(code for subject in zones for code in subject["values"])
    try:
        method = parse_methodology(methodology).indicators
    except DomainError:  # inputs altered beyond parsing: inputs_intact says so; ask in the stored order
        method = []
    return list(dict.fromkeys([*(c for c in method if c in stored), *stored]))


async def check_values(metrics: MetricsClient, run: Assessment) -> ValuesCheck:
    """Compare ``run``'s stored zone values with today's matrix, asked for exactly as the run's was
    (services/assessment/runs/gather.py): same period, indicators, kind, registry date, pro-forma
    lineage. The metrics service unreachable (or refusing) is a note, never an error: verification
    still answers from the stored inputs."""
    if run.subjects != "zones":
        return ValuesCheck(
            False,
            Text(
                "参照评分的考评不与指标服务的现值比较",
                "only a run ranking zones has its values compared with the metrics service",
            ),
        )
    zones: list[dict[str, Any]] = run.inputs.get("zones", [])
    codes = _codes(run.inputs.get("methodology", {}), zones)
    if not codes:
        return ValuesCheck(True)
    try:
        matrix = await metrics.matrix(
            period=run.period, indicators=codes, kind=run.kind, as_of=run.registry_as_of, lineage="proforma"
        )
    except DomainError as exc:  # what a client raises: unreachable, 5xx, 404 or another refusal
        return ValuesCheck(
            False,
            Text(
                f"指标服务暂不可用，未与现值比较，仅依据存储的输入核验（{_in(exc.detail, 'zh')}）",
                f"the metrics service could not be asked ({_in(exc.detail, 'en')}); "
                "verified from the stored inputs alone",
            ),
        )
    found = restated_values(zones, {row.zone: row.values for row in matrix.rows})
    note = None
    if len(found) > MAX_RESTATED:
        note = Text(
            f"共{len(found)}项数值已更正，仅列出前{MAX_RESTATED}项",
            f"{len(found)} values restated; the first {MAX_RESTATED} are listed",
        )
    return ValuesCheck(True, note, found[:MAX_RESTATED])
