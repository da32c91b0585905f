"""JSON answers of the zone reads, assembled from each zone state's JSON serialised once."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from services.common.pagination import encode_cursor


class ZonePage(NamedTuple):
    """One page of the zone list: each item's ``ZoneRead`` JSON, and the last id when more follow."""

    items: list[bytes]
    last: str | None


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, as pydantic writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def page_json(page: ZonePage) -> bytes:
    """A ``Page[ZoneRead]`` as JSON, the items spliced in as they are."""
    cursor = json_bytes(encode_cursor(page.last) if page.last else None)
    return b'{"items":[' + b",".join(page.items) + b'],"next_cursor":' + cursor + b"}"
