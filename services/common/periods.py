"""Period parameters, parsed once at the edge.

A route declares ``period: Annotated[PeriodParam, Query()]`` (or ``PeriodParam | None``) and
receives a :class:`~libs.domain.kernel.values.Period`; text that is not a period is a 422
validation problem like any other malformed field (``errors[].type`` = ``period``). The OpenAPI
shows the parameter as the string it is on the wire.
"""

from __future__ import annotations

from typing import Annotated, Any, NewType

from pydantic import PlainSerializer, PlainValidator, StringConstraints

from libs.domain.kernel.i18n import Text, invalid
from libs.domain.kernel.values import Period

MAX_PERIOD_LENGTH = 16


def _parse(value: Any) -> Period:
    if not isinstance(value, str) or len(value) > MAX_PERIOD_LENGTH:
        raise invalid(
            "period", Text("应为报告期，如 2025、2025H1 或 2025Q3", "expected a period such as 2025, 2025H1 or 2025Q3")
        )
    try:
        return Period.parse(value)
    except ValueError as exc:
        raise invalid("period", Text(f"报告期无效：{exc}", str(exc))) from None


_Parsed = NewType("_Parsed", Period)
"""A :class:`Period` as a parameter type: FastAPI refuses dataclasses as query parameters (it
takes them for bodies), and a ``NewType`` of one is the same class to mypy and at run time."""

PeriodParam = Annotated[
    _Parsed,
    PlainValidator(_parse, json_schema_input_type=Annotated[str, StringConstraints(max_length=MAX_PERIOD_LENGTH)]),
    # serialised as its text, so no schema of the Period dataclass reaches the OpenAPI's components
    PlainSerializer(str, return_type=str),
]
"""A period in a query or path parameter (``2025``, ``2025H1``, ``2025Q3``)."""
