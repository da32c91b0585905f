"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

Debian's ``chromium`` reads protocol commands from its file descriptor 3 and answers on 4, one
JSON message per NUL-terminated chunk. Driving it that way needs no Python library, no browser
download and no network port: the bulletin tests and ``docs/images/bulletin_demo.py`` open a
local file, measure its layout, ask which fonts it really used and take a screenshot; the docs
test opens a service's ``/docs`` with the network limited to the service and reads which requests
the page made.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "apt-get install -y chromium fonts-noto-cjk (.ci/run does this when they are missing)"


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(
        self, *, width: int = 1000, height: int = 800, timeout: float = 30.0, extra_args: Sequence[str] = ()
    ) -> None:
        self.width, self.height, self.timeout = width, height, timeout
        self.events: list[dict[str, Any]] = []
        """The protocol's events met while waiting for answers, in order (e.g. ``Network.requestWillBeSent``)."""
        self._next_id = 0
        self._buffer = b""
        self._profile = tempfile.mkdtemp(prefix="devzones-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire() -> None:  # runs in the child, before exec: the protocol's fds are 3 and 4
            # Copied out of the way first: a pipe may itself be 3 or 4, which dup2 would clobber
            # (or, onto itself, leave closed on exec).
            read, write = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(read, 3)
            os.dup2(write, 4)

        args = [
            str(CHROMIUM),
            "--headless",
            "--remote-debugging-pipe",
            "--no-sandbox",  # CI runs as root, where the sandbox refuses to start
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--hide-scrollbars",
            f"--user-data-dir={self._profile}",
            f"--window-size={width},{height}",
            *extra_args,
            "about:blank",
        ]
        self._proc = subprocess.Popen(
            args,
            preexec_fn=wire,  # a test process starts no threads that preexec_fn could deadlock
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t["targetId"] for t in targets if t["type"] == "page")
        self._session = self.send("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
        self.page("Page.enable")
        self.page("Runtime.enable")
        self.page("DOM.enable")
        self.page("CSS.enable")

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the browser and remove its profile."""
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.send("Browser.close")
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    # --- the protocol ---------------------------------------------------------------------------

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (events met on the way are dropped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        return self._wait(lambda m: m.get("id") == self._next_id)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        """A command to the page's session."""
        return self.send(method, self._session, **params)

    def _wait(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    if "error" in message:
                        raise RuntimeError(f"chromium: {message['error']}")
                    result: dict[str, Any] = message.get("result", message.get("params", {}))
                    return result
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk

    # --- what the tests need --------------------------------------------------------------------

    def open(self, path: Path) -> None:
        """Load a local file and wait until it and its fonts are ready."""
        self.page("Page.navigate", url=path.resolve().as_uri())
        self._wait(lambda m: m.get("method") == "Page.loadEventFired")
        self.evaluate("document.fonts.ready.then(() => true)")

    def navigate(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        self.page("Page.navigate", url=url)
        self._wait(lambda m: m.get("method") == "Page.loadEventFired")

    def wait_for(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluate ``expression`` until it is truthy (a page that renders after loading); its value."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.1)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a script run in the page (promises are awaited)."""
        answer = self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"script failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def fonts_of(self, selector: str) -> list[str]:
        """The font families Chromium really drew the element's text with (not the CSS asked for)."""
        root = self.page("DOM.getDocument")["root"]["nodeId"]
        node = self.page("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        fonts = self.page("CSS.getPlatformFontsForNode", nodeId=node)["fonts"]
        return [f["familyName"] for f in fonts if f.get("glyphCount", 0) > 0]

    def screenshot(self) -> bytes:
        """A PNG of the whole page, at the window's width."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.page(
            "Emulation.setDeviceMetricsOverride", width=self.width, height=height, deviceScaleFactor=1, mobile=False
        )
        data = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        return base64.b64decode(data)
