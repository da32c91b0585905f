"""The permits calendar stands below the cases and the supervision: nothing under
``services/permits/calendar`` reaches them, directly or through another module of the service.

Moving stored deadlines after a calendar change needs both, so it is a use case above the three
(``services/permits/deadlines_recompute.py``), reached by the calendar through the port it
declares (``DeadlineRecompute``) and wired by the app factory. Imports made only for type checking
do not count: they do not run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "services" / "permits"
ABOVE_THE_CALENDAR = ("services.permits.cases", "services.permits.supervision", "services.permits.deadlines_recompute")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path) -> set[str]:
    """The modules a file imports when it runs (``from a import b`` counts ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = [node for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking_only(node)]
    skipped = {id(n) for node in guarded for n in ast.walk(node)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    return {m: {i for i in _imports(p) if i in files} for m, p in files.items()}


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [m for m in graph if m == start or m.startswith(f"{start}.")]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return seen


def test_the_calendar_reaches_neither_the_cases_nor_the_supervision() -> None:
    reached = _reached(_graph(), "services.permits.calendar")
    above = sorted(m for m in reached if m.startswith(ABOVE_THE_CALENDAR))
    assert not above, f"services.permits.calendar reaches {above}"


def test_the_check_sees_the_service() -> None:
    graph = _graph()
    assert "services.permits.calendar.service" in graph
    assert "services.permits.cases.repository" in _reached(graph, "services.permits.deadlines_recompute")
