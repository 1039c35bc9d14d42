"""Index an app with the real Python worker, offline, and print what it found as JSON.

    .venv-worker/bin/python -m devhost.worker_index APP_DIR   (from the project root)

Runs under the worker's own Python (3.13, ``azure-functions-runtime`` from PyPI, in the
``.venv-worker`` the Makefile creates), not the project's: it imports nothing of ``devhost``.
It calls the worker's public handlers the way the host does over gRPC: ``worker_init_request``
(which imports ``APP_DIR/function_app.py``, indexes and validates every function, and starts
the HTTP streaming server when the app uses the extension), then
``functions_metadata_request`` (the metadata the host builds its triggers and routes from).
The host's protocol buffers are not on PyPI, so minimal stand-ins for the message classes
the worker fills are passed as ``protos``; nothing of the worker itself is replaced.

Output: ``{"ok": bool, "error": str | null, "functions": {name: description}}``, each
description in ``devhost.describe``'s form, built here from the worker's raw bindings alone.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any


class _Message(SimpleNamespace):
    """A protocol message: the fields it is built with."""


class BindingInfo(_Message):
    # BindingInfo.Direction and BindingInfo.DataType, as the host's protocol numbers them.
    out, inout = 1, 2
    undefined, string, binary, stream = 0, 1, 2, 3


setattr(BindingInfo, "in", 0)  # a keyword: set as the generated classes have it


class StatusResult(_Message):
    Failure, Success, Cancelled = 0, 1, 2


PROTOS = SimpleNamespace(
    BindingInfo=BindingInfo, StatusResult=StatusResult,
    RpcFunctionMetadata=type("RpcFunctionMetadata", (_Message,), {}),
    RpcRetryOptions=type("RpcRetryOptions", (_Message,), {}),
    RpcException=type("RpcException", (_Message,), {}),
    WorkerInitResponse=type("WorkerInitResponse", (_Message,), {}),
    FunctionMetadataResponse=type("FunctionMetadataResponse", (_Message,), {}),
    WorkerMetadata=type("WorkerMetadata", (_Message,), {}),
)


def _route_parameters(route: str) -> list[str]:
    """Names in a route template's braces, without ``*``, ``?``, default or constraints."""
    names = []
    for piece in route.split("{")[1:]:
        inner = piece.split("}", 1)[0].lstrip("*")
        names.append(inner.split(":", 1)[0].split("=", 1)[0].rstrip("?").strip())
    return sorted(names)


def describe(name: str, bindings: list[dict[str, Any]]) -> dict[str, Any]:
    trigger = next(b for b in bindings if str(b.get("type", "")).endswith("Trigger"))
    kind = trigger["type"]
    described: dict[str, Any] = {"trigger": kind}
    if kind == "httpTrigger":
        route = trigger.get("route") or name
        methods = trigger.get("methods")
        described.update(route=route, route_params=_route_parameters(route),
                         methods=sorted(m.upper() for m in methods) if methods else None,
                         auth_level=str(trigger.get("authLevel") or "").lower() or None)
    elif kind == "queueTrigger":
        described.update(queue=trigger["queueName"], connection=trigger.get("connection"))
    elif kind == "blobTrigger":
        described.update(path=trigger["path"], connection=trigger.get("connection"),
                         source=trigger.get("source") or "LogsAndContainerScan")
    elif kind == "timerTrigger":
        described.update(schedule=trigger["schedule"],
                         run_on_startup=bool(trigger.get("runOnStartup")))
    return described


async def index(app_dir: Path) -> dict[str, Any]:
    from azure_functions_runtime import functions_metadata_request, worker_init_request

    request = SimpleNamespace(
        request=SimpleNamespace(worker_init_request=SimpleNamespace(
            capabilities={}, function_app_directory=str(app_dir))),
        properties={"host": "127.0.0.1", "protos": PROTOS},
    )
    init = await worker_init_request(request)
    if init.result.status != StatusResult.Success:
        return {"ok": False, "error": init.result.exception.message, "functions": {}}
    metadata = await functions_metadata_request(None)
    functions = {
        result.name: describe(result.name, [json.loads(raw) for raw in result.raw_bindings])
        for result in metadata.function_metadata_results or []
    }
    return {"ok": True, "error": None, "functions": functions}


def main() -> int:
    app_dir = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(app_dir))  # as the worker's launcher puts the app first
    print(json.dumps(asyncio.run(index(app_dir)), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
