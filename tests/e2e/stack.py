"""The four services started by ``devzones up`` as real processes, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import free_port_base

SERVICES = ("registry", "metrics", "assessment", "permits")


class Running:
    def __init__(self, proc: subprocess.Popen[str], urls: dict[str, str], data_dir: Path, log: Path) -> None:
        self.proc, self.urls, self.data_dir, self.log = proc, urls, data_dir, log

    def token(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "services.cli", "token", *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()


def start_up(tmp: Path, env_extra: dict[str, str], *extra_args: str) -> Running:
    base = free_port_base()
    data_dir = tmp / "data"
    log = tmp / "up.log"
    env = {**os.environ, **env_extra}
    env.pop("DEVZONES_JWT_SECRET", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "up",
            "--port-base",
            str(base),
            "--data-dir",
            str(data_dir),
            *extra_args,
        ],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY") or proc.poll() is not None:
            break
    if not line.startswith("READY"):
        proc.kill()
        raise AssertionError(f"devzones up did not become ready:\n{log.read_text()[-3000:]}")
    urls = dict(zip(SERVICES, line.split()[1:], strict=True))
    return Running(proc, urls, data_dir, log)


def stop(running: Running) -> int:
    running.proc.send_signal(signal.SIGTERM)
    return running.proc.wait(timeout=30)
