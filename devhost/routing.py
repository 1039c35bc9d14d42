"""HTTP route templates matched the way the Functions host matches them.

The host maps each HTTP function with ASP.NET Core's ``Route`` and an
``HttpMethodRouteConstraint`` of its methods, sorted by the WebJobs route builder's
precedence, and takes the first route whose template *and* method constraint match:

- literal segments match case-insensitively; a trailing slash is ignored (never redirected);
- a parameter matches one non-empty segment, ``{x?}`` may be absent, ``{x=v}`` has a default,
  ``{*x}`` takes the rest of the path; inline constraints (``{id:guid}``) must hold or the
  route does not match;
- a method outside a route's list skips the route (the next one may match, a catch-all
  included); ``HEAD`` is not ``GET``; nothing matching is a 404 with an empty body;
- order: segment by segment, a literal before a parameter, a parameter with more constraints
  before one with fewer, literals alphabetically (case-insensitive), then the longer template
  first; a catch-all comes after any route it ties with.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import unquote

T = TypeVar("T")


class RouteTemplateError(ValueError):
    """A route template the host would refuse (or the devhost cannot serve faithfully)."""


# -- inline constraints (ASP.NET's names); each takes the constraint's arguments and answers
# whether a route value satisfies it.


def _is_int(value: str, bits: int) -> bool:
    try:
        number = int(value, 10)
    except ValueError:
        return False
    return value.strip() == value and -(2 ** (bits - 1)) <= number < 2 ** (bits - 1)


def _is_float(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


Check = Callable[[str], bool]
_CONSTRAINTS: dict[str, Callable[[list[str]], Check]] = {
    "int": lambda _: functools.partial(_is_int, bits=32),
    "long": lambda _: functools.partial(_is_int, bits=64),
    "bool": lambda _: lambda value: value.lower() in {"true", "false"},
    "guid": lambda _: _is_guid,
    "float": lambda _: _is_float,
    "double": lambda _: _is_float,
    "decimal": lambda _: _is_float,
    "alpha": lambda _: lambda value: value.isascii() and value.isalpha(),
    "min": lambda args: lambda value: _is_int(value, 64) and int(value) >= int(args[0]),
    "max": lambda args: lambda value: _is_int(value, 64) and int(value) <= int(args[0]),
    "range": lambda args: lambda value: (_is_int(value, 64)
                                         and int(args[0]) <= int(value) <= int(args[1])),
    "minlength": lambda args: lambda value: len(value) >= int(args[0]),
    "maxlength": lambda args: lambda value: len(value) <= int(args[0]),
    "length": lambda args: (
        (lambda value: len(value) == int(args[0])) if len(args) == 1
        else (lambda value: int(args[0]) <= len(value) <= int(args[1]))),
}


def _constraint(text: str, template: str) -> Check:
    name, _, rest = text.partition("(")
    args = [arg.strip() for arg in rest.rstrip(")").split(",")] if rest else []
    factory = _CONSTRAINTS.get(name.strip().lower())
    if factory is None:
        raise RouteTemplateError(f"route {template!r}: the constraint {name!r} is unknown or "
                                 f"not supported by the devhost")
    try:
        return factory(args)
    except (ValueError, IndexError) as exc:
        raise RouteTemplateError(f"route {template!r}: bad arguments in {text!r}") from exc


@dataclass(frozen=True)
class Segment:
    literal: str | None = None
    name: str | None = None
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    constraints: tuple[Check, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, text: str, template: str) -> Segment:
        if "{" not in text and "}" not in text:
            if not text:
                raise RouteTemplateError(f"route {template!r}: empty segment")
            return cls(literal=text)
        if not (text.startswith("{") and text.endswith("}")) or text.count("{") != 1:
            raise RouteTemplateError(f"route {template!r}: segment {text!r} mixes literal text "
                                     "and parameters, which the devhost does not serve")
        inner = text[1:-1]
        catch_all = inner.startswith("*")
        inner = inner.lstrip("*")
        head, *constraint_texts = inner.split(":")
        name, _, default = head.partition("=")
        optional = name.endswith("?")
        name = name.rstrip("?").strip()
        if not name.isidentifier():
            raise RouteTemplateError(f"route {template!r}: bad parameter name in {text!r}")
        return cls(name=name, optional=optional, default=default or None, catch_all=catch_all,
                   constraints=tuple(_constraint(c, template) for c in constraint_texts))

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.constraints)


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, route: str, prefix: str = "") -> RouteTemplate:
        text = "/".join(part.strip("/") for part in (prefix, route) if part.strip("/"))
        segments = tuple(Segment.parse(part, text) for part in text.split("/")) if text else ()
        for segment in segments[:-1]:
            if segment.catch_all:
                raise RouteTemplateError(f"route {text!r}: a catch-all must be the last segment")
        return cls(text, segments)

    @property
    def parameters(self) -> list[str]:
        return [segment.name for segment in self.segments if segment.name]

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        """Route values when the path's segments (already split, not yet decoded) match."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.catch_all:
                rest = unquote("/".join(parts[index:]))
                if rest:
                    if not segment.accepts(rest):
                        return None
                    values[str(segment.name)] = rest
                return values
            if index >= len(parts):
                if not (segment.optional or segment.default is not None):
                    return None
                if segment.default is not None:
                    values[str(segment.name)] = segment.default
                continue
            part = parts[index]
            if segment.literal is not None:
                if part.casefold() != segment.literal.casefold():
                    return None
                continue
            value = unquote(part)
            if not value or not segment.accepts(value):
                return None
            values[str(segment.name)] = value
        return values if len(parts) <= len(self.segments) else None


def path_segments(raw_path: str) -> list[str]:
    """ASP.NET's tokenising: the leading slash dropped, one trailing slash ignored."""
    path = raw_path[1:] if raw_path.startswith("/") else raw_path
    if path.endswith("/"):
        path = path[:-1]
    return path.split("/") if path else []


def _precedence(x: RouteTemplate, y: RouteTemplate) -> int:
    """The WebJobs route builder's comparison (negative: ``x`` is tried first)."""
    for a, b in zip(x.segments, y.segments, strict=False):
        if a.literal is not None and b.literal is None:
            return -1
        if a.literal is None and b.literal is not None:
            return 1
        if a.literal is None or b.literal is None:  # two parameters
            if len(a.constraints) != len(b.constraints):
                return len(b.constraints) - len(a.constraints)
            continue
        first, second = a.literal.casefold(), b.literal.casefold()
        if first != second:
            return -1 if first < second else 1
    if len(x.segments) != len(y.segments):
        return len(y.segments) - len(x.segments)
    # A tie the host leaves to an unstable sort; a catch-all goes last.
    return _ends_in_catch_all(x) - _ends_in_catch_all(y)


def _ends_in_catch_all(template: RouteTemplate) -> int:
    return int(bool(template.segments) and template.segments[-1].catch_all)


@dataclass(frozen=True)
class Route(Generic[T]):
    template: RouteTemplate
    methods: frozenset[str] | None  # None: any method
    target: T

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


def _route_precedence(x: Route[Any], y: Route[Any]) -> int:
    return _precedence(x.template, y.template)


class RouteTable(Generic[T]):
    def __init__(self, routes: Iterable[Route[T]]) -> None:
        self.routes = sorted(routes, key=functools.cmp_to_key(_route_precedence))

    def match(self, method: str, raw_path: str) -> tuple[Route[T], dict[str, str]] | None:
        parts = path_segments(raw_path)
        for route in self.routes:
            if not route.allows(method):
                continue
            values = route.template.match(parts)
            if values is not None:
                return route, values
        return None
