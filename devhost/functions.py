"""Load the FunctionApp, index its functions as the worker does (refusing what it refuses),
and invoke them with the host's ``functionTimeout``."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import sys
import threading
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.config import format_timespan
from devhost.indexing import validate

log = logging.getLogger("devhost.functions")

HTTP, QUEUE, BLOB, TIMER = "httpTrigger", "queueTrigger", "blobTrigger", "timerTrigger"


@dataclass(frozen=True)
class FunctionSpec:
    """One indexed function: its name, trigger binding and the Python callable."""

    name: str
    trigger: Mapping[str, Any]
    user_function: Callable[..., Any]

    @property
    def trigger_type(self) -> str:
        return str(self.trigger.get("type", ""))

    @property
    def arg_name(self) -> str:
        return str(self.trigger["name"])

    def annotation(self, param: str) -> Any:
        """The type hint of a parameter, or None."""
        return self._hints.get(param)

    @cached_property
    def _hints(self) -> dict[str, Any]:
        # Strings (PEP 563) resolve against the function's module; indexing checked they do.
        return typing.get_type_hints(self.user_function)

    @cached_property
    def wants_context(self) -> bool:
        """The worker passes ``context`` to functions that declare that parameter."""
        return "context" in inspect.signature(self.user_function).parameters


def load_app(reference: str, root: Path) -> func.FunctionRegister:
    """Import ``module:attribute`` (default attribute ``app``) with the project root on sys.path."""
    module_name, _, attribute = reference.partition(":")
    root_str = str(root.resolve())
    if root_str not in sys.path:
        sys.path.insert(0, root_str)
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app")
    if not isinstance(app, func.FunctionRegister):
        raise TypeError(f"{reference} is not an azure.functions.FunctionApp")
    return app


def index_functions(app: func.FunctionRegister) -> list[FunctionSpec]:
    """Read the app's functions, refusing (``FunctionLoadError``) what the worker refuses.
    ``get_functions()`` may run only once per app object."""
    specs = []
    for function in app.get_functions():
        validate(function)
        trigger = function.get_trigger()
        if trigger is None:
            continue
        specs.append(
            FunctionSpec(
                name=str(function.get_function_name()),
                trigger=_plain(trigger.get_dict_repr()),
                user_function=function.get_user_function(),
            )
        )
    return specs


def _plain(value: Any) -> Any:
    """Enums (HttpMethod, AuthLevel, ...) in the binding dict become their string values."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    enum_value = getattr(value, "value", None)
    if enum_value is not None and not isinstance(value, str | int | float | bool):
        return enum_value
    return value


class InvocationContext(func.Context):
    """The ``context`` argument the Python worker passes to functions that ask for it."""

    def __init__(self, function_name: str, function_directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class FunctionTimeoutError(TimeoutError):
    """The invocation ran past host.json's ``functionTimeout`` and was cancelled."""

    def __init__(self, function_name: str, timeout: float, invocation_id: str) -> None:
        super().__init__(f"Timeout value of {format_timespan(timeout)} exceeded by function "
                         f"'Functions.{function_name}' (Id: '{invocation_id}'). "
                         "Initiating cancellation.")


@dataclass(frozen=True)
class Invoker:
    """Calls user functions as the worker does, within the host's ``functionTimeout``."""

    root: Path
    timeout: float | None = None

    async def __call__(self, spec: FunctionSpec, arguments: Mapping[str, Any]) -> Any:
        context = InvocationContext(spec.name, str(self.root))
        kwargs = dict(arguments)
        if spec.wants_context:
            kwargs["context"] = context
        if self.timeout is None:
            return await _call(spec.user_function, kwargs)
        try:
            async with asyncio.timeout(self.timeout) as scope:
                return await _call(spec.user_function, kwargs)
        except TimeoutError:
            if not scope.expired():
                raise  # the function's own TimeoutError
            error = FunctionTimeoutError(spec.name, self.timeout, context.invocation_id)
            log.error(str(error), extra={"fields": {"function": spec.name}})
            if not inspect.iscoroutinefunction(spec.user_function):
                # A thread cannot be stopped; the real host restarts the worker process.
                log.warning("the function's thread keeps running until it returns",
                            extra={"fields": {"function": spec.name}})
            raise error from None


async def _call(target: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Coroutines are awaited, plain functions run in a worker thread (as the Python worker
    does), so a blocking function never stalls the event loop."""
    if inspect.iscoroutinefunction(target):
        return await target(**kwargs)
    result = await asyncio.to_thread(target, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


class OutageLog:
    """Logs the first failure of a polling loop and its recovery, not every failed poll
    (storage taken down on purpose must not flood the log)."""

    def __init__(self, logger: logging.Logger, what: str, fields: Mapping[str, Any]) -> None:
        self._logger = logger
        self._what = what
        self._fields = dict(fields)
        self._down = False

    def failed(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            self._logger.warning("%s failing: %s", self._what, _one_line(exc),
                                 extra={"fields": self._fields})

    def succeeded(self) -> None:
        if self._down:
            self._down = False
            self._logger.info("%s recovered", self._what, extra={"fields": self._fields})


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
