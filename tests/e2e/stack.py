"""The four services started by ``devzones up`` as real processes, and single ``devzones serve``
processes (replicas), for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


class Served:
    """One ``devzones serve`` process: its URL and its log (stdout and stderr)."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def serve(service: str, tmp: Path, env_extra: dict[str, str], *, name: str | None = None) -> Served:
    """``devzones serve <service>`` as its own process on a free port, in the ``test`` environment
    with the test signing key and no rate limits (``env_extra`` adds or overrides settings);
    returns once ``/readyz`` answers 200."""
    from tests.conftest import TEST_SECRET

    port = free_port_base(1)
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = tmp / f"{name or service}.log"
    env = {
        **os.environ,
        "DEVZONES_ENV": "test",
        "DEVZONES_JWT_SECRET": TEST_SECRET,
        "DEVZONES_RATE_LIMIT": "off",
        **env_extra,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", service, "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    served = Served(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{service} exited with {proc.returncode}:\n{served.log_text()[-3000:]}")
        try:
            if httpx.get(f"{served.url}/readyz", timeout=2).status_code == 200:
                return served
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"{service} not ready:\n{served.log_text()[-3000:]}")


def terminate(served: Served, timeout: float = 30, *, signalled: bool = False) -> int:
    """SIGTERM (unless the caller already sent it), then the exit code (killed, and the test failed,
    if it outlives ``timeout``).

    A drain already under way gets no second SIGTERM: one that arrives while the interpreter is
    finalising, after its handlers are gone, would kill the process with the default action."""
    if not signalled and served.proc.poll() is None:
        served.proc.send_signal(signal.SIGTERM)
    try:
        return served.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()
        raise AssertionError(f"still running {timeout}s after SIGTERM:\n{served.log_text()[-3000:]}") from None


def migrate(service: str, tmp: Path, env_extra: dict[str, str]) -> None:
    """``devzones migrate <service>`` with the settings :func:`serve` would use."""
    env = {**os.environ, "DEVZONES_ENV": "test", **env_extra}
    subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate", service, "--data-dir", str(tmp / "data")],
        env=env,
        check=True,
        capture_output=True,
    )
