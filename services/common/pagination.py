"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from libs.domain.kernel.contracts import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text

LimitParam = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_LIMIT, description=f"Page size (at most {MAX_PAGE_LIMIT})."),
]
CursorParam = Annotated[
    str | None, Query(max_length=512, description="Opaque cursor from the previous page's `next_cursor`.")
]
DEFAULT_LIMIT = DEFAULT_PAGE_LIMIT


def encode_cursor(key: Any) -> str:
    """Encode a keyset position (any JSON value) as an opaque URL-safe string."""
    raw = json.dumps(key, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def malformed_cursor() -> Unprocessable:
    """The 422 problem for a cursor this API did not give (code ``cursor_invalid``)."""
    return Unprocessable(
        Text("翻页游标格式有误", "malformed cursor"),
        code="cursor_invalid",
        errors=[
            {
                "loc": ["query", "cursor"],
                "msg": Text("不是本接口给出的游标（请使用上一页的 next_cursor）", "not a cursor from this API"),
                "type": "cursor",
                "code": "cursor_invalid",
            }
        ],
    )


def decode_cursor(cursor: str | None) -> Any:
    """Decode a cursor made by :func:`encode_cursor`; a malformed one is a 422 problem."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed_cursor() from exc


def str_cursor(cursor: str | None) -> str | None:
    """A cursor made of one string key (422 if malformed)."""
    value = decode_cursor(cursor)
    if value is not None and not isinstance(value, str):
        raise malformed_cursor()
    return value


def int_cursor(cursor: str | None) -> int | None:
    """A cursor made of one integer key, e.g. a row id (422 if malformed)."""
    value = decode_cursor(cursor)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise malformed_cursor()
    return value


def pair_cursor(cursor: str | None) -> tuple[str, str] | None:
    """A cursor made of two string keys (422 if malformed)."""
    value = decode_cursor(cursor)
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise malformed_cursor()
    return value[0], value[1]
