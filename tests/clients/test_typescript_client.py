"""The TypeScript client a frontend team generates from our OpenAPI compiles under ``tsc --strict``.

What a frontend team does, done here on every ``make test``: ``openapi-typescript`` generates types
from each committed spec in ``docs/openapi/`` (which ``tests/test_openapi.py`` holds equal to what the
services serve), and a small ``openapi-fetch`` client per service (``ts/src/``) is type-checked. The
clients list a page and follow ``next_cursor``, send a body, read ``error.title`` and
``error.errors[0]`` from a problem, upload a file as multipart (a ``File``, not a string) and
download a file. The npm packages are pinned in ``ts/package-lock.json`` (``typescript`` 5: version 7
no longer offers the compiler API ``openapi-typescript`` 7 calls) and installed with ``npm ci`` the
first time (or when the lock changes) by ``tests/node.py``, like the Python dependencies with ``make``.

A second check compiles ``ts/checks/must_fail.ts``, which must fail with exactly the errors its
``MUST-FAIL`` comments name: the generated types are strict, so the clients compiling means
something. Node and npm are on the CI machine; without them the tests fail when ``CI`` is set and
are skipped otherwise (with how to install them).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests import node as npm_packages

HERE = Path(__file__).parent / "ts"
REPO = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "metrics", "assessment", "permits")
PURPOSE = "the TypeScript client check"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return npm_packages.run(HERE, *args)


@pytest.fixture(scope="module")
def generated() -> str:
    """The pinned packages installed and the four specs' types generated; the node binary."""
    node = npm_packages.installed(HERE, PURPOSE)
    made = _run(node, "generate.mjs", str(REPO / "docs" / "openapi"), "gen", *SERVICES)
    assert made.returncode == 0, made.stdout + made.stderr
    return node


def _tsc(node: str, project: str) -> subprocess.CompletedProcess[str]:
    return _run(node, "node_modules/typescript/bin/tsc", "-p", project, "--pretty", "false")


def test_the_clients_of_all_four_services_compile_under_strict(generated: str) -> None:
    checked = _tsc(generated, "tsconfig.json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {p.stem for p in (HERE / "src").glob("*.ts")} >= set(SERVICES)


def test_a_wrong_client_fails_with_exactly_the_expected_errors(generated: str) -> None:
    source = (HERE / "checks" / "must_fail.ts").read_text().splitlines()
    expected = {
        (number, match.group(1))
        for number, line in enumerate(source, start=1)
        if (match := re.search(r"MUST-FAIL (TS\d+)", line))
    }
    checked = _tsc(generated, "tsconfig.must-fail.json")
    found = {
        (int(m.group(1)), m.group(2)) for m in re.finditer(r"must_fail\.ts\((\d+),\d+\): error (TS\d+)", checked.stdout)
    }
    assert checked.returncode != 0
    assert found == expected, checked.stdout
