"""Rewards and warnings (奖惩) decided from an annual run, as data-driven rules.

The source policy (张发〔2016〕12号 (三十)) commends economic zones in the top 10 overall, the
top 10 by rank improvement (进位幅度) or with actual foreign investment used of USD 100
million or more, and high-tech zones in the top 3; it warns economic zones in the bottom 5
or among the 5 largest rank drops (退位幅度), and high-tech zones in the bottom 2. Warned two
years running: leadership adjusted or provincial status revoked — here, flagged for revocation
review. Every warned zone's leaders are summoned (约谈).

Cut-offs keep ties: when zones tie at the cut-off, all of them are included and the outcome
says so. Improvement and drop rules only consider zones that moved (change > 0, < 0).

Where a small field of zones makes the "top N" and "bottom M" by score overlap (12 zones,
top 10 and bottom 5), ``score_overlap`` decides: ``commend_first`` (default: the bottom cut-off
is taken among the zones not commended by score), ``warn_first`` (the reverse) or ``both``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Any, Literal

from libs.domain.assessment.history import inherited_flags
from libs.domain.assessment.methodology import Fault
from libs.domain.assessment.scoring import rank_key

RuleName = Literal["top_by_score", "bottom_by_score", "top_by_improvement", "largest_drops", "indicator_at_least"]
RULES: tuple[str, ...] = (
    "top_by_score",
    "bottom_by_score",
    "top_by_improvement",
    "largest_drops",
    "indicator_at_least",
)
COMMEND_RULES = ("top_by_score", "top_by_improvement", "indicator_at_least")
WARN_RULES = ("bottom_by_score", "largest_drops", "indicator_at_least")
OVERLAPS = ("commend_first", "warn_first", "both")
SOURCE = "张发〔2016〕12号 (三十)"
FOREIGN_INVESTMENT_INDICATOR = "foreign_investment_used"
"""Actual foreign investment used (实际利用外资), USD 10k (万美元) in the metrics catalog."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One commendation or warning rule."""

    rule: str
    label: str
    n: int | None = None
    indicator: str | None = None
    threshold: float | None = None
    unit: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The rule as stored data."""
        out: dict[str, Any] = {"rule": self.rule, "label": self.label}
        for name in ("n", "indicator", "threshold", "unit"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class SanctionPolicy:
    """The rules for one zone kind."""

    kind: str
    commend: tuple[Rule, ...]
    warn: tuple[Rule, ...]
    consecutive_warnings_for_review: int = 2
    summons_on_warning: bool = True
    score_overlap: str = "commend_first"
    source: str = SOURCE

    def as_dict(self) -> dict[str, Any]:
        """The policy as stored data."""
        return {
            "kind": self.kind,
            "commend": [r.as_dict() for r in self.commend],
            "warn": [r.as_dict() for r in self.warn],
            "consecutive_warnings_for_review": self.consecutive_warnings_for_review,
            "summons_on_warning": self.summons_on_warning,
            "score_overlap": self.score_overlap,
            "source": self.source,
        }

    @property
    def indicators(self) -> list[str]:
        """Indicators the rules read (besides score and rank)."""
        return [r.indicator for r in (*self.commend, *self.warn) if r.indicator]


DEFAULT_POLICIES: dict[str, SanctionPolicy] = {
    "economic": SanctionPolicy(
        kind="economic",
        commend=(
            Rule("top_by_score", "综合排名前10名", n=10),
            Rule("top_by_improvement", "进位幅度前10名", n=10),
            Rule(
                "indicator_at_least",
                "利用外资1亿美元以上",
                indicator=FOREIGN_INVESTMENT_INDICATOR,
                threshold=10_000,
                unit="万美元",
            ),
        ),
        warn=(
            Rule("bottom_by_score", "综合排名后5名", n=5),
            Rule("largest_drops", "退位幅度最大的5个", n=5),
        ),
    ),
    "high_tech": SanctionPolicy(
        kind="high_tech",
        commend=(Rule("top_by_score", "综合排名前3名", n=3),),
        warn=(Rule("bottom_by_score", "综合排名后2名", n=2),),
    ),
}
"""The source policy's defaults, used for a kind until a policy is stored for it."""


def _fault(loc: list[str | int], msg: str, type_: str) -> Fault:
    return {"loc": loc, "msg": msg, "type": type_}


def parse_policy(
    data: Mapping[str, Any], *, loc: Sequence[str | int] = ()
) -> tuple[SanctionPolicy | None, list[Fault]]:
    """Parse stored or submitted policy data; return the policy (None if invalid) and every fault."""
    prefix = list(loc)
    faults: list[Fault] = []
    kind = data.get("kind")
    if kind not in DEFAULT_POLICIES:
        faults.append(_fault([*prefix, "kind"], "kind is economic or high_tech", "kind"))
    rules: dict[str, list[Rule]] = {"commend": [], "warn": []}
    for side, allowed in (("commend", COMMEND_RULES), ("warn", WARN_RULES)):
        items = data.get(side, [])
        if not isinstance(items, list):
            faults.append(_fault([*prefix, side], f"{side} must be a list of rules", "rules"))
            continue
        for i, item in enumerate(items):
            here = [*prefix, side, i]
            if not isinstance(item, Mapping):
                faults.append(_fault(here, "a rule must be an object", "rule"))
                continue
            name = item.get("rule")
            if name not in allowed:
                faults.append(_fault([*here, "rule"], f"{side} rules are {', '.join(allowed)}", "rule"))
                continue
            label = item.get("label")
            if not isinstance(label, str) or not label.strip():
                faults.append(_fault([*here, "label"], "every rule needs a label (the source's wording)", "label"))
                continue
            if name == "indicator_at_least":
                indicator, threshold = item.get("indicator"), item.get("threshold")
                if not isinstance(indicator, str) or not indicator:
                    faults.append(_fault([*here, "indicator"], "indicator_at_least needs an indicator code", "rule"))
                    continue
                if (
                    isinstance(threshold, bool)
                    or not isinstance(threshold, int | float)
                    or not math.isfinite(threshold)
                ):
                    faults.append(_fault([*here, "threshold"], "indicator_at_least needs a numeric threshold", "rule"))
                    continue
                unit = item.get("unit")
                rules[side].append(
                    Rule(name, label, indicator=indicator, threshold=float(threshold), unit=unit if unit else None)
                )
            else:
                n = item.get("n")
                if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                    faults.append(_fault([*here, "n"], f"{name} needs a positive whole n", "rule"))
                    continue
                rules[side].append(Rule(name, label, n=n))
    consecutive = data.get("consecutive_warnings_for_review", 2)
    if isinstance(consecutive, bool) or not isinstance(consecutive, int) or consecutive < 2:
        faults.append(_fault([*prefix, "consecutive_warnings_for_review"], "a whole number of runs, at least 2", "int"))
        consecutive = 2
    overlap = data.get("score_overlap", "commend_first")
    if overlap not in OVERLAPS:
        faults.append(_fault([*prefix, "score_overlap"], f"score_overlap is one of {', '.join(OVERLAPS)}", "overlap"))
    summons = data.get("summons_on_warning", True)
    if not isinstance(summons, bool):
        faults.append(_fault([*prefix, "summons_on_warning"], "true or false", "bool"))
    source = data.get("source", SOURCE)
    if faults:
        return None, faults
    return (
        SanctionPolicy(
            kind=str(kind),
            commend=tuple(rules["commend"]),
            warn=tuple(rules["warn"]),
            consecutive_warnings_for_review=consecutive,
            summons_on_warning=bool(summons),
            score_overlap=str(overlap),
            source=str(source) if source else SOURCE,
        ),
        [],
    )


@dataclass(frozen=True, slots=True)
class Standing:
    """A ranked zone as the rules see it."""

    zone: str
    name: str
    score: float
    rank: int
    change: int | None = None
    previous_rank: int | None = None
    values: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A commendation, warning or revocation-review flag, with the rule and numbers behind it."""

    zone: str
    outcome: Literal["commended", "warned", "revocation_review"]
    rule: str
    label: str
    detail: str
    numbers: dict[str, Any]
    tie: bool = False


@dataclass(frozen=True, slots=True)
class _Cut:
    selected: list[Standing]
    cutoff: float | int | None
    tied_at_cutoff: list[str]

    @property
    def tie(self) -> bool:
        return len(self.tied_at_cutoff) > 1 and self.cutoff is not None


def _cut(items: Sequence[Standing], n: int, key: Any, *, best_is_high: bool) -> _Cut:
    """The best ``n`` of ``items`` by ``key``, with every item tied at the cut-off."""
    if not items:
        return _Cut([], None, [])
    keyed = sorted(((key(s), s) for s in items), key=lambda t: (-t[0] if best_is_high else t[0], t[1].zone))
    if len(keyed) <= n:
        return _Cut([s for _, s in keyed], None, [])
    cutoff = keyed[n - 1][0]
    # Sorted, so the items at least as good as the cut-off are the first ones.
    chosen = list(takewhile(lambda t: t[0] >= cutoff if best_is_high else t[0] <= cutoff, keyed))
    tied = [s.zone for k, s in chosen if k == cutoff]
    return _Cut([s for _, s in chosen], cutoff, tied)


def _tie_note(cut: _Cut, what: str) -> str:
    if not cut.tie:
        return ""
    return f"; tied at the cut-off ({what}) with {len(cut.tied_at_cutoff) - 1} other zone(s): all are included"


def evaluate(
    policy: SanctionPolicy,
    standings: Sequence[Standing],
    *,
    earlier_warned: Sequence[Iterable[str]] = (),
    predecessors: Mapping[str, Iterable[str]] | None = None,
    earlier_labels: Sequence[str] = (),
) -> list[Outcome]:
    """Every outcome the policy gives the ranked zones.

    ``earlier_warned`` holds, most recent first, the zones warned by the previous annual runs
    of the same kind (as many as ``consecutive_warnings_for_review`` − 1 are used);
    ``predecessors`` lets a zone carry on its merged predecessors' warnings.
    """
    total = len(standings)
    outcomes: list[Outcome] = []
    score_of = {s.zone: s for s in standings}

    def by_score(s: Standing) -> float:
        return rank_key(s.score)

    def score_rule(rule: Rule, outcome: Literal["commended", "warned"], pool: Sequence[Standing]) -> set[str]:
        assert rule.n is not None
        top = rule.rule == "top_by_score"
        cut = _cut(pool, rule.n, by_score, best_is_high=top)
        for s in cut.selected:
            tie = cut.tie and s.zone in cut.tied_at_cutoff
            where = "top" if top else "bottom"
            detail = (
                f"rank {s.rank} of {total} (score {s.score:.6f}) is within the {where} {rule.n} by score"
                f" ({rule.label})" + (_tie_note(cut, f"score {cut.cutoff}") if tie else "")
            )
            if not top and len(pool) < total:
                detail += f"; counted among the {len(pool)} zones not already commended by score"
            if top and len(pool) < total:
                detail += f"; counted among the {len(pool)} zones not already warned by score"
            outcomes.append(
                Outcome(
                    s.zone,
                    outcome,
                    rule.rule,
                    rule.label,
                    detail,
                    {"score": s.score, "rank": s.rank, "ranked": total, "n": rule.n, "cutoff_score": cut.cutoff},
                    tie,
                )
            )
        return {s.zone for s in cut.selected}

    def movement_rule(rule: Rule, outcome: Literal["commended", "warned"]) -> None:
        assert rule.n is not None
        up = rule.rule == "top_by_improvement"
        pool = [s for s in standings if s.change is not None and (s.change > 0 if up else s.change < 0)]
        cut = _cut(pool, rule.n, lambda s: s.change, best_is_high=up)
        for s in cut.selected:
            assert s.change is not None and s.previous_rank is not None
            tie = cut.tie and s.zone in cut.tied_at_cutoff
            moved = f"up {s.change}" if up else f"down {-s.change}"
            detail = (
                f"moved {moved} places (rank {s.previous_rank} → {s.rank}), among the {rule.n} largest "
                f"{'improvements' if up else 'drops'} ({rule.label})"
            ) + (_tie_note(cut, f"{abs(int(cut.cutoff or 0))} places") if tie else "")
            outcomes.append(
                Outcome(
                    s.zone,
                    outcome,
                    rule.rule,
                    rule.label,
                    detail,
                    {
                        "previous_rank": s.previous_rank,
                        "rank": s.rank,
                        "change": s.change,
                        "n": rule.n,
                        "cutoff_change": cut.cutoff,
                    },
                    tie,
                )
            )

    def threshold_rule(rule: Rule, outcome: Literal["commended", "warned"]) -> None:
        assert rule.indicator is not None and rule.threshold is not None
        for s in standings:
            value = s.values.get(rule.indicator)
            if value is None or not value >= rule.threshold:
                continue
            unit = f" {rule.unit}" if rule.unit else ""
            outcomes.append(
                Outcome(
                    s.zone,
                    outcome,
                    rule.rule,
                    rule.label,
                    f"{rule.indicator} = {value:g}{unit} ≥ {rule.threshold:g}{unit} ({rule.label})",
                    {"indicator": rule.indicator, "value": value, "threshold": rule.threshold, "unit": rule.unit},
                )
            )

    commend_score = [r for r in policy.commend if r.rule == "top_by_score"]
    warn_score = [r for r in policy.warn if r.rule == "bottom_by_score"]
    commended_by_score: set[str] = set()
    warned_by_score: set[str] = set()
    if policy.score_overlap == "warn_first":
        for rule in warn_score:
            warned_by_score |= score_rule(rule, "warned", standings)
        rest = [s for s in standings if s.zone not in warned_by_score]
        for rule in commend_score:
            commended_by_score |= score_rule(rule, "commended", rest)
    else:
        for rule in commend_score:
            commended_by_score |= score_rule(rule, "commended", standings)
        rest = (
            [s for s in standings if s.zone not in commended_by_score]
            if policy.score_overlap == "commend_first"
            else list(standings)
        )
        for rule in warn_score:
            warned_by_score |= score_rule(rule, "warned", rest)
    for rule in policy.commend:
        if rule.rule == "top_by_improvement":
            movement_rule(rule, "commended")
        elif rule.rule == "indicator_at_least":
            threshold_rule(rule, "commended")
    for rule in policy.warn:
        if rule.rule == "largest_drops":
            movement_rule(rule, "warned")
        elif rule.rule == "indicator_at_least":
            threshold_rule(rule, "warned")

    warned_now = sorted({o.zone for o in outcomes if o.outcome == "warned"})
    needed = policy.consecutive_warnings_for_review - 1
    if warned_now and len(earlier_warned) >= needed:
        carried_each = [inherited_flags(warned_now, earlier, predecessors or {}) for earlier in earlier_warned[:needed]]
        for zone in warned_now:
            if all(zone in carried for carried in carried_each):
                runs = ", ".join(earlier_labels[:needed]) if earlier_labels else f"the previous {needed} annual run(s)"
                via = sorted({p for carried in carried_each for p in carried[zone] if p != zone})
                lineage = f" (carried on from merged predecessor(s) {', '.join(via)})" if via else ""
                outcomes.append(
                    Outcome(
                        zone,
                        "revocation_review",
                        "warned_consecutive_years",
                        "连续两年被警告",
                        f"warned in {policy.consecutive_warnings_for_review} consecutive annual runs: now and in "
                        f"{runs}{lineage}; leadership to be adjusted or provincial status revoked "
                        "(调整领导班子或取消省级开发区资格)",
                        {"consecutive": policy.consecutive_warnings_for_review, "score": score_of[zone].score},
                    )
                )
    return outcomes
