"""A composite-index methodology: the published document's model, and its canonical form.

A methodology is a tree. A *group* aggregates its children (``arithmetic``: Σ wᵢsᵢ, or
``geometric``: Π sᵢ^wᵢ, weights normalised to sum 1 within the group); a *leaf* scores one
indicator of the metrics catalog (see :mod:`libs.domain.assessment.transforms` for the math on
one leaf and :mod:`libs.domain.assessment.scoring` for scoring subjects). A document is checked
and parsed by :mod:`libs.domain.assessment.validation`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

AGGREGATIONS = ("arithmetic", "geometric")
TRANSFORMS = ("none", "ln", "log10", "sqrt")
NORMALISATIONS = ("goalposts", "min_max", "z_score", "target", "rank", "distance_to_leader")
MISSING_POLICIES = ("zero", "mean", "exclude_zone")
IMPUTING_POLICIES = ("mean",)
"""Missing-value rules that impute a value from the other zones: such an indicator is not required
for coverage. ``zero`` (the zone scores nothing) and ``exclude_zone`` need the value to be there."""
DEFAULT_MIN_COVERAGE = 0.9
"""The least share of assessed zones with every required value, when a methodology names none."""
DIRECTIONS = ("higher_is_better", "lower_is_better")
PERIOD_TYPES = ("year", "half", "quarter")
PERIOD_TYPE_ZH = {"year": "年度", "half": "半年度", "quarter": "季度"}
"""Period types as a Chinese message names them."""
ZONE_KINDS = ("economic", "high_tech")

Kind = Literal["economic", "high_tech"]
Loc = list[str | int]
Fault = dict[str, Any]


def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a finite int or float (never a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class IndicatorInfo:
    """What validation needs to know about a catalog indicator."""

    code: str
    minimum: float | None = None
    maximum: float | None = None
    period_types: tuple[str, ...] = PERIOD_TYPES
    direction: str = "higher_is_better"
    unit: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Normalisation:
    """How a leaf maps a (transformed) value into [0, 1]."""

    method: str
    min: float | None = None
    max: float | None = None
    target: float | None = None


@dataclass(frozen=True, slots=True)
class Winsorise:
    """Quantile bounds values are clipped to before normalising."""

    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class Leaf:
    """A leaf of the tree: one indicator, scored."""

    key: str
    path: tuple[str | int, ...]
    indicator: str
    weight: float
    direction: str
    transform: str
    normalisation: Normalisation
    winsorise: Winsorise | None
    missing: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """A group of the tree: children aggregated with normalised weights."""

    key: str
    path: tuple[str | int, ...]
    weight: float
    aggregation: str
    children: tuple[Leaf | Group, ...]
    code: str | None = None
    title: str | None = None

    def normalised_weights(self) -> list[float]:
        """Children's weights divided by their sum."""
        total = sum(c.weight for c in self.children)
        return [c.weight / total for c in self.children]


Node = Leaf | Group


@dataclass(frozen=True)
class Methodology:
    """A parsed, valid methodology document."""

    code: str
    version: int
    title: str
    applies_to: tuple[str, ...]
    period_type: str
    scale: float
    root: Group
    document: Mapping[str, Any] = field(default_factory=dict)
    min_coverage: float = DEFAULT_MIN_COVERAGE

    @property
    def required_indicators(self) -> list[str]:
        """The indicators every zone must have for coverage: those no leaf imputes (each once)."""
        return list(dict.fromkeys(leaf.indicator for leaf in self.leaves if leaf.missing not in IMPUTING_POLICIES))

    @property
    def leaves(self) -> list[Leaf]:
        """Every leaf, depth first."""
        return [n for n in walk(self.root) if isinstance(n, Leaf)]

    @property
    def groups(self) -> list[Group]:
        """Every group, depth first (the root first)."""
        return [n for n in walk(self.root) if isinstance(n, Group)]

    @property
    def indicators(self) -> list[str]:
        """The indicator codes the method needs, each once, in document order."""
        return list(dict.fromkeys(leaf.indicator for leaf in self.leaves))


def walk(node: Node) -> Iterable[Node]:
    """The node and its descendants, depth first."""
    yield node
    if isinstance(node, Group):
        for child in node.children:
            yield from walk(child)


def canonical_document(method: Methodology) -> dict[str, Any]:
    """The methodology as a document with every default made explicit (what is stored and published)."""

    def node(n: Node) -> dict[str, Any]:
        if isinstance(n, Leaf):
            norm: dict[str, Any] = {"method": n.normalisation.method}
            if n.normalisation.min is not None:
                norm["min"] = n.normalisation.min
            if n.normalisation.max is not None:
                norm["max"] = n.normalisation.max
            if n.normalisation.target is not None:
                norm["target"] = n.normalisation.target
            out: dict[str, Any] = {
                "indicator": n.indicator,
                "weight": n.weight,
                "direction": n.direction,
                "transform": n.transform,
                "normalisation": norm,
                "missing": n.missing,
            }
            if n.title:
                out["title"] = n.title
            if n.winsorise:
                out["winsorise"] = {"lower": n.winsorise.lower, "upper": n.winsorise.upper}
            return out
        group: dict[str, Any] = {"aggregation": n.aggregation, "children": [node(c) for c in n.children]}
        if n is not method.root:
            group["weight"] = n.weight
        if n.code:
            group["code"] = n.code
        if n.title:
            group["title"] = n.title
        return group

    doc: dict[str, Any] = {
        "code": method.code,
        "version": method.version,
        "title": method.title,
        "applies_to": list(method.applies_to),
        "period_type": method.period_type,
        "scale": method.scale,
        "min_coverage": method.min_coverage,
        "root": node(method.root),
    }
    if isinstance(method.document.get("note"), str):
        doc["note"] = method.document["note"]
    return doc
