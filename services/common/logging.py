"""Structured JSON logs (structlog), one line per request plus whatever services log.

JSON lines are written by orjson as UTF-8 bytes (structlog's ``BytesLogger``): the access log
writes a line for every request, and the standard library's encoder is the larger part of its cost.
"""

from __future__ import annotations

import functools
import logging
import sys

import orjson
import structlog

_OURS = "_devzones_handler"


def configure_logging(*, level: str = "INFO", json: bool = True, stream: str = "stderr") -> None:
    """Configure structlog and the standard library to print one JSON object per line on ``stream``
    (``stderr`` or ``stdout``)."""
    out = sys.stdout if stream == "stdout" else sys.stderr
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    binary = getattr(out, "buffer", None)  # a replaced stream may take text only
    if json and binary is not None:
        dumps = functools.partial(orjson.dumps, option=orjson.OPT_NON_STR_KEYS)
        renderer: structlog.typing.Processor = structlog.processors.JSONRenderer(serializer=dumps)
        factory: structlog.typing.WrappedLogger = structlog.BytesLoggerFactory(file=binary)
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
        factory = structlog.PrintLoggerFactory(file=out)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    if json:
        # What other libraries log through the standard library (uvicorn's start-up lines, alembic)
        # comes out as JSON lines too, so a log collector reads one format.
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processor=structlog.processors.JSONRenderer(ensure_ascii=False),
                foreign_pre_chain=[
                    structlog.stdlib.add_logger_name,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.format_exc_info,
                ],
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(message)s"))
    # Replace the handler an earlier call installed (an app made again in the same process), and
    # only that one: handlers others added to the root logger stay.
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(previous)
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's own access log would duplicate ours.
    logging.getLogger("uvicorn.access").disabled = True
