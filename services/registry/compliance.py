"""Findings against the 2016 rules on a date: reported, never refused."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.values import ZoneKind
from libs.domain.registry.contracts import ComplianceFinding, ComplianceReport
from services.registry import repository as repo
from services.registry.conversions import zone_brief
from services.registry.tables import ZoneState


async def compliance(*, session: AsyncSession, as_of: date) -> ComplianceReport:
    """Findings against the 2016 rules: the city directly administers at most one zone per kind;
    each county-level division has one zone (一县一区). Findings, never refusals."""
    divisions = await repo.DivisionRepository(session).valid_on(as_of)
    zones = await repo.ZoneRepository(session).active_on(as_of)
    by_authority: dict[str, list[ZoneState]] = defaultdict(list)
    for z in zones:
        by_authority[z.authority].append(z)
    findings: list[ComplianceFinding] = []
    for d in divisions:
        held = by_authority.get(d.code, [])
        if d.is_city:
            for kind in ZoneKind:
                of_kind = [z for z in held if z.kind == kind.value]
                if len(of_kind) > 1:
                    findings.append(
                        ComplianceFinding(
                            rule="city_at_most_one_per_kind",
                            message=f"{d.name} directly administers {len(of_kind)} {kind.value} zones; "
                            "the policy allows one economic and one high-tech zone (二(四))",
                            division=d.code,
                            affected_zones=[zone_brief(z) for z in of_kind],
                        )
                    )
        elif len(held) > 1:
            findings.append(
                ComplianceFinding(
                    rule="one_zone_per_county",
                    message=f"{d.name} administers {len(held)} zones; the policy asks for one zone per "
                    "county-level division, with several parks (一县一区、一区多园, 二(五))",
                    division=d.code,
                    affected_zones=[zone_brief(z) for z in held],
                )
            )
        elif not held:
            findings.append(
                ComplianceFinding(
                    rule="county_without_zone",
                    message=f"{d.name} has no provincial zone; the policy aims for one in every county-level "
                    "division (一(二)1) and assesses it by reference (二十八)",
                    division=d.code,
                    affected_zones=[],
                )
            )
    return ComplianceReport(as_of=as_of, findings=findings)
