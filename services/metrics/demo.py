"""Demo values for the registry's demo zones: synthetic sample data, not official statistics.

For every year from 2015 to the latest full year, and every quarter of 2016 (the year of the
reorganisation, so the zones before it have values too), the zones active at the period's end
(asked of the registry) get every base and stock indicator, and the city gets its totals. Values are
generated deterministically from the zone's name (a merged zone's size is the sum of its
parks', so series stay continuous across the 2016 reorganisation) and are internally
consistent: parts never exceed their wholes, shares stay below 100%, the zones add up to less
than the city. Every value's note says it is synthetic. Loading is idempotent: a year whose city
GDP is already stored is skipped, and each batch carries an Idempotency-Key.
"""

from __future__ import annotations

import hashlib
import sys
from decimal import Decimal
from typing import Any

import httpx

from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.errors import DomainError
from libs.domain.kernel.values import Period, ZoneStatus, today_in_china
from libs.domain.registry.contracts import ZoneRead

SAMPLE_NOTE = "synthetic sample data, not official statistics"
FIRST_YEAR = 2015
REORGANISATION_YEAR = 2016
"""Its quarters are loaded too, so the zones before the 14 October 2016 reorganisation have values."""
DEFAULT_CITY = "130700"
BATCH = 5000


def _unit(name: str, salt: str) -> float:
    """A number in [0, 1) fixed by ``name`` and ``salt``."""
    digest = hashlib.sha256(f"{salt}|{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _between(name: str, salt: str, low: float, high: float) -> float:
    return low + (high - low) * _unit(name, salt)


def _size(name: str) -> float:
    """A zone's (or park's) 2015 GDP in 万元: 20 to 200 亿元."""
    return _between(name, "size", 200_000, 2_000_000)


STOCKS = ("employment", "land_area_mu", "fixed_asset_investment_cumulative")
QUARTER_SHARES = (0.22, 0.24, 0.26, 0.28)
"""Each quarter's part of a year's flows (stocks are levels at the period's end)."""


def zone_values(zone: ZoneRead, year: int, quarter: int | None = None) -> dict[str, float]:
    """Every base and stock value of a zone for a year (or one of its quarters), in canonical units."""
    values = _values(zone.name, [p.name for p in zone.parks] or [zone.name], year)
    if quarter is None:
        return values
    return {c: v if c in STOCKS else v * QUARTER_SHARES[quarter - 1] for c, v in values.items()}


def _values(name: str, parts: list[str], year: int, scale: float = 1.0) -> dict[str, float]:
    years = year - FIRST_YEAR
    growth = _between(name, "growth", 0.04, 0.11)
    base = sum(_size(n) for n in parts) * scale
    gdp = base * (1 + growth) ** years
    fiscal = gdp * _between(name, "fiscal", 0.08, 0.14)
    iva = gdp * _between(name, "industry", 0.40, 0.65)
    generated = iva * 0.2
    sewage = gdp * 0.0005
    revenue = gdp * 2.2
    land = base / _between(name, "density", 45, 80) * 1.02**years
    return {
        "gdp": gdp,
        "fiscal_revenue": fiscal,
        "tax_revenue": fiscal * 0.8,
        "rd_spending": gdp * _between(name, "rd", 0.012, 0.035),
        "industrial_value_added": iva,
        "high_tech_value_added": iva * _between(name, "hightech", 0.12, 0.35),
        "foreign_investment_used": gdp * _between(name, "fdi", 0.002, 0.008),
        "exports": gdp * _between(name, "exports", 0.01, 0.05),
        "energy_consumption": iva * _between(name, "energy", 0.5, 1.2) * 0.97**years,
        "solid_waste_generated": generated,
        "solid_waste_reused": generated * _between(f"{name}{year}", "reuse", 0.70, 0.95),
        "sewage_generated": sewage,
        "sewage_treated": sewage * _between(f"{name}{year}", "sewage", 0.85, 1.0),
        "main_business_revenue": revenue,
        "dominant_industry_revenue": revenue * _between(name, "dominant", 0.40, 0.70),
        "employment": gdp / _between(name, "productivity", 25, 40),
        "land_area_mu": land,
        "fixed_asset_investment_cumulative": land * _between(name, "intensity", 150, 300),
    }


def city_totals(zone_rows: list[dict[str, float]], year: int, city: str) -> dict[str, float]:
    """The city's totals: the zones' sums divided by one share of the year (45 to 60%), so the
    city's own ratios equal the zones' overall ones; without zones, a synthetic whole city."""
    if not zone_rows:
        return _values(f"city {city}", [f"city {city}"], year, scale=8.0)
    share = _between(f"{city}{year}", "share", 0.45, 0.60)
    return {code: sum(r[code] for r in zone_rows) / share for code in zone_rows[0]}


def _money(value: float) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def _row(subject: dict[str, str], code: str, period: str, value: float) -> dict[str, Any]:
    return {
        **subject,
        "indicator": code,
        "period": period,
        "value": _money(value),
        "unit": _UNITS[code],
        "note": SAMPLE_NOTE,
    }


def rows_for_period(zones: list[ZoneRead], period: Period, city: str) -> list[dict[str, Any]]:
    """The push rows of one year or quarter: every zone's values and the city's totals."""
    quarter = period.index if period.type == "quarter" else None
    rows: list[dict[str, Any]] = []
    per_zone: list[dict[str, float]] = []
    for z in sorted(zones, key=lambda z: z.id):
        values = zone_values(z, period.year, quarter)
        per_zone.append(values)
        rows.extend(_row({"zone_id": z.id}, c, str(period), v) for c, v in values.items())
    totals = city_totals(per_zone, period.year, city)
    if quarter is not None and not per_zone:
        totals = {c: v if c in STOCKS else v * QUARTER_SHARES[quarter - 1] for c, v in totals.items()}
    rows.extend(_row({"division": city}, c, str(period), v) for c, v in totals.items())
    return rows


_UNITS = {
    "gdp": "万元",
    "fiscal_revenue": "万元",
    "tax_revenue": "万元",
    "rd_spending": "万元",
    "industrial_value_added": "万元",
    "high_tech_value_added": "万元",
    "foreign_investment_used": "万美元",
    "exports": "万美元",
    "energy_consumption": "吨标准煤",
    "solid_waste_generated": "吨",
    "solid_waste_reused": "吨",
    "sewage_generated": "万吨",
    "sewage_treated": "万吨",
    "main_business_revenue": "万元",
    "dominant_industry_revenue": "万元",
    "employment": "人",
    "land_area_mu": "亩",
    "fixed_asset_investment_cumulative": "万元",
}


def _warn(message: str) -> None:
    print(f"metrics demo: {message}", file=sys.stderr)


async def _city_code(registry: RegistryClient) -> str:
    try:
        for division in await registry.divisions():
            if division.is_city:
                return division.code
    except DomainError:
        pass
    return DEFAULT_CITY


async def _loaded(http: httpx.AsyncClient, metrics: str, city: str, period: Period) -> bool:
    r = await http.get(
        f"{metrics}/v1/observations",
        params={"division": city, "indicator": "gdp", "period": str(period), "limit": 1},
    )
    return r.status_code == 200 and bool(r.json()["items"])


async def _push(http: httpx.AsyncClient, metrics: str, rows: list[dict[str, Any]], key: str) -> httpx.Response:
    r: httpx.Response | None = None
    for start in range(0, len(rows), BATCH):
        r = await http.post(
            f"{metrics}/v1/observations",
            json={"observations": rows[start : start + BATCH]},
            headers={"Idempotency-Key": f"{key}-{start // BATCH}"},
        )
        if r.status_code != 200:
            return r
    assert r is not None
    return r


async def load(http: httpx.AsyncClient, urls: dict[str, str]) -> None:
    """Load the demo values through the metrics API (idempotent; labelled synthetic everywhere)."""
    metrics = urls["metrics"].rstrip("/")
    registry = RegistryClient(http, urls["registry"])
    city = await _city_code(registry)
    last_year = today_in_china().year - 1
    periods = [Period.parse(str(y)) for y in range(FIRST_YEAR, last_year + 1)]
    periods += [Period.parse(f"{REORGANISATION_YEAR}Q{q}") for q in range(1, 5)]
    for period in periods:
        if await _loaded(http, metrics, city, period):
            continue
        try:
            zones = await registry.list_zones(as_of=period.end, status=ZoneStatus.ACTIVE)
        except DomainError as exc:
            _warn(f"registry zones unavailable ({exc.detail}); loading city totals only")
            zones = []
        rows = rows_for_period(zones, period, city)
        r = await _push(http, metrics, rows, f"demo-metrics-{period}")
        if r.status_code != 200 and zones:
            _warn(f"{period}: zone values refused ({r.status_code}: {r.text[:200]}); loading city totals only")
            r = await _push(http, metrics, rows_for_period([], period, city), f"demo-metrics-city-{period}")
        if r.status_code != 200:
            _warn(f"{period}: values refused ({r.status_code}: {r.text[:200]}); stopping")
            return
