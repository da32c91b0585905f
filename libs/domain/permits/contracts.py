"""The HTTP API of the permits service: the approval bureau's single window.

Schema families: ``XCreate`` (request), ``XRead`` (answer). Dates of legal effect are plain
dates (Asia/Shanghai); timestamps are timezone-aware UTC. Time limits are working days on the
official calendar (see ``libs.domain.permits.clock``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from libs.domain.kernel.calendar import DayKind
from libs.domain.kernel.contracts import ApiModel
from libs.domain.kernel.i18n import Text as Message
from libs.domain.kernel.i18n import invalid
from libs.domain.kernel.values import Computed, DecimalText, SerialId
from libs.domain.permits.clock import ClockState, Timeliness
from libs.domain.permits.states import CaseState, Outcome, TaskState

MAX_LIMIT_DAYS = 365
"""Upper bound of any time limit in working days (well above any statutory limit)."""

MAX_UPLOAD_BYTES = 10 * 1_048_576
"""Largest material file accepted by ``POST /v1/files`` (10 MiB)."""

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Department = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$"),
    Field(description="A department (内设科室/派驻机构) code, lower case, e.g. `planning`."),
]
ZoneId = Annotated[str, Field(min_length=1, max_length=64)]
LimitDays = Annotated[int, Field(ge=1, le=MAX_LIMIT_DAYS)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Percent = Annotated[
    Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=3, description="A percentage, 0-100 (unit: %).")
]
CreditCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"),
    Field(description="Unified social credit code (统一社会信用代码), 18 characters."),
]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
CaseActionName = Literal[
    "accept",
    "request-supplements",
    "decline",
    "supplements",
    "special-procedures",
    "end",
    "extensions",
    "decision",
    "rating",
]
"""A case action as ``allowed_actions`` names it: the last path segment of the ``POST`` that performs it
(``libs.domain.permits.states.CASE_ACTION_PATHS``)."""
TaskActionName = Literal["approve", "reject", "request-supplements"]
"""A task action as ``allowed_actions`` names it: the last segment of ``POST /v1/tasks/{task_id}/…``."""


# --- calendar ------------------------------------------------------------------------------


class DeadlineRead(ApiModel):
    """The N-th working day after a start date."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"start": "2026-02-12", "working_days": 5, "deadline": "2026-02-26", "provisional": False}]
        }
    )

    start: date
    working_days: int
    deadline: date
    provisional: bool = Field(description="True if the count crossed a year the official calendar does not cover yet.")


class CalendarDay(ApiModel):
    """What the service's clock says about one day."""

    date: date
    working: bool
    kind: DayKind
    name: str | None = None
    provisional: bool
    overridden: bool


class CalendarOverride(ApiModel):
    """The bureau's override of one day."""

    working: bool
    note: str | None = Field(None, max_length=200)


class NamedDay(ApiModel):
    """A day named in a holiday notice."""

    date: date
    name: ShortText


class CalendarYearCreate(ApiModel):
    """A year's State Council holiday notice, loaded before the packaged calendar carries it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "国务院办公厅关于2027年部分节假日安排的通知",
                    "holidays": [{"date": "2027-01-01", "name": "元旦"}],
                    "makeup_workdays": [],
                }
            ]
        }
    )

    source: ShortText = Field(description="The notice the days come from.")
    holidays: list[NamedDay] = Field(max_length=100)
    makeup_workdays: list[NamedDay] = Field(default_factory=list, max_length=50)


class CalendarYearRead(CalendarYearCreate):
    """A loaded year."""

    year: int
    loaded_at: datetime
    loaded_by: str
    recomputed_cases: int = Field(0, description="Provisional deadlines recomputed when the year was loaded.")


# --- catalog -------------------------------------------------------------------------------


class BureauWrite(ApiModel):
    """A zone's approval bureau (行政审批局): its name, document-number prefix and seal."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "河北张家口经济开发区行政审批局",
                    "document_prefix": "张经审",
                    "seal": "河北张家口经济开发区行政审批局行政审批专用章",
                }
            ]
        }
    )

    name: ShortText
    document_prefix: Annotated[
        str, StringConstraints(pattern=r"^[\u4e00-\u9fffA-Za-z0-9]{1,20}$"), Field(description="E.g. 张经审.")
    ]
    seal: ShortText = Field(description="The one seal every decision of the bureau carries (一枚印章管审批).")


class BureauRead(BureauWrite):
    """A zone's approval bureau."""

    zone_id: str
    updated_at: datetime
    updated_by: str


class StageSpec(ApiModel):
    """One stage of an item's internal route: departments working in parallel, and its share of the limit."""

    departments: list[Department] = Field(min_length=1, max_length=20)
    share: Decimal = Field(gt=0, le=1, max_digits=6, decimal_places=4)

    @model_validator(mode="after")
    def _distinct(self) -> StageSpec:
        if len(set(self.departments)) != len(self.departments):
            raise invalid(
                "duplicate_department", Message("同一阶段中部门重复", "a department appears twice in one stage")
            )
        return self


class MaterialSpec(ApiModel):
    """A material an item requires."""

    code: Code
    name: ShortText
    mandatory: bool = True
    minor: bool = Field(
        False,
        description="A minor material: the window may accept without it on a written commitment (容缺受理), "
        "where the item allows that.",
    )


class Fee(ApiModel):
    """What the item costs; the source policy waives administrative fees in zones."""

    amount_yuan: DecimalText = Field(Decimal(0), ge=0, max_digits=12, decimal_places=2)
    waived: bool = True
    note: str | None = Field(None, max_length=500)


class ItemCreate(ApiModel):
    """An approval item (事项) offered by a zone's bureau."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "jsgcgh",
                    "name": "建设工程规划许可",
                    "zone_id": "3f9c2a1b7d4e",
                    "legal_basis": "《中华人民共和国城乡规划法》第四十条",
                    "statutory_limit_days": 20,
                    "promised_limit_days": 10,
                    "stages": [
                        {"departments": ["planning", "environment"], "share": "0.6"},
                        {"departments": ["construction"], "share": "0.4"},
                    ],
                    "materials": [
                        {"code": "gh1", "name": "建设工程规划许可申请表", "mandatory": True},
                        {"code": "gh2", "name": "建设工程设计方案", "mandatory": True},
                        {"code": "gh3", "name": "其他说明材料", "mandatory": False},
                    ],
                    "accept_pending_minor": False,
                    "land_use_check": True,
                }
            ]
        }
    )

    code: Code
    name: ShortText
    zone_id: ZoneId
    legal_basis: Text
    statutory_limit_days: LimitDays
    promised_limit_days: LimitDays = Field(description="The bureau's promise; at most the statutory limit.")
    max_extension_days: int = Field(
        10,
        ge=0,
        le=MAX_LIMIT_DAYS,
        description="The longest single extension the law allows (行政许可法 第四十二条: 10 working days).",
    )
    stages: list[StageSpec] = Field(min_length=1, max_length=20)
    materials: list[MaterialSpec] = Field(default_factory=list, max_length=200)
    accept_pending_minor: bool = Field(False, description="Whether 容缺受理 is allowed for this item.")
    land_use_check: bool = Field(
        False, description="An item about an industrial project: intake checks the land-use figures (十八)."
    )
    fee: Fee = Field(default_factory=Fee)
    responsibility: str | None = Field(
        None, max_length=2000, description="The bureau's responsibility for the item (责任清单)."
    )
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _rules(self) -> ItemCreate:
        if self.promised_limit_days > self.statutory_limit_days:
            raise invalid(
                "promised_exceeds_statutory",
                Message(
                    "承诺办结时限（promised_limit_days）不得超过法定时限（statutory_limit_days）",
                    "promised_limit_days must not exceed statutory_limit_days",
                ),
            )
        total = sum((s.share for s in self.stages), Decimal(0))
        if abs(total - 1) > Decimal("0.0001"):
            raise invalid(
                "stage_shares",
                Message(
                    f"各阶段时限占比之和应为 1（现为 {total}）",
                    f"stage shares must add up to 1 (they add up to {total})",
                ),
            )
        codes = [m.code for m in self.materials]
        if len(set(codes)) != len(codes):
            raise invalid("duplicate_material", Message("材料编码不得重复", "material codes must be unique"))
        return self


class ItemRead(ItemCreate):
    """An approval item."""

    id: str
    version: int
    created_at: datetime
    updated_at: datetime


class ItemBrief(ApiModel):
    """An item named inside a case."""

    id: str
    code: str
    name: str


class PowerListEntry(ApiModel):
    """One line of the public list of powers and responsibilities (权力清单、责任清单)."""

    zone_id: str
    bureau: str | None = Field(description="The bureau that exercises the power (null until configured).")
    code: str
    name: str
    kind: str = Field("行政许可", description="Kind of power.")
    legal_basis: str
    statutory_limit_days: int
    promised_limit_days: int
    departments: list[str] = Field(description="Every department the route passes through, in order.")
    fee: Fee
    responsibility: str | None


# --- files ---------------------------------------------------------------------------------


class FileRead(ApiModel):
    """An uploaded material file (the content is kept by the service)."""

    id: str
    sha256: Sha256
    size_bytes: int
    filename: str
    content_type: str
    uploaded_at: datetime
    uploaded_by: str


# --- applications --------------------------------------------------------------------------


class ApplicantInfo(ApiModel):
    """The enterprise applying."""

    id: str | None = Field(
        None,
        max_length=200,
        description="The applicant's account (the token's `sub`). An applicant's own token sets it; "
        "a window clerk filing on an enterprise's behalf may give it so the enterprise can follow the case.",
    )
    name: ShortText
    credit_code: CreditCode | None = None
    contact: str | None = Field(None, max_length=200)


class MaterialSupplied(ApiModel):
    """A material handed in: an uploaded file, optionally with the hash the applicant computed."""

    code: Code
    file_id: Annotated[str, Field(min_length=1, max_length=64)]
    sha256: Sha256 | None = Field(None, description="If given, must equal the stored file's hash.")


class LandUseFigures(ApiModel):
    """Land-use figures of an industrial project (checked against 十八)."""

    plot_ratio: Decimal = Field(ge=0, le=100, max_digits=7, decimal_places=3, description="容积率 (dimensionless).")
    building_coverage_percent: Percent = Field(description="建筑系数, %.")
    admin_living_share_percent: Percent = Field(description="行政办公及生活服务设施用地 share of the site, %.")


class ApplicationCreate(ApiModel):
    """An application handed in at the window (or online)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item": "6f1d0c3b9a8e47d2b5c4a3f2e1d0c9b8",
                    "zone_id": "3f9c2a1b7d4e",
                    "project_name": "年产10万吨新材料项目（示例）",
                    "applicant": {"name": "示例新材料有限公司（示例）", "credit_code": "91130700MA0DEM001X"},
                    "materials": [
                        {"code": "gh1", "file_id": "0b7e4c2a9d6f41e8a3c5b7d9e1f2a4c6"},
                        {"code": "gh2", "file_id": "8d2f6a1c4e9b47a0b3d5c7e9f1a2b4d6"},
                    ],
                    "land_use": {
                        "plot_ratio": "1.2",
                        "building_coverage_percent": "45",
                        "admin_living_share_percent": "6",
                    },
                }
            ]
        }
    )

    item: Annotated[str, Field(min_length=1, max_length=64)]
    zone_id: ZoneId
    project_name: ShortText
    applicant: ApplicantInfo
    materials: list[MaterialSupplied] = Field(default_factory=list, max_length=200)
    land_use: LandUseFigures | None = None
    accept: StrictBool | AcceptCreate = Field(
        False,
        description=(
            "Accept on the spot (当场受理), window clerks only: `true`, or the acceptance itself "
            '(`{"pending": [...], "note": ...}`). The case is submitted and accepted in one transaction: '
            "both transitions, the deadline, the first stage's tasks and both events are recorded together."
        ),
    )

    def acceptance(self) -> AcceptCreate | None:
        """The acceptance asked for with the application, if any."""
        if isinstance(self.accept, AcceptCreate):
            return self.accept
        return AcceptCreate() if self.accept else None


class MaterialRead(ApiModel):
    """A material on file for a case."""

    code: str
    name: str | None
    file_id: str
    sha256: str
    size_bytes: int
    filename: str
    supplied_at: datetime
    round: int = Field(description="0 for the application, then 1, 2, ... for each batch of supplements.")


class PendingMaterial(ApiModel):
    """A minor material accepted pending on the applicant's written commitment (容缺受理)."""

    code: Code
    commitment: Text = Field(description="What the applicant committed to, e.g. 'hand in by 2026-03-31'.")
    due_on: date | None = None


class FindingRead(ApiModel):
    """A check that failed at intake, shown to the reviewers."""

    code: str
    field: str
    submitted: str
    required: str
    message: str


class DecisionRead(ApiModel):
    """The unified reply (统一反馈), issued once by the window under the bureau's seal."""

    outcome: Outcome
    document_number: str = Field(examples=["张经审〔2026〕17号"])
    seal: str
    issued_on: date
    issued_at: datetime
    reasons: list[str] = Field(default_factory=list)


class RatingCreate(ApiModel):
    """The applicant's rating of the service (好差评)."""

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


class RatingRead(RatingCreate):
    """A rating given."""

    rated_at: datetime
    rectification: str | None = Field(None, description="The rectification opened by a rating of 2 or lower.")


class TaskRead(ApiModel):
    """A department's part of a case (内部流转)."""

    id: str
    application: str
    zone_id: str
    department: str
    stage: int = Field(description="1-based stage of the item's route.")
    state: TaskState
    version: int
    opened_on: date
    deadline: date
    provisional: bool
    working_days_used: int
    working_days_left: int
    timeliness: Timeliness
    completed_on: date | None = None
    note: str | None = Field(None, description="The reviewer's internal note (never shown to the applicant).")
    reasons: list[str] = Field(default_factory=list)
    allowed_actions: list[TaskActionName] = Field(
        description="What may be done to the task now, each named as the last segment of its `POST` path."
    )


class ApplicationRead(ApiModel):
    """A case as its reader may see it.

    Applicants get one consolidated status: ``tasks``, ``findings`` and internal notes stay empty.
    """

    id: str
    zone_id: str
    item: ItemBrief
    project_name: str
    applicant: ApplicantInfo
    state: CaseState
    version: int
    submitted_at: datetime
    accepted_on: date | None = None
    limit_days: int = Field(description="The promised limit plus any extension, in working days.")
    extension_days: int = 0
    deadline: date | None = None
    provisional: bool = False
    working_days_used: int = 0
    working_days_left: int | None = Field(
        None, description="Counted working days from today to the deadline (negative once overdue)."
    )
    days_stopped: int = Field(0, description="Working days the clock stood still (supplements, special procedures).")
    timeliness: Timeliness | None = None
    clock: ClockState
    stage: int | None = Field(None, description="1-based stage under way.")
    stages: int
    tasks: list[TaskRead] = Field(default_factory=list)
    materials: list[MaterialRead] = Field(default_factory=list)
    pending_materials: list[PendingMaterial] = Field(default_factory=list)
    findings: list[FindingRead] = Field(default_factory=list)
    decision: DecisionRead | None = None
    rating: RatingRead | None = None
    allowed_actions: list[CaseActionName] = Field(
        description="What may be done to the case now, each named as the last segment of its `POST` path "
        "(a department's review is done on its task: see the tasks' `allowed_actions`)."
    )


class SupplementItem(ApiModel):
    """One thing missing or defective."""

    code: str = Field(min_length=1, max_length=64, description="A material code, or `other`.")
    problem: Literal["missing", "defective"]
    detail: str | None = Field(None, max_length=1000)


class SupplementNotice(ApiModel):
    """One notice listing everything missing or defective at once (一次性告知)."""

    items: list[SupplementItem] = Field(min_length=1, max_length=200)
    note: str | None = Field(None, max_length=2000, description="Shown to the applicant.")


class AcceptCreate(ApiModel):
    """Acceptance (受理), possibly with minor materials pending on a commitment (容缺受理)."""

    pending: list[PendingMaterial] = Field(default_factory=list, max_length=50)
    note: str | None = Field(None, max_length=2000)


class DeclineCreate(ApiModel):
    """Declining an application as out of scope (不予受理), with reasons."""

    reasons: list[Text] = Field(min_length=1, max_length=50)


class SupplementsCreate(ApiModel):
    """The applicant's answer to a supplement notice."""

    materials: list[MaterialSupplied] = Field(default_factory=list, max_length=200)
    note: str | None = Field(None, max_length=2000)


ProcedureKind = Literal["hearing", "expert_review", "on_site_inspection", "public_notice"]


class SpecialProcedureCreate(ApiModel):
    """A special procedure the bureau starts (the clock stops while it runs)."""

    kind: ProcedureKind
    reason: Text


class SpecialProcedureEnd(ApiModel):
    """The end of a special procedure."""

    note: str | None = Field(None, max_length=2000)


class ClockStopRead(ApiModel):
    """A clock stop: supplements during review, or a special procedure."""

    id: SerialId
    kind: Literal["supplements", "special_procedure"]
    procedure: ProcedureKind | None = None
    reason: str | None = None
    started_on: date
    ended_on: date | None = None


class ExtensionCreate(ApiModel):
    """One extension of the time limit, with a reason (approved by the bureau's head)."""

    days: LimitDays
    reason: Text


class DecisionCreate(ApiModel):
    """The window's decision; the outcome follows from the departments' reviews."""

    note: str | None = Field(None, max_length=2000, description="Shown to the applicant with the decision.")


class TaskApprove(ApiModel):
    """A department approves its part."""

    note: str | None = Field(None, max_length=2000, description="Internal note.")


class TaskReject(ApiModel):
    """A department refuses: this decides the case."""

    reasons: list[Text] = Field(min_length=1, max_length=50, description="Shown to the applicant with the decision.")
    note: str | None = Field(None, max_length=2000, description="Internal note.")


class TransitionRead(ApiModel):
    """One recorded transition (who, when, from, to, note)."""

    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    task: str | None = None
    note: str | None = None


class MessageRead(ApiModel):
    """A message addressed to the applicant."""

    at: datetime
    kind: str
    body: str
    items: list[dict[str, Any]] = Field(default_factory=list)


class EscalationRead(ApiModel):
    """One overdue event, recorded exactly once."""

    id: SerialId
    subject_kind: Literal["application", "task"] = Field(description="What is overdue: the case or one of its tasks.")
    subject_id: str
    application: str
    zone_id: str
    department: str | None = None
    deadline: date
    detected_on: date
    created_at: datetime


class RectificationRead(ApiModel):
    """A rectification item opened by a poor rating (due in 15 working days)."""

    id: str
    application: str
    zone_id: str
    score: int
    comment: str | None
    opened_on: date
    due_on: date
    provisional: bool
    state: Literal["open", "closed"]
    closed_at: datetime | None = None
    note: str | None = None


class RectificationClose(ApiModel):
    """What was done."""

    note: Text


# --- webhooks ------------------------------------------------------------------------------


class WebhookCreate(ApiModel):
    """A subscriber: every state change of the cases it may see is POSTed to ``url`` at least once."""

    url: AnyHttpUrl
    secret: str | None = Field(
        None, min_length=16, max_length=200, description="Signs each delivery: `X-Devzones-Signature: sha256=<hmac>`."
    )
    zone_id: ZoneId | None = Field(None, description="city_admin only: restrict to one zone (default: all zones).")


class WebhookRead(ApiModel):
    """A registered subscriber."""

    id: str
    url: str
    zone_id: str | None
    applicant: str | None
    created_at: datetime


class WebhookEvent(ApiModel):
    """The body of a delivery. ``event_id`` is the same on every retry: deduplicate on it."""

    event_id: str
    type: Literal["application.state_changed"]
    occurred_at: datetime
    application: str
    zone_id: str
    item: str
    from_state: str | None
    to_state: str
    document_number: str | None = None


# --- statistics ----------------------------------------------------------------------------


class Figures(ApiModel):
    """Counts and working days of the single window over a period."""

    received: int
    accepted: int
    decided: int
    approved: int
    on_time_rate: Computed | None = Field(description="Share of the decided finished by their deadline (null: none).")
    working_days_median: Computed | None
    working_days_p90: Computed | None = Field(description="90th percentile, nearest-rank.")
    overdue: int = Field(description="Finished late, or still open past the deadline.")
    days_stopped: int


class ItemStats(Figures):
    """Figures of one item."""

    item: str
    code: str
    name: str


class DepartmentStats(Figures):
    """Figures of one department (its tasks: received = opened, decided = approved or refused)."""

    department: str


class StatsRead(ApiModel):
    """The single window's figures for a zone: cases submitted in ``[from, to]``."""

    model_config = ConfigDict(populate_by_name=True)

    zone_id: str
    from_: date = Field(alias="from")
    to: date
    as_of: date
    total: Figures
    items: list[ItemStats]
    departments: list[DepartmentStats]
