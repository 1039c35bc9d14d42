"""Session fixtures: one real local stack (Azurite, PostgreSQL, moto S3, Redis) and one devhost
per test session, on ports the OS hands out and in a temporary directory, so that test runs
side by side never collide and never touch the fixed ports of `make run`.

- ``service_dir``    ``service_dir(name) -> Path``: a fresh directory for a stack's data
- ``stack``          the started ``devhost.stack.LocalStack`` (migrated and provisioned), with
                     Redis (``stack.redis.url`` is the app's ``REDIS_URL``) and Varnish in
                     front of the devhost (``stack.varnish.url`` is ``AZURE_CDN_ENDPOINT``)
- ``stack_env``      the app's settings pointing at it (dict; ``REDIS_URL`` included)
- ``devhost``        the running ``devhost.hostprocess.DevhostProcess``; ``base_url`` its URL
- ``api``            an ``httpx.Client`` on ``base_url``
- ``token_for``      ``token_for(sub, role="user", **claims) -> str`` (HS256, the stack's secret)
- ``auth_headers``   ``auth_headers(sub, role="user", **claims) -> {"Authorization": ...}``
- ``app_functions``  ``{name: azure.functions Function}`` of ``function_app.app``, in-process
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) needs the root too
    sys.path.insert(0, str(ROOT))

from devhost.errors import StackError  # noqa: E402
from devhost.hostprocess import DevhostProcess  # noqa: E402
from devhost.ports import StackPorts, free_ports  # noqa: E402
from devhost.stack import LocalStack  # noqa: E402
from devhost.tokens import mint_token  # noqa: E402

EXAMPLE_SETTINGS = ROOT / "local.settings.example.json"


def example_settings() -> dict[str, str]:
    """The documented local settings: the base every test configuration starts from."""
    values = json.loads(EXAMPLE_SETTINGS.read_text(encoding="utf-8"))["Values"]
    return {key: str(value) for key, value in values.items()}


@pytest.fixture(scope="session")
def devhost_port() -> int:
    return free_ports(1)[0]


@pytest.fixture(scope="session")
def service_dir() -> Iterator[Callable[[str], Path]]:
    """``service_dir(name)``: a new directory for a stack's data, outside pytest's temporary
    root. pytest takes the group and other permissions off that root at every session start
    (another worktree's session too), and the embedded PostgreSQL, which runs as its own user
    when we are root, must be able to traverse the path to its data."""
    base = Path(tempfile.mkdtemp(prefix="devhost-tests-"))
    base.chmod(0o755)
    counter = itertools.count()

    def make(name: str) -> Path:
        path = base / f"{name}-{next(counter)}"
        path.mkdir()
        return path

    yield make
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(service_dir: Callable[[str], Path], devhost_port: int) -> Iterator[LocalStack]:
    local = LocalStack(
        service_dir("stack"),
        StackPorts.free(),
        database_url=os.environ.get("DATABASE_URL") or None,
        jwt_secret=example_settings()["JWT_SECRET"],
        services=(*LocalStack.DEFAULT_SERVICES, "redis", "varnish"),
        origin_port=devhost_port,  # Varnish, the local CDN, in front of the session's devhost
    )
    try:
        local.start()
        local.provision(extra_env=_settings_for(local, devhost_port))
    except StackError as exc:
        local.stop()
        pytest.fail(f"the local stack could not be prepared: {exc}", pytrace=False)
    try:
        yield local
    finally:
        local.stop()


def _settings_for(local: LocalStack, devhost_port: int) -> dict[str, str]:
    return {
        **example_settings(),
        **local.env(),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{devhost_port}",
        "DEVHOST_BLOB_POLL_SECONDS": "0.5",
        # Once a year: maintenance firing in the middle of a test would make it flaky;
        # tests run it explicitly (app_functions) when they mean to.
        "LIFECYCLE_SCHEDULE": "0 0 0 1 1 *",
        # The timer reconciles nothing on its own (tests reconcile on demand, admin route).
        "RECONCILE_INTERVAL_HOURS": "0",
        # Small limits, so that the refusals can be reached with small files; 1 MiB blocks,
        # so that ordinary test files take the multi-block path.
        "MAX_FILE_SIZE": "3MB",
        "QUOTA_USER_BYTES": "8MB",
        "QUOTA_PREMIUM_BYTES": "20MB",
        "UPLOAD_BLOCK_SIZE": "1MB",
        # Resumable uploads: small chunks (a few frames), so that every path is reached with
        # files of a few hundred KiB.
        "MAX_RESUMABLE_FILE_SIZE": "6MB",
        "RESUMABLE_CHUNK_SIZE": "128KB",
        "RESUMABLE_MIN_CHUNK_SIZE": "64KB",
        "ALLOWED_MIME_TYPES": f"{example_settings()['ALLOWED_MIME_TYPES']},image/svg+xml",
    }


@pytest.fixture(scope="session")
def stack_env(stack: LocalStack, devhost_port: int) -> dict[str, str]:
    return _settings_for(stack, devhost_port)


@pytest.fixture(scope="session")
def devhost(stack_env: dict[str, str], devhost_port: int,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevhostProcess]:
    log_path = tmp_path_factory.mktemp("devhost") / "devhost.log"
    with DevhostProcess(stack_env, devhost_port, log_path=log_path) as process:
        _session_devhost.append(process)
        yield process
        _session_devhost.clear()


_session_devhost: list[DevhostProcess] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """When the session's devhost has died, say so on the failing test, with how it ended
    and its last log lines, and stop the session: every later test would only fail to
    connect, burying the cause."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed or not _session_devhost or _session_devhost[0].running:
        return
    process = _session_devhost[0]
    ended = f"the session's devhost exited with code {process.returncode}"
    report.sections.append(("devhost", f"{ended}\n{process.log_tail(60)}"))
    item.session.shouldstop = ended


@pytest.fixture(scope="session")
def base_url(devhost: DevhostProcess) -> str:
    return devhost.url


@pytest.fixture(scope="session")
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def token_for(stack_env: dict[str, str]) -> Callable[..., str]:
    def make(sub: str, role: str = "user", **claims: Any) -> str:
        return mint_token(sub, role, stack_env["JWT_SECRET"], **claims)

    return make


@pytest.fixture(scope="session")
def auth_headers(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def make(sub: str, role: str = "user", **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(sub, role, **claims)}"}

    return make


@pytest.fixture(scope="session")
def app_functions(stack_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """The registered function objects, for calling them in-process against the stack.

    ``get_functions()`` may run only once per app, hence one session-wide call.
    """
    saved = dict(os.environ)
    os.environ.update(stack_env)
    _reset_settings_cache()
    try:
        app = importlib.import_module("function_app").app
        yield {function.get_function_name(): function for function in app.get_functions()}
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _reset_settings_cache()


def _reset_settings_cache() -> None:
    """Settings are cached per process; a changed environment must be read again."""
    settings = sys.modules.get("shared.settings")
    cached = getattr(settings, "get_settings", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()
