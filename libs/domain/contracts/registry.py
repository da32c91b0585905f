"""The HTTP API of the registry service: divisions, zones, reorganisations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from libs.domain.values import DivisionCode, ZoneKind, ZoneLevel, ZoneStatus


class Park(BaseModel):
    """A park (园) of a zone under "one zone, several parks"; ``former_zone`` when it was a zone."""

    name: str
    former_zone: str | None = None


class ZoneRead(BaseModel):
    """A zone as it stood on a date."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3f9c2a1b7d4e",
                    "name": "河北宣化经济开发区",
                    "kind": "economic",
                    "level": "provincial",
                    "status": "active",
                    "authority": "130705",
                    "entrusted_to": None,
                    "parks": [{"name": "宣化园", "former_zone": None}],
                    "plaques": ["河北张家口东山高新技术产业开发区"],
                }
            ]
        }
    )

    id: str
    name: str
    kind: ZoneKind
    level: ZoneLevel
    status: ZoneStatus
    authority: DivisionCode = Field(description="Administering authority: the city's code or a county-level code.")
    entrusted_to: DivisionCode | None = Field(None, description="Division managing the zone by entrustment (托管).")
    parks: list[Park] = Field(default_factory=list)
    plaques: list[str] = Field(default_factory=list, description="Extra official names (挂牌); never counted as zones.")
    approved_area_km2: Decimal | None = None
    established_on: date | None = None
    legal_basis: str | None = None
    successor: str | None = Field(None, description="For a merged zone, the zone it was merged into.")
    status_reason: str | None = None
    valid_from: date = Field(description="The state shown has been in force since this date.")
    valid_to: date | None = Field(
        None, description="The state shown ended the day before this date (null: still in force)."
    )


class DivisionCreate(BaseModel):
    """A new division, or a new state of one (rename, change of status such as 县 → 区)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"code": "130705", "name": "宣化区", "valid_from": "2016-01-07", "replaces": ["130721"]}]
        }
    )

    code: DivisionCode
    name: str = Field(min_length=1, max_length=100)
    valid_from: date
    replaces: list[DivisionCode] = Field(
        default_factory=list, description="Codes that end the day before `valid_from`, with this code as successor."
    )
    is_city: bool = Field(False, description="True for the prefecture-level city itself (e.g. 130700).")
    note: str | None = Field(None, max_length=500, description="E.g. that a date is approximate.")


class DivisionRead(BaseModel):
    """A division as recorded, with its validity interval and successor."""

    code: DivisionCode
    name: str
    valid_from: date
    valid_to: date | None = None
    successor: DivisionCode | None = None
    is_city: bool = False
    note: str | None = None
