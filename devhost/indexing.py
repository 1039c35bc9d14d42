"""What the Python worker checks when it indexes the app, so that the devhost refuses what
the worker refuses (the worker then fails the whole app at start-up).

The rules follow ``azure-functions-runtime`` (the Python 3.13 worker): every parameter has a
binding and every binding a parameter (``context`` excepted), annotations resolve and are
types, ``Out[...]`` matches the binding's direction, and each annotation is one the binding
accepts: for an HTTP trigger beside the HTTP streaming extension, only the extension's request
type (``func.HttpRequest`` is refused); for SDK types, the extension's registry; otherwise
``azure.functions``' converters. ``tests/devhost/test_devhost_worker.py`` runs the real worker
on the same apps and checks both agree.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable, Mapping
from typing import Any

import azure.functions as func

HTTP_TRIGGER, HTTP_OUTPUT = "httpTrigger", "http"
RETURN = "$return"


class FunctionLoadError(RuntimeError):
    def __init__(self, function_name: str, message: str) -> None:
        super().__init__(f"cannot load the {function_name} function: {message}")


def _streaming_extension() -> Any | None:
    """``azurefunctions.extensions.base`` when the app imported an HTTP streaming extension."""
    base = sys.modules.get("azurefunctions.extensions.base")
    if base is None or not base.HttpV2FeatureChecker.http_v2_enabled():
        return None
    return base


def _sdk_registry() -> Any | None:
    base = sys.modules.get("azurefunctions.extensions.base")
    return base.get_binding_registry() if base is not None else None


def _converter(binding_type: str, deferred: bool) -> Any | None:
    registry = _sdk_registry() if deferred else func.get_binding_registry()
    return registry.get(binding_type) if registry is not None else None


def _is_sdk_type(annotation: Any) -> bool:
    registry = _sdk_registry()
    return registry is not None and bool(registry.check_supported_type(annotation))


def _implicit_output(binding_type: str) -> bool:
    converter = _converter(binding_type, deferred=False)
    if converter is None:  # the worker's generic binding
        return binding_type != "durableClient"
    return bool(getattr(converter, "has_implicit_output", lambda: False)())


def _accepts_input(binding_type: str, pytype: Any, deferred: bool) -> bool:
    if binding_type == HTTP_TRIGGER and (streaming := _streaming_extension()) is not None:
        return bool(streaming.RequestTrackerMeta.check_type(pytype))
    converter = _converter(binding_type, deferred)
    if converter is None:
        return isinstance(pytype, type) and issubclass(pytype, str | bytes)
    return bool(converter.check_input_type_annotation(pytype))


def _accepts_output(binding_type: str, pytype: Any) -> bool:
    if binding_type == HTTP_OUTPUT and (streaming := _streaming_extension()) is not None:
        return bool(streaming.ResponseTrackerMeta.check_type(pytype))
    converter = _converter(binding_type, deferred=False)
    if converter is None:
        return isinstance(pytype, type) and issubclass(pytype, str | bytes | bytearray)
    return bool(converter.check_output_type_annotation(pytype))


def _is_generic(annotation: Any) -> bool:
    return typing.get_origin(annotation) is not None


def _is_out(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and origin.__name__ == "Out"


def validate(function: func.Function) -> None:
    """Raise ``FunctionLoadError`` where the worker would refuse ``function``."""
    name = str(function.get_function_name())
    user_function: Callable[..., Any] = function.get_user_function()
    try:
        hints = typing.get_type_hints(user_function)
    except Exception as exc:  # NameError, AttributeError, SyntaxError in a string hint...
        raise FunctionLoadError(name, f"an annotation does not resolve: {exc!r}") from exc
    bindings = {binding.name: binding for binding in function.get_bindings()}
    for binding in bindings.values():
        direction = _direction(binding)
        if direction == "inout":
            raise FunctionLoadError(name, '"inout" bindings are not supported')
        if binding.name == RETURN and direction != "out":
            raise FunctionLoadError(name, '"$return" binding must have direction set to "out"')
    params = dict(inspect.signature(user_function).parameters)
    if "context" in params and "context" not in bindings:
        params.pop("context")
        context_hint = hints.get("context")
        if "context" in hints and not (isinstance(context_hint, type)
                                       and context_hint.__name__ == "Context"):
            raise FunctionLoadError(name, 'the "context" parameter is expected to be of type '
                                    f"azure.functions.Context, got {context_hint!r}")
    bound = {str(key): value for key, value in bindings.items() if key != RETURN}
    if unbound := set(params) - set(bound):
        raise FunctionLoadError(name, "these parameters are declared in Python but have no "
                                f"binding: {sorted(unbound)}")
    if unused := set(bound) - set(params):
        raise FunctionLoadError(name, f"these bindings have no Python parameter: {sorted(unused)}")
    for param in params:
        _check_parameter(name, param, bound[param], hints)
    if RETURN in bindings and "return" in hints:
        _check_return(name, str(bindings[RETURN].type), hints["return"])


_DIRECTIONS = {0: "in", 1: "out", 2: "inout"}  # the host protocol's BindingInfo.Direction


def _direction(binding: Any) -> str:
    direction = binding.direction
    if isinstance(direction, int):
        return _DIRECTIONS.get(int(direction), str(direction))
    return str(getattr(direction, "name", direction)).lower()


def _check_parameter(name: str, param: str, binding: Any, hints: Mapping[str, Any]) -> None:
    if param not in hints:
        return
    hint = hints[param]
    is_out = _is_out(hint)
    pytype = typing.get_args(hint)[0] if is_out and typing.get_args(hint) else hint
    if not isinstance(pytype, type) and not _is_generic(pytype):
        raise FunctionLoadError(name, f"binding {param} has invalid non-type annotation {hint!r}")
    binding_is_out = _direction(binding) == "out"
    if binding_is_out and not is_out:
        raise FunctionLoadError(name, f"binding {param} has the out direction, but its "
                                "annotation is not azure.functions.Out")
    if is_out and not binding_is_out:
        raise FunctionLoadError(name, f"binding {param} has the in direction, but its "
                                "annotation is azure.functions.Out")
    binding_type = str(binding.type)
    if pytype in (str, bytes) and not _implicit_output(binding_type):
        binding_type = "generic"
    accepted = (_accepts_output(binding_type, pytype) if is_out
                else _accepts_input(binding_type, pytype, _is_sdk_type(hint)))
    if not accepted:
        raise FunctionLoadError(name, f"the {binding.type!r} binding of {param} does not accept "
                                f"its Python annotation {getattr(pytype, '__name__', pytype)}")


def _check_return(name: str, binding_type: str, hint: Any) -> None:
    if _is_out(hint):
        raise FunctionLoadError(name, "return annotation should not be azure.functions.Out")
    if not isinstance(hint, type):
        raise FunctionLoadError(name, f"has invalid non-type return annotation {hint!r}")
    if not _accepts_output(binding_type, hint):
        raise FunctionLoadError(name, f"return annotation {hint.__name__} does not match the "
                                f"{binding_type!r} binding")
