"""The HTTP API of the metrics service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.domain.values import PeriodType

IndicatorKind = Literal["base", "stock", "derived"]
Direction = Literal["higher_is_better", "lower_is_better"]


class IndicatorCreate(BaseModel):
    """A new indicator, or a new version of one (indicators are never edited in place)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "gdp",
                    "name_zh": "地区生产总值",
                    "name_en": "GDP",
                    "unit": "万元",
                    "kind": "base",
                    "direction": "higher_is_better",
                    "period_types": ["year", "half", "quarter"],
                    "min": 0,
                    "max": None,
                    "formula": None,
                }
            ]
        }
    )

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=32)
    kind: IndicatorKind
    direction: Direction = "higher_is_better"
    period_types: list[PeriodType] = Field(min_length=1)
    min: Decimal | None = None
    max: Decimal | None = None
    formula: str | None = Field(None, max_length=500)


class IndicatorRead(IndicatorCreate):
    """An indicator version as stored."""

    version: int
    created_at: datetime


class MatrixIndicator(BaseModel):
    """An indicator column of a matrix."""

    code: str
    unit: str
    kind: IndicatorKind
    version: int
    direction: Direction


class MatrixRow(BaseModel):
    """One zone's values for the period, in each indicator's canonical unit; ``None`` = missing."""

    zone: str
    name: str
    values: dict[str, float | None]
    proforma_from: list[str] = Field(
        default_factory=list,
        description="With lineage=proforma: predecessor zones whose components were added into this row.",
    )


class MatrixRead(BaseModel):
    """Every zone of a kind for one period, base, stock and derived values in one answer."""

    period: str
    kind: str | None
    as_of: date = Field(description="The registry date used to choose the zones.")
    lineage: Literal["none", "proforma"]
    indicators: list[MatrixIndicator]
    rows: list[MatrixRow]
