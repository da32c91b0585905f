"""Land-use checks for new industrial projects in a zone (张发〔2016〕12号, 十八).

New industrial projects must have a plot ratio (容积率) of at least 1.0, a building coverage
(建筑系数) of at least 40 % and administrative and living land (行政办公及生活服务设施用地) of at
most 7 % of the site. A failed check does not stop intake: it becomes a finding the reviewers
see, because the decision on it is theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from libs.domain.kernel.i18n import Text

MIN_PLOT_RATIO = Decimal("1.0")
MIN_BUILDING_COVERAGE_PERCENT = Decimal("40")
MAX_ADMIN_LIVING_SHARE_PERCENT = Decimal("7")


@dataclass(frozen=True, slots=True)
class LandUse:
    """The figures an applicant submits for an industrial project."""

    plot_ratio: Decimal
    building_coverage_percent: Decimal
    admin_living_share_percent: Decimal


@dataclass(frozen=True, slots=True)
class Finding:
    """One failed check: which figure, what was submitted, what the rule requires."""

    code: str
    field: str
    submitted: Decimal
    required: str
    message: Text


def check_land_use(figures: LandUse) -> list[Finding]:
    """Every rule of 十八 the submitted figures break (empty when all are met; limits inclusive)."""
    out: list[Finding] = []
    if figures.plot_ratio < MIN_PLOT_RATIO:
        out.append(
            Finding(
                "land_use.plot_ratio",
                "plot_ratio",
                figures.plot_ratio,
                f">= {MIN_PLOT_RATIO}",
                _plot_ratio(figures.plot_ratio),
            )
        )
    if figures.building_coverage_percent < MIN_BUILDING_COVERAGE_PERCENT:
        out.append(
            Finding(
                "land_use.building_coverage",
                "building_coverage_percent",
                figures.building_coverage_percent,
                f">= {MIN_BUILDING_COVERAGE_PERCENT}%",
                _building_coverage(figures.building_coverage_percent),
            )
        )
    if figures.admin_living_share_percent > MAX_ADMIN_LIVING_SHARE_PERCENT:
        out.append(
            Finding(
                "land_use.admin_living_share",
                "admin_living_share_percent",
                figures.admin_living_share_percent,
                f"<= {MAX_ADMIN_LIVING_SHARE_PERCENT}%",
                _admin_living_share(figures.admin_living_share_percent),
            )
        )
    return out


def _plot_ratio(submitted: Decimal | str) -> Text:
    return Text(
        f"容积率 {submitted} 低于下限 {MIN_PLOT_RATIO}",
        f"plot ratio {submitted} is below the minimum {MIN_PLOT_RATIO} (容积率)",
    )


def _building_coverage(submitted: Decimal | str) -> Text:
    return Text(
        f"建筑系数 {submitted}% 低于下限 {MIN_BUILDING_COVERAGE_PERCENT}%",
        f"building coverage {submitted}% is below the minimum {MIN_BUILDING_COVERAGE_PERCENT}% (建筑系数)",
    )


def _admin_living_share(submitted: Decimal | str) -> Text:
    return Text(
        f"行政办公及生活服务设施用地占项目总用地面积的 {submitted}%，超过上限 {MAX_ADMIN_LIVING_SHARE_PERCENT}%",
        f"administrative and living land {submitted}% of the site exceeds "
        f"the maximum {MAX_ADMIN_LIVING_SHARE_PERCENT}%",
    )


_MESSAGES = {
    "land_use.plot_ratio": _plot_ratio,
    "land_use.building_coverage": _building_coverage,
    "land_use.admin_living_share": _admin_living_share,
}


def finding_text(code: str, submitted: str) -> Text | None:
    """The message of a stored finding (its ``code`` and the figure submitted), in both languages;
    ``None`` for a code this module does not write."""
    message = _MESSAGES.get(code)
    return message(submitted) if message is not None else None
