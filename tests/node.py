"""Node.js for the tests that run npm packages (the TypeScript client check, the OpenID Connect provider).

Each such test keeps its packages in a folder with a ``package.json`` and a committed
``package-lock.json``; :func:`installed` installs them with ``npm ci`` the first time and again when
the lock changes (a stamp in ``node_modules`` holds the lock it installed), like the Python
dependencies with ``make``. Nothing else is downloaded at test time. Without Node and npm a test
fails when ``CI`` is set (CI installs them) and is skipped otherwise, saying how to install them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

STAMP = Path("node_modules") / ".devzones-lock"
"""Where, below a package folder, the lock last installed is kept."""


def tools(purpose: str) -> tuple[str, str]:
    """The ``node`` and ``npm`` binaries; a failure under ``CI``, a skip elsewhere, without them."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node, npm
    message = f"Node.js 20 and npm are needed for {purpose} (apt-get install nodejs npm)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(folder: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """A command run in ``folder``, its output captured."""
    return subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=timeout, check=False)


def installed(folder: Path, purpose: str) -> str:
    """The packages pinned in ``folder/package-lock.json`` installed (``npm ci`` unless the stamp
    says this lock is in); the ``node`` binary."""
    node, npm = tools(purpose)
    lock = (folder / "package-lock.json").read_text()
    stamp = folder / STAMP
    if not stamp.exists() or stamp.read_text() != lock:
        done = run(folder, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
        assert done.returncode == 0, done.stdout + done.stderr
        stamp.write_text(lock)
    return node
