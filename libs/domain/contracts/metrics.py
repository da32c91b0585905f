"""The HTTP API of the metrics service."""

from __future__ import annotations

from datetime import datetime
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
