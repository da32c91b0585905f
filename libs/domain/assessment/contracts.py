"""The HTTP API of the assessment service: methodologies, runs, outcomes, bulletins, targets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from typing_extensions import TypedDict

from libs.domain.kernel.contracts import ApiModel
from libs.domain.kernel.i18n import LocalText
from libs.domain.kernel.values import Computed, DecimalText, SerialId, ZoneKind

_ENUMS: dict[str, list[JsonValue]] = {
    "aggregation": ["arithmetic", "geometric"],
    "transform": ["none", "ln", "log10", "sqrt"],
    "normalisation": ["goalposts", "min_max", "z_score", "target", "rank", "distance_to_leader"],
    "missing": ["zero", "mean", "exclude_zone"],
    "direction": ["higher_is_better", "lower_is_better"],
    "period_type": ["year", "half", "quarter"],
}

# --- methodologies --------------------------------------------------------------------------------


class NormalisationSpec(BaseModel):
    """How a leaf maps its value into [0, 1]."""

    model_config = ConfigDict(extra="allow")

    method: str = Field(
        description="goalposts (fixed min/max, clipped), min_max (observed), z_score (then the normal CDF), "
        "target (value ÷ target, capped at 1), rank (percentile rank), distance_to_leader (value ÷ best).",
        json_schema_extra={"enum": _ENUMS["normalisation"]},
    )
    min: float | None = Field(None, description="goalposts only")
    max: float | None = Field(None, description="goalposts only")
    target: float | None = Field(None, description="target only")


class WinsoriseSpec(BaseModel):
    """Clip values to these quantiles of the zones ranked before normalising."""

    model_config = ConfigDict(extra="allow")

    lower: float = Field(0.0, ge=0, le=1)
    upper: float = Field(1.0, ge=0, le=1)


class MethodologyNode(BaseModel):
    """A group (``children`` + ``aggregation``) or a leaf (``indicator`` + how it is scored)."""

    model_config = ConfigDict(extra="allow")

    code: str | None = Field(None, max_length=64, description="Groups: a stable key for sub-scores.")
    title: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=2000)
    weight: float | None = Field(None, description="Positive; normalised within the group. Default 1.")
    aggregation: str | None = Field(
        None,
        description="Groups: arithmetic (default) or geometric.",
        json_schema_extra={"enum": _ENUMS["aggregation"]},
    )
    children: list[MethodologyNode] | None = None
    indicator: str | None = Field(None, max_length=64, description="Leaves: a code of the metrics catalog.")
    direction: str | None = Field(
        None, description="Default: the catalog's direction.", json_schema_extra={"enum": _ENUMS["direction"]}
    )
    transform: str | None = Field(None, json_schema_extra={"enum": _ENUMS["transform"]})
    normalisation: NormalisationSpec | None = None
    winsorise: WinsoriseSpec | None = None
    missing: str | None = Field(None, description="Default zero.", json_schema_extra={"enum": _ENUMS["missing"]})


EXAMPLE_METHOD: dict[str, Any] = {
    "code": "demo-econ-annual",
    "title": "经济开发区年度综合考评（示例权重）",
    "applies_to": ["economic"],
    "period_type": "year",
    "scale": 100,
    "note": "Illustrative weights: the provincial weights are not published in our sources.",
    "root": {
        "aggregation": "arithmetic",
        "children": [
            {
                "code": "innovation",
                "title": "科技创新",
                "weight": 0.3,
                "aggregation": "arithmetic",
                "children": [
                    {
                        "indicator": "rd_intensity",
                        "weight": 1,
                        "direction": "higher_is_better",
                        "transform": "none",
                        "normalisation": {"method": "goalposts", "min": 0, "max": 5},
                    }
                ],
            },
            {
                "code": "scale",
                "title": "经济规模",
                "weight": 0.7,
                "children": [
                    {"indicator": "gdp", "transform": "ln", "normalisation": {"method": "min_max"}, "missing": "zero"}
                ],
            },
        ],
    },
}


class MethodologyCreate(BaseModel):
    """A methodology document; ``version`` omitted: the next version of ``code``."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [EXAMPLE_METHOD]})

    code: str = Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")
    version: int | None = Field(None, ge=1, description="Omit to publish the next version of `code`.")
    title: str = Field(max_length=500)
    applies_to: list[str] = Field(
        description="Zone kinds.", json_schema_extra={"items": {"enum": ["economic", "high_tech"]}, "minItems": 1}
    )
    period_type: str = Field("year", json_schema_extra={"enum": _ENUMS["period_type"]})
    scale: float = 100
    note: str | None = Field(None, max_length=2000, description="E.g. that the weights are illustrative.")
    min_coverage: float = Field(
        0.9,
        ge=0,
        le=1,
        description="The least share of the assessed zones that must have every required value (an indicator "
        "whose missing-value rule is `zero` or `exclude_zone`; `mean` imputes) for a run to be stored; "
        "below it the run is refused with `insufficient_coverage`.",
    )
    root: MethodologyNode


class MethodologyRead(ApiModel):
    """A published methodology version: immutable; a change is a new version."""

    id: SerialId
    code: str
    version: int
    title: str
    applies_to: list[ZoneKind]
    period_type: str
    scale: Computed
    note: str | None = None
    indicators: list[str]
    document: dict[str, Any] = Field(description="The document with every default made explicit.")
    sha256: str = Field(description="SHA-256 of the canonical JSON of `document`.")
    runs: int = Field(description="Runs that used this version.")
    created_at: datetime
    created_by: str


class MethodologySummary(ApiModel):
    """A methodology version in a list."""

    id: SerialId
    code: str
    version: int
    title: str
    applies_to: list[ZoneKind]
    period_type: str
    sha256: str
    created_at: datetime


# --- runs -----------------------------------------------------------------------------------------

Scope = Literal["zones", "divisions_without_zone"]


class AssessmentCreate(BaseModel):
    """Apply a methodology to every zone of a kind for a period (or score counties by reference)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "methodology": "demo-econ-annual",
                    "version": 1,
                    "period": "2025",
                    "kind": "economic",
                    "label": "2025 年度综合考评",
                }
            ]
        },
    )

    methodology: str = Field(max_length=64)
    version: int | None = Field(None, ge=1, description="Default: the latest version.")
    period: str = Field(max_length=16, description="`2025`, `2025H1` or `2025Q3`, matching the method's period type.")
    kind: ZoneKind
    label: str = Field(min_length=1, max_length=200)
    scope: Scope = Field(
        "zones",
        description="`divisions_without_zone`: reference scores of the county-level divisions without a provincial "
        "zone, scored against the zones' ruler (stored apart from zone results).",
    )
    divisions: list[str] | None = Field(
        None, description="With divisions_without_zone: only these division codes (default: all of them)."
    )
    registry_as_of: date | None = Field(
        None,
        description="The registry date whose zones (and lineage) are assessed; default: the period's last day. "
        "A date after today (China) is refused with `registry_in_future`.",
    )
    dry_run: bool = Field(
        False,
        description="Answer the would-be run (results, outcomes, coverage, and what would refuse it) without "
        "storing anything; allowed for a period not yet ended, for internal use only.",
    )


RunStatus = Literal["draft", "published", "superseded", "withdrawn"]


class MissingValue(ApiModel):
    """A required value a subject (a zone, or a division scored by reference) lacks."""

    zone_id: str | None = Field(description="The zone lacking the value (null for a division).")
    division: str | None = Field(description="The division lacking the value (null for a zone).")
    indicator: str


class Coverage(ApiModel):
    """How many assessed subjects have every required value, and which values are missing."""

    assessed: int = Field(description="Subjects assessed (zones, or divisions for reference scores).")
    complete: int = Field(description="Subjects with every required value.")
    share: Computed | None = Field(description="complete ÷ assessed (null when nothing is assessed).")
    min_coverage: Computed = Field(description="The methodology's threshold.")
    required: list[str] = Field(description="The indicators required (missing-value rule `zero` or `exclude_zone`).")
    missing: list[MissingValue] = Field(description="Each (subject, indicator) lacking a required value.")


class PublishRequest(BaseModel):
    """Publish a draft run; to replace the run in force for the same key, name it and say why."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000, description="Optional note kept with the publication.")
    supersedes: SerialId | None = Field(
        None, description="The published run this one replaces (required when one is in force)."
    )
    reason: str | None = Field(
        None, min_length=1, max_length=2000, description="Why the earlier run is replaced (required with `supersedes`)."
    )


class WithdrawRequest(BaseModel):
    """Withdraw a published run and its outcomes."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class RunEvent(ApiModel):
    """One step of a run's life as an official act."""

    event: Literal["created", "published", "superseded", "withdrawn"]
    at: datetime
    by: str
    reason: str | None = Field(None, description="The publication's note, or why it was superseded or withdrawn.")
    related: SerialId | None = Field(None, description="The run superseded (published) or superseding (superseded).")


class LeafResult(TypedDict):
    """One leaf for one subject: the value used and its score (null in the keys that do not apply).

    A typed dictionary rather than a model: a national run holds about 100,000 of them.
    """

    indicator: str
    raw: DecimalText | None
    """The value from the metrics service (canonical unit); null = missing."""
    normalised: Computed | None
    """The leaf's score after direction and the missing-value rule."""
    transformed: Computed | None
    """The value after the leaf's transform (null: no transform, or no value)."""
    winsorised: Computed | None
    """The value after winsorising (null: not winsorised)."""
    imputed: Literal["zero", "mean"] | None
    """How a missing value was imputed (null: not imputed)."""
    note: str | None


Movement = Literal["up", "down", "same", "new", "unranked_before", "unranked"]


class ZoneResult(TypedDict):
    """A zone's score, rank, sub-scores and inputs in a run (a typed dictionary: a run holds thousands)."""

    zone_id: str
    name: str
    score: Annotated[Computed | None, Field(description="Null when the zone is not ranked (`excluded` says why).")]
    rank: int | None
    previous_rank: int | None
    rank_change: Annotated[int | None, Field(description="Previous rank − rank: positive = up (进位).")]
    movement: Annotated[
        Movement | None,
        Field(description="`new`: no history (nor predecessor's) in the earlier run; null: no earlier run."),
    ]
    previous_via: Annotated[
        list[str], Field(description="Merged predecessors whose best previous rank this zone continues.")
    ]
    groups: Annotated[
        dict[str, Computed | None], Field(description="Sub-score of every group (0..1), by group code or path.")
    ]
    leaves: dict[str, LeafResult]
    missing: Annotated[list[str], Field(description="Indicators without a usable value.")]
    excluded: str | None


class ReferenceScore(TypedDict):
    """A county-level division without a zone, scored by reference to the zones' method (二十八)."""

    division: str
    name: str
    score: Computed | None
    reference_rank: Annotated[
        int | None, Field(description="The rank the score would have among the zones of the kind.")
    ]
    recommended: Annotated[
        bool, Field(description="Best reference score among the divisions: recommended to apply first.")
    ]
    groups: dict[str, Computed | None]
    leaves: dict[str, LeafResult]
    missing: list[str]
    excluded: str | None


class MethodologyRef(ApiModel):
    """The methodology version a run used."""

    code: str
    version: int
    title: str
    sha256: str


class RunFacts(ApiModel):
    """What a run is about and what it scored: the part a stored run and a dry run share."""

    methodology: MethodologyRef
    kind: ZoneKind
    period: str
    label: str
    scope: Scope
    registry_as_of: date
    zone_count: int = Field(description="Subjects assessed (zones, or divisions for reference scores).")
    ranked: int
    inputs_sha256: str


class AssessmentSummary(RunFacts):
    """A run in a list."""

    id: SerialId
    created_at: datetime
    created_by: str
    status: RunStatus = Field(
        description="`draft` (visible to the assessing bureaus, no outcomes in force), `published` (the official "
        "result), `superseded` (replaced by `superseded_by`; its outcomes withdrawn) or `withdrawn`."
    )
    published_at: datetime | None = None
    published_by: str | None = None
    superseded_by: SerialId | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None


class AssessmentRead(AssessmentSummary):
    """An immutable stored run with every zone's result."""

    previous_assessment: SerialId | None = Field(
        None, description="The earlier run of the same methodology code and kind the rank changes compare with."
    )
    outcomes: int = Field(0, description="How many outcomes the run decided (see /outcomes).")
    notes: list[str] = Field(default_factory=list)
    coverage: Coverage | None = Field(None, description="Null for runs stored before coverage was measured.")
    events: list[RunEvent] = Field(default_factory=list, description="The run's life, oldest first.")
    results: list[ZoneResult] = Field(description="Ranked zones by rank, then the zones not ranked.")
    reference_scores: list[ReferenceScore] = Field(default_factory=list)


class Refusal(ApiModel):
    """Why a stored run would be refused (a dry run answers these instead of refusing)."""

    code: Literal["period_not_ended", "insufficient_coverage"]
    detail: LocalText


class OutcomeDecided(ApiModel):
    """A reward or warning a run decides, with the rule that triggered it (as a dry run answers it:
    nothing stored, nothing in force)."""

    zone_id: str
    name: str = ""
    outcome: str = Field(description="`commended`, `warned` or `revocation_review`.")
    rule: str
    label: str = Field("", description="The source policy's wording of the rule.")
    detail: str
    numbers: dict[str, Any] = Field(default_factory=dict)
    tie: bool = Field(False, description="Included because it tied at the rule's cut-off.")


class AssessmentDryRun(RunFacts):
    """What a run would be, computed and not stored (``"dry_run": true``; ``inputs_sha256``: the
    SHA-256 its inputs would be stored with)."""

    dry_run: Literal[True] = True
    previous_assessment: SerialId | None = None
    notes: list[str] = Field(default_factory=list)
    coverage: Coverage
    refusals: list[Refusal] = Field(description="What would refuse storing this run; empty when it could be stored.")
    outcomes: list[OutcomeDecided] = Field(description="The outcomes the run would decide (not in force).")
    results: list[ZoneResult]
    reference_scores: list[ReferenceScore] = Field(default_factory=list)


class Difference(ApiModel):
    """A stored number that did not recompute identically: of a zone's result, a division's reference
    score, or an outcome (`outcome` names it)."""

    zone_id: str | None = Field(None, description="The zone whose result or outcome differs.")
    division: str | None = Field(None, description="The division whose reference score differs.")
    outcome: str | None = Field(None, description="An outcome's `outcome|rule`, when an outcome differs.")
    field: str
    stored: Any = None
    recomputed: Any = None


class RestatedValue(ApiModel):
    """A value a run was computed from that the metrics service now answers differently (a
    restatement after the run, or a value that has appeared or gone)."""

    zone_id: str
    indicator: str
    stored: DecimalText | None = Field(description="The value in the run's stored inputs (null: it had none).")
    current: DecimalText | None = Field(description="The value the metrics service answers today (null: none).")


class VerificationRead(ApiModel):
    """The result of recomputing a run from its stored inputs, and of comparing those inputs with
    the values the metrics service answers today."""

    assessment: SerialId
    identical: bool = Field(
        description="The recomputation from the stored inputs gives exactly what was stored and the inputs "
        "are intact. It is about the stored run only: a value restated in the metrics service after "
        "the run leaves it true and is listed in `restated`."
    )
    inputs_intact: bool = Field(description="The stored inputs still hash to the stored SHA-256.")
    inputs_sha256: str
    recomputed_sha256: str
    subjects_checked: int
    outcomes_checked: int
    differences: list[Difference] = Field(description="The first 200 differences.")
    values_checked: bool = Field(
        False,
        description="The stored input values of a zone run were compared with the metrics service's matrix "
        "today (same period, indicators, kind, registry date and pro-forma lineage). False when they could "
        "not be (the metrics service unreachable, or a run of divisions without a zone): `values_note` says why.",
    )
    values_note: LocalText | None = Field(
        None,
        description="Why the values were not compared, or that `restated` is cut short (in the request's "
        "language: Chinese, or English on request).",
    )
    restated: list[RestatedValue] = Field(
        default_factory=list,
        description="The first 200 stored input values the metrics service now answers differently (beyond "
        "half a unit of the sixth decimal, the precision values are stored at). Empty when nothing was "
        "restated, or when `values_checked` is false. A difference here does not make `identical` false.",
    )


# --- outcomes, policies, summons ----------------------------------------------------------------------


class OutcomeRead(OutcomeDecided):
    """A reward or warning decided by a stored run: its run, kind and period, summons and standing."""

    id: SerialId | None = None
    assessment: SerialId
    kind: ZoneKind | None = None
    period: str | None = None
    summons: SerialId | None = Field(None, description="The summons (约谈) record a warning created.")
    created_at: datetime | None = None
    status: Literal["draft", "in_force", "withdrawn"] = Field(
        "in_force",
        description="`in_force` (its run is published), `draft` (its run is a draft: nothing in force) or "
        "`withdrawn` (its run was superseded or withdrawn; kept as history).",
    )
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None


class SanctionRule(ApiModel):
    """One rule of a sanction policy."""

    model_config = ConfigDict(extra="forbid")

    rule: Literal["top_by_score", "bottom_by_score", "top_by_improvement", "largest_drops", "indicator_at_least"]
    label: str = Field(min_length=1, max_length=200)
    n: int | None = Field(None, ge=1)
    indicator: str | None = Field(None, max_length=64)
    threshold: Computed | None = None
    unit: str | None = Field(None, max_length=32)


class SanctionPolicyWrite(ApiModel):
    """The rules of one zone kind (a new version each time it is written)."""

    model_config = ConfigDict(extra="forbid")

    commend: list[SanctionRule] = Field(max_length=20)
    warn: list[SanctionRule] = Field(max_length=20)
    consecutive_warnings_for_review: int = Field(2, ge=2, le=10)
    summons_on_warning: bool = True
    score_overlap: Literal["commend_first", "warn_first", "both"] = "commend_first"
    source: str = Field("张发〔2016〕12号 (三十)", max_length=500)


class SanctionPolicyRead(SanctionPolicyWrite):
    """A kind's policy as it applies now."""

    kind: ZoneKind
    version: int = Field(description="0: the source policy's defaults, never stored.")
    default: bool
    created_at: datetime | None = None
    created_by: str | None = None


class SummonsRead(ApiModel):
    """A summons (约谈) of a warned zone's leaders."""

    id: SerialId
    assessment: SerialId
    outcome: SerialId
    zone_id: str
    name: str
    summoned: str
    reason: str
    status: str
    created_at: datetime


# --- analysis ---------------------------------------------------------------------------------------


class RankIntervalRead(ApiModel):
    """A zone's published rank and its spread when the method's choices vary."""

    zone_id: str
    name: str
    rank: int
    median_rank: Computed
    p5_rank: Computed
    p95_rank: Computed
    best_rank: int
    worst_rank: int


class SensitivityRead(ApiModel):
    """Rank robustness of a run."""

    assessment: SerialId
    samples: int
    seed: int
    variations: list[str]
    rank_intervals: list[RankIntervalRead] = Field(description="Each ranked zone's rank interval.")


class IndicatorRankRow(ApiModel):
    """One zone in one indicator's ranking."""

    zone_id: str
    name: str
    value: DecimalText | None
    rank: int | None
    previous_value: DecimalText | None = None
    previous_rank: int | None = None
    rank_change: int | None = None
    movement: Literal["up", "down", "same", "new"] | None = None


class IndicatorRanking(ApiModel):
    """One indicator ranked on its own across the zones of a kind."""

    indicator: str
    name: str
    unit: str
    direction: str
    rows: list[IndicatorRankRow]


class RankingsRead(ApiModel):
    """The half-year bulletin of the main indicators (每半年通报主要指标排名)."""

    period: str
    previous_period: str
    kind: ZoneKind
    as_of: date
    indicators: list[IndicatorRanking]
    notes: list[str] = Field(default_factory=list)


class TargetProjection(ApiModel):
    """Where the trend leads by the target year."""

    year: int
    value: Computed
    on_track: bool
    method: str
    basis_years: list[int]


class TargetProgressItem(ApiModel):
    """One city target evaluated from the data."""

    id: str
    title_zh: str
    title_en: str
    target_year: int
    comparator: Literal[">=", "<="]
    target: DecimalText
    unit: str
    value: DecimalText | None
    met: bool | None
    coverage: str
    projection: TargetProjection | None = None
    note: str | None = None


class TargetProgressRead(ApiModel):
    """The city's 2018 and 2020 targets for its zones, evaluated for a year."""

    year: int
    as_of: date
    items: list[TargetProgressItem]
    notes: list[str] = Field(default_factory=list)
