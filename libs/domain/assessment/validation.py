"""Checking and parsing a methodology document: every fault at once, each with its JSON path.

A fault anywhere fails the whole document; the checks go on past the first so a publisher
sees every problem in one answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple, cast

from libs.domain.assessment.methodology import (
    AGGREGATIONS,
    DEFAULT_MIN_COVERAGE,
    DIRECTIONS,
    MISSING_POLICIES,
    NORMALISATIONS,
    PERIOD_TYPE_ZH,
    PERIOD_TYPES,
    TRANSFORMS,
    ZONE_KINDS,
    Fault,
    Group,
    IndicatorInfo,
    Leaf,
    Loc,
    Methodology,
    Node,
    Normalisation,
    Winsorise,
    finite_number,
    walk,
)
from libs.domain.assessment.transforms import transform_scalar
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text

_LEAF_FIELDS = {"indicator", "direction", "transform", "normalisation", "winsorise", "missing"}
_GROUP_FIELDS = {"children", "aggregation"}
_COMMON_FIELDS = {"code", "title", "weight", "note"}

AddFault = Callable[[Loc, Text, str], None]


def _fault(loc: Loc, msg: Text, type_: str) -> Fault:
    """An ``errors[]`` row: its ``code`` is its ``type``; ``msg`` in both languages."""
    return {"loc": list(loc), "msg": msg, "type": type_, "code": type_}


class _Validator:
    def __init__(self, catalog: Mapping[str, IndicatorInfo] | None, period_type: str | None) -> None:
        self.catalog = catalog
        self.period_type = period_type
        self.faults: list[Fault] = []
        self.group_codes: dict[str, Loc] = {}

    def add(self, loc: Loc, msg: Text, type_: str) -> None:
        self.faults.append(_fault(loc, msg, type_))

    def weight(self, node: Mapping[str, Any], loc: Loc) -> float:
        if "weight" not in node or node["weight"] is None:
            return 1.0
        weight = finite_number(node["weight"])
        if weight is None or weight <= 0:
            got = repr(node["weight"])
            self.add(
                [*loc, "weight"],
                Text(f"权重须为正数，实为 {got}", f"weights must be positive numbers, got {got}"),
                "weight",
            )
            return 1.0
        return weight

    def node(self, raw: Any, loc: Loc, *, rel: tuple[int, ...] = (), is_root: bool = False) -> Node | None:
        if not isinstance(raw, Mapping):
            self.add(loc, Text("节点须为对象", "a node must be an object"), "node")
            return None
        has_children = "children" in raw and raw["children"] is not None
        has_indicator = "indicator" in raw and raw["indicator"] is not None
        if has_children and has_indicator:
            self.add(
                loc,
                Text(
                    "节点只能是分组（`children`）或指标项（`indicator`）之一，不能兼有",
                    "a node is either a group (`children`) or a leaf (`indicator`), not both",
                ),
                "node",
            )
            return None
        unknown = sorted(set(raw) - _LEAF_FIELDS - _GROUP_FIELDS - _COMMON_FIELDS)
        for name in unknown:
            self.add([*loc, name], Text(f"未知字段 `{name}`", f"unknown field `{name}`"), "unknown_field")
        if has_indicator and not is_root:
            return self.leaf(raw, loc)
        if is_root and has_indicator:
            self.add(
                loc,
                Text("根节点须为分组（`children`），不能是指标项", "the root must be a group (`children`), not a leaf"),
                "node",
            )
            return None
        if not has_children:
            if is_root:
                self.add(
                    [*loc, "children"], Text("根分组须有 `children`", "the root group needs `children`"), "empty_group"
                )
            else:
                self.add(
                    loc,
                    Text(
                        "节点须有 `children`（分组）或 `indicator`（指标项）",
                        "a node needs `children` (group) or `indicator` (leaf)",
                    ),
                    "node",
                )
            return None
        return self.group(raw, loc, rel=rel, is_root=is_root)

    def group(self, raw: Mapping[str, Any], loc: Loc, *, rel: tuple[int, ...], is_root: bool) -> Group | None:
        for name in sorted(_LEAF_FIELDS & set(raw)):
            if raw[name] is not None:
                self.add(
                    [*loc, name],
                    Text(f"`{name}` 只用于指标项，不用于分组", f"`{name}` belongs to leaves, not groups"),
                    "group_field",
                )
        weight = 1.0 if is_root else self.weight(raw, loc)
        aggregation = raw.get("aggregation") or "arithmetic"
        if aggregation not in AGGREGATIONS:
            choices = ", ".join(AGGREGATIONS)
            self.add(
                [*loc, "aggregation"],
                Text(f"aggregation 须为以下之一：{choices}", f"aggregation must be one of {choices}"),
                "aggregation",
            )
            aggregation = "arithmetic"
        code = raw.get("code")
        if code is not None:
            if not isinstance(code, str) or not code.strip():
                self.add(
                    [*loc, "code"], Text("分组代码须为非空字符串", "a group code must be a non-empty string"), "code"
                )
                code = None
            elif code in self.group_codes:
                self.add(
                    [*loc, "code"],
                    Text(f"分组代码 {code!r} 重复使用", f"group code {code!r} is used twice"),
                    "duplicate_code",
                )
            else:
                self.group_codes[code] = loc
        title = raw.get("title")
        children_raw = raw.get("children")
        if not isinstance(children_raw, list) or not children_raw:
            self.add(
                [*loc, "children"], Text("分组至少须有一个下级节点", "a group needs at least one child"), "empty_group"
            )
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
                self.add(
                    [*loc, name],
                    Text(f"`{name}` 只用于分组，不用于指标项", f"`{name}` belongs to groups, not leaves"),
                    "leaf_field",
                )
        indicator = raw.get("indicator")
        info: IndicatorInfo | None = None
        if not isinstance(indicator, str) or not indicator:
            self.add(
                [*loc, "indicator"],
                Text("`indicator` 须为指标代码", "`indicator` must be an indicator code"),
                "indicator",
            )
            indicator = ""
        elif self.catalog is not None:
            info = self.catalog.get(indicator)
            if info is None:
                self.add(
                    [*loc, "indicator"],
                    Text(
                        f"未知指标 {indicator!r}：不在指标目录中",
                        f"unknown indicator {indicator!r}: not in the metrics catalog",
                    ),
                    "unknown",
                )
            elif self.period_type and self.period_type not in info.period_types:
                self.add(
                    [*loc, "indicator"],
                    Text(
                        f"指标 {indicator!r} 不按{PERIOD_TYPE_ZH.get(self.period_type, self.period_type)}报送",
                        f"indicator {indicator!r} is not reported per {self.period_type}",
                    ),
                    "period_type",
                )
        weight = self.weight(raw, loc)
        direction = raw.get("direction") or (info.direction if info else "higher_is_better")
        if direction not in DIRECTIONS:
            choices = ", ".join(DIRECTIONS)
            self.add(
                [*loc, "direction"],
                Text(f"direction 须为以下之一：{choices}", f"direction must be one of {choices}"),
                "direction",
            )
        transform = raw.get("transform") or "none"
        if transform not in TRANSFORMS:
            choices = ", ".join(TRANSFORMS)
            self.add(
                [*loc, "transform"],
                Text(f"transform 须为以下之一：{choices}", f"transform must be one of {choices}"),
                "transform",
            )
            transform = "none"
        missing = raw.get("missing") or "zero"
        if missing not in MISSING_POLICIES:
            choices = ", ".join(MISSING_POLICIES)
            self.add(
                [*loc, "missing"],
                Text(f"missing 须为以下之一：{choices}", f"missing must be one of {choices}"),
                "missing",
            )
        normalisation = _normalisation(raw.get("normalisation"), [*loc, "normalisation"], transform, self.add)
        winsorise = _winsorise(raw.get("winsorise"), [*loc, "winsorise"], self.add)
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


def _normalisation(raw: Any, loc: Loc, transform: str, add: AddFault) -> Normalisation | None:
    """A leaf's normalisation, or None (its faults told to ``add``)."""
    if not isinstance(raw, Mapping):
        add(
            loc,
            Text(
                '指标项须有 `normalisation` 对象，如 {"method": "min_max"}',
                'a leaf needs a `normalisation` object, e.g. {"method": "min_max"}',
            ),
            "normalisation",
        )
        return None
    method = raw.get("method")
    if method not in NORMALISATIONS:
        choices = ", ".join(NORMALISATIONS)
        add(
            [*loc, "method"],
            Text(f"method 须为以下之一：{choices}", f"method must be one of {choices}"),
            "normalisation",
        )
        return None
    for name in sorted(set(raw) - {"method", "min", "max", "target"}):
        add([*loc, name], Text(f"未知字段 `{name}`", f"unknown field `{name}`"), "unknown_field")
    allowed = {"goalposts": {"min", "max"}, "target": {"target"}}.get(method, set())
    for name in ("min", "max", "target"):
        if raw.get(name) is not None and name not in allowed:
            add(
                [*loc, name],
                Text(f"{method} 归一化方法不使用 `{name}`", f"`{name}` is not used by the {method} normalisation"),
                "normalisation",
            )
    if method == "goalposts":
        lo, hi = finite_number(raw.get("min")), finite_number(raw.get("max"))
        if lo is None:
            add([*loc, "min"], Text("goalposts 须有数值型 `min`", "goalposts need a numeric `min`"), "goalposts")
        if hi is None:
            add([*loc, "max"], Text("goalposts 须有数值型 `max`", "goalposts need a numeric `max`"), "goalposts")
        if lo is None or hi is None:
            return None
        if lo >= hi:
            add(
                loc,
                Text(
                    f"goalposts 须 min < max，实为 min {lo:g} ≥ max {hi:g}",
                    f"goalposts need min < max, got min {lo:g} ≥ max {hi:g}",
                ),
                "goalposts",
            )
            return None
        for name, value in (("min", lo), ("max", hi)):
            if transform_scalar(transform, value) is None:
                add(
                    [*loc, name],
                    Text(
                        f"goalposts 边界值 {value:g} 超出 {transform} 变换的定义域",
                        f"goalpost {value:g} is outside the domain of {transform}",
                    ),
                    "transform",
                )
                return None
        return Normalisation(method, min=lo, max=hi)
    if method == "target":
        target = finite_number(raw.get("target"))
        if target is None:
            add(
                [*loc, "target"],
                Text("target 归一化方法须有数值型 `target`", "the target normalisation needs a numeric `target`"),
                "target",
            )
            return None
        transformed = transform_scalar(transform, target)
        if transformed is None or transformed <= 0:
            add(
                [*loc, "target"],
                Text(
                    f"目标值经 {transform} 变换后须为正数，实为 {target:g}",
                    f"the target must be positive after the {transform} transform, got {target:g}",
                ),
                "target",
            )
            return None
        return Normalisation(method, target=target)
    return Normalisation(method)


def _winsorise(raw: Any, loc: Loc, add: AddFault) -> Winsorise | None:
    """A leaf's winsorising bounds, or None (none asked for, or its faults told to ``add``)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        add(
            loc,
            Text(
                'winsorise 须为对象，如 {"lower": 0.05, "upper": 0.95}',
                'winsorise must be an object like {"lower": 0.05, "upper": 0.95}',
            ),
            "winsorise",
        )
        return None
    lower = finite_number(raw.get("lower", 0.0))
    upper = finite_number(raw.get("upper", 1.0))
    if lower is None or not 0 <= lower <= 1:
        add([*loc, "lower"], Text("lower 须为 [0, 1] 内的分位数", "lower must be a quantile in [0, 1]"), "winsorise")
        return None
    if upper is None or not 0 <= upper <= 1:
        add([*loc, "upper"], Text("upper 须为 [0, 1] 内的分位数", "upper must be a quantile in [0, 1]"), "winsorise")
        return None
    if lower >= upper:
        add(
            loc,
            Text(
                f"winsorise 须 lower < upper，实为 {lower:g} ≥ {upper:g}",
                f"winsorise needs lower < upper, got {lower:g} ≥ {upper:g}",
            ),
            "winsorise",
        )
        return None
    return Winsorise(lower, upper)


def _lowest(node: Node, catalog: Mapping[str, IndicatorInfo] | None) -> float:
    """A lower bound of the node's value (−inf when negatives cannot be excluded)."""
    if isinstance(node, Leaf):
        method = node.normalisation.method
        if method not in ("target", "distance_to_leader") or node.direction == "lower_is_better":
            return 0.0
        if catalog is None:
            return 0.0  # re-parsing a stored method: it was checked against the catalog when published
        info = catalog.get(node.indicator)
        if info is None or info.minimum is None:
            return -math.inf
        low = transform_scalar(node.transform, info.minimum)
        return -math.inf if low is None or low < 0 else 0.0
    lows = [_lowest(child, catalog) for child in node.children]
    if node.aggregation == "geometric":
        return 0.0
    weights = node.normalised_weights()
    if not all(math.isfinite(x) for x in lows):
        return -math.inf
    return sum(w * lo for w, lo in zip(weights, lows, strict=True))


def _check_geometric(node: Node, catalog: Mapping[str, IndicatorInfo] | None, add: AddFault) -> None:
    """Tell ``add`` of every child of a geometric group whose value could be negative."""
    if not isinstance(node, Group):
        return
    if node.aggregation == "geometric":
        for child in node.children:
            if _lowest(child, catalog) < 0:
                what = f"indicator {child.indicator!r}" if isinstance(child, Leaf) else f"group {child.key!r}"
                what_zh = f"指标 {child.indicator!r}" if isinstance(child, Leaf) else f"分组 {child.key!r}"
                add(
                    list(child.path),
                    Text(
                        f"几何平均分组不能接受负值，但{what_zh}可能为负"
                        "（指标目录允许该指标经变换后低于零，其数值除以目标值或领先值后可能为负）；"
                        "请改用 goalposts、min_max、z_score 或 rank 归一化，或改用算术平均分组",
                        f"a geometric group cannot take negative values, but {what} can be negative "
                        "(value ÷ target or ÷ leader of an indicator the catalog lets go below zero after its "
                        "transform); use goalposts, min_max, z_score or rank, or an arithmetic group",
                    ),
                    "geometric_negative",
                )
    for child in node.children:
        _check_geometric(child, catalog, add)


class _Header(NamedTuple):
    """The document's fields above the tree (placeholders where faulty, the faults told apart)."""

    code: Any
    version: int
    title: Any
    applies_to: list[str]
    period_type: str | None
    scale: float
    min_coverage: float


def _header(document: Mapping[str, Any], prefix: Loc, faults: list[Fault]) -> _Header:
    """The fields above the tree, each fault added to ``faults``."""
    code = document.get("code")
    if not isinstance(code, str) or not code:
        faults.append(
            _fault([*prefix, "code"], Text("`code` 须为非空字符串", "`code` must be a non-empty string"), "code")
        )
    version = document.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        faults.append(
            _fault(
                [*prefix, "version"], Text("`version` 须为正整数", "`version` must be a positive integer"), "version"
            )
        )
        version = 1
    title = document.get("title")
    if not isinstance(title, str) or not title.strip():
        faults.append(
            _fault([*prefix, "title"], Text("`title` 须为非空字符串", "`title` must be a non-empty string"), "title")
        )
    applies_to = document.get("applies_to")
    if (
        not isinstance(applies_to, list)
        or not applies_to
        or any(k not in ZONE_KINDS for k in applies_to)
        or len(set(applies_to)) != len(applies_to)
    ):
        kinds = ", ".join(ZONE_KINDS)
        faults.append(
            _fault(
                [*prefix, "applies_to"],
                Text(
                    f"`applies_to` 须列出开发区类别，取值范围：{kinds}",
                    f"`applies_to` lists zone kinds among {kinds}",
                ),
                "kind",
            )
        )
        applies_to = []
    period_type = document.get("period_type", "year")
    if period_type not in PERIOD_TYPES:
        types = ", ".join(PERIOD_TYPES)
        faults.append(
            _fault(
                [*prefix, "period_type"],
                Text(f"period_type 须为以下之一：{types}", f"period_type is one of {types}"),
                "period",
            )
        )
        period_type = None
    scale = finite_number(document.get("scale", 100))
    if scale is None or scale <= 0:
        faults.append(
            _fault([*prefix, "scale"], Text("`scale` 须为正数", "`scale` must be a positive number"), "scale")
        )
        scale = 100.0
    min_coverage = finite_number(document.get("min_coverage", DEFAULT_MIN_COVERAGE))
    if min_coverage is None or not 0 <= min_coverage <= 1:
        faults.append(
            _fault(
                [*prefix, "min_coverage"],
                Text(
                    "`min_coverage` 须为 0 至 1 之间的比例（如 0.9）",
                    "`min_coverage` is a share between 0 and 1 (e.g. 0.9)",
                ),
                "min_coverage",
            )
        )
        min_coverage = DEFAULT_MIN_COVERAGE
    return _Header(code, version, title, applies_to, period_type, scale, min_coverage)


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
    header = _header(document, prefix, faults)
    validator = _Validator(catalog, header.period_type)
    root = validator.node(document.get("root"), [*prefix, "root"], is_root=True)
    if isinstance(root, Group):
        _check_geometric(root, catalog, validator.add)
    faults.extend(validator.faults)
    if faults or not isinstance(root, Group):
        return None, faults
    method = Methodology(
        code=cast(str, header.code),
        version=header.version,
        title=cast(str, header.title),
        applies_to=tuple(header.applies_to),
        period_type=cast(str, header.period_type),
        scale=header.scale,
        root=_with_unique_leaf_keys(root),
        min_coverage=header.min_coverage,
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
        raise Unprocessable(
            Text(f"考评办法有 {len(faults)} 处不符合规则", f"the methodology breaks {len(faults)} rule(s)"),
            errors=faults,
            code="methodology_invalid",
        )
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
                children.append(replace(child, key=f"{group.key}/{child.indicator}"))
            else:
                children.append(child)
        return Group(group.key, group.path, group.weight, group.aggregation, tuple(children), group.code, group.title)

    return rebuild(root)
