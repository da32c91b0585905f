"""Rewards and warnings (奖惩) decided from an annual run, as data-driven rules: the policy and its parsing.

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

The outcomes a policy gives are decided in :mod:`libs.domain.assessment.sanction_outcomes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from libs.domain.assessment.methodology import Fault
from libs.domain.kernel.i18n import Text

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


def _fault(loc: list[str | int], msg: Text, type_: str) -> Fault:
    """An ``errors[]`` row: its ``code`` is its ``type``; ``msg`` in both languages."""
    return {"loc": loc, "msg": msg, "type": type_, "code": type_}


def parse_policy(
    data: Mapping[str, Any], *, loc: Sequence[str | int] = ()
) -> tuple[SanctionPolicy | None, list[Fault]]:
    """Parse stored or submitted policy data; return the policy (None if invalid) and every fault."""
    prefix = list(loc)
    faults: list[Fault] = []
    kind = data.get("kind")
    if kind not in DEFAULT_POLICIES:
        faults.append(
            _fault([*prefix, "kind"], Text("kind 须为 economic 或 high_tech", "kind is economic or high_tech"), "kind")
        )
    rules: dict[str, list[Rule]] = {"commend": [], "warn": []}
    for side, allowed in (("commend", COMMEND_RULES), ("warn", WARN_RULES)):
        items = data.get(side, [])
        if not isinstance(items, list):
            faults.append(
                _fault([*prefix, side], Text(f"{side} 须为规则列表", f"{side} must be a list of rules"), "rules")
            )
            continue
        for i, item in enumerate(items):
            rule = _parse_rule(item, side, allowed, [*prefix, side, i], faults)
            if rule is not None:
                rules[side].append(rule)
    consecutive = data.get("consecutive_warnings_for_review", 2)
    if isinstance(consecutive, bool) or not isinstance(consecutive, int) or consecutive < 2:
        faults.append(
            _fault(
                [*prefix, "consecutive_warnings_for_review"],
                Text("须为不小于 2 的整数（连续考评次数）", "a whole number of runs, at least 2"),
                "int",
            )
        )
        consecutive = 2
    overlap = data.get("score_overlap", "commend_first")
    if overlap not in OVERLAPS:
        choices = ", ".join(OVERLAPS)
        faults.append(
            _fault(
                [*prefix, "score_overlap"],
                Text(f"score_overlap 须为以下之一：{choices}", f"score_overlap is one of {choices}"),
                "overlap",
            )
        )
    summons = data.get("summons_on_warning", True)
    if not isinstance(summons, bool):
        faults.append(_fault([*prefix, "summons_on_warning"], Text("须为 true 或 false", "true or false"), "bool"))
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


def _parse_rule(
    item: Any, side: str, allowed: Sequence[str], here: list[str | int], faults: list[Fault]
) -> Rule | None:
    """One rule of a policy's ``side`` (commend or warn), or None with its fault added to ``faults``."""
    if not isinstance(item, Mapping):
        faults.append(_fault(here, Text("规则须为对象", "a rule must be an object"), "rule"))
        return None
    name = item.get("rule")
    if not isinstance(name, str) or name not in allowed:
        choices = ", ".join(allowed)
        faults.append(
            _fault([*here, "rule"], Text(f"{side} 规则须为以下之一：{choices}", f"{side} rules are {choices}"), "rule")
        )
        return None
    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        faults.append(
            _fault(
                [*here, "label"],
                Text("每条规则须有 label（文件原文表述）", "every rule needs a label (the source's wording)"),
                "label",
            )
        )
        return None
    if name == "indicator_at_least":
        indicator, threshold = item.get("indicator"), item.get("threshold")
        if not isinstance(indicator, str) or not indicator:
            faults.append(
                _fault(
                    [*here, "indicator"],
                    Text("indicator_at_least 规则须有指标代码", "indicator_at_least needs an indicator code"),
                    "rule",
                )
            )
            return None
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
            faults.append(
                _fault(
                    [*here, "threshold"],
                    Text(
                        "indicator_at_least 规则须有数值型门槛（threshold）",
                        "indicator_at_least needs a numeric threshold",
                    ),
                    "rule",
                )
            )
            return None
        unit = item.get("unit")
        return Rule(name, label, indicator=indicator, threshold=float(threshold), unit=unit if unit else None)
    n = item.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        faults.append(
            _fault([*here, "n"], Text(f"{name} 规则须有正整数 n", f"{name} needs a positive whole n"), "rule")
        )
        return None
    return Rule(name, label, n=n)
