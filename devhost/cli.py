"""``python -m devhost serve | token | stack``."""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from devhost.config import apply_host_environment, apply_local_settings

if TYPE_CHECKING:
    from devhost.stack import LocalStack

SETTINGS_FILE = "local.settings.json"
EXAMPLE_SETTINGS_FILE = "local.settings.example.json"
DEFAULT_PORT = 8089

log = logging.getLogger("devhost.stack")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.command(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the function app against the environment")
    _add_serve_options(serve)
    serve.set_defaults(command=cmd_serve)

    index = commands.add_parser("index", help="print the functions the devhost would serve "
                                "(JSON), or refuse the app as the worker would (exit 1)")
    index.add_argument("--root", type=Path, default=Path.cwd(), help="project root")
    index.add_argument("--app", default="function_app:app", help="module:attribute")
    index.set_defaults(command=cmd_index)

    token = commands.add_parser("token", help="print a development JWT")
    token.add_argument("--sub", required=True, help="user id (the sub claim)")
    token.add_argument("--role", required=True, choices=["user", "premium", "admin"])
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.add_argument("--root", type=Path, default=Path.cwd(), help=argparse.SUPPRESS)
    token.set_defaults(command=cmd_token)

    stack = commands.add_parser("stack", help="start Azurite, PostgreSQL, moto S3 and serve")
    _add_serve_options(stack)
    stack.add_argument("--data-dir", type=Path, help="where the services keep data (ROOT/.local)")
    stack.add_argument("--redis", action="store_true",
                       help="also start redis-server on REDIS_PORT (6380) and set REDIS_URL")
    stack.add_argument("--no-cdn", action="store_true",
                       help="do not start Varnish, the local CDN, on VARNISH_PORT (6081)")
    stack.add_argument("--no-provision", action="store_true",
                       help="skip `python -m shared.db.migrate` and `python -m shared.bootstrap`")
    stack.set_defaults(command=cmd_stack)
    return parser


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("DEVHOST_PORT", DEFAULT_PORT)))
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root")
    parser.add_argument("--app", default="function_app:app",
                        help="module:attribute of the FunctionApp (default function_app:app)")
    parser.add_argument("--host-json", type=Path, help="host.json to use (default ROOT/host.json)")
    parser.add_argument("--no-settings", action="store_true",
                        help=f"ignore {SETTINGS_FILE} (the environment is complete)")


def cmd_serve(args: argparse.Namespace) -> int:
    from devhost.logs import configure_logging

    # A native library that crashes the host (SIGSEGV) leaves every thread's Python stack
    # in the log, not only the exit code.
    faulthandler.enable()
    root = args.root.resolve()
    if not args.no_settings:
        apply_local_settings(root / SETTINGS_FILE)
    apply_host_environment()
    configure_logging()
    from devhost.host import DevHost, serve
    from devhost.indexing import FunctionLoadError

    try:
        host = DevHost(args.app, root, args.host_json)
    except FunctionLoadError as exc:
        # The worker fails the whole app at start-up on these: so do we, loudly.
        log.error("the Python worker would refuse this app: %s", exc)
        print(f"devhost: the Python worker would refuse this app: {exc}", file=sys.stderr)
        return 1
    if metrics_port := _prometheus_port():
        host.serve_metrics(args.host, metrics_port)
    serve(host, args.host, args.port)
    return 0


def _prometheus_port() -> int:
    """PROMETHEUS_PORT as shared/settings.py reads it (after the app loaded, so that its own
    settings errors come first, as under `func`); 0 when unset or unreadable, said so."""
    from pydantic import ValidationError

    from shared.settings import get_settings

    try:
        return get_settings().prometheus_port
    except ValidationError as exc:
        log.warning("no Prometheus metrics: the settings do not validate (%s errors)",
                    exc.error_count())
        return 0


def cmd_index(args: argparse.Namespace) -> int:
    from devhost.describe import describe
    from devhost.functions import index_functions, load_app
    from devhost.indexing import FunctionLoadError

    try:
        specs = index_functions(load_app(args.app, args.root.resolve()))
    except FunctionLoadError as exc:
        print(json.dumps({"ok": False, "error": str(exc), "functions": {}}, indent=1))
        return 1
    functions = {spec.name: describe(spec) for spec in specs}
    print(json.dumps({"ok": True, "error": None, "functions": functions}, indent=1,
                     sort_keys=True))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from devhost.tokens import mint_token

    # The same settings file `make run` uses (created from the example if it is missing),
    # so a token minted before the first `make run` is accepted by it.
    _ensure_settings_file(args.root.resolve())
    apply_local_settings(args.root.resolve() / SETTINGS_FILE)
    secret = os.environ.get("JWT_SECRET", "")
    if not secret:
        print(f"JWT_SECRET is not set (environment or {SETTINGS_FILE})", file=sys.stderr)
        return 1
    extra = {claim: os.environ[var] for claim, var in
             (("iss", "JWT_ISSUER"), ("aud", "JWT_AUDIENCE")) if os.environ.get(var)}
    print(mint_token(args.sub, args.role, secret, ttl=args.ttl, **extra))
    return 0


def _local_cdn(disabled: bool) -> list[str]:
    """Varnish in front of the devhost when Debian's package is there; otherwise a clear
    line, and the stack without a CDN (files then get no CDN URL)."""
    from devhost.varnish import available

    if disabled:
        return []
    if not available():
        log.warning("varnish is not installed: the local CDN is off (files get no CDN URL). "
                    "As root: bash scripts/install-test-tools.sh varnish")
        return []
    return ["varnish"]


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def cmd_stack(args: argparse.Namespace) -> int:
    from devhost.errors import StackError
    from devhost.hostprocess import DevhostProcess
    from devhost.logs import configure_logging
    from devhost.ports import Port, StackPorts, check_ports
    from devhost.processes import signals_deferred
    from devhost.stack import LocalStack

    configure_logging()
    root = args.root.resolve()
    if not args.no_settings:
        apply_local_settings(root / SETTINGS_FILE)
    services = [*LocalStack.DEFAULT_SERVICES, *(["redis"] if args.redis else []),
                *_local_cdn(args.no_cdn)]
    stack = LocalStack(args.data_dir or root / ".local", StackPorts.from_env(),
                       database_url=os.environ.get("DATABASE_URL") or None, root=root,
                       services=services, origin_port=args.port)
    try:
        check_ports([*stack.ports_needed, Port(args.port, "devhost", "DEVHOST_PORT or --port")])
    except StackError as exc:
        print(exc, file=sys.stderr)
        return 1
    if not args.no_settings and _ensure_settings_file(root):
        apply_local_settings(root / SETTINGS_FILE)

    # SIGTERM/SIGHUP take the same orderly way out as Ctrl-C (SIGINT is set explicitly: a
    # shell starting us in the background would have it ignored).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    devhost: DevhostProcess | None = None
    try:
        _start(stack, provision=not args.no_provision)
        devhost = DevhostProcess(
            {**stack.env(), "PUBLIC_BASE_URL": os.environ.get(
                "PUBLIC_BASE_URL", f"http://127.0.0.1:{args.port}")},
            args.port, app=args.app, bind=args.host, host_json=args.host_json, root=root,
            load_settings_file=not args.no_settings,
        )
        devhost.start()
        log.info("ready: the API is served on http://%s:%s (Ctrl-C stops everything); "
                 "a dev token: make token SUB=alice ROLE=user", args.host, args.port)
        code = devhost.wait()
        log.error("devhost exited with code %s; stopping the stack", code)
        return code or 1
    except KeyboardInterrupt:
        log.info("stopping")
        return 0
    except StackError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        with signals_deferred():
            if devhost is not None:
                devhost.stop()
            stack.stop()


def _start(stack: LocalStack, provision: bool) -> None:
    log.info("starting %s", ", ".join(service.name for service in stack.started_services),
             extra={"fields": {"data_dir": str(stack.data_dir)}})
    stack.start()
    log.info("services up", extra={"fields": {
        "blob": stack.ports.blob, "queue": stack.ports.queue, "s3": stack.ports.s3,
        "database": _without_password(stack.database_url),
        **({"redis": stack.redis.url} if stack.redis else {}),
        **({"cdn": stack.varnish.url} if stack.varnish else {})}})
    if provision:
        log.info("applying migrations and provisioning storage")
        stack.provision()


def _without_password(url: str) -> str:
    """A DATABASE_URL fit for a log line."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _ensure_settings_file(root: Path) -> bool:
    """Create local.settings.json from the example, as a first `make run` needs."""
    target, example = root / SETTINGS_FILE, root / EXAMPLE_SETTINGS_FILE
    if target.exists() or not example.exists():
        return False
    shutil.copyfile(example, target)
    log.info("created %s from %s", SETTINGS_FILE, EXAMPLE_SETTINGS_FILE)
    return True
