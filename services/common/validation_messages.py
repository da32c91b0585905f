"""Validation faults in Chinese and English, with a stable ``code`` each.

FastAPI reports a request that breaks its schema with pydantic's error list: a ``type`` (stable:
``missing``, ``int_parsing``…), an English ``msg`` and a ``ctx`` with the numbers the message names.
This module writes each as a :class:`Text`: the Chinese below for the kinds a request can produce,
pydantic's own English, and for a kind not listed a Chinese sentence that quotes the English.
A validator of ours raises :func:`libs.domain.kernel.i18n.invalid`, which carries its own Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from libs.domain.kernel.i18n import Text

ZH: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不接受此字段",
    "string_type": "应为文本",
    "string_too_short": "文本过短，至少 {min_length} 个字符",
    "string_too_long": "文本过长，至多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不符，应匹配 {pattern}",
    "string_unicode": "应为有效的 Unicode 文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数，无法解析所给内容",
    "int_from_float": "应为整数，不能带小数部分",
    "float_type": "应为数字",
    "float_parsing": "应为数字，无法解析所给内容",
    "finite_number": "应为有限的数字",
    "bool_type": "应为布尔值（true 或 false）",
    "bool_parsing": "应为布尔值（true 或 false），无法解析所给内容",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应大于或等于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应小于或等于 {le}",
    "multiple_of": "应为 {multiple_of} 的倍数",
    "too_short": "至少应有 {min_length} 项",
    "too_long": "至多只能有 {max_length} 项",
    "list_type": "应为数组（列表）",
    "tuple_type": "应为数组（列表）",
    "set_type": "应为不重复的数组",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "dataclass_type": "应为对象",
    "literal_error": "取值应为以下之一：{expected}",
    "enum": "取值应为以下之一：{expected}",
    "date_type": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD），无法解析所给内容",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD），无法解析所给内容",
    "date_from_datetime_inexact": "应为日期，不能带时间部分",
    "datetime_type": "应为日期时间（ISO 8601）",
    "datetime_parsing": "应为日期时间（ISO 8601），无法解析所给内容",
    "datetime_from_date_parsing": "应为日期时间（ISO 8601），无法解析所给内容",
    "timezone_aware": "应带时区",
    "timezone_naive": "不应带时区",
    "decimal_type": "应为十进制数",
    "decimal_parsing": "应为十进制数，无法解析所给内容",
    "decimal_max_digits": "数字位数至多 {max_digits} 位",
    "decimal_max_places": "小数位数至多 {decimal_places} 位",
    "decimal_whole_digits": "整数部分至多 {whole_digits} 位",
    "json_invalid": "不是有效的 JSON",
    "json_type": "应为 JSON 文本",
    "uuid_parsing": "应为 UUID",
    "uuid_type": "应为 UUID",
    "url_parsing": "应为网址",
    "url_type": "应为网址",
    "url_scheme": "网址协议应为 {expected_schemes}",
    "bytes_type": "应为字节串",
    "none_required": "应为 null",
    "union_tag_invalid": "类型标记 {tag} 不是 {expected_tags} 之一",
    "union_tag_not_found": "缺少类型标记字段 {discriminator}",
    "is_instance_of": "类型不符",
    "value_error": "取值无效：{message}",
    "assertion_error": "取值无效：{message}",
    "no_such_attribute": "不接受此字段",
}
"""Chinese for pydantic's error kinds, with the ``ctx`` keys pydantic's English uses."""


def _fmt(template: str, ctx: Mapping[str, Any]) -> str:
    try:
        return template.format(**{k: str(v) for k, v in ctx.items()})
    except (KeyError, IndexError, ValueError):
        return template.split("{", 1)[0].rstrip("：:，, ")


def _english_reason(msg: str) -> str:
    """Pydantic's ``Value error, …`` without its prefix."""
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def validation_text(error: Mapping[str, Any]) -> Text:
    """One pydantic error as a :class:`Text`."""
    kind = str(error.get("type", ""))
    en = str(error.get("msg", ""))
    ctx = dict(error.get("ctx") or {})
    if "zh" in ctx:  # raised with libs.domain.kernel.i18n.invalid
        return Text(str(ctx["zh"]), en)
    if kind in ("value_error", "assertion_error"):
        reason = _english_reason(en)
        return Text(f"取值无效：{reason}", reason)
    template = ZH.get(kind)
    if template is None:
        return Text(f"输入无效（{en}）", en)
    return Text(_fmt(template, ctx), en)


def validation_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's error list as a problem's ``errors``: ``loc``, ``msg`` (both languages, to be
    rendered), ``type`` and ``code`` (the same stable kind)."""
    out = []
    for e in errors:
        kind = str(e.get("type", ""))
        out.append({"loc": list(e.get("loc", ())), "msg": validation_text(e), "type": kind, "code": kind})
    return out
