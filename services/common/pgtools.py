"""PostgreSQL's own client tools (``pg_dump``, ``pg_restore``) driven for ``devzones backup`` and
``devzones restore``: the libpq URL of a service's SQLAlchemy URL, the tools of the server's major
version, and the password passed in the environment (``PGPASSWORD``), never on a command line
another user could read in the process list.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from libs.domain.kernel.i18n import Text

DEBIAN_BIN = "/usr/lib/postgresql/{major}/bin"
"""Where Debian's postgresql-client-<major> puts the tools of one major version."""
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")
_SSL_MODES = {"true": "require", "false": "disable"}


class BackupError(Exception):
    """A backup or a restore refused or failed; the message says why, Chinese first."""

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text


@dataclass(frozen=True)
class Libpq:
    """How a libpq tool connects: the URL (no password in it) and the environment (the password)."""

    url: str
    env: dict[str, str]


def libpq(sqlalchemy_url: str) -> Libpq:
    """The libpq connection of a SQLAlchemy PostgreSQL URL (``postgresql+asyncpg://…``).

    The password moves to ``PGPASSWORD``; asyncpg's ``ssl=`` query parameter becomes libpq's
    ``sslmode``; other query parameters are libpq's already (``sslmode``, ``application_name``…)."""
    url = make_url(sqlalchemy_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {url.render_as_string(hide_password=True)}")
    query = dict(url.query)
    ssl = query.pop("ssl", None)
    if isinstance(ssl, str) and "sslmode" not in query:
        query["sslmode"] = _SSL_MODES.get(ssl.lower(), ssl)
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    # URL.set(password=None) keeps the password: build the URL anew without it.
    plain = URL.create("postgresql", url.username, None, url.host, url.port, url.database, query)
    return Libpq(url=plain.render_as_string(hide_password=False), env=env)


def tool(name: str, server_major: int, pg_bin: Path | None = None) -> Path:
    """The ``pg_dump`` or ``pg_restore`` of the server's major version.

    Looked for in ``pg_bin`` when given, else in Debian's per-version directory, else on the PATH;
    a tool of another major version is refused (an older one cannot read a newer server, and a
    dump made by a newer one may not restore into this server)."""
    candidates: list[Path] = []
    if pg_bin is not None:
        candidates.append(pg_bin / name)
    else:
        candidates.append(Path(DEBIAN_BIN.format(major=server_major)) / name)
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    seen: list[str] = []
    for path in candidates:
        if not (path.is_file() and os.access(path, os.X_OK)):
            continue
        major = tool_major(path)
        if major == server_major:
            return path
        seen.append(f"{path} ({major})")
    where = "; ".join(seen) if seen else "—"
    raise BackupError(
        Text(
            f"找不到与服务器主版本 {server_major} 一致的 {name}（找到：{where}）。请安装 "
            f"postgresql-client-{server_major}，或用 --pg-bin 指定其目录。",
            f"no {name} of the server's major version {server_major} found (found: {where}). Install "
            f"postgresql-client-{server_major}, or name its directory with --pg-bin.",
        )
    )


def tool_major(path: Path) -> int | None:
    """The major version a PostgreSQL tool reports (``pg_dump (PostgreSQL) 15.4`` → 15)."""
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return None
    match = _VERSION.search(out.stdout)
    return int(match.group(1)) if match else None


def run(args: list[str], conn: Libpq, what: Text) -> None:
    """Run a tool; on failure raise :class:`BackupError` with ``what`` and the tool's own stderr."""
    proc = subprocess.run(args, env=conn.env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = proc.stderr.strip()[-2000:] or f"exit code {proc.returncode}"
        raise BackupError(Text(f"{what.zh}：{detail}", f"{what.en}: {detail}"))
