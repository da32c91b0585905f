"""The outcomes (奖惩) a sanction policy gives the zones an annual run ranked.

Cut-offs keep ties: when zones tie at the cut-off, all of them are included and the outcome
says so. Improvement and drop rules only consider zones that moved (change > 0, < 0). Where a
small field makes the "top N" and "bottom M" by score overlap, the policy's ``score_overlap``
decides (see :mod:`libs.domain.assessment.sanctions`). A zone warned in as many consecutive
annual runs as the policy says (carrying on its merged predecessors' warnings) is flagged for
revocation review.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Any, Literal

from libs.domain.assessment.history import inherited_flags
from libs.domain.assessment.sanctions import Rule, SanctionPolicy
from libs.domain.assessment.scoring import rank_key

Verdict = Literal["commended", "warned"]


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


class _Decisions:
    """The outcomes decided so far over the ranked zones, one rule at a time."""

    def __init__(self, standings: Sequence[Standing]) -> None:
        self.standings = standings
        self.total = len(standings)
        self.outcomes: list[Outcome] = []

    def add(
        self, zone: str, outcome: Verdict, rule: Rule, detail: str, numbers: dict[str, Any], tie: bool = False
    ) -> None:
        """Record that ``rule`` gives ``zone`` the ``outcome``."""
        self.outcomes.append(Outcome(zone, outcome, rule.rule, rule.label, detail, numbers, tie))

    def by_score(self, rule: Rule, outcome: Verdict, pool: Sequence[Standing]) -> set[str]:
        """The top or bottom ``rule.n`` of ``pool`` by score; the zones it selected."""
        assert rule.n is not None
        total = self.total
        top = rule.rule == "top_by_score"
        cut = _cut(pool, rule.n, _score_key, best_is_high=top)
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
            numbers = {"score": s.score, "rank": s.rank, "ranked": total, "n": rule.n, "cutoff_score": cut.cutoff}
            self.add(s.zone, outcome, rule, detail, numbers, tie)
        return {s.zone for s in cut.selected}

    def by_movement(self, rule: Rule, outcome: Verdict) -> None:
        """The ``rule.n`` largest improvements or drops in rank."""
        assert rule.n is not None
        up = rule.rule == "top_by_improvement"
        pool = [s for s in self.standings if s.change is not None and (s.change > 0 if up else s.change < 0)]
        cut = _cut(pool, rule.n, lambda s: s.change, best_is_high=up)
        for s in cut.selected:
            assert s.change is not None and s.previous_rank is not None
            tie = cut.tie and s.zone in cut.tied_at_cutoff
            moved = f"up {s.change}" if up else f"down {-s.change}"
            detail = (
                f"moved {moved} places (rank {s.previous_rank} → {s.rank}), among the {rule.n} largest "
                f"{'improvements' if up else 'drops'} ({rule.label})"
            ) + (_tie_note(cut, f"{abs(int(cut.cutoff or 0))} places") if tie else "")
            numbers = {
                "previous_rank": s.previous_rank,
                "rank": s.rank,
                "change": s.change,
                "n": rule.n,
                "cutoff_change": cut.cutoff,
            }
            self.add(s.zone, outcome, rule, detail, numbers, tie)

    def by_threshold(self, rule: Rule, outcome: Verdict) -> None:
        """Every zone whose value of ``rule.indicator`` reaches ``rule.threshold``."""
        assert rule.indicator is not None and rule.threshold is not None
        for s in self.standings:
            value = s.values.get(rule.indicator)
            if value is None or not value >= rule.threshold:
                continue
            unit = f" {rule.unit}" if rule.unit else ""
            detail = f"{rule.indicator} = {value:g}{unit} ≥ {rule.threshold:g}{unit} ({rule.label})"
            numbers = {"indicator": rule.indicator, "value": value, "threshold": rule.threshold, "unit": rule.unit}
            self.add(s.zone, outcome, rule, detail, numbers)

    def score_rules(self, policy: SanctionPolicy) -> None:
        """The top and bottom by score, in the order ``policy.score_overlap`` says."""
        standings = self.standings
        commend_score = [r for r in policy.commend if r.rule == "top_by_score"]
        warn_score = [r for r in policy.warn if r.rule == "bottom_by_score"]
        commended_by_score: set[str] = set()
        warned_by_score: set[str] = set()
        if policy.score_overlap == "warn_first":
            for rule in warn_score:
                warned_by_score |= self.by_score(rule, "warned", standings)
            rest = [s for s in standings if s.zone not in warned_by_score]
            for rule in commend_score:
                commended_by_score |= self.by_score(rule, "commended", rest)
        else:
            for rule in commend_score:
                commended_by_score |= self.by_score(rule, "commended", standings)
            rest = (
                [s for s in standings if s.zone not in commended_by_score]
                if policy.score_overlap == "commend_first"
                else list(standings)
            )
            for rule in warn_score:
                warned_by_score |= self.by_score(rule, "warned", rest)

    def other_rules(self, policy: SanctionPolicy) -> None:
        """The movement and indicator rules, commendations first."""
        for rule in policy.commend:
            if rule.rule == "top_by_improvement":
                self.by_movement(rule, "commended")
            elif rule.rule == "indicator_at_least":
                self.by_threshold(rule, "commended")
        for rule in policy.warn:
            if rule.rule == "largest_drops":
                self.by_movement(rule, "warned")
            elif rule.rule == "indicator_at_least":
                self.by_threshold(rule, "warned")

    def revocation_reviews(
        self,
        policy: SanctionPolicy,
        earlier_warned: Sequence[Iterable[str]],
        predecessors: Mapping[str, Iterable[str]],
        earlier_labels: Sequence[str],
    ) -> None:
        """Flag the zones warned now and in each of the earlier runs the policy counts."""
        warned_now = sorted({o.zone for o in self.outcomes if o.outcome == "warned"})
        needed = policy.consecutive_warnings_for_review - 1
        if not warned_now or len(earlier_warned) < needed:
            return
        score_of = {s.zone: s for s in self.standings}
        carried_each = [inherited_flags(warned_now, earlier, predecessors) for earlier in earlier_warned[:needed]]
        for zone in warned_now:
            if all(zone in carried for carried in carried_each):
                runs = ", ".join(earlier_labels[:needed]) if earlier_labels else f"the previous {needed} annual run(s)"
                via = sorted({p for carried in carried_each for p in carried[zone] if p != zone})
                lineage = f" (carried on from merged predecessor(s) {', '.join(via)})" if via else ""
                self.outcomes.append(
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


def _score_key(s: Standing) -> float:
    return rank_key(s.score)


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
    decisions = _Decisions(standings)
    decisions.score_rules(policy)
    decisions.other_rules(policy)
    decisions.revocation_reviews(policy, earlier_warned, predecessors or {}, earlier_labels)
    return decisions.outcomes
