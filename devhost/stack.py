"""The local services the app talks to, as real child processes under one data directory:

- Azurite (blob, queue, table), ``devhost.azurite``;
- an embedded PostgreSQL from the ``pgserver`` wheel unless a ``DATABASE_URL`` is given,
  ``devhost.postgres``;
- moto's S3 server for the backup store, ``devhost.s3``;
- optionally Debian's ``redis-server`` for the limits shared through ``REDIS_URL``,
  ``devhost.redis_server``;
- optionally Debian's Varnish as the local CDN edge in front of the devhost (``origin_port``),
  ``devhost.varnish``.

Each runs supervised (``devhost.processes``): its own session, stopped in order, and asked by
the kernel to exit if we die.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Protocol

from devhost.azurite import Azurite
from devhost.errors import StackError
from devhost.ports import Port, StackPorts
from devhost.postgres import EmbeddedPostgres
from devhost.redis_server import RedisServer
from devhost.s3 import DEFAULT_REGION, MotoS3
from devhost.varnish import Varnish

ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "dev-secret-change-me-please-32-bytes!"
PROVISION_MODULES = ("shared.db.migrate", "shared.bootstrap")


class Service(Protocol):
    name: str

    def start(self, timeout: float = ...) -> None: ...

    def stop(self) -> None: ...

    def running(self) -> bool: ...

    def env(self) -> dict[str, str]: ...


class LocalStack:
    """The services named in ``services`` under ``data_dir`` (``azurite/``, ``pg/``,
    ``logs/``, ...); reusing ``data_dir`` keeps the data. Each started service is an attribute
    (``stack.azurite``, ``stack.postgres``, ``stack.s3``, ``stack.redis``) that tests may stop
    and start again on the same port."""

    SERVICES = ("azurite", "postgres", "s3", "redis", "varnish")
    DEFAULT_SERVICES = ("azurite", "postgres", "s3")

    def __init__(self, data_dir: Path, ports: StackPorts | None = None,
                 database_url: str | None = None, *, jwt_secret: str | None = None,
                 region: str | None = None, root: Path = ROOT,
                 services: Iterable[str] = DEFAULT_SERVICES, origin_port: int | None = None,
                 cdn_cache_ttl: int | None = None) -> None:
        self.services = tuple(services)
        unknown = set(self.services) - set(self.SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; known: {self.SERVICES}")
        self.data_dir = Path(data_dir).resolve()
        self.ports = ports or StackPorts()
        self.root = root
        self.jwt_secret = jwt_secret or os.environ.get("JWT_SECRET") or DEV_JWT_SECRET
        self.external_database_url = database_url or None
        logs = self.data_dir / "logs"
        wanted = set(self.services)
        self.azurite = (Azurite(root, self.data_dir / "azurite", self.ports, logs / "azurite.log")
                        if "azurite" in wanted else None)
        self.postgres = (EmbeddedPostgres(self.data_dir / "pg", logs / "postgres.log")
                         if "postgres" in wanted and self.external_database_url is None
                         else None)
        self.s3 = (MotoS3(self.ports.moto, self.data_dir, logs / "moto.log",
                          region or os.environ.get("AWS_REGION") or DEFAULT_REGION)
                   if "s3" in wanted else None)
        self.redis = (RedisServer(self.ports.redis_server, self.data_dir / "redis",
                                  logs / "redis.log")
                      if "redis" in wanted else None)
        if "varnish" in wanted and origin_port is None:
            raise ValueError("the varnish service needs origin_port (the devhost's port)")
        ttl = cdn_cache_ttl or int(os.environ.get("CDN_CACHE_TTL") or 86400)
        self.varnish = (Varnish(self.ports.varnish_edge, origin_port or 0,
                                self.data_dir / "varnish", logs / "varnish.log", ttl)
                        if "varnish" in wanted else None)

    @property
    def started_services(self) -> list[Service]:
        """In start order; stopped in reverse."""
        candidates: list[Service | None] = [self.azurite, self.postgres, self.s3, self.redis,
                                            self.varnish]
        return [service for service in candidates if service is not None]

    @property
    def ports_needed(self) -> list[Port]:
        ports: list[Port] = []
        if self.azurite is not None:
            ports += self.ports.azurite
        if self.s3 is not None:
            ports.append(self.ports.moto)
        if self.redis is not None:
            ports.append(self.ports.redis_server)
        if self.varnish is not None:
            ports.append(self.ports.varnish_edge)
        return ports

    # -- lifecycle

    def start(self) -> LocalStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            for service in self.started_services:
                service.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything this stack started; safe to call twice or after a failed start."""
        for service in reversed(self.started_services):
            with contextlib.suppress(Exception):
                service.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what the app needs to reach it

    @property
    def azurite_connection_string(self) -> str:
        if self.azurite is None:
            raise StackError("this stack runs no Azurite")
        return self.azurite.connection_string

    @property
    def database_url(self) -> str:
        if self.external_database_url is not None:
            return self.external_database_url
        if self.postgres is None:
            raise StackError("this stack runs no PostgreSQL")
        return self.postgres.uri

    def env(self) -> dict[str, str]:
        """The settings that point the app at this stack (only for the services it runs)."""
        env = {"JWT_SECRET": self.jwt_secret}
        if self.external_database_url is not None:
            env["DATABASE_URL"] = self.external_database_url
        for service in self.started_services:
            env.update(service.env())
        return env

    def provision(self, extra_env: Mapping[str, str] | None = None,
                  timeout: float = 300.0) -> None:
        """Apply the migrations and create containers, queues and bucket, the way a deployment
        does: by running the project's own commands."""
        env = {**os.environ, **self.env(), **(extra_env or {})}
        for module in PROVISION_MODULES:
            result = subprocess.run(
                [sys.executable, "-m", module], cwd=self.root, env=env, capture_output=True,
                text=True, timeout=timeout, check=False,
            )
            if result.returncode != 0:
                raise StackError(
                    f"`python -m {module}` failed (exit {result.returncode}):\n"
                    f"{(result.stdout + result.stderr).strip()[-4000:]}"
                )
