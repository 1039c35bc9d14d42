"""``python -m bench soak [--clients N] [--seconds D]`` (``make soak``): a mixed workload from
N concurrent clients for D seconds against a private local stack, then the checks that
nothing was lost (``bench.soak.verify``) and the figures (``bench.soak.report``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.soak import report, verify
from bench.soak.workload import Client, MiB, Record
from devhost.hostprocess import DevhostProcess
from devhost.ports import StackPorts, free_ports
from devhost.stack import LocalStack
from devhost.tokens import mint_token

SETTINGS = {
    "AZURE_FUNCTIONS_ENVIRONMENT": "Development", "AZURE_CONTAINER_NAME": "visiobook-files",
    "MAX_FILE_SIZE": "25MB", "MAX_RESUMABLE_FILE_SIZE": "25MB", "QUOTA_USER_BYTES": "100GB",
    "QUOTA_PREMIUM_BYTES": "100GB", "ALLOWED_MIME_TYPES": "image/png,text/plain",
    "RESUMABLE_CHUNK_SIZE": "1MB", "RESUMABLE_MIN_CHUNK_SIZE": "256KB",
    "DEVHOST_BLOB_POLL_SECONDS": "0.5", "RECONCILE_INTERVAL_HOURS": "0",
    # Every minute: failed backup copies are retried by the timer, as in Azure.
    "LIFECYCLE_SCHEDULE": "0 * * * * *",
}


@contextlib.contextmanager
def soak_stack(data_dir: Path, **extra: str) -> Iterator[tuple[dict[str, str], DevhostProcess]]:
    """A private stack (Azurite, PostgreSQL, moto) and one devhost, on free ports."""
    stack = LocalStack(data_dir, StackPorts.free())
    with stack:
        port = free_ports(1)[0]
        env = {**stack.env(), **SETTINGS, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
               **extra}
        stack.provision(env)
        with DevhostProcess(env, port, log_path=data_dir / "devhost.log") as host:
            yield env, host


async def drive(url: str, env: dict[str, str], clients: int, seconds: float, *,
                max_size: int, budget: int, seed: int) -> tuple[Record, list[str], float]:
    record = Record()
    users = [f"soak-{seed}-{n}" for n in range(math.ceil(clients / 2))]  # two clients a user
    shared_budget = [budget]
    # Idle connections are dropped after 4 s: downloads follow their redirect to Azurite,
    # which (Node's default) closes idle ones after 5 s, httpx's own expiry, so a reused one
    # could be closed under the request.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients,
                          keepalive_expiry=4.0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        workers = [Client(http, mint_token(users[n // 2], "premium", env["JWT_SECRET"]),
                          users[n // 2], record, random.Random(seed * 1000 + n),
                          max_size=max_size, budget=shared_budget, chunk_size=MiB)
                   for n in range(clients)]
        started = time.monotonic()
        await asyncio.gather(*(worker.run(started + seconds) for worker in workers))
        elapsed = time.monotonic() - started
    return record, users, elapsed


def run(clients: int = 100, seconds: float = 300, *, max_size: int = 20 * MiB,
        budget: int = 3 * 1024 * MiB, seed: int | None = None,
        data_dir: Path | None = None) -> dict[str, Any]:
    """The whole soak; the result holds the figures, the checks' problems and the RSS."""
    seed = seed if seed is not None else random.randrange(10**6)
    with contextlib.ExitStack() as cleanup:
        if data_dir is None:
            data_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
            data_dir.chmod(0o755)  # the embedded PostgreSQL may run as its own user
        env, host = cleanup.enter_context(soak_stack(data_dir))
        assert host.pid is not None
        with report.RssSampler(host.pid, interval=max(1.0, seconds / 30)) as rss:
            record, users, elapsed = asyncio.run(drive(
                host.url, env, clients, seconds, max_size=max_size, budget=budget, seed=seed))
        checks = verify.check(env, record.stored, users)
        return {"clients": clients, "seed": seed, "figures": report.summary(record, elapsed),
                "checks": checks, "unexpected": record.failures,
                "rss_mib": [(at, value / MiB) for at, value in rss.samples]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--max-size", type=int, default=20 * MiB, help="largest upload, bytes")
    parser.add_argument("--budget-mib", type=int, default=3072,
                        help="upload volume after which only small files are sent")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = run(args.clients, args.seconds, max_size=args.max_size,
                 budget=args.budget_mib * MiB)
    print("\n".join(report.lines(result)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    figures = result["figures"]
    failed = (figures["server_errors"] or figures["connection_errors"]
              or any(result["checks"]["problems"].values()))
    return 1 if failed else 0
