"""The texts of a push's or an import's row-level conflicts, in Chinese and in English.

County statistics staff act on these messages, so each says what was wrong and what is
accepted. One function per conflict code builds both texts side by side as a :class:`Text`;
the answer (or the problem) is written in the request's language (``Accept-Language``: Chinese
first, English on request; docs/api-conventions.md#languages). The conflict codes themselves
never change; clients read those, not the prose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from libs.domain.kernel.i18n import Text as Text
from libs.domain.kernel.i18n import listed as _listed

NUMBER_RULE = Text(
    "数值应为普通数字，小数点用“.”，千位分隔只能写作 1,234.5",
    "a value is a plain number with '.' as the decimal mark, thousands grouped only as 1,234.5",
)


def bad_subject(kind: Literal["both", "empty", "division"], text: str = "") -> Text:
    """``bad_subject``: a subject naming both or neither of zone and division, an empty zone
    cell, or a division code that is not six digits."""
    if kind == "both":
        return Text("zone_id 与 division 须且只须给出一个", "give exactly one of zone_id and division")
    if kind == "empty":
        return Text("开发区单元格为空（填开发区 id、名称，或县（区）6 位区划代码）", "the zone cell is empty")
    return Text(f"{text!r} 不是 6 位区划代码", f"{text!r} is not a 6-digit division code")


def unknown_zone(zone: str) -> Text:
    """``unknown_zone``: neither a zone id of the registry nor a zone's name on the period's last day."""
    return Text(
        f"登记系统中没有开发区 {zone!r}（按 id 或期末当日的名称查找）",
        f"the registry has no zone {zone!r} (by id, or by name on the period's last day)",
    )


def ambiguous_zone(text: str, day: str, matches: Sequence[str]) -> Text:
    """``ambiguous_zone``: a name several zones carried on the day; ``matches`` name each one."""
    listed = _listed(matches)
    return Text(
        f"{day} 有多个开发区叫 {text!r}：{listed}；请改填开发区 id",
        f"{text!r} names several zones on {day}: {listed}; use the zone id",
    )


def zone_not_existing(zone: str, period: str) -> Text:
    """``zone_not_existing``: the zone was established after the period's last day."""
    return Text(f"开发区 {zone} 在 {period} 期末尚未设立", f"zone {zone} did not exist yet at the end of {period}")


def zone_ended(zone: str, period: str, successor: str | None) -> Text:
    """``zone_ended``: the zone had ended (merged, revoked) by the period's last day; ``successor``
    names the zone that reports it (id and name), when there is one."""
    if successor is None:
        return Text(
            f"开发区 {zone} 在 {period} 期末前已撤销，不再报送", f"zone {zone} had ended by the end of {period}"
        )
    return Text(
        f"开发区 {zone} 在 {period} 期末前已并入或撤销，应由后继开发区 {successor} 报送",
        f"zone {zone} had ended by the end of {period}; its successor {successor} reports it",
    )


def unknown_indicator(text: str, close: Sequence[str], same_name: Sequence[str] = ()) -> Text:
    """``unknown_indicator``: neither a code nor (in a file) one indicator's Chinese name; ``close``
    are close matches, ``same_name`` the indicators sharing the name when it is ambiguous."""
    if same_name:
        listed = _listed(same_name)
        return Text(
            f"有多个指标叫 {text!r}：{listed}；请填指标代码",
            f"{text!r} names several indicators: {listed}; use the code",
        )
    if close:
        listed = _listed(close)
        return Text(
            f"指标目录中没有 {text!r}；相近的有：{listed}",
            f"no indicator {text!r} in the catalog; close matches: {listed}",
        )
    return Text(f"指标目录中没有 {text!r}", f"no indicator {text!r} in the catalog")


def derived_indicator(code: str, formula: str | None) -> Text:
    """``derived_indicator``: a ratio computed from its components, which are pushed instead."""
    return Text(
        f"{code} 是计算指标（{formula}），请报送其构成指标",
        f"{code} is derived ({formula}); push its components instead",
    )


def bad_period(text: str, reason: str) -> Text:
    """``bad_period``: a period that does not read (``reason`` is the parser's, in English)."""
    return Text(
        f"期间 {text!r} 无法识别（应写作 2025、2025H1 或 2025Q3）",
        f"{reason} (a period is written 2025, 2025H1 or 2025Q3)",
    )


_PERIOD_ZH = {"year": "年", "half": "半年", "quarter": "季度"}


def period_type_not_allowed(code: str, allowed: Sequence[str], given: str) -> Text:
    """``period_type_not_allowed``: the indicator is not reported per this kind of period."""
    zh_allowed = "、".join(_PERIOD_ZH.get(p, p) for p in allowed)
    return Text(
        f"{code} 按{zh_allowed}报送，不按{_PERIOD_ZH.get(given, given)}报送",
        f"{code} is reported per {', '.join(allowed)}, not per {given}",
    )


def future_period(period: str) -> Text:
    """``future_period``: the period has not started yet."""
    return Text(f"期间 {period} 尚未开始", f"period {period} has not started yet")


def bad_value(text: str, kind: Literal["unreadable", "too_large"] = "unreadable", unit: str = "") -> Text:
    """``bad_value``: a value that is not a finite number, or too large to store."""
    if kind == "too_large":
        return Text(f"{text} {unit} 超出可保存的范围", f"{text} {unit} is too large to store")
    return Text(f"{text!r} 不是数字；{NUMBER_RULE.zh}", f"{text!r} is not a number; {NUMBER_RULE.en}")


def out_of_range(value: str, unit: str, low: str, high: str) -> Text:
    """``out_of_range``: the value, in the indicator's unit, is outside its range."""
    return Text(f"{value} {unit} 超出允许范围 [{low}, {high}]", f"{value} {unit} is outside [{low}, {high}]")


def unknown_unit(unit: str, indicator_unit: str, accepted: Sequence[str]) -> Text:
    """``unknown_unit``: a unit outside the conversion table; ``accepted`` are the indicator's."""
    listed = "、".join(accepted)
    return Text(
        f"无法识别单位 {unit!r}；该指标可用单位：{listed}（目录单位为 {indicator_unit}）",
        f"unknown unit {unit!r}; this indicator accepts {', '.join(accepted)} (its unit is {indicator_unit})",
    )


def incompatible_unit(unit: str, indicator_unit: str, accepted: Sequence[str]) -> Text:
    """``incompatible_unit``: a unit of another dimension; ``accepted`` are the indicator's."""
    listed = "、".join(accepted)
    return Text(
        f"单位 {unit} 无法换算为 {indicator_unit}；该指标可用单位：{listed}",
        f"a value in {unit} cannot be converted to {indicator_unit}; this indicator accepts {', '.join(accepted)}",
    )


def duplicate_row(first: int) -> Text:
    """``duplicate_row``: the same subject, indicator and period as an earlier row (``first``: its
    row number in the file, or its index in a JSON batch)."""
    # short: a batch of 10,000 duplicates answers 9,999 of these
    return Text(f"与第 {first} 行的主体、指标、期间相同", f"same subject, indicator, period as row {first}")


def missing_column(missing: Sequence[str]) -> Text:
    """``missing_column``: the header lacks required columns."""
    return Text(
        f"表头缺少列：{'、'.join(missing)}"
        "（应为 开发区,指标,期间,数值,单位,备注 或 zone,indicator,period,value,unit,note）",
        f"the header lacks the column(s): {', '.join(missing)} (expected zone,indicator,period,value,unit,note)",
    )


def bad_text() -> Text:
    """``bad_text``: a note with a NUL character, which no database text holds."""
    return Text("备注含有 NUL 字符（U+0000）", "the note contains a NUL character (U+0000)")


def outside_scope(subject: str, division: str | None, shown: int, total: int, *, totals: bool = False) -> Text:
    """A row of a 403 ``outside_scope``: the subject belongs to another division; the caller may
    write for ``total`` zones, the first ``shown`` listed beside the message (``totals``: the row
    is a division's own totals, and the caller may write its own division's only)."""
    if totals:
        return Text(
            f"{subject} 不是本账号的县（区），只能报送本县（区）的合计",
            f"{subject} is not the caller's division; the caller may write its own division's totals only",
        )
    owner_zh = f"属于 {division}" if division else "不属于本账号"
    owner_en = f"belongs to {division}" if division else "is not the caller's"
    more_zh = f"（列出前 {shown} 个）" if shown < total else ""
    more_en = f" (the first {shown} listed)" if shown < total else ""
    return Text(
        f"{subject} {owner_zh}，本账号不能报送；该期间可报送 {total} 个开发区{more_zh}",
        f"{subject} {owner_en}, outside the caller's scope; the caller may write for {total} zone(s) then{more_en}",
    )


# --- texts of the service's problems shared with its test double (libs/domain/clients/metrics.py)

ZONE_KIND_ZH = {"economic": "经济开发区", "high_tech": "高新技术产业开发区"}


def period_unreadable(text: str, reason: str) -> Text:
    """A period (of a lock) that does not read; ``reason`` is the parser's, in English."""
    return Text(f"无法识别报告期 {text!r}（应写作 2025、2025H1 或 2025Q3）", reason)


def period_already_locked(period: str, kind: str | None) -> Text:
    """``period_already_locked``: the lock asked for exists (``kind``: its zone kind, None for every zone)."""
    if kind is None:
        return Text(f"报告期 {period} 已锁定", f"period {period} is already locked")
    return Text(
        f"报告期 {period} 的{ZONE_KIND_ZH.get(kind, kind)}数据已锁定",
        f"period {period} is already locked for {kind} zones",
    )
