"""Formulas of derived indicators, parsed safely and evaluated without ``eval``.

A formula is an arithmetic expression over indicator codes: numbers, codes, ``+ - * /``,
unary minus, parentheses, and one function, ``city(code)``, the value of ``code`` for the
city the zone belongs to (the zones' share of the city: ``gdp / city(gdp) * 100``).

The text is parsed with :mod:`ast` and every node is checked against a whitelist; the tree
is then compiled into nested closures, so evaluating it for thousands of zones is cheap and
nothing of Python beyond arithmetic is ever reachable.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from libs.domain.kernel.i18n import Text

Values = Mapping[str, float | None]
Vector = NDArray[np.float64]
Columns = Mapping[str, Vector]
_Eval = Callable[[Values, Values], float]
_VEval = Callable[[Columns, Columns], Vector | float]

CITY_FUNCTION = "city"
MAX_FORMULA_NODES = 200


class FormulaError(ValueError):
    """A formula that is not valid; ``text`` says why, in Chinese and in English (the exception's
    message is the English)."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


class _Missing(Exception):
    """A component of the formula has no value."""


@dataclass(frozen=True)
class Formula:
    """A parsed formula: the codes it reads and a compiled evaluator."""

    text: str
    variables: frozenset[str]
    city_variables: frozenset[str]
    _fn: _Eval = field(repr=False, compare=False)
    _vfn: _VEval = field(repr=False, compare=False)

    @property
    def all_variables(self) -> frozenset[str]:
        """Every code the formula reads, for the zone or for its city."""
        return self.variables | self.city_variables

    def evaluate(self, values: Values, city: Values | None = None) -> float | None:
        """The formula's value, or ``None`` when a component is missing or a divisor is zero."""
        try:
            result = self._fn(values, city or {})
        except (_Missing, ZeroDivisionError):
            return None
        if result != result or result in (float("inf"), float("-inf")):  # NaN or infinite
            return None
        return result

    def evaluate_columns(self, columns: Columns, city: Columns, size: int) -> Vector:
        """The formula over whole columns (one value per row); NaN where a component is NaN
        (missing) or a divisor is zero. Every code the formula reads must have a column."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            result = np.broadcast_to(np.asarray(self._vfn(columns, city), dtype=np.float64), (size,)).copy()
        result[~np.isfinite(result)] = np.nan
        return result


def _compile_columns(node: ast.AST) -> _VEval:
    """The same tree as :func:`_compile` (already checked), evaluated over numpy columns."""
    if isinstance(node, ast.Expression):
        return _compile_columns(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        number = float(node.value)
        return lambda v, c: number
    if isinstance(node, ast.Name):
        code = node.id
        return lambda v, c: v[code]
    if isinstance(node, ast.UnaryOp):
        inner = _compile_columns(node.operand)
        if isinstance(node.op, ast.USub):
            return lambda v, c: -inner(v, c)
        return inner
    if isinstance(node, ast.BinOp):
        left, right = _compile_columns(node.left), _compile_columns(node.right)
        if isinstance(node.op, ast.Add):
            return lambda v, c: left(v, c) + right(v, c)
        if isinstance(node.op, ast.Sub):
            return lambda v, c: left(v, c) - right(v, c)
        if isinstance(node.op, ast.Mult):
            return lambda v, c: left(v, c) * right(v, c)
        return lambda v, c: np.divide(left(v, c), right(v, c))
    if isinstance(node, ast.Call) and isinstance(node.args[0], ast.Name):
        code = node.args[0].id
        return lambda v, c: c[code]
    raise FormulaError(_not_allowed(node))  # pragma: no cover - checked before


def _compile(node: ast.AST, names: set[str], city_names: set[str]) -> _Eval:
    if isinstance(node, ast.Expression):
        return _compile(node.body, names, city_names)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        number = float(node.value)
        return lambda v, c: number
    if isinstance(node, ast.Name):
        code = node.id
        names.add(code)

        def read(v: Values, c: Values) -> float:
            x = v.get(code)
            if x is None:
                raise _Missing(code)
            return x

        return read
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _compile(node.operand, names, city_names)
        if isinstance(node.op, ast.USub):
            return lambda v, c: -inner(v, c)
        return inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        left = _compile(node.left, names, city_names)
        right = _compile(node.right, names, city_names)
        if isinstance(node.op, ast.Add):
            return lambda v, c: left(v, c) + right(v, c)
        if isinstance(node.op, ast.Sub):
            return lambda v, c: left(v, c) - right(v, c)
        if isinstance(node.op, ast.Mult):
            return lambda v, c: left(v, c) * right(v, c)
        return lambda v, c: left(v, c) / right(v, c)
    if isinstance(node, ast.Call):
        if (
            not isinstance(node.func, ast.Name)
            or node.func.id != CITY_FUNCTION
            or node.keywords
            or len(node.args) != 1
            or not isinstance(node.args[0], ast.Name)
        ):
            raise FormulaError(
                Text(
                    f"公式中唯一可用的函数是 {CITY_FUNCTION}(指标代码)",
                    f"the only function is {CITY_FUNCTION}(indicator_code)",
                )
            )
        code = node.args[0].id
        city_names.add(code)

        def read_city(v: Values, c: Values) -> float:
            x = c.get(code)
            if x is None:
                raise _Missing(code)
            return x

        return read_city
    raise FormulaError(_not_allowed(node))


def _not_allowed(node: ast.AST) -> Text:
    name = type(node).__name__
    return Text(
        f"公式中不允许使用 {name}（只能使用数字、指标代码、+ - * /、括号和 {CITY_FUNCTION}(指标代码)）",
        f"not allowed in a formula: {name}",
    )


def parse_formula(text: str) -> Formula:
    """Parse and check ``text``; raise :class:`FormulaError` when it is not a valid formula."""
    if not text or not text.strip():
        raise FormulaError(Text("公式为空", "the formula is empty"))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(
            Text(f"公式不是算术表达式（{exc.msg}）", f"not an arithmetic expression: {exc.msg}")
        ) from exc
    if sum(1 for _ in ast.walk(tree)) > MAX_FORMULA_NODES:
        raise FormulaError(Text("公式过长", "the formula is too long"))
    names: set[str] = set()
    city_names: set[str] = set()
    fn = _compile(tree, names, city_names)
    if not names and not city_names:
        raise FormulaError(Text("公式未引用任何指标", "the formula reads no indicator"))
    return Formula(
        text=text.strip(),
        variables=frozenset(names),
        city_variables=frozenset(city_names),
        _fn=fn,
        _vfn=_compile_columns(tree),
    )


def dependency_order(formulas: Mapping[str, Formula]) -> list[str]:
    """The derived codes ordered so each comes after the derived codes it reads.

    Raises :class:`FormulaError` naming the codes of a cycle.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(code: str, path: list[str]) -> None:
        if state.get(code) == 2:
            return
        if state.get(code) == 1:
            cycle = [*path[path.index(code) :], code]
            chain = " → ".join(cycle)
            raise FormulaError(Text(f"公式之间循环引用：{chain}", f"formulas form a cycle: {chain}"))
        state[code] = 1
        for dep in sorted(formulas[code].all_variables):
            if dep in formulas:
                visit(dep, [*path, code])
        state[code] = 2
        order.append(code)

    for code in sorted(formulas):
        visit(code, [])
    return order


def base_components(code: str, formulas: Mapping[str, Formula]) -> tuple[set[str], set[str]]:
    """The non-derived codes ``code`` needs, for the zone and for its city (transitively)."""
    own: set[str] = set()
    city: set[str] = set()
    seen: set[str] = set()

    def walk(c: str, for_city: bool) -> None:
        formula = formulas.get(c)
        if formula is None:
            (city if for_city else own).add(c)
            return
        key = f"{'city:' if for_city else ''}{c}"
        if key in seen:
            return
        seen.add(key)
        for v in formula.variables:
            walk(v, for_city)
        for v in formula.city_variables:
            walk(v, True)

    walk(code, False)
    return own, city


def unknown_codes(formula: Formula, known: Iterable[str]) -> list[str]:
    """The codes ``formula`` reads that are not in ``known``, sorted."""
    have = set(known)
    return sorted(c for c in formula.all_variables if c not in have)
