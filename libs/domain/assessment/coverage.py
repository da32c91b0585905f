"""Coverage: how many assessed subjects have every value the methodology needs.

A ranking in which most zones score on imputed or zeroed values is not a ranking. An indicator is
*required* unless every leaf reading it imputes a missing value from the other zones (``mean``):
``zero`` scores a missing value as nothing and ``exclude_zone`` drops the zone, so both need the
value to be there. A subject is *complete* when it has a value for every required indicator.
A run is stored only when ``complete ÷ assessed`` reaches the methodology's ``min_coverage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from libs.domain.assessment.methodology import Methodology
from libs.domain.assessment.scoring import Subject


@dataclass(frozen=True, slots=True)
class CoverageCount:
    """The coverage of one run's subjects."""

    assessed: int
    complete: int
    min_coverage: float
    required: tuple[str, ...]
    missing: tuple[tuple[str, str], ...]
    """Each (subject, indicator) lacking a required value, in subject then indicator order."""

    @property
    def share(self) -> float | None:
        """complete ÷ assessed; None when nothing is assessed."""
        return self.complete / self.assessed if self.assessed else None

    @property
    def sufficient(self) -> bool:
        """Whether the share reaches the threshold (nothing assessed is never sufficient)."""
        share = self.share
        return share is not None and share + 1e-12 >= self.min_coverage

    def as_dict(self) -> dict[str, Any]:
        """The contract's shape (``Coverage``), as stored with the run."""
        return {
            "assessed": self.assessed,
            "complete": self.complete,
            "share": None if self.share is None else round(self.share, 6),
            "min_coverage": self.min_coverage,
            "required": list(self.required),
            "missing": [{"subject": s, "indicator": i} for s, i in self.missing],
        }


def coverage(method: Methodology, subjects: Sequence[Subject]) -> CoverageCount:
    """The coverage of ``subjects`` under ``method``."""
    required = tuple(method.required_indicators)
    missing: list[tuple[str, str]] = []
    complete = 0
    for subject in subjects:
        lacking = [code for code in required if subject.values.get(code) is None]
        missing.extend((subject.id, code) for code in lacking)
        complete += not lacking
    return CoverageCount(len(subjects), complete, method.min_coverage, required, tuple(missing))
