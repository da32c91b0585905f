"""Texts people read, in Chinese first and in English on request (docs/api-conventions.md#languages).

A message that a person reads (a problem's ``title`` and ``detail``, each ``errors[].msg``) is a
:class:`Text`: both languages side by side, written where the fault is found. The problem
handler picks one by the request's ``Accept-Language``: Chinese when it prefers ``zh`` or names no
language we speak, English when it prefers ``en``. Machines read the stable ``code`` beside the
prose, which never changes with the language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"
CONTENT_LANGUAGE: dict[Lang, str] = {"zh": "zh-CN", "en": "en"}


@dataclass(frozen=True, slots=True)
class Text:
    """A message in Chinese and in English."""

    zh: str
    en: str

    def __str__(self) -> str:
        # Logs and exception reprs show both; an answer shows one (render).
        return f"{self.zh} / {self.en}"

    def render(self, lang: Lang) -> str:
        """The message in ``lang``."""
        return self.zh if lang == "zh" else self.en

    def at(self, line: int | None, column: str | None) -> Text:
        """The text prefixed with where its fault is in a file: the row as Excel shows it (the
        header is row 1) and the column's header as the file writes it; unchanged without a row."""
        if line is None:
            return self
        zh = f"第 {line} 行“{column}”列" if column else f"第 {line} 行"
        en = f"row {line}, column {column}" if column else f"row {line}"
        return Text(f"{zh}：{self.zh}", f"{en}: {self.en}")


def negotiate(accept_language: str | None) -> Lang:
    """The language to answer in, from an ``Accept-Language`` header (RFC 9110 §12.5.4).

    The ranges are taken by their weight (``q``), highest first, in the order written among
    equals; the first that is Chinese (``zh``, ``zh-CN``, ``zh-Hans``…) or English decides. ``*``,
    no header, or only languages we do not speak: Chinese."""
    if not accept_language:
        return DEFAULT_LANG
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, position, tag))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-", 1)[0]
        if primary == "zh" or tag == "*":
            return "zh"
        if primary == "en":
            return "en"
    return DEFAULT_LANG


def localise(value: Any, lang: Lang) -> Any:
    """``value`` with every :class:`Text` in it (in dicts, lists, tuples) rendered in ``lang``."""
    if isinstance(value, Text):
        return value.render(lang)
    if isinstance(value, Mapping):
        return {k: localise(v, lang) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [localise(v, lang) for v in value]
    return value


def invalid(code: str, text: Text) -> PydanticCustomError:
    """A validation error for a pydantic validator, in both languages, with a stable ``code``.

    ``raise invalid("bad_period", Text("…", "…"))`` inside a validator: the problem's
    ``errors[].type`` and ``code`` are ``code``, its ``msg`` the text in the caller's language."""
    return PydanticCustomError(code, _escape(text.en), {"zh": text.zh})


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def listed(items: Sequence[str], n: int = 10) -> str:
    """The first ``n`` items joined with commas, and an ellipsis when there are more."""
    shown = ", ".join(items[:n])
    return f"{shown}, …" if len(items) > n else shown


_request_lang: ContextVar[Lang] = ContextVar("devzones_request_lang", default=DEFAULT_LANG)


def current_lang() -> Lang:
    """The language of the request being answered (set once per request by the service's
    middleware from ``Accept-Language``; Chinese outside a request)."""
    return _request_lang.get()


def use_lang(lang: Lang) -> Token[Lang]:
    """Answer the current request in ``lang``; returns the token to reset it with."""
    return _request_lang.set(lang)


def reset_lang(token: Token[Lang]) -> None:
    _request_lang.reset(token)


def _render_current(value: Text | str) -> str:
    return value.render(current_lang()) if isinstance(value, Text) else value


LocalText = Annotated[
    Text | str,
    PlainSerializer(_render_current, return_type=str),
    WithJsonSchema({"type": "string"}),
]
"""A message inside an answer (a row's conflict, a refusal): written in the request's language.
Models hold the :class:`Text`; the JSON holds one string."""
