"""Indicators as people name them in files: by code, by Chinese name, or as the template writes
them (``地区生产总值（gdp）``); and the close matches offered when a name is unknown."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from libs.domain.metrics.contracts import IndicatorRead

_TRAILING_CODE = re.compile(r"\A(?P<name>.*?)\s*[（(]\s*(?P<code>[^()（）]+?)\s*[)）]\s*\Z")


def named(text: str, indicators: Mapping[str, IndicatorRead]) -> list[str]:
    """The codes ``text`` may name, best first: a code; else every indicator whose Chinese name
    it is (several when the name is ambiguous); else the code in a trailing ``（code）``."""
    text = text.strip()
    if text in indicators:
        return [text]
    by_name = sorted(code for code, ind in indicators.items() if ind.name_zh.strip() == text)
    if by_name:
        return by_name
    m = _TRAILING_CODE.match(text)
    if m and m["code"] in indicators:
        return [m["code"]]
    return []


def close_matches(text: str, indicators: Mapping[str, IndicatorRead], n: int = 5) -> list[str]:
    """Up to ``n`` indicators whose code or Chinese name is close to ``text``, as ``code（name_zh）``."""
    label = {code: f"{code}（{ind.name_zh}）" for code, ind in indicators.items()}
    by_key: dict[str, str] = {}
    for code, ind in indicators.items():
        by_key.setdefault(code, code)
        by_key.setdefault(ind.name_zh, code)
    found: list[str] = []
    for key in difflib.get_close_matches(text.strip(), list(by_key), n=n * 2, cutoff=0.5):
        if by_key[key] not in found:
            found.append(by_key[key])
    return [label[code] for code in found[:n]]
