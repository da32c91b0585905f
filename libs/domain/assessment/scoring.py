"""Composite-index scoring: the published methodology document, its validation, and the math.

A methodology is a tree. A *group* aggregates its children (``arithmetic``: Σ wᵢsᵢ, or
``geometric``: Π sᵢ^wᵢ, weights normalised to sum 1 within the group); a *leaf* scores one
indicator of the metrics catalog. Per leaf, in this order:

1. ``transform`` (``none``, ``ln``, ``log10``, ``sqrt``) of the value — and of the goalposts or
   target alike. A value outside the transform's domain (ln of 0) counts as missing.
2. ``winsorise`` (optional): values are clipped to the ``lower``/``upper`` quantiles (linear
   interpolation) of the zones ranked.
3. ``normalisation`` to a score s (see :func:`normalise`); statistics (minimum, maximum, mean,
   standard deviation, percentiles, leader) are those of the zones ranked, never of the subjects
   scored by reference (counties without a zone are scored against the zones' ruler).
4. ``direction``: ``lower_is_better`` turns s into 1 − s (for ``target``: target ÷ value).
5. ``missing``: ``zero`` (the leaf scores 0, the default), ``mean`` (the mean leaf score of the
   zones ranked that have the value), or ``exclude_zone`` (the zone is not ranked; the reason is
   given).

The final score is the root's value × ``scale``. Ranks are standard competition ranks
(1, 2, 2, 4) on the score rounded to 6 decimals.

Everything here is pure: no IO, deterministic for the same inputs, so a stored run can be
recomputed bit for bit (see :func:`inputs_sha256`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import orjson
from scipy.special import ndtr

from libs.domain.kernel.errors import Unprocessable

FloatArray = npt.NDArray[np.float64]

AGGREGATIONS = ("arithmetic", "geometric")
TRANSFORMS = ("none", "ln", "log10", "sqrt")
NORMALISATIONS = ("goalposts", "min_max", "z_score", "target", "rank", "distance_to_leader")
MISSING_POLICIES = ("zero", "mean", "exclude_zone")
DIRECTIONS = ("higher_is_better", "lower_is_better")
PERIOD_TYPES = ("year", "half", "quarter")
ZONE_KINDS = ("economic", "high_tech")
RANK_DECIMALS = 6
NEUTRAL = 0.5
"""The score every subject gets when a relative normalisation cannot tell them apart."""

Loc = list[str | int]
Fault = dict[str, Any]

_LEAF_FIELDS = {"indicator", "direction", "transform", "normalisation", "winsorise", "missing"}
_GROUP_FIELDS = {"children", "aggregation"}
_COMMON_FIELDS = {"code", "title", "weight", "note"}


# --- the methodology model --------------------------------------------------------------------


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


# --- validation --------------------------------------------------------------------------------


def _fault(loc: Loc, msg: str, type_: str) -> Fault:
    return {"loc": list(loc), "msg": msg, "type": type_}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _transform_scalar(transform: str, value: float) -> float | None:
    """``transform`` of one number, or None outside the transform's domain."""
    if transform == "none":
        return value
    if transform == "sqrt":
        return math.sqrt(value) if value >= 0 else None
    if value <= 0:
        return None
    return math.log(value) if transform == "ln" else math.log10(value)


class _Validator:
    def __init__(self, catalog: Mapping[str, IndicatorInfo] | None, period_type: str | None) -> None:
        self.catalog = catalog
        self.period_type = period_type
        self.faults: list[Fault] = []
        self.group_codes: dict[str, Loc] = {}

    def add(self, loc: Loc, msg: str, type_: str) -> None:
        self.faults.append(_fault(loc, msg, type_))

    def weight(self, node: Mapping[str, Any], loc: Loc) -> float:
        if "weight" not in node or node["weight"] is None:
            return 1.0
        weight = _number(node["weight"])
        if weight is None or weight <= 0:
            self.add([*loc, "weight"], f"weights must be positive numbers, got {node['weight']!r}", "weight")
            return 1.0
        return weight

    def node(self, raw: Any, loc: Loc, *, rel: tuple[int, ...] = (), is_root: bool = False) -> Node | None:
        if not isinstance(raw, Mapping):
            self.add(loc, "a node must be an object", "node")
            return None
        has_children = "children" in raw and raw["children"] is not None
        has_indicator = "indicator" in raw and raw["indicator"] is not None
        if has_children and has_indicator:
            self.add(loc, "a node is either a group (`children`) or a leaf (`indicator`), not both", "node")
            return None
        unknown = sorted(set(raw) - _LEAF_FIELDS - _GROUP_FIELDS - _COMMON_FIELDS)
        for name in unknown:
            self.add([*loc, name], f"unknown field `{name}`", "unknown_field")
        if has_indicator and not is_root:
            return self.leaf(raw, loc)
        if is_root and has_indicator:
            self.add(loc, "the root must be a group (`children`), not a leaf", "node")
            return None
        if not has_children:
            if is_root:
                self.add([*loc, "children"], "the root group needs `children`", "empty_group")
            else:
                self.add(loc, "a node needs `children` (group) or `indicator` (leaf)", "node")
            return None
        return self.group(raw, loc, rel=rel, is_root=is_root)

    def group(self, raw: Mapping[str, Any], loc: Loc, *, rel: tuple[int, ...], is_root: bool) -> Group | None:
        for name in sorted(_LEAF_FIELDS & set(raw)):
            if raw[name] is not None:
                self.add([*loc, name], f"`{name}` belongs to leaves, not groups", "group_field")
        weight = 1.0 if is_root else self.weight(raw, loc)
        aggregation = raw.get("aggregation") or "arithmetic"
        if aggregation not in AGGREGATIONS:
            self.add([*loc, "aggregation"], f"aggregation must be one of {', '.join(AGGREGATIONS)}", "aggregation")
            aggregation = "arithmetic"
        code = raw.get("code")
        if code is not None:
            if not isinstance(code, str) or not code.strip():
                self.add([*loc, "code"], "a group code must be a non-empty string", "code")
                code = None
            elif code in self.group_codes:
                self.add([*loc, "code"], f"group code {code!r} is used twice", "duplicate_code")
            else:
                self.group_codes[code] = loc
        title = raw.get("title")
        children_raw = raw.get("children")
        if not isinstance(children_raw, list) or not children_raw:
            self.add([*loc, "children"], "a group needs at least one child", "empty_group")
            return None
        # A group keeps the children that parsed, so later checks (geometric groups) still see
        # them and every fault of the document is reported at once; any fault fails the whole.
        children: list[Node] = []
        for i, child_raw in enumerate(children_raw):
            child = self.node(child_raw, [*loc, "children", i], rel=(*rel, i))
            if child is not None:
                children.append(child)
        if not children:
            return None
        key = code if isinstance(code, str) else ".".join(["root", *(str(i) for i in rel)])
        return Group(
            key=key,
            path=tuple(loc),
            weight=weight,
            aggregation=aggregation,
            children=tuple(children),
            code=code if isinstance(code, str) else None,
            title=title if isinstance(title, str) else None,
        )

    def leaf(self, raw: Mapping[str, Any], loc: Loc) -> Leaf | None:
        start = len(self.faults)
        for name in sorted(_GROUP_FIELDS & set(raw)):
            if raw[name] is not None:
                self.add([*loc, name], f"`{name}` belongs to groups, not leaves", "leaf_field")
        indicator = raw.get("indicator")
        info: IndicatorInfo | None = None
        if not isinstance(indicator, str) or not indicator:
            self.add([*loc, "indicator"], "`indicator` must be an indicator code", "indicator")
            indicator = ""
        elif self.catalog is not None:
            info = self.catalog.get(indicator)
            if info is None:
                self.add([*loc, "indicator"], f"unknown indicator {indicator!r}: not in the metrics catalog", "unknown")
            elif self.period_type and self.period_type not in info.period_types:
                self.add(
                    [*loc, "indicator"],
                    f"indicator {indicator!r} is not reported per {self.period_type}",
                    "period_type",
                )
        weight = self.weight(raw, loc)
        direction = raw.get("direction") or (info.direction if info else "higher_is_better")
        if direction not in DIRECTIONS:
            self.add([*loc, "direction"], f"direction must be one of {', '.join(DIRECTIONS)}", "direction")
        transform = raw.get("transform") or "none"
        if transform not in TRANSFORMS:
            self.add([*loc, "transform"], f"transform must be one of {', '.join(TRANSFORMS)}", "transform")
            transform = "none"
        missing = raw.get("missing") or "zero"
        if missing not in MISSING_POLICIES:
            self.add([*loc, "missing"], f"missing must be one of {', '.join(MISSING_POLICIES)}", "missing")
        normalisation = self.normalisation(raw.get("normalisation"), [*loc, "normalisation"], transform)
        winsorise = self.winsorise(raw.get("winsorise"), [*loc, "winsorise"])
        if len(self.faults) > start or normalisation is None:
            return None
        return Leaf(
            key=indicator,
            path=tuple(loc),
            indicator=indicator,
            weight=weight,
            direction=direction,
            transform=transform,
            normalisation=normalisation,
            winsorise=winsorise,
            missing=missing,
            title=raw.get("title") if isinstance(raw.get("title"), str) else None,
        )

    def normalisation(self, raw: Any, loc: Loc, transform: str) -> Normalisation | None:
        if not isinstance(raw, Mapping):
            self.add(loc, 'a leaf needs a `normalisation` object, e.g. {"method": "min_max"}', "normalisation")
            return None
        method = raw.get("method")
        if method not in NORMALISATIONS:
            self.add([*loc, "method"], f"method must be one of {', '.join(NORMALISATIONS)}", "normalisation")
            return None
        for name in sorted(set(raw) - {"method", "min", "max", "target"}):
            self.add([*loc, name], f"unknown field `{name}`", "unknown_field")
        allowed = {"goalposts": {"min", "max"}, "target": {"target"}}.get(method, set())
        for name in ("min", "max", "target"):
            if raw.get(name) is not None and name not in allowed:
                self.add([*loc, name], f"`{name}` is not used by the {method} normalisation", "normalisation")
        if method == "goalposts":
            lo, hi = _number(raw.get("min")), _number(raw.get("max"))
            if lo is None:
                self.add([*loc, "min"], "goalposts need a numeric `min`", "goalposts")
            if hi is None:
                self.add([*loc, "max"], "goalposts need a numeric `max`", "goalposts")
            if lo is None or hi is None:
                return None
            if lo >= hi:
                self.add(loc, f"goalposts need min < max, got min {lo:g} ≥ max {hi:g}", "goalposts")
                return None
            for name, value in (("min", lo), ("max", hi)):
                if _transform_scalar(transform, value) is None:
                    self.add([*loc, name], f"goalpost {value:g} is outside the domain of {transform}", "transform")
                    return None
            return Normalisation(method, min=lo, max=hi)
        if method == "target":
            target = _number(raw.get("target"))
            if target is None:
                self.add([*loc, "target"], "the target normalisation needs a numeric `target`", "target")
                return None
            transformed = _transform_scalar(transform, target)
            if transformed is None or transformed <= 0:
                self.add(
                    [*loc, "target"],
                    f"the target must be positive after the {transform} transform, got {target:g}",
                    "target",
                )
                return None
            return Normalisation(method, target=target)
        return Normalisation(method)

    def winsorise(self, raw: Any, loc: Loc) -> Winsorise | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.add(loc, 'winsorise must be an object like {"lower": 0.05, "upper": 0.95}', "winsorise")
            return None
        lower = _number(raw.get("lower", 0.0))
        upper = _number(raw.get("upper", 1.0))
        if lower is None or not 0 <= lower <= 1:
            self.add([*loc, "lower"], "lower must be a quantile in [0, 1]", "winsorise")
            return None
        if upper is None or not 0 <= upper <= 1:
            self.add([*loc, "upper"], "upper must be a quantile in [0, 1]", "winsorise")
            return None
        if lower >= upper:
            self.add(loc, f"winsorise needs lower < upper, got {lower:g} ≥ {upper:g}", "winsorise")
            return None
        return Winsorise(lower, upper)

    # -- can a node's value be negative? --------------------------------------------------------

    def lowest(self, node: Node) -> float:
        """A lower bound of the node's value (−inf when negatives cannot be excluded)."""
        if isinstance(node, Leaf):
            method = node.normalisation.method
            if method not in ("target", "distance_to_leader") or node.direction == "lower_is_better":
                return 0.0
            if self.catalog is None:
                return 0.0  # re-parsing a stored method: it was checked against the catalog when published
            info = self.catalog.get(node.indicator)
            if info is None or info.minimum is None:
                return -math.inf
            low = _transform_scalar(node.transform, info.minimum)
            return -math.inf if low is None or low < 0 else 0.0
        lows = [self.lowest(child) for child in node.children]
        if node.aggregation == "geometric":
            return 0.0
        weights = node.normalised_weights()
        if not all(math.isfinite(x) for x in lows):
            return -math.inf
        return sum(w * lo for w, lo in zip(weights, lows, strict=True))

    def check_geometric(self, node: Node) -> None:
        if not isinstance(node, Group):
            return
        if node.aggregation == "geometric":
            for child in node.children:
                if self.lowest(child) < 0:
                    what = f"indicator {child.indicator!r}" if isinstance(child, Leaf) else f"group {child.key!r}"
                    self.add(
                        list(child.path),
                        f"a geometric group cannot take negative values, but {what} can be negative "
                        "(value ÷ target or ÷ leader of an indicator the catalog lets go below zero after its "
                        "transform); use goalposts, min_max, z_score or rank, or an arithmetic group",
                        "geometric_negative",
                    )
        for child in node.children:
            self.check_geometric(child)


def validate_methodology(
    document: Mapping[str, Any],
    *,
    catalog: Mapping[str, IndicatorInfo] | None = None,
    loc: Sequence[str | int] = (),
) -> tuple[Methodology | None, list[Fault]]:
    """Parse ``document``; return the methodology (None if invalid) and every fault with its JSON path.

    With ``catalog`` the indicators are checked against the metrics catalog (unknown codes, period
    types, and whether a geometric group could receive negative values); without it (re-reading a
    stored method) only the document's own rules are checked.
    """
    prefix = list(loc)
    faults: list[Fault] = []
    code = document.get("code")
    if not isinstance(code, str) or not code:
        faults.append(_fault([*prefix, "code"], "`code` must be a non-empty string", "code"))
    version = document.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        faults.append(_fault([*prefix, "version"], "`version` must be a positive integer", "version"))
        version = 1
    title = document.get("title")
    if not isinstance(title, str) or not title.strip():
        faults.append(_fault([*prefix, "title"], "`title` must be a non-empty string", "title"))
    applies_to = document.get("applies_to")
    if (
        not isinstance(applies_to, list)
        or not applies_to
        or any(k not in ZONE_KINDS for k in applies_to)
        or len(set(applies_to)) != len(applies_to)
    ):
        faults.append(
            _fault([*prefix, "applies_to"], f"`applies_to` lists zone kinds among {', '.join(ZONE_KINDS)}", "kind")
        )
        applies_to = []
    period_type = document.get("period_type", "year")
    if period_type not in PERIOD_TYPES:
        faults.append(_fault([*prefix, "period_type"], f"period_type is one of {', '.join(PERIOD_TYPES)}", "period"))
        period_type = None
    scale = _number(document.get("scale", 100))
    if scale is None or scale <= 0:
        faults.append(_fault([*prefix, "scale"], "`scale` must be a positive number", "scale"))
        scale = 100.0
    validator = _Validator(catalog, period_type)
    root = validator.node(document.get("root"), [*prefix, "root"], is_root=True)
    if isinstance(root, Group):
        validator.check_geometric(root)
    faults.extend(validator.faults)
    if faults or not isinstance(root, Group):
        return None, faults
    method = Methodology(
        code=cast(str, code),
        version=version,
        title=cast(str, title),
        applies_to=tuple(applies_to),
        period_type=cast(str, period_type),
        scale=scale,
        root=_with_unique_leaf_keys(root),
        document=document,
    )
    return method, []


def parse_methodology(
    document: Mapping[str, Any],
    *,
    catalog: Mapping[str, IndicatorInfo] | None = None,
    loc: Sequence[str | int] = (),
) -> Methodology:
    """Like :func:`validate_methodology`, raising a 422 :class:`Unprocessable` listing every fault."""
    method, faults = validate_methodology(document, catalog=catalog, loc=loc)
    if method is None:
        raise Unprocessable(f"the methodology breaks {len(faults)} rule(s)", errors=faults)
    return method


def _with_unique_leaf_keys(root: Group) -> Group:
    """Leaves are keyed by indicator code; an indicator used twice is keyed ``<group>/<indicator>``."""
    counts: dict[str, int] = {}
    for node in walk(root):
        if isinstance(node, Leaf):
            counts[node.indicator] = counts.get(node.indicator, 0) + 1

    def rebuild(group: Group) -> Group:
        children: list[Node] = []
        for child in group.children:
            if isinstance(child, Group):
                children.append(rebuild(child))
            elif counts[child.indicator] > 1:
                children.append(_replace_leaf_key(child, f"{group.key}/{child.indicator}"))
            else:
                children.append(child)
        return Group(group.key, group.path, group.weight, group.aggregation, tuple(children), group.code, group.title)

    return rebuild(root)


def _replace_leaf_key(leaf: Leaf, key: str) -> Leaf:
    return Leaf(
        key,
        leaf.path,
        leaf.indicator,
        leaf.weight,
        leaf.direction,
        leaf.transform,
        leaf.normalisation,
        leaf.winsorise,
        leaf.missing,
        leaf.title,
    )


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
        "root": node(method.root),
    }
    if isinstance(method.document.get("note"), str):
        doc["note"] = method.document["note"]
    return doc


# --- the math on one leaf -------------------------------------------------------------------------


def transform(name: str, values: FloatArray) -> FloatArray:
    """Apply a transform element-wise; values outside its domain become NaN."""
    if name == "none":
        return values.astype(np.float64, copy=True)
    out = np.full(values.shape, np.nan)
    if name == "sqrt":
        ok = values >= 0
        out[ok] = np.sqrt(values[ok])
        return out
    ok = values > 0
    out[ok] = np.log(values[ok]) if name == "ln" else np.log10(values[ok])
    return out


def winsorise(values: FloatArray, lower: float, upper: float, *, population: FloatArray | None = None) -> FloatArray:
    """Clip ``values`` to the ``lower``/``upper`` quantiles (linear interpolation) of ``population``.

    ``population`` defaults to ``values``; NaNs are ignored and kept.
    """
    pop = values if population is None else population
    present = pop[~np.isnan(pop)]
    if present.size == 0:
        return values.copy()
    lo, hi = np.quantile(present, [lower, upper])
    return np.where(np.isnan(values), np.nan, np.clip(values, lo, hi))


@dataclass(frozen=True)
class Fitted:
    """Statistics of a leaf's values over the zones ranked, enough to score any subject alike."""

    method: str
    transform: str
    direction: str
    low: float = math.nan  # goalpost min / observed min (transformed)
    high: float = math.nan  # goalpost max / observed max / leader (transformed)
    mean: float = math.nan
    sd: float = math.nan
    target: float = math.nan
    ranks_x: tuple[float, ...] = ()
    ranks_y: tuple[float, ...] = ()
    count: int = 0


def fit(normalisation: Normalisation, transform_name: str, direction: str, population: FloatArray) -> Fitted:
    """The statistics ``normalisation`` needs, from the (transformed, winsorised) population values."""
    present = population[~np.isnan(population)]
    method = normalisation.method
    base = Fitted(method=method, transform=transform_name, direction=direction, count=int(present.size))
    if method == "goalposts":
        assert normalisation.min is not None and normalisation.max is not None
        low = _transform_scalar(transform_name, normalisation.min)
        high = _transform_scalar(transform_name, normalisation.max)
        assert low is not None and high is not None
        return replace(base, low=low, high=high)
    if method == "target":
        assert normalisation.target is not None
        target = _transform_scalar(transform_name, normalisation.target)
        assert target is not None
        return replace(base, target=target)
    if present.size == 0:
        return base
    if method == "min_max":
        return replace(base, low=float(present.min()), high=float(present.max()))
    if method == "z_score":
        return replace(base, mean=float(present.mean()), sd=float(present.std()))
    if method == "distance_to_leader":
        return replace(base, high=float(present.max()))
    # rank: the percentile rank of each distinct value, mid-rank for ties: (average rank − 1) / (n − 1)
    xs, counts = np.unique(present, return_counts=True)
    below = np.concatenate(([0], np.cumsum(counts)[:-1]))
    avg_rank = below + (counts + 1) / 2.0
    n = present.size
    ys = (avg_rank - 1) / (n - 1) if n > 1 else np.full(xs.shape, NEUTRAL)
    return replace(base, ranks_x=tuple(float(x) for x in xs), ranks_y=tuple(float(y) for y in ys))


def normalise(fitted: Fitted, values: FloatArray) -> FloatArray:
    """Leaf scores after direction; NaN where the value is missing.

    - goalposts: (x − min) ÷ (max − min), clipped to [0, 1];
    - min_max: the same with the observed minimum and maximum (all equal: 0.5);
    - z_score: Φ((x − mean) ÷ sd), the standard normal CDF, population sd (sd 0: 0.5);
    - target: x ÷ target, capped at 1 (lower is better: target ÷ x, capped at 1; x ≤ 0 meets it);
    - rank: percentile rank among the zones ranked, ties at their mid-rank, 0 (lowest) to 1 (highest);
    - distance_to_leader: x ÷ the best observed value, capped at 1 (leader ≤ 0: 0.5).

    ``target`` and ``distance_to_leader`` are not floored at 0: a negative value scores negatively
    (validation keeps such leaves out of geometric groups). Then ``lower_is_better`` turns s into
    1 − s, except for ``target``.
    """
    x = values
    lower = fitted.direction == "lower_is_better"
    method = fitted.method
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "target":
            if lower:
                s = np.where(x > 0, np.minimum(fitted.target / x, 1.0), 1.0)
            else:
                s = np.minimum(x / fitted.target, 1.0)
            return np.where(np.isnan(x), np.nan, s)
        if method in ("goalposts", "min_max"):
            span = fitted.high - fitted.low
            if fitted.count == 0 and method == "min_max":
                s = np.full(x.shape, NEUTRAL)
            elif span > 0:
                s = np.clip((x - fitted.low) / span, 0.0, 1.0)
            else:
                s = np.full(x.shape, NEUTRAL)
        elif method == "z_score":
            if fitted.count == 0 or not fitted.sd > 0:
                s = np.full(x.shape, NEUTRAL)
            else:
                s = ndtr((x - fitted.mean) / fitted.sd)
        elif method == "distance_to_leader":
            if fitted.count == 0 or not fitted.high > 0:
                s = np.full(x.shape, NEUTRAL)
            else:
                s = np.minimum(x / fitted.high, 1.0)
        else:  # rank
            if fitted.count == 0:
                s = np.full(x.shape, NEUTRAL)
            else:
                s = np.interp(x, np.array(fitted.ranks_x), np.array(fitted.ranks_y), left=0.0, right=1.0)
        s = np.asarray(s, dtype=np.float64)
        if lower:
            s = 1.0 - s
            s = np.minimum(s, 1.0)
    return np.where(np.isnan(x), np.nan, s)


def aggregate(aggregation: str, weights: Sequence[float], scores: FloatArray) -> FloatArray:
    """Aggregate child scores (one column per child) with weights that sum to 1.

    ``arithmetic``: Σ wᵢsᵢ; ``geometric``: Π sᵢ^wᵢ (0 if any sᵢ is 0, NaN if any is negative).
    """
    w = np.asarray(weights, dtype=np.float64)
    if aggregation == "arithmetic":
        return scores @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(scores > 0, scores, 1.0))
        out = np.exp(logs @ w)
    out = np.where((scores == 0).any(axis=1), 0.0, out)
    return cast(FloatArray, np.where((scores < 0).any(axis=1) | np.isnan(scores).any(axis=1), np.nan, out))


# --- scoring subjects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """Something scored: a zone (ranked) or a division scored by reference."""

    id: str
    name: str
    values: Mapping[str, float | None]


@dataclass
class SubjectScore:
    """A subject's score with everything that produced it."""

    id: str
    name: str
    score: float | None
    groups: dict[str, float | None]
    missing: list[str]
    excluded: str | None = None
    normalised: list[float | None] = field(default_factory=list)
    """Every leaf's normalised score in the method's leaf order (the compact stored form)."""
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per leaf key, the leaf's fields beyond indicator, raw and normalised (only leaves with any)."""
    raw: list[float | None] = field(default_factory=list)
    """Every leaf's raw value in the method's leaf order."""
    leaf_keys: Sequence[str] = ()
    """The method's leaf keys, in order."""
    indicators: Sequence[str] = ()
    """The method's leaf indicators, in order."""

    @property
    def leaves(self) -> dict[str, dict[str, Any]]:
        """Per leaf key: indicator, raw value, normalised score, and any extras (built when asked for).

        A national run has 100,000 leaves: they are kept as the compact lists above and only
        become dictionaries for an answer or a comparison.
        """
        out = {
            key: {"indicator": code, "raw": r, "normalised": v}
            for key, code, r, v in zip(self.leaf_keys, self.indicators, self.raw, self.normalised, strict=True)
        }
        for key, extra in self.extras.items():
            out[key].update(extra)
        return out


@dataclass
class Computation:
    """The result of applying a methodology to the zones ranked (and any reference subjects)."""

    ranked: list[SubjectScore]
    excluded: list[SubjectScore]
    reference: list[SubjectScore]
    fitted: dict[str, Fitted]


def _float_or_nan(value: Any) -> float:
    if value is None:
        return math.nan
    if type(value) is float:
        return value
    number = _number(value)
    return math.nan if number is None else number


def _raw_matrix(subjects: Sequence[Subject], codes: Sequence[str]) -> tuple[FloatArray, list[list[float | None]]]:
    """The subjects' values of ``codes`` as floats (NaN where a value is absent or not a number),
    and the same as lists (None there)."""
    rows = [[*map(s.values.get, codes)] for s in subjects]
    kinds = set(map(type, chain.from_iterable(rows)))
    if kinds <= {float, type(None)}:  # the usual case: numpy reads None as NaN
        matrix = np.array(rows, dtype=np.float64).reshape(len(subjects), len(codes))
        if int(np.isnan(matrix).sum()) == sum(row.count(None) for row in rows):
            return matrix, rows  # no NaN given as a float: the lists already say None
    else:
        matrix = np.array([[_float_or_nan(v) for v in row] for row in rows], dtype=np.float64).reshape(
            len(subjects), len(codes)
        )
    return matrix, _rows_without_nan(matrix)


def _rows_without_nan(matrix: FloatArray) -> list[list[float | None]]:
    """``matrix`` as lists, NaN as None."""
    rows: list[list[float | None]] = matrix.tolist()
    nan = np.isnan(matrix)
    for i in np.nonzero(nan.any(axis=1))[0].tolist():
        rows[i] = [None if v != v else v for v in rows[i]]
    return rows


def compute(method: Methodology, subjects: Sequence[Subject], *, reference: Sequence[Subject] = ()) -> Computation:
    """Score every subject with ``method``.

    ``subjects`` are the zones to rank: they provide every observed statistic. ``reference``
    subjects (e.g. counties without a zone) are scored with the zones' statistics and never
    change them.
    """
    leaves = method.leaves
    everyone = [*subjects, *reference]
    n_rank, n_all = len(subjects), len(everyone)
    codes = [leaf.indicator for leaf in leaves]
    raw, raw_rows = _raw_matrix(everyone, codes)
    transformed = np.column_stack([transform(leaf.transform, raw[:, j]) for j, leaf in enumerate(leaves)]).reshape(
        n_all, len(leaves)
    )
    # Exclusion: a value missing (or outside its transform's domain) under ``exclude_zone``.
    excluded_reason: list[str | None] = [None] * n_all
    strict = [j for j, leaf in enumerate(leaves) if leaf.missing == "exclude_zone"]
    if strict:
        for i in np.nonzero(np.isnan(transformed[:, strict]).any(axis=1))[0].tolist():
            gaps = [leaves[j].indicator for j in strict if math.isnan(transformed[i, j])]
            excluded_reason[i] = (
                "not ranked: no usable value for "
                + ", ".join(dict.fromkeys(gaps))
                + (" (the method excludes a zone missing it)")
            )
    ranked_mask = np.array([excluded_reason[i] is None for i in range(n_rank)] + [False] * (n_all - n_rank), dtype=bool)
    used = transformed.copy()
    fitted: dict[str, Fitted] = {}
    scores = np.full((n_all, len(leaves)), np.nan)
    imputed = np.zeros((n_all, len(leaves)), dtype=np.int8)  # 0 none, 1 zero, 2 mean
    for j, leaf in enumerate(leaves):
        if leaf.winsorise is not None:
            used[:, j] = winsorise(
                transformed[:, j], leaf.winsorise.lower, leaf.winsorise.upper, population=transformed[ranked_mask, j]
            )
        f = fit(leaf.normalisation, leaf.transform, leaf.direction, used[ranked_mask, j])
        fitted[leaf.key] = f
        s = normalise(f, used[:, j])
        absent = np.isnan(s)
        if absent.any():
            if leaf.missing == "mean":
                pool = s[ranked_mask & ~absent]
                fill = float(pool.mean()) if pool.size else 0.0
                imputed[absent, j] = 2
            else:
                fill = 0.0
                imputed[absent, j] = 1
            s = np.where(absent, fill, s)
        scores[:, j] = s
    group_values: dict[str, FloatArray] = {}
    leaf_index = {leaf.key: j for j, leaf in enumerate(leaves)}

    def value(node: Node) -> FloatArray:
        if isinstance(node, Leaf):
            return cast(FloatArray, scores[:, leaf_index[node.key]])
        columns = np.column_stack([value(child) for child in node.children]).reshape(n_all, len(node.children))
        out = aggregate(node.aggregation, node.normalised_weights(), columns)
        group_values[node.key] = out
        return out

    root_value = value(method.root) * method.scale
    ranked: list[SubjectScore] = []
    excluded: list[SubjectScore] = []
    refs: list[SubjectScore] = []
    groups = method.groups
    # Plain Python lists from here: indexing numpy scalars one by one is what a 100,000-leaf
    # run would spend its time on. NaN is the only value unequal to itself.
    score_rows = _rows_without_nan(scores)
    shaped = [j for j, leaf in enumerate(leaves) if leaf.transform != "none"]
    clipped = [j for j, leaf in enumerate(leaves) if leaf.winsorise is not None]
    transformed_rows = transformed[:, shaped].tolist()
    used_rows, clipped_from = used[:, clipped].tolist(), transformed[:, clipped].tolist()
    flagged: dict[int, list[tuple[int, int]]] = {}
    for i, j in zip(*np.nonzero(imputed), strict=True):
        flagged.setdefault(int(i), []).append((int(j), int(imputed[i, j])))
    # A leaf is missing when its value is, or when the value is outside its transform's domain.
    absent = np.isnan(transformed)
    missing_at: dict[int, list[str]] = {}
    for i in np.nonzero(absent.any(axis=1))[0].tolist():
        missing_at[i] = list(dict.fromkeys(codes[j] for j in np.nonzero(absent[i])[0].tolist()))
    group_rows = {g.key: group_values[g.key].tolist() for g in groups}
    totals = root_value.tolist()
    keys = [leaf.key for leaf in leaves]
    for i, subject in enumerate(everyone):
        raw_i = raw_rows[i]
        # Each leaf's fields beyond the core ones (indicator, raw, normalised), in leaf order.
        extra: dict[int, dict[str, Any]] = {}
        for j, t in zip(shaped, transformed_rows[i], strict=True):
            if t == t:
                extra[j] = {"transformed": t}
            elif raw_i[j] is None:
                extra[j] = {"transformed": None}
            else:
                note = f"{raw_i[j]:g} is outside the domain of {leaves[j].transform}: counted as missing"
                extra[j] = {"transformed": None, "note": note}
        ordered_from = len(extra)
        for j, u, t in zip(clipped, used_rows[i], clipped_from[i], strict=True):
            if u == u and u != t:
                extra.setdefault(j, {})["winsorised"] = u
        for j, flag in flagged.get(i, ()):
            extra.setdefault(j, {})["imputed"] = "zero" if flag == 1 else "mean"
        reason = excluded_reason[i]
        total = totals[i]
        if reason is None and total != total:
            reason = "not ranked: a geometric group received a negative value"
        result = SubjectScore(
            id=subject.id,
            name=subject.name,
            score=None if reason else total,
            groups={k: (None if reason or rows[i] != rows[i] else rows[i]) for k, rows in group_rows.items()},
            missing=list(missing_at.get(i, ())),
            excluded=reason,
            normalised=score_rows[i],
            # In leaf order: the transformed leaves come first in ``extra``, already in order,
            # so only a row with winsorised or imputed leaves needs sorting.
            extras={keys[j]: extra[j] for j in (sorted(extra) if ordered_from < len(extra) else extra)},
            raw=raw_i,
            leaf_keys=keys,
            indicators=codes,
        )
        if i >= n_rank:
            refs.append(result)
        elif reason:
            excluded.append(result)
        else:
            ranked.append(result)
    return Computation(ranked=ranked, excluded=excluded, reference=refs, fitted=fitted)


# --- ranks ----------------------------------------------------------------------------------------


def rank_key(score: float, decimals: int = RANK_DECIMALS) -> float:
    """The score ranks are decided on: rounded to ``decimals`` (so float noise never splits a tie)."""
    return round(score, decimals)


def competition_ranks(
    scores: Sequence[float | None], *, descending: bool = True, decimals: int = RANK_DECIMALS
) -> list[int | None]:
    """Standard competition ranks (1, 2, 2, 4) on scores rounded to ``decimals``; None stays unranked."""
    keyed = [(rank_key(s, decimals), i) for i, s in enumerate(scores) if s is not None and not math.isnan(s)]
    keyed.sort(key=lambda t: -t[0] if descending else t[0])
    ranks: list[int | None] = [None] * len(scores)
    previous: float | None = None
    current = 0
    for position, (key, i) in enumerate(keyed, start=1):
        if key != previous:
            current = position
            previous = key
        ranks[i] = current
    return ranks


# --- canonical inputs -----------------------------------------------------------------------------


_DIGITS = frozenset(b"0123456789")
_EXACT_TYPES = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
_EXACT_TYPES |= orjson.OPT_PASSTHROUGH_DATACLASS


def _refuse(obj: Any) -> Any:
    raise TypeError(type(obj).__name__)


def _all_finite(obj: Any) -> bool:
    """No NaN or infinity anywhere in a JSON-like document (what ``allow_nan=False`` refuses)."""
    isfinite = math.isfinite
    stack = [obj]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is float:
            if not isfinite(node):
                return False
            continue
        if kind is dict:
            items: Any = node.values()
        elif kind is list or kind is tuple:
            items = node
        else:
            continue
        try:
            total = sum(items)  # all numbers (the usual values dict): one pass in C
        except TypeError:
            pass
        else:
            if total - total == 0:  # finite, so every term is
                continue
        floats = [v for v in items if type(v) is float]
        if floats and not all(map(isfinite, floats)):
            return False
        if len(floats) != len(items):
            stack.extend(v for v in items if type(v) in (dict, list, tuple))
    return True


def _python_floats_differ(text: bytes) -> bool:
    """Whether ``text`` (orjson's) may hold a float the standard library writes differently.

    The two agree on every float except those below 1e-4 in magnitude, where Python writes
    ``1e-05`` / ``1.5e-07`` and orjson ``0.00001`` / ``1.5e-7``: both forms contain
    a number starting ``0.0000``, or a digit, ``e-``, digit. A false alarm only costs the slow path.
    """
    at = text.find(b"0.0000")
    while at >= 0:
        if at == 0 or text[at - 1] not in _DIGITS:  # a number that starts 0.0000, not 30.0000…
            return True
        at = text.find(b"0.0000", at + 6)
    at = text.find(b"e-")
    while at >= 0:
        if at > 0 and text[at - 1] in _DIGITS and text[at + 2 : at + 3] and text[at + 2] in _DIGITS:
            return True
        at = text.find(b"e-", at + 2)
    return False


def _standard_text(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8, shortest round-tripping floats, no NaN.

    The bytes are those of the standard library's ``json.dumps(obj, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False, allow_nan=False)`` (the published definition,
    unchanged since the first run was stored). A run's inputs hold 100,000 values, so orjson
    writes them when it provably writes the same bytes: builtin types only (no subclasses,
    no integers beyond 64 bits, every float finite) and no float below 1e-4 in magnitude,
    the one place the two write floats differently; otherwise the standard library does.
    """
    if _all_finite(obj):
        try:
            text = orjson.dumps(obj, default=_refuse, option=_EXACT_TYPES)
        except TypeError:
            pass
        else:
            if not _python_floats_differ(text):
                return text
    return _standard_text(obj).encode()


def inputs_sha256(inputs: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of a run's inputs."""
    return hashlib.sha256(canonical_json(inputs)).hexdigest()


def canonical_with_sha256(inputs: Any) -> tuple[str, str]:
    """The canonical JSON text of a run's inputs and the SHA-256 (hex) of its UTF-8 bytes.

    One encoding for both (a national run's inputs hold 100,000 values): the text hashed is
    also the text stored.
    """
    data = canonical_json(inputs)
    return data.decode(), hashlib.sha256(data).hexdigest()


Kind = Literal["economic", "high_tech"]
