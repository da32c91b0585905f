"""The HTTP API of the metrics service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.domain.kernel.contracts import ApiModel
from libs.domain.kernel.i18n import LocalText
from libs.domain.kernel.values import Computed, DecimalText, PeriodType, SerialId, ZoneKind

IndicatorKind = Literal["base", "stock", "derived"]
Direction = Literal["higher_is_better", "lower_is_better"]


class IndicatorCreate(ApiModel):
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
    min: DecimalText | None = None
    max: DecimalText | None = None
    formula: str | None = Field(None, max_length=500)
    required: bool = Field(
        True, description="Zones are expected to report it (completeness); ignored for derived indicators."
    )


class IndicatorRead(IndicatorCreate):
    """An indicator version as stored."""

    version: int
    created_at: datetime


class MatrixIndicator(ApiModel):
    """An indicator column of a matrix."""

    code: str
    unit: str
    kind: IndicatorKind
    version: int
    direction: Direction


class MatrixAnswerRow(ApiModel):
    """One subject's values for the period, in each indicator's canonical unit; ``null`` = missing.

    The subject is a zone (``zone_id``, in ``GET /v1/matrix``) or a division (``division``, in
    ``GET /v1/matrix/divisions``); the other field is null. A value's source is ``built`` when its
    code is listed in ``built``, else ``pushed``.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "zone_id": "3f9c2a1b7d4e",
                    "division": None,
                    "name": "河北宣化经济开发区",
                    "values": {"gdp": "2400", "rd_intensity": "2.5", "exports": None},
                    "proforma_from": [],
                    "built": ["gdp", "rd_intensity"],
                    "missing": {"exports": ["exports 2025Q2"]},
                }
            ]
        }
    )

    zone_id: str | None = Field(description="The zone of the row (null in a division matrix).")
    division: str | None = Field(description="The division of the row (null in a zone matrix).")
    name: str
    values: dict[str, DecimalText | None] = Field(
        description="Each indicator's value as a decimal string (null when missing)."
    )
    proforma_from: list[str] = Field(
        default_factory=list,
        description="With lineage=proforma: predecessor zones whose components were added into this row.",
    )
    built: list[str] = Field(
        default_factory=list,
        description="Codes whose value is `built`: no value was pushed for the period itself, so it was built "
        "from its halves or quarters (a flow summed, a stock the last part's; a derived value from at least "
        "one built component). Every other value is `pushed`.",
    )
    missing: dict[str, list[str]] = Field(
        default_factory=dict,
        description="For each missing value, what lacks: a stored code and a period, e.g. `gdp 2025Q2` (the "
        "period cannot be built without it), `gdp 2025` (nothing of the period was pushed), or `city(gdp) "
        "2025` for the city's total. A derived value lists what its components lack.",
    )


class MatrixAnswer(ApiModel):
    """Every zone of a kind (or the divisions asked for) for one period, base, stock and derived values
    in one answer."""

    period: str
    kind: str | None
    as_of: date = Field(description="The registry date used to choose the zones.")
    lineage: Literal["none", "proforma"]
    indicators: list[MatrixIndicator]
    rows: list[MatrixAnswerRow]


class MatrixRow(BaseModel):
    """A matrix row as Python consumers hold it (the metrics client converts :class:`MatrixAnswerRow`):
    ``zone`` is the row's zone id or division code, values are floats, ``None`` = missing."""

    zone: str
    name: str
    values: dict[str, float | None]
    proforma_from: list[str] = Field(default_factory=list)
    built: list[str] = Field(default_factory=list)
    missing: dict[str, list[str]] = Field(default_factory=dict)


class MatrixRead(BaseModel):
    """A matrix as Python consumers hold it (the metrics client converts :class:`MatrixAnswer`)."""

    period: str
    kind: str | None
    as_of: date
    lineage: Literal["none", "proforma"]
    indicators: list[MatrixIndicator]
    rows: list[MatrixRow]

    @classmethod
    def from_answer(cls, answer: MatrixAnswer) -> MatrixRead:
        """The consumer's view of an answer: the subject in ``zone``, decimal strings as floats."""
        return cls(
            period=answer.period,
            kind=answer.kind,
            as_of=answer.as_of,
            lineage=answer.lineage,
            indicators=answer.indicators,
            rows=[
                MatrixRow(
                    zone=r.zone_id if r.zone_id is not None else (r.division or ""),
                    name=r.name,
                    values={k: None if v is None else float(v) for k, v in r.values.items()},
                    proforma_from=r.proforma_from,
                    built=r.built,
                    missing=r.missing,
                )
                for r in answer.rows
            ],
        )


# --- push -----------------------------------------------------------------------------------

MAX_BATCH_ROWS = 10_000
"""Rows accepted in one JSON batch or one imported file; more is a 413 problem."""

ConflictCode = Literal[
    "bad_subject",
    "unknown_zone",
    "ambiguous_zone",
    "zone_not_existing",
    "zone_ended",
    "unknown_indicator",
    "derived_indicator",
    "bad_period",
    "period_type_not_allowed",
    "future_period",
    "bad_value",
    "out_of_range",
    "unknown_unit",
    "incompatible_unit",
    "duplicate_row",
    "missing_column",
    "bad_text",
]


class ObservationIn(BaseModel):
    """One value pushed for a subject (a zone by registry id, ``zone_id``, or a division's own totals by
    code, ``division``: exactly one), indicator and period, in the unit the pusher uses."""

    model_config = ConfigDict(extra="forbid")

    zone_id: str | None = Field(
        None, min_length=1, max_length=64, description="The zone the value is about (or give `division`)."
    )
    division: str | None = Field(
        None, min_length=1, max_length=12, description="A division's own totals, e.g. 130700 for the city's."
    )
    indicator: str = Field(max_length=64)
    period: str = Field(max_length=16, description="`2025`, `2025H1` or `2025Q3`.")
    value: Decimal | str | None = Field(
        description="A finite number; send it as a string to keep more than 15 significant digits exactly. "
        "A text that is not a number (`约3000`) or null is the row's `bad_value` conflict, reported with "
        "every other row's (as in a file), not a validation error of the whole body."
    )
    unit: str = Field(
        max_length=32, description="Any unit of the indicator's dimension, e.g. 亿元 for a 万元 indicator."
    )
    note: str | None = Field(None, max_length=2000)


class ObservationBatch(BaseModel):
    """A batch of values, stored all together or not at all."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "observations": [
                        {
                            "zone_id": "3f9c2a1b7d4e",
                            "indicator": "gdp",
                            "period": "2025",
                            "value": 1234567.8,
                            "unit": "万元",
                            "note": "county statistics office, preliminary",
                        }
                    ],
                    "dry_run": False,
                }
            ]
        },
    )

    observations: list[ObservationIn] = Field(
        description=f"At most {MAX_BATCH_ROWS:,} rows; a longer batch is a 413 problem.",
        json_schema_extra={"maxItems": MAX_BATCH_ROWS},
    )
    dry_run: bool = Field(False, description="Check and summarise without storing anything.")
    restatement_reason: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="city_admin only: restate values of a locked period; the history marks each revision.",
    )


class ImportCounts(ApiModel):
    """What a batch did (or would do, for a dry run)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = Field(0, description="File rows without a value (e.g. template rows left blank).")


class ImportConflict(ApiModel):
    """One bad row: its index in the batch (0-based), the field, a code and a message (in the
    request's language: Chinese, or English on request); for a row read from a file, also its row
    number and column, and what the column accepts."""

    index: int
    field: str
    code: ConflictCode
    message: LocalText = Field(
        description="What is wrong and what is accepted, in the request's language (`Accept-Language`: "
        "Chinese by default, English on request); for a row of a file it begins with the row and column."
    )
    line: int | None = Field(
        None,
        description="For imported files: the row number as Excel shows it (the header is row 1, the first "
        "data row 2), for CSV and xlsx alike. Null for JSON pushes.",
    )
    column: str | None = Field(
        None, description="For imported files: the column's header as the file writes it (`value`, `数值`…)."
    )
    accepted: list[str] | None = Field(
        None,
        description="What the field accepts, where that helps: the indicator's units, the successor of an "
        "ended zone, close indicator names, the periods an indicator is reported per.",
    )


class ImportSummary(ApiModel):
    """The answer to a push or an import; also the ``summary`` of its 422 problem when rows conflict
    (without ``conflicts`` there: the problem's ``errors`` list each conflict once)."""

    status: Literal["ok", "conflict"]
    dry_run: bool
    counts: ImportCounts
    conflicts: list[ImportConflict] = Field(default_factory=list)
    batch: str | None = Field(None, description="Id of the stored batch (null for a dry run or nothing written).")
    restatement: bool = False


# --- reads ----------------------------------------------------------------------------------


RecordedIssuer = Annotated[str | None, Field(description="The issuer (`iss`) of the token the value was pushed with.")]
RecordedClient = Annotated[
    str | None,
    Field(
        description="The client (`azp`/`client_id`) of the token the value was pushed with: a county "
        "system's push carries its client id, a person's upload usually none."
    ),
]


class ObservationRead(ApiModel):
    """The current value of a subject (a zone, ``zone_id``, or a division, ``division``; the other is
    null), indicator and period, in the indicator's canonical unit."""

    zone_id: str | None
    division: str | None
    indicator: str
    period: str
    value: DecimalText
    unit: str
    revision: int = Field(description="How many revisions the value has had (1 = first push).")
    note: str | None = None
    first_recorded_at: datetime
    recorded_at: datetime
    recorded_by: str
    recorded_by_issuer: RecordedIssuer = None
    recorded_by_client: RecordedClient = None


class RevisionRead(ApiModel):
    """One entry of the ledger: a value's change, who made it, and its place in the hash chain."""

    seq: SerialId = Field(description="The revision's number in the ledger.")
    zone_id: str | None
    division: str | None
    indicator: str
    indicator_version: int
    period: str
    old_value: DecimalText | None
    new_value: DecimalText
    unit: str
    original_value: str = Field(description="The value as pushed, in `original_unit`.")
    original_unit: str
    note: str | None = None
    recorded_at: datetime
    recorded_by: str
    recorded_by_division: str | None = None
    recorded_by_issuer: RecordedIssuer = None
    recorded_by_client: RecordedClient = None
    batch: str
    restatement_reason: str | None = Field(None, description="Set when a city_admin restated a locked period.")
    lock: SerialId | None = Field(None, description="The lock the restatement overrode.")
    prev_hash: str = Field(description="The hash of the batch before this revision's batch in the ledger chain.")
    hash: str = Field(
        description="The hash of this revision's batch: SHA-256 over the previous batch's hash, the batch "
        "record and the digest of every revision it stored (`GET /v1/ledger/verify` recomputes it)."
    )


class LedgerBreak(ApiModel):
    """The first revision whose stored hash or link does not recompute."""

    seq: SerialId
    reason: str
    zone_id: str | None = None
    division: str | None = None
    indicator: str | None = None
    period: str | None = None


class ProjectionMismatch(ApiModel):
    """A value whose latest version in the ledger is not its current one (e.g. its current row deleted)."""

    zone_id: str | None
    division: str | None
    indicator: str
    period: str
    value: DecimalText | None
    ledger_value: DecimalText | None


class LedgerVerification(ApiModel):
    """The result of recomputing the whole hash chain (电子台账)."""

    intact: bool
    revisions: int
    first_broken: LedgerBreak | None = None
    observations_checked: int = 0
    observation_mismatches: list[ProjectionMismatch] = Field(
        default_factory=list, description="Values whose latest version is not their current one (first 100)."
    )


# --- locks and deadlines --------------------------------------------------------------------


class LockCreate(ApiModel):
    """Lock a period (optionally only for one kind of zone) once an assessment has used it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"period": "2025", "reason": "2025 annual assessment published"}]},
    )

    period: str = Field(max_length=16)
    kind: ZoneKind | None = Field(None, description="Only zones of this kind (division totals are always covered).")
    reason: str = Field(min_length=1, max_length=2000)


class LockRead(LockCreate):
    """A recorded lock."""

    id: SerialId
    created_at: datetime
    created_by: str


class DeadlineSet(ApiModel):
    """When a period's values are due (completeness counts later pushes as late)."""

    model_config = ConfigDict(extra="forbid")

    due_on: date


class DeadlineRead(DeadlineSet):
    """A period's due date, as set (or the default rule when never set)."""

    period: str
    default: bool = Field(description="True when no date was set and the default rule applies.")
    set_by: str | None = None
    set_at: datetime | None = None


# --- completeness and quality ---------------------------------------------------------------


class ZoneCompleteness(ApiModel):
    """What one zone expected to report in the period has and has not pushed."""

    zone_id: str
    name: str
    division: str = Field(description="The division that reports for it (entrusted-to, else the authority).")
    expected: int
    reported: int
    missing: list[str]
    late: list[str] = Field(default_factory=list, description="Indicators first pushed after the due date.")
    status: Literal["complete_on_time", "complete_late", "incomplete", "overdue"]
    last_pushed_at: datetime | None = None


class DivisionCompleteness(ApiModel):
    """Completeness of one reporting division."""

    division: str
    zone_count: int = Field(description="How many zones the division reports for.")
    expected: int
    reported: int
    rate: Computed = Field(description="reported / expected (1.0 when nothing is expected).")
    on_time: int
    late: int


class CompletenessRead(ApiModel):
    """For each zone expected to report in the period, the required indicators still missing."""

    period: str
    kind: ZoneKind | None
    division: str | None
    due_on: date
    as_of: date
    required: list[str]
    by_zone: list[ZoneCompleteness] = Field(description="Each zone expected to report.")
    divisions: list[DivisionCompleteness]


class QualityFinding(ApiModel):
    """Something the statistics bureau should look at (a finding, never a refusal); about a zone
    (``zone_id``), a division (``division``), or neither."""

    rule: Literal["part_exceeds_whole", "share_above_100", "zones_exceed_total", "growth_outlier", "benford"]
    zone_id: str | None
    division: str | None
    indicator: str | None
    period: str
    message: LocalText = Field(description="What was found, in the request's language (`Accept-Language`).")
    values: dict[str, int | Computed | str | None] = Field(
        description="The figures behind the finding: counts as integers, values and ratios as numbers "
        "rounded to 6 places."
    )


class BenfordResult(ApiModel):
    """A first-digit test of the values one division pushed for the period."""

    division: str | None = Field(description="The pushing division (null: city-level roles).")
    n: int
    chi2: Computed
    p_value: Computed
    mad: Computed = Field(description="Nigrini's mean absolute deviation of the digit proportions.")
    observed: dict[str, int]
    conforms: bool


class QualityReport(ApiModel):
    """Consistency, growth-outlier and first-digit findings for one period."""

    period: str
    findings: list[QualityFinding]
    benford: list[BenfordResult]
    thresholds: dict[str, Computed]
