"""A Docker daemon of the deploy test's own, under a temporary folder (tests/deploy/test_stack.py).

Started with exactly the flags that leave the host's firewall and forwarding untouched
(``--iptables=false --ip-forward=false --ip-masq=false --bridge=none``), its own data root, exec
root and socket; stopped, its mounts undone and its folder deleted by :meth:`Dockerd.close`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = ("--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none", "--storage-driver=overlay2")


def cannot_start() -> str | None:
    """Why this machine cannot start a Docker daemon for the test, or None if it can."""
    if os.geteuid() != 0:
        return "the deploy test starts its own Docker daemon, which needs root"
    for tool in ("dockerd", "docker", "docker-compose", "debootstrap"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (apt-get install docker.io docker-compose debootstrap)"
    return None


def _tool(name: str) -> str:
    found = shutil.which(name) or f"/usr/sbin/{name}"
    return found


class Dockerd:
    """A running daemon; ``env`` points ``docker`` and ``docker-compose`` at it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="devzones-dockerd-"))
        self.socket = self.root / "docker.sock"
        self.log = self.root / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}
        # Debian's docker CLI speaks this daemon's API (another `docker` earlier on PATH may not).
        self.env["PATH"] = "/usr/bin:/usr/sbin:" + os.environ.get("PATH", "")

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    _tool("dockerd"),
                    *FLAGS,
                    f"--data-root={self.root / 'data'}",
                    f"--exec-root={self.root / 'exec'}",
                    f"--pidfile={self.root / 'dockerd.pid'}",
                    f"-H=unix://{self.socket}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.proc.returncode}:\n{self.log_tail()}")
            ok = subprocess.run(["docker", "version"], env=self.env, capture_output=True, check=False)
            if ok.returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError(f"dockerd did not answer within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        """Stop the daemon (its containers with it), undo every mount under its folder, delete the folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for mount in reversed(_mounts_under(self.root)):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    found = []
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            point = line.split()[1].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found
