"""Value objects shared by every service: zone kinds and levels, roles, division codes, periods."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer, StringConstraints, WithJsonSchema


class ZoneKind(StrEnum):
    """Kind of development zone: 经济开发区 or 高新技术产业开发区."""

    ECONOMIC = "economic"
    HIGH_TECH = "high_tech"


class ZoneLevel(StrEnum):
    """Approval level of a zone: 省级 or 国家级."""

    PROVINCIAL = "provincial"
    NATIONAL = "national"


class ZoneStatus(StrEnum):
    """Life status of a zone record."""

    ACTIVE = "active"
    MERGED = "merged"
    REVOKED = "revoked"


class Role(StrEnum):
    """Roles carried in a token's ``roles`` claim (docs/domain.md#users-and-roles; docs/api-conventions.md#roles)."""

    CITY_ADMIN = "city_admin"
    COMMERCE_BUREAU = "commerce_bureau"
    SCIENCE_BUREAU = "science_bureau"
    COUNTY = "county"
    ZONE_COMMITTEE = "zone_committee"
    WINDOW_CLERK = "window_clerk"
    REVIEWER = "reviewer"
    APPLICANT = "applicant"
    STATISTICS_BUREAU = "statistics_bureau"
    BUREAU_ADMIN = "bureau_admin"


DivisionCode = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{5}$")]
"""A 6-digit GB/T 2260 administrative division code, e.g. ``130705`` (宣化区)."""

CITY_CODE_SUFFIX = "00"

PeriodType = Literal["year", "half", "quarter"]

_PERIOD_RE = re.compile(r"^(?P<year>\d{4})(?:(?P<h>H[12])|(?P<q>Q[1-4]))?$")


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A reporting period: a year (``2025``), a half (``2025H1``) or a quarter (``2025Q3``).

    Ordered by start date then length, so a year sorts before its first half.
    """

    year: int
    type: PeriodType
    index: int  # 1 for a year, 1-2 for halves, 1-4 for quarters

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse ``2025``, ``2025H1`` or ``2025Q3``; raise ``ValueError`` otherwise."""
        m = _PERIOD_RE.match(text.strip())
        if not m:
            raise ValueError(f"not a period: {text!r} (expected 2025, 2025H1 or 2025Q3)")
        year = int(m["year"])
        if year < 1900 or year > 2999:
            raise ValueError(f"period year out of range: {year}")
        if m["h"]:
            return cls(year, "half", int(m["h"][1]))
        if m["q"]:
            return cls(year, "quarter", int(m["q"][1]))
        return cls(year, "year", 1)

    def __str__(self) -> str:
        if self.type == "year":
            return str(self.year)
        return f"{self.year}{'H' if self.type == 'half' else 'Q'}{self.index}"

    @property
    def label_zh(self) -> str:
        """The period as an official text names it: 2025年, 2025年上半年, 2025年第三季度."""
        if self.type == "year":
            return f"{self.year}年"
        if self.type == "half":
            return f"{self.year}年{'上' if self.index == 1 else '下'}半年"
        return f"{self.year}年第{'一二三四'[self.index - 1]}季度"

    @property
    def months(self) -> int:
        """Length of the period in months."""
        return {"year": 12, "half": 6, "quarter": 3}[self.type]

    @property
    def start(self) -> date:
        """First day of the period."""
        return date(self.year, (self.index - 1) * self.months + 1, 1)

    @property
    def end(self) -> date:
        """Last day of the period."""
        last_month = self.index * self.months
        if last_month == 12:
            return date(self.year, 12, 31)
        return date.fromordinal(date(self.year, last_month + 1, 1).toordinal() - 1)

    def previous(self) -> Period:
        """The period of the same type just before this one."""
        if self.index > 1:
            return Period(self.year, self.type, self.index - 1)
        last = {"year": 1, "half": 2, "quarter": 4}[self.type]
        return Period(self.year - 1, self.type, last)

    def same_period_last_year(self) -> Period:
        """The same half or quarter one year earlier (for year-on-year growth)."""
        return Period(self.year - 1, self.type, self.index)

    def parts(self) -> tuple[Period, ...]:
        """The periods this one divides into, in order: a year's two halves, a half's two quarters;
        none for a quarter."""
        if self.type == "year":
            return (Period(self.year, "half", 1), Period(self.year, "half", 2))
        if self.type == "half":
            first = 2 * self.index - 1
            return (Period(self.year, "quarter", first), Period(self.year, "quarter", first + 1))
        return ()

    def contains(self, other: Period) -> bool:
        """Whether ``other`` lies within this period (a period contains itself): ``2025`` contains
        ``2025H2`` and ``2025Q3``, ``2025H2`` contains ``2025Q3`` but not ``2025Q1``."""
        return self.start <= other.start and other.end <= self.end

    def enclosing(self) -> tuple[Period, ...]:
        """This period and every period containing it, narrowest first: ``2025Q3``, ``2025H2``, ``2025``."""
        if self.type == "year":
            return (self,)
        year = Period(self.year, "year", 1)
        if self.type == "half":
            return (self, year)
        return (self, Period(self.year, "half", (self.index + 1) // 2), year)


CHINA_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China Standard Time: UTC+8 all year (no daylight saving since 1991), so a fixed offset gives
the same dates as the tz database's Asia/Shanghai for every date the system deals with."""


def today_in_china() -> date:
    """Today's date in Asia/Shanghai, the calendar dates of legal effect are counted in."""
    return datetime.now(CHINA_TIME).date()


# --- How the API writes identifiers and quantities (docs/api-conventions.md#one-set-of-conventions) ---

SERIAL_ID_PATTERN = r"^[1-9][0-9]{0,18}$"


def _id_text(value: int) -> str:
    return str(value)


SerialId = Annotated[
    int,
    Field(ge=1, le=2**62),
    PlainSerializer(_id_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": SERIAL_ID_PATTERN, "examples": ["42"]}),
]
"""A row id the database numbers (a reorganisation act, an assessment run, a lock). Every id is a
string in the API, because JavaScript numbers hold integers exactly only up to 2^53: the JSON is
``"42"``; a request may send ``"42"`` (or, leniently, ``42``)."""


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


DecimalText = Annotated[
    Decimal,
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["12.5"]},
        mode="serialization",
    ),
]
"""A stored measurement or an amount of money: an exact decimal, written in the API as a decimal
string in plain notation without trailing zeros (``"3000"``, ``"12.5"``, ``"-0.25"``), never as a
binary floating-point number. Requests may send a string or a number."""

COMPUTED_DECIMALS = 6
"""Computed quantities (scores, normalised values, shares, weights) are JSON numbers rounded to
this many decimal places."""


def _rounded(value: float) -> float:
    return round(value, COMPUTED_DECIMALS)


Computed = Annotated[
    float,
    PlainSerializer(_rounded, return_type=float, when_used="json"),
    Field(json_schema_extra={"x-devzones-decimals": COMPUTED_DECIMALS}),
]
"""A quantity the system computes (a score, a normalised value, a share): a JSON number rounded to
``COMPUTED_DECIMALS`` places, declared in the schema as ``x-devzones-decimals``. Ranks and sorting
use the unrounded value inside the service; only the answer is rounded."""
