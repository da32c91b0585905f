"""Every service's app keeps one typed runtime, with its database and HTTP client while it runs."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.db import Database
from services.common.runtime import Runtime, runtime_of
from services.common.settings import SERVICES, SETTINGS_CLASSES


@pytest.mark.parametrize("service", SERVICES)
class TestTheRuntime:
    async def test_holds_settings_and_key_and_while_running_the_database_and_client(
        self, app_client: Callable[..., Any], service: str
    ) -> None:
        async with app_client(service) as client:
            runtime = runtime_of(client.app, Runtime)
            assert runtime.settings.service == service
            assert runtime.signing_key
            assert isinstance(runtime.db, Database) and isinstance(runtime.http, httpx.AsyncClient)
            assert (await client.get("/readyz")).status_code == 200

    def test_asking_for_another_service_s_runtime_class_is_refused(self, service: str, tmp_path: Path) -> None:
        class Other(Runtime):
            pass

        main = importlib.import_module(f"services.{service}.main")
        app = main.create_app(SETTINGS_CLASSES[service](data_dir=tmp_path))
        with pytest.raises(TypeError):
            runtime_of(app, Other)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_logs_go_to_the_configured_stream_as_json_lines(stream: str, capfd: pytest.CaptureFixture[str]) -> None:
    import logging

    import structlog

    from services.common.logging import configure_logging

    configure_logging(level="INFO", json=True, stream=stream)
    try:
        structlog.get_logger("devzones.test").info("stream_check", n=1)
        logging.getLogger("alembic.test").info("stdlib line")
        out, err = capfd.readouterr()
        written, silent = (out, err) if stream == "stdout" else (err, out)
        lines = [json.loads(line) for line in written.splitlines()]
        assert [(line["event"], line["level"]) for line in lines] == [("stream_check", "info"), ("stdlib line", "info")]
        assert silent == ""
    finally:
        configure_logging(level="INFO", json=True)
