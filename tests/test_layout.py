"""Layout rules that import-linter cannot see (CONTRIBUTING.md).

- A migration is frozen history: it imports nothing from ``libs`` or ``services``, so that a
  change to the live code can never change what an old migration does.
- Tests share data through builders (``tests/<service>/builders.py``) and ``tests/helpers.py``,
  never by importing another ``test_*.py`` module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = sorted(ROOT.glob("services/*/migrations/versions/*.py"))
TESTS = sorted(ROOT.glob("tests/**/*.py"))


def imported_modules(path: Path) -> Iterator[str]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


@pytest.mark.parametrize("migration", MIGRATIONS, ids=lambda p: f"{p.parts[-4]}/{p.name}")
def test_a_migration_imports_nothing_from_libs_or_services(migration: Path) -> None:
    live = sorted({m for m in imported_modules(migration) if m.split(".")[0] in ("libs", "services")})
    assert not live, f"{migration.relative_to(ROOT)} imports live code: {live}"


@pytest.mark.parametrize("module", TESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_test_module_imports_no_other_test_module(module: Path) -> None:
    others = sorted(
        {m for m in imported_modules(module) if m.startswith("tests.") and m.split(".")[-1].startswith("test_")}
    )
    assert not others, f"{module.relative_to(ROOT)} imports from test modules: {others} (use a builders module)"


def test_the_rules_have_something_to_check() -> None:
    assert len(MIGRATIONS) >= 4 and len(TESTS) >= 50
