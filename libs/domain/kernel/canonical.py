"""Canonical JSON: the one byte form a document is hashed and stored in.

The bytes are those of the standard library's ``json.dumps(obj, sort_keys=True,
separators=(",", ":"), ensure_ascii=False, allow_nan=False)`` (the published definition,
unchanged since the first run was stored). A stored document can hold 100,000 values, so
orjson writes it when it provably writes the same bytes (:func:`orjson_text`, the one fast
path, which may decline); ``fast=False`` always takes the standard library's path.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import orjson

_DIGITS = frozenset(b"0123456789")
_EXACT_TYPES = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
_EXACT_TYPES |= orjson.OPT_PASSTHROUGH_DATACLASS


def _refuse(obj: Any) -> Any:
    raise TypeError(type(obj).__name__)


def _all_finite(obj: Any) -> bool:
    """No NaN or infinity anywhere in a JSON-like document (what ``allow_nan=False`` refuses)."""
    isfinite = math.isfinite
    stack = [obj]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is float:
            if not isfinite(node):
                return False
            continue
        if kind is dict:
            items: Any = node.values()
        elif kind is list or kind is tuple:
            items = node
        else:
            continue
        try:
            total = sum(items)  # all numbers (the usual values dict): one pass in C
        except TypeError:
            pass
        else:
            if total - total == 0:  # finite, so every term is
                continue
        floats = [v for v in items if type(v) is float]
        if floats and not all(map(isfinite, floats)):
            return False
        if len(floats) != len(items):
            stack.extend(v for v in items if type(v) in (dict, list, tuple))
    return True


def _python_floats_differ(text: bytes) -> bool:
    """Whether ``text`` (orjson's) may hold a float the standard library writes differently.

    The two agree on every float except those below 1e-4 in magnitude, where Python writes
    ``1e-05`` / ``1.5e-07`` and orjson ``0.00001`` / ``1.5e-7``: both forms contain
    a number starting ``0.0000``, or a digit, ``e-``, digit. A false alarm only costs the slow path.
    """
    at = text.find(b"0.0000")
    while at >= 0:
        if at == 0 or text[at - 1] not in _DIGITS:  # a number that starts 0.0000, not 30.0000…
            return True
        at = text.find(b"0.0000", at + 6)
    at = text.find(b"e-")
    while at >= 0:
        if at > 0 and text[at - 1] in _DIGITS and text[at + 2 : at + 3] and text[at + 2] in _DIGITS:
            return True
        at = text.find(b"e-", at + 2)
    return False


def orjson_text(obj: Any) -> bytes | None:
    """The canonical JSON of ``obj`` written by orjson, or None where it might differ from the definition.

    It declines unless the document holds builtin types only (no subclasses, no integers beyond
    64 bits, every float finite) and no float below 1e-4 in magnitude, the one place the two
    write floats differently.
    """
    if not _all_finite(obj):
        return None
    try:
        text = orjson.dumps(obj, default=_refuse, option=_EXACT_TYPES)
    except TypeError:
        return None
    return None if _python_floats_differ(text) else text


def standard_text(obj: Any) -> bytes:
    """The canonical JSON of ``obj`` as the definition writes it (the standard library)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode()


def canonical_json(obj: Any, *, fast: bool = True) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8, shortest round-tripping floats, no NaN.

    ``fast`` lets orjson write it where it provably gives the same bytes (:func:`orjson_text`).
    """
    if fast:
        text = orjson_text(obj)
        if text is not None:
            return text
    return standard_text(obj)


def inputs_sha256(inputs: Any, *, fast: bool = True) -> str:
    """SHA-256 (hex) of the canonical JSON of ``inputs``."""
    return hashlib.sha256(canonical_json(inputs, fast=fast)).hexdigest()


def canonical_with_sha256(inputs: Any, *, fast: bool = True) -> tuple[str, str]:
    """The canonical JSON text of ``inputs`` and the SHA-256 (hex) of its UTF-8 bytes.

    One encoding for both (a national run's inputs hold 100,000 values): the text hashed is
    also the text stored.
    """
    data = canonical_json(inputs, fast=fast)
    return data.decode(), hashlib.sha256(data).hexdigest()
