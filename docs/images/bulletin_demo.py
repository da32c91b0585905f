"""Regenerate docs/images/bulletin-demo.png: the demo's latest economic-zone bulletin, as Chromium draws it.

Run from the repository root: ``make bulletin-demo-png`` (or
``PYTHONPATH=. .venv/bin/python docs/images/bulletin_demo.py [out.png]``). It starts
``devzones up`` with the demo data on free ports in a temporary directory, fetches the HTML
bulletin of the latest annual run of the economic zones, screenshots the whole page in
headless ``/usr/bin/chromium`` (no network, nothing downloaded) and stops the stack.
The data is the demo's: synthetic values, illustrative weights, labelled 示例数据，非官方.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx

from tests.chromium import CHROMIUM, INSTALL_HINT, Chromium
from tests.e2e.stack import start_up, stop

OUT = Path(__file__).with_name("bulletin-demo.png")
WIDTH = 1280


def main(out: Path) -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: {INSTALL_HINT}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="devzones-bulletin-") as tmp:
        running = start_up(Path(tmp), {})
        try:
            base = running.urls["assessment"]
            with httpx.Client(timeout=30.0) as http:
                runs = http.get(f"{base}/v1/assessments", params={"kind": "economic", "limit": 100}).json()["items"]
                zones = [r for r in runs if r["scope"] == "zones"]
                if not zones:
                    print("the demo loaded no economic-zone run", file=sys.stderr)
                    return 1
                latest = max(zones, key=lambda r: (r["period"], int(r["id"])))
                page = http.get(f"{base}/v1/assessments/{latest['id']}/bulletin.html")
                page.raise_for_status()
            html = Path(tmp) / "bulletin.html"
            html.write_bytes(page.content)
            with Chromium(width=WIDTH, height=900) as chromium:
                chromium.open(html)
                out.write_bytes(chromium.screenshot())
        finally:
            stop(running)
    print(f"wrote {out} (run {latest['id']}, {latest['period']}: {latest['label']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
