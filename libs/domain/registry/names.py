"""Normalising Chinese zone names for look-ups.

County systems write names with or without the province prefix (河北 / 河北省), with
full-width or half-width characters and stray spaces. Look-ups compare normalised forms;
the registry still stores and shows names exactly as enacted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Generic, NamedTuple, TypeVar

Found = TypeVar("Found")

PROVINCES = (
    "北京",
    "天津",
    "河北",
    "山西",
    "内蒙古",
    "辽宁",
    "吉林",
    "黑龙江",
    "上海",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "广西",
    "海南",
    "重庆",
    "四川",
    "贵州",
    "云南",
    "西藏",
    "陕西",
    "甘肃",
    "青海",
    "宁夏",
    "新疆",
)
_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
_SPACE = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """The form names are compared in: NFKC, no whitespace, no leading province name."""
    text = _SPACE.sub("", unicodedata.normalize("NFKC", name))
    for province in PROVINCES:
        if text.startswith(province):
            rest = text[len(province) :]
            for suffix in _SUFFIXES:
                if rest.startswith(suffix):
                    rest = rest[len(suffix) :]
                    break
            # Keep the prefix when nothing meaningful would remain (a name that IS a province).
            return rest if len(rest) >= 2 else text
    return text


MATCH_ORDER = {"official": 0, "plaque": 1, "former_name": 2, "park": 3}
"""The ways a zone carries a name, strongest first."""


class NameMatch(NamedTuple, Generic[Found]):
    """A zone state (``found``) answering to a looked-up name, and how it does."""

    zone_id: str
    found: Found
    match: str
    matched_name: str


class _Ranked(NamedTuple, Generic[Found]):
    strength: int
    inexact: int
    candidate: NameMatch[Found]


def strongest_matches(name: str, candidates: Iterable[NameMatch[Found]]) -> list[NameMatch[Found]]:
    """Per zone the strongest way it carries ``name``, strongest first, then by zone id.

    An official designation beats a plaque, a former name and a park, in that order; among equals
    the exact spelling beats a form that only normalises alike."""
    best: dict[str, _Ranked[Found]] = {}
    for candidate in candidates:
        ranked = _Ranked(MATCH_ORDER[candidate.match], 0 if candidate.matched_name == name else 1, candidate)
        current = best.get(candidate.zone_id)
        if current is None or (ranked.strength, ranked.inexact) < (current.strength, current.inexact):
            best[candidate.zone_id] = ranked
    ordered = sorted(best.values(), key=lambda r: (r.strength, r.inexact, r.candidate.zone_id))
    return [r.candidate for r in ordered]
