"""The ``devzones`` command: run, migrate, back up and restore the four services, issue tokens, export OpenAPI.

``devzones up`` starts each service as its own process (as they are deployed), on the
embedded SQLite default unless a ``<SERVICE>_DATABASE_URL`` points elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from libs.domain.kernel.values import Role
from services.common.settings import PORT_OFFSETS, SERVICES, SETTINGS_CLASSES, ServiceSettings, browser_origin

READY_TIMEOUT_SECONDS = 60.0


def _settings(service: str, data_dir: Path | None = None) -> ServiceSettings:
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir is not None else {}
    return SETTINGS_CLASSES[service](**overrides)


def cmd_migrate(args: argparse.Namespace) -> int:
    from services.common.migrations import upgrade

    targets = SERVICES if args.service == "all" else (args.service,)

    async def _run() -> None:
        for service in targets:
            settings = _settings(service, args.data_dir)
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            await upgrade(service, settings.resolved_database_url)
            print(f"{service}: migrated to head", file=sys.stderr)

    asyncio.run(_run())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    module = importlib.import_module(f"services.{args.service}.main")
    settings = _settings(args.service, args.data_dir)
    app = module.create_app(settings)
    port = args.port or 8000 + PORT_OFFSETS[args.service]
    # SIGTERM drains: uvicorn stops accepting connections, lets the requests in flight finish (for at
    # most the shutdown timeout), then runs the lifespan's shutdown (background jobs stopped, the
    # database pool disposed). uvicorn then raises the signal again against the handler it found;
    # this one makes a drained stop exit 0 rather than die of the re-raised SIGTERM (143).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    timeout = args.shutdown_timeout if args.shutdown_timeout is not None else settings.shutdown_timeout_seconds
    uvicorn.run(
        app,
        host=args.host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=max(1, round(timeout)),
        root_path=args.root_path,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    return 0


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value in {"1", "true", "yes", "on"}


def cmd_token(args: argparse.Namespace) -> int:
    from services.common.security import dev_secret_made, issue_token, signing_key

    settings = _settings("registry", args.data_dir)
    created = False
    if settings.env == "development" and settings.jwt_secret is None:
        key, created = dev_secret_made(settings.data_dir)
    else:
        key = signing_key(settings)
    if created:
        print(
            f"warning: created a new development signing key in {settings.data_dir.resolve()}; no service "
            "started from this data dir uses it yet, so the services now running refuse this token. "
            "Start them with the same data dir (`make up` uses var/), or pass the --data-dir they use.",
            file=sys.stderr,
        )
    token = issue_token(
        key,
        sub=args.sub or f"dev-{args.role}",
        roles=[Role(r) for r in args.role.split(",")],
        division=args.division,
        zone=args.zone,
        department=args.department,
        client_id=args.client_id,
        ttl_seconds=args.ttl,
        algorithm=settings.jwt_algorithm,
    )
    print(token)
    return 0


def openapi_document(service: str) -> str:
    """The service's OpenAPI as the text ``devzones openapi`` writes (keys in FastAPI's order, indented, UTF-8)."""
    import tempfile

    module = importlib.import_module(f"services.{service}.main")
    with tempfile.TemporaryDirectory() as scratch:  # building an app may create a development key
        app = module.create_app(_settings(service, Path(scratch)))
        return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def cmd_openapi(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for service in SERVICES if args.service == "all" else (args.service,):
        (out / f"{service}.json").write_text(openapi_document(service), encoding="utf-8")
        print(f"{service}: {out / f'{service}.json'}", file=sys.stderr)
    return 0


def _backup_targets(names: Sequence[str], data_dir: Path | None) -> list[Any]:
    from services.common.backup import targets_of

    unknown = [n for n in names if n not in (*SERVICES, "all")]
    if unknown:
        raise SystemExit(
            f"devzones: 未知的服务 / unknown service: {', '.join(unknown)} (choose from {', '.join(SERVICES)}, all)"
        )
    chosen = SERVICES if not names or "all" in names else tuple(names)
    return targets_of(chosen, {s: _settings(s, data_dir).resolved_database_url for s in SERVICES})


def _say(message: Any) -> None:
    print(message, file=sys.stderr)


def cmd_backup(args: argparse.Namespace) -> int:
    from services.common.backup import backup
    from services.common.pgtools import BackupError

    targets = _backup_targets(args.service, args.data_dir)
    try:
        backup(targets, args.out, _say, pg_bin=args.pg_bin)
    except BackupError as exc:
        print(f"备份失败 / backup failed: {exc.text}", file=sys.stderr)
        return 1
    print(f"备份完成 / backup written: {args.out.resolve()}", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from services.common.backup import read_manifest, restore
    from services.common.pgtools import BackupError

    try:
        names = args.service
        if not names or "all" in names:  # every service the backup holds
            names = [s for s in SERVICES if s in read_manifest(args.source)["services"]]
        targets = _backup_targets(names, args.data_dir)
        done = restore(targets, args.source, _say, force=args.force, pg_bin=args.pg_bin)
    except BackupError as exc:
        print(f"恢复失败 / restore failed: {exc.text}", file=sys.stderr)
        return 1
    behind = [r.service for r in done if r.needs_migrate]
    if behind:
        print(
            f"备份的迁移版本早于本版本代码：启动服务前请运行 `devzones migrate all` / the backup is older than "
            f"this code: run `devzones migrate all` before starting the services ({', '.join(behind)})",
            file=sys.stderr,
        )
    print("恢复完成 / restore done", file=sys.stderr)
    return 0


def _wait_ready(urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            for service, url in list(pending.items()):
                if procs[service].poll() is not None:
                    raise RuntimeError(f"{service} exited with code {procs[service].returncode} while starting")
                try:
                    if client.get(url + "/readyz").status_code == 200:
                        del pending[service]
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.2)


def _stop(procs: dict[str, subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def up_environment(
    args: argparse.Namespace, environ: Mapping[str, str], data_dir: Path, urls: dict[str, str]
) -> dict[str, str]:
    """The environment ``devzones up`` gives each service: ``environ`` with the data dir, the
    services' URLs and, when ``--cors-origin`` is given, the origins (which replace any
    ``DEVZONES_CORS_ORIGINS`` of ``environ``, as ``--data-dir`` replaces ``DEVZONES_DATA_DIR``)."""
    env = dict(environ)
    env["DEVZONES_DATA_DIR"] = str(data_dir)
    for service, url in urls.items():
        env[f"{service.upper()}_URL"] = url
    if args.cors_origin:
        env["DEVZONES_CORS_ORIGINS"] = json.dumps(args.cors_origin)
    return env


DEMO_SKIPPED_UNDER_OIDC = (
    "devzones up: the demo data is not loaded: DEVZONES_OIDC_ISSUER is set, so the services accept only "
    "the identity provider's tokens, and the demo loader signs its own development token (HS256), which "
    "they would refuse. Start with --no-demo to say so; load the demo without DEVZONES_OIDC_ISSUER."
)


def cmd_up(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    urls = {s: f"http://{args.host}:{args.port_base + PORT_OFFSETS[s]}" for s in SERVICES}
    env = up_environment(args, os.environ, data_dir, urls)
    # Create the signing key once, before four processes race to create it (none with OIDC: the
    # services then verify the identity provider's tokens and use no shared key).
    from services.common.security import signing_key

    settings = _settings("registry", data_dir)
    if not settings.oidc_enabled:
        signing_key(settings)
    migrate = subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate", "all", "--data-dir", str(data_dir)], env=env, check=False
    )
    if migrate.returncode != 0:
        print("migration failed", file=sys.stderr)
        return migrate.returncode
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        for service in SERVICES:
            port = args.port_base + PORT_OFFSETS[service]
            procs[service] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "services.cli",
                    "serve",
                    service,
                    "--host",
                    args.host,
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data_dir),
                ],
                env=env,
            )
        _wait_ready(urls, procs, READY_TIMEOUT_SECONDS)
        if not args.no_demo and settings.oidc_enabled:
            print(DEMO_SKIPPED_UNDER_OIDC, file=sys.stderr)
        elif not args.no_demo:
            from services.demo import load_demo

            asyncio.run(load_demo(urls, data_dir))
        print("devzones is up:", file=sys.stderr)
        for service, url in urls.items():
            print(f"  {service:<10} {url}   (docs: {url}/docs)", file=sys.stderr)
        print(f"READY {' '.join(urls[s] for s in SERVICES)}", flush=True)
        while not stopping:
            for service, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{service} exited with code {proc.returncode}; stopping", file=sys.stderr)
                    stopping = True
            time.sleep(0.2)
        return 0
    except RuntimeError as exc:
        print(f"devzones up failed: {exc}", file=sys.stderr)
        return 1
    finally:
        _stop(procs)
        print("devzones stopped", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="devzones", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="migrate and start all four services")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port-base", type=int, default=8000)
    up.add_argument("--data-dir", type=Path, default=Path("var"))
    up.add_argument("--no-demo", action="store_true", help="start empty, without demo data")
    up.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        type=browser_origin,
        metavar="URL",
        help="a browser origin allowed to call the APIs (repeatable; replaces DEVZONES_CORS_ORIGINS)",
    )
    up.set_defaults(func=cmd_up)

    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--data-dir", type=Path, default=None)
    serve.add_argument(
        "--shutdown-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="on SIGTERM, how long requests in flight may finish (default: DEVZONES_SHUTDOWN_TIMEOUT_SECONDS, 20)",
    )
    serve.add_argument(
        "--root-path",
        default=os.environ.get("DEVZONES_ROOT_PATH", ""),
        help="the path prefix a gateway serves this service under, e.g. /registry (DEVZONES_ROOT_PATH); "
        "the OpenAPI `servers` and the docs pages name it",
    )
    serve.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=_env_flag("DEVZONES_PROXY_HEADERS", True),
        help="take the client's address and scheme from the X-Forwarded-For/-Proto of a trusted proxy "
        "(DEVZONES_PROXY_HEADERS; default on, as uvicorn's)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("DEVZONES_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        metavar="ADDRESSES",
        help="the proxies trusted with --proxy-headers: comma-separated addresses or networks, the gateway's "
        "only (DEVZONES_FORWARDED_ALLOW_IPS; default 127.0.0.1)",
    )
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply migrations")
    migrate.add_argument("service", choices=(*SERVICES, "all"))
    migrate.add_argument("--data-dir", type=Path, default=None)
    migrate.set_defaults(func=cmd_migrate)

    token = sub.add_parser("token", help="print a development JWT")
    token.add_argument(
        "--role", required=True, help=f"one or more of {', '.join(r.value for r in Role)}, comma-separated"
    )
    token.add_argument("--division")
    token.add_argument("--zone")
    token.add_argument("--department")
    token.add_argument("--sub")
    token.add_argument(
        "--client-id",
        help="the client the token is issued to (its azp claim), to act as a machine client such as a county system",
    )
    token.add_argument("--ttl", type=int, default=3600)
    token.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the development signing key is (default: DEVZONES_DATA_DIR, else var/, as `make up`)",
    )
    token.set_defaults(func=cmd_token)

    openapi = sub.add_parser("openapi", help="write each service's OpenAPI document (JSON)")
    openapi.add_argument("service", nargs="?", choices=(*SERVICES, "all"), default="all")
    openapi.add_argument("--out", type=Path, default=Path("docs/openapi"))
    openapi.set_defaults(func=cmd_openapi)

    backup = sub.add_parser("backup", help="dump each service's database into a new directory, with a manifest")
    backup.add_argument("service", nargs="*", metavar="SERVICE", help=f"{', '.join(SERVICES)} or all (default: all)")
    backup.add_argument("--out", type=Path, required=True, help="a new or empty directory")
    backup.add_argument("--data-dir", type=Path, default=None, help="where the SQLite databases are (default: var/)")
    backup.add_argument("--pg-bin", type=Path, default=None, help="directory of pg_dump of the server's major version")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="restore each service's database from a backup (checked first)")
    restore.add_argument("service", nargs="*", metavar="SERVICE", help=f"{', '.join(SERVICES)} or all (default: all)")
    restore.add_argument("--from", dest="source", type=Path, required=True, help="the backup directory")
    restore.add_argument("--force", action="store_true", help="overwrite a database that already holds data")
    restore.add_argument("--data-dir", type=Path, default=None, help="where the SQLite databases are (default: var/)")
    restore.add_argument(
        "--pg-bin", type=Path, default=None, help="directory of pg_restore of the server's major version"
    )
    restore.set_defaults(func=cmd_restore)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``devzones`` console script."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
