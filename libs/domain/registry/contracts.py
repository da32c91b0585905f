"""The HTTP API of the registry service: divisions, zones, reorganisations, the change feed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.domain.kernel.contracts import ApiModel, Page
from libs.domain.kernel.values import DecimalText, DivisionCode, SerialId, ZoneKind, ZoneLevel, ZoneStatus

ZoneName = Annotated[str, Field(min_length=2, max_length=200)]
ZoneRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="An existing zone id, or the `ref` of a zone established earlier in the same reorganisation.",
    ),
]
AreaKm2 = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=4)]


class Park(ApiModel):
    """A park (园) of a zone under "one zone, several parks"; ``former_zone`` when it was a zone."""

    name: str
    former_zone: str | None = None


class ZoneRead(ApiModel):
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
                    "parks": [
                        {"name": "河北宣化经济开发区", "former_zone": None},
                        {"name": "张家口东山高新技术产业开发区", "former_zone": "9a0b1c2d3e4f"},
                    ],
                    "plaques": ["河北张家口东山高新技术产业开发区"],
                    "valid_from": "2016-10-14",
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
    former_names: list[str] = Field(default_factory=list, description="Official names the zone carried before.")
    approved_area_km2: DecimalText | None = None
    established_on: date | None = None
    legal_basis: str | None = Field(None, description="Legal basis of the act that produced this state.")
    reorganisation: SerialId | None = Field(None, description="The act that produced this state.")
    successor: str | None = Field(None, description="For a merged zone, the zone it was merged into.")
    status_reason: str | None = None
    valid_from: date = Field(description="The state shown has been in force since this date.")
    valid_to: date | None = Field(None, description="The state shown ended on this date (null: still in force).")


# --- reorganisation operations -------------------------------------------------------------


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Establish(_Op):
    """Establish a new zone (设立); ``ref`` names it for later operations of the same act."""

    op: Literal["establish"]
    ref: str = Field(min_length=1, max_length=64)
    name: ZoneName
    kind: ZoneKind
    level: ZoneLevel = ZoneLevel.PROVINCIAL
    authority: DivisionCode
    entrusted_to: DivisionCode | None = None
    parks: list[ZoneName] = Field(default_factory=list)
    plaques: list[ZoneName] = Field(default_factory=list)
    approved_area_km2: AreaKm2 | None = None


class Rename(_Op):
    """Rename a zone (更名); the old name stays findable as a former name, or as a plaque."""

    op: Literal["rename"]
    zone_id: ZoneRef
    name: ZoneName
    keep_old_name_as_plaque: bool = False


class Merge(_Op):
    """Merge zones into a target (优化整合): sources end as ``merged`` with the target as successor."""

    op: Literal["merge"]
    sources: list[ZoneRef] = Field(min_length=1)
    into: ZoneRef
    sources_become: Literal["parks", "absorbed"] = "parks"
    keep_names_as_plaques: list[ZoneName] = Field(
        default_factory=list, description="Names (official or plaque) of the sources the target carries on as plaques."
    )


class Split(_Op):
    """Parks leave a zone to join another (existing, or established earlier in the act)."""

    op: Literal["split"]
    zone_id: ZoneRef
    parks: list[ZoneName] = Field(min_length=1)
    into: ZoneRef


class AddPlaque(_Op):
    """Add an extra official name (挂牌)."""

    op: Literal["add_plaque"]
    zone_id: ZoneRef
    name: ZoneName


class RevokePlaque(_Op):
    """Revoke a plaque (撤销牌子)."""

    op: Literal["revoke_plaque"]
    zone_id: ZoneRef
    name: ZoneName


class AddPark(_Op):
    """Add a park to a zone (一区多园)."""

    op: Literal["add_park"]
    zone_id: ZoneRef
    name: ZoneName


class RemovePark(_Op):
    """Remove a park from a zone."""

    op: Literal["remove_park"]
    zone_id: ZoneRef
    name: ZoneName


class Transfer(_Op):
    """Transfer jurisdiction (划归): a new administering authority."""

    op: Literal["transfer"]
    zone_id: ZoneRef
    authority: DivisionCode


class Entrust(_Op):
    """Entrust day-to-day management to another division (委托管理 / 托管)."""

    op: Literal["entrust"]
    zone_id: ZoneRef
    to: DivisionCode


class EndEntrustment(_Op):
    """End an entrustment."""

    op: Literal["end_entrustment"]
    zone_id: ZoneRef


class ChangeLevel(_Op):
    """Change the level, e.g. upgrade to national (国家级)."""

    op: Literal["change_level"]
    zone_id: ZoneRef
    level: ZoneLevel


class ChangeKind(_Op):
    """Change the kind (economic / high-tech)."""

    op: Literal["change_kind"]
    zone_id: ZoneRef
    kind: ZoneKind


class ChangeArea(_Op):
    """Change the approved area (扩区 / 调区)."""

    op: Literal["change_area"]
    zone_id: ZoneRef
    approved_area_km2: AreaKm2


class Revoke(_Op):
    """Revoke a zone (撤销 / 取消省级开发区资格), with the reason."""

    op: Literal["revoke"]
    zone_id: ZoneRef
    reason: str = Field(min_length=1, max_length=1000)


Operation = Annotated[
    Establish
    | Rename
    | Merge
    | Split
    | AddPlaque
    | RevokePlaque
    | AddPark
    | RemovePark
    | Transfer
    | Entrust
    | EndEntrustment
    | ChangeLevel
    | ChangeKind
    | ChangeArea
    | Revoke,
    Field(discriminator="op"),
]


class ReorganisationCreate(BaseModel):
    """One legal act, made of ordered operations applied atomically."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "legal_basis": "冀政字〔2016〕33号",
                    "effective_on": "2016-10-14",
                    "title": "张家口市开发区优化整合",
                    "operations": [
                        {
                            "op": "establish",
                            "ref": "huaian",
                            "name": "河北怀安经济开发区",
                            "kind": "economic",
                            "level": "provincial",
                            "authority": "130728",
                        },
                        {"op": "merge", "sources": ["<id>", "<id>"], "into": "huaian", "sources_become": "parks"},
                        {"op": "rename", "zone_id": "<id>", "name": "河北涿鹿经济开发区"},
                        {"op": "add_plaque", "zone_id": "<id>", "name": "河北涿鹿高新技术产业开发区"},
                    ],
                }
            ]
        }
    )

    legal_basis: str = Field(min_length=1, max_length=200, description="Document number, e.g. 冀政字〔2016〕33号.")
    effective_on: date
    title: str = Field(min_length=1, max_length=500)
    operations: list[Operation] = Field(min_length=1, max_length=5000)
    note: str | None = Field(None, max_length=2000, description="E.g. that a date is approximate or data is a demo.")


class ZoneChange(ApiModel):
    """What one operation did to one zone."""

    op_index: int
    op: str
    zone_id: str
    description: str

    @model_validator(mode="before")
    @classmethod
    def _stored_before_zone_id(cls, data: Any) -> Any:
        """Changes recorded before the field was named ``zone_id`` are stored with ``zone``."""
        if isinstance(data, dict) and "zone" in data and "zone_id" not in data:
            data = {("zone_id" if k == "zone" else k): v for k, v in data.items()}
        return data


class ReorganisationRead(ApiModel):
    """A recorded act (or, with ``dry_run``, what recording it would do)."""

    id: SerialId | None = Field(description="Null for a dry run.")
    legal_basis: str
    effective_on: date
    title: str
    note: str | None = None
    operations: list[dict[str, Any]]
    zone_ids_by_ref: dict[str, str] = Field(description="The zone id given to every `establish` ref.")
    touched: list[str] = Field(description="Every zone the act changed.")
    changes: list[ZoneChange]
    resulting: list[ZoneRead] = Field(description="The states of the touched zones from the effective date on.")
    dry_run: bool = False
    recorded_at: datetime | None = None
    recorded_by: str | None = None
    annulled_at: datetime | None = None
    annulled_by: str | None = None
    annul_reason: str | None = None


class ReorganisationSummary(ApiModel):
    """An act in a list."""

    id: SerialId
    legal_basis: str
    effective_on: date
    title: str
    touched: list[str]
    recorded_at: datetime
    annulled_at: datetime | None = None


class Annulment(BaseModel):
    """Why an act is annulled."""

    reason: str = Field(min_length=1, max_length=2000)


# --- reads ---------------------------------------------------------------------------------


class HistoryEntry(ApiModel):
    """One state of a zone, with the act that produced it."""

    state: ZoneRead
    reorganisation: SerialId
    legal_basis: str
    effective_on: date
    title: str
    changes: list[ZoneChange]


class ZoneHistory(ApiModel):
    """Every state a zone has had, oldest first."""

    zone_id: str
    entries: list[HistoryEntry]


class LineageLink(ApiModel):
    """One step of lineage: the zone in ``state`` became part of (or came from) the zone asked about."""

    state: ZoneRead = Field(
        description="The related zone as it stood on the day before the link (predecessors) "
        "or on the link's date (successors)."
    )
    on: date
    operation: Literal["merge", "split"]
    reorganisation: SerialId
    via: str = Field(description="The zone on the other side of this link (for transitive links).")


class Lineage(ApiModel):
    """All predecessors (transitively) of a zone, and the successors of an ended zone."""

    zone_id: str
    predecessors: list[LineageLink]
    successors: list[LineageLink]


MatchType = Literal["official", "former_name", "plaque", "park"]


class ResolveMatch(ApiModel):
    """A zone that carries the asked name on the date, and how."""

    state: ZoneRead = Field(description="The zone as it stood on the date.")
    match: MatchType
    matched_name: str


class ResolveResult(ApiModel):
    """Every zone carrying a name on a date (several are all returned)."""

    name: str
    as_of: date
    matches: list[ResolveMatch]


class ZoneCounts(ApiModel):
    """Active zones on a date; plaques and parks are never counted."""

    as_of: date
    total: int
    by_kind: dict[str, int]
    by_level: dict[str, int]


class ZoneBrief(ApiModel):
    """A zone named inside another answer."""

    id: str
    name: str
    kind: ZoneKind
    level: ZoneLevel


# --- divisions -----------------------------------------------------------------------------


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
        default_factory=list, description="Codes that end on `valid_from`, with this code as their successor."
    )
    is_city: bool = Field(False, description="True for the prefecture-level city itself (e.g. 130700).")
    note: str | None = Field(None, max_length=500, description="E.g. that a date is approximate.")


class DivisionRead(ApiModel):
    """A division as recorded, with its validity interval and successor."""

    code: DivisionCode
    name: str
    valid_from: date
    valid_to: date | None = None
    successor: DivisionCode | None = None
    is_city: bool = False
    note: str | None = None


class DivisionWithZones(DivisionRead):
    """A division on a date with the zones it administers or hosts by entrustment."""

    administers: list[ZoneBrief] = Field(default_factory=list)
    hosts_by_entrustment: list[ZoneBrief] = Field(default_factory=list)
    has_provincial_zone: bool = Field(description="Administers an active provincial or national zone.")


class DivisionList(Page[DivisionWithZones]):
    """Divisions in force on a date (one page), and which county-level divisions have no zone."""

    as_of: date
    without_provincial_zone: list[DivisionCode] = Field(
        description="Every county-level division (not only this page's) administering no active zone."
    )


# --- compliance and the change feed --------------------------------------------------------


class ComplianceFinding(ApiModel):
    """A policy rule the registry's state breaks on a date (a finding, never a refusal)."""

    rule: str
    message: str
    division: DivisionCode | None = None
    affected_zones: list[ZoneBrief] = Field(description="The zones the finding is about.")


class ComplianceReport(ApiModel):
    """Findings against the 2016 policy rules on a date."""

    as_of: date
    findings: list[ComplianceFinding]


class ChangeRead(ApiModel):
    """One entry of the change feed."""

    id: SerialId
    occurred_at: datetime
    type: str = Field(description="`reorganisation.recorded`, `reorganisation.annulled` or `division.recorded`.")
    payload: dict[str, Any]


class ChangeFeed(ApiModel):
    """A page of the change feed; resume from ``next_cursor`` (always set) to follow it.

    ``next_cursor`` is set on the last page too (the position after its last change, or the
    cursor given when no change followed it), so a follower keeps polling from it; a page with
    fewer than ``limit`` items is the end of the feed for now."""

    items: list[ChangeRead]
    next_cursor: str = Field(description="Pass as `cursor` to continue; always set, also on the last page.")


class ZoneIds(BaseModel):
    """Several zone ids, for the bulk reads."""

    zone_ids: list[Annotated[str, Field(max_length=32)]] = Field(min_length=1, max_length=5000)


class LineageBulk(ApiModel):
    """Lineages of several zones; unknown ids are left out."""

    lineages: dict[str, Lineage]


class HistoryBulk(ApiModel):
    """Histories of several zones; unknown ids are left out."""

    histories: dict[str, ZoneHistory]
