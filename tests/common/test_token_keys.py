"""Where tokens' keys come from, and what the tools say about them (issue #17, development stays easy).

``devzones token`` used to print, silently, a token signed with a key it had just created in a
data dir no service used, which every running service then refused. It now says so on stderr.
A service started outside development with a shared HS256 secret says in its log that every
holder of the secret can mint tokens.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from services.common.security import DEV_SECRET_FILE, SHARED_SECRET_WARNING, decode_token
from services.common.settings import SETTINGS_CLASSES


def _token(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "token", "--role", "city_admin", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "DEVZONES_ENV": "development"},
    )


def test_a_new_key_is_announced_once_and_signs_the_token(tmp_path: Path) -> None:
    first = _token(tmp_path)
    assert "warning: created a new development signing key" in first.stderr
    assert str(tmp_path.resolve()) in first.stderr
    key = (tmp_path / DEV_SECRET_FILE).read_text(encoding="ascii").strip()
    assert decode_token(first.stdout.strip(), key).roles == {"city_admin"}

    again = _token(tmp_path)  # the key exists now, as it does for services started with this dir
    assert again.stderr == ""
    assert decode_token(again.stdout.strip(), key).sub == "dev-city_admin"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(again.stdout.strip(), "another key of more than thirty-two chars", algorithms=["HS256"])


def test_the_token_command_defaults_to_the_data_dir_make_up_uses() -> None:
    # `make up` runs `devzones up`, whose --data-dir defaults to var/; the token command reads the
    # same default through the settings (DEVZONES_DATA_DIR overrides both).
    from services.cli import build_parser

    parser = build_parser()
    up = parser.parse_args(["up"])
    token = parser.parse_args(["token", "--role", "city_admin"])
    settings = SETTINGS_CLASSES["registry"]()
    assert up.data_dir == Path("var")
    assert token.data_dir is None and settings.data_dir == Path("var")


def test_a_service_outside_development_warns_that_a_shared_secret_mints_tokens(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from services.registry.main import create_app

    settings = SETTINGS_CLASSES["registry"](
        env="production", jwt_secret="s" * 48, data_dir=tmp_path, log_json=True, rate_limit="off"
    )
    create_app(settings)
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    warnings = [line for line in lines if line.get("event") == "shared_secret_in_production"]
    assert [(w["level"], w["service"], w["detail"]) for w in warnings] == [
        ("warning", "registry", SHARED_SECRET_WARNING)
    ]


def test_a_development_service_does_not_warn(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from services.registry.main import create_app

    create_app(SETTINGS_CLASSES["registry"](data_dir=tmp_path, log_json=True, rate_limit="off"))
    assert "shared_secret_in_production" not in capfd.readouterr().err


COMMAND = (sys.executable, "-m", "services.cli", "token")


def test_a_development_token_names_its_issuer_and_optionally_its_client(tmp_path: Path) -> None:
    # `devzones token --client-id` simulates a machine client (a county system) in development.
    def token(*extra: str) -> str:
        return subprocess.run(
            [*COMMAND, "--role", "county", "--division", "130705", "--data-dir", str(tmp_path), *extra],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "DEVZONES_ENV": "development"},
        ).stdout.strip()

    machine, person = token("--client-id", "county-130705-stats"), token()
    key = (tmp_path / DEV_SECRET_FILE).read_text(encoding="ascii").strip()
    assert jwt.decode(machine, key, algorithms=["HS256"], issuer="devzones")["azp"] == "county-130705-stats"
    assert "azp" not in jwt.decode(person, key, algorithms=["HS256"], issuer="devzones")
    assert (decode_token(machine, key).issuer, decode_token(machine, key).client_id) == (
        "devzones",
        "county-130705-stats",
    )
    assert (decode_token(person, key).issuer, decode_token(person, key).client_id) == ("devzones", None)
