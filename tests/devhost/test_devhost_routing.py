"""Route templates matched as ASP.NET matches them for the Functions host (no processes)."""

from __future__ import annotations

import pytest

from devhost.routing import Route, RouteTable, RouteTemplate, RouteTemplateError, path_segments


def table(*routes: tuple[str, str | None]) -> RouteTable[str]:
    """Routes given as (template, "GET,POST" or None for any method), named by template."""
    return RouteTable(Route(RouteTemplate.parse(template),
                            frozenset(methods.split(",")) if methods else None, template)
                      for template, methods in routes)


def matched(routes: RouteTable[str], method: str, path: str) -> tuple[str, dict[str, str]] | None:
    found = routes.match(method, path)
    return (found[0].target, found[1]) if found else None


@pytest.mark.parametrize(("path", "segments"), [
    ("/", []), ("", []), ("/a", ["a"]), ("/a/", ["a"]), ("/a/b", ["a", "b"]),
    ("/a//b", ["a", "", "b"]), ("/a/b//", ["a", "b", ""]),
])
def test_paths_split_as_aspnet_tokenises_them(path: str, segments: list[str]) -> None:
    assert path_segments(path) == segments


def test_literals_match_case_insensitively_and_values_keep_their_case() -> None:
    routes = table(("api/files/{file_id}", "GET"))
    assert matched(routes, "GET", "/API/Files/AbC") == ("api/files/{file_id}", {"file_id": "AbC"})
    assert matched(routes, "get", "/api/files/x/") == ("api/files/{file_id}", {"file_id": "x"})


def test_values_are_percent_decoded_and_parameters_need_a_segment() -> None:
    routes = table(("files/{name}", None))
    assert matched(routes, "GET", "/files/a%20b") == ("files/{name}", {"name": "a b"})
    assert matched(routes, "GET", "/files/") is None
    assert matched(routes, "GET", "/files/a/b") is None


def test_optional_default_and_catch_all_parameters() -> None:
    routes = table(("opt/{id?}", None), ("def/{page=1}", None), ("all/{*rest}", None))
    assert matched(routes, "GET", "/opt") == ("opt/{id?}", {})
    assert matched(routes, "GET", "/opt/7") == ("opt/{id?}", {"id": "7"})
    assert matched(routes, "GET", "/def") == ("def/{page=1}", {"page": "1"})
    assert matched(routes, "GET", "/all") == ("all/{*rest}", {})
    assert matched(routes, "GET", "/all/a/b%2Fc") == ("all/{*rest}", {"rest": "a/b/c"})


@pytest.mark.parametrize(("constraint", "good", "bad"), [
    ("guid", "0b7e4bb2-3f55-4a34-b6a8-29bd0c5b2f11", "nope"),
    ("int", "-42", "4.2"), ("long", "9000000000", "x"), ("bool", "True", "yes"),
    ("alpha", "abc", "ab1"), ("min(3)", "3", "2"), ("max(3)", "3", "4"),
    ("range(1,3)", "2", "4"), ("length(2)", "ab", "abc"), ("minlength(2)", "ab", "a"),
    ("maxlength(2)", "ab", "abc"), ("double", "1.5", "inf"),
])
def test_inline_constraints_must_hold(constraint: str, good: str, bad: str) -> None:
    routes = table((f"c/{{v:{constraint}}}", None))
    assert matched(routes, "GET", f"/c/{good}") is not None
    assert matched(routes, "GET", f"/c/{bad}") is None


def test_method_constraint_skips_the_route_without_head_for_get() -> None:
    routes = table(("items/{id}", "GET"), ("{*path}", None))
    assert matched(routes, "GET", "/items/1") == ("items/{id}", {"id": "1"})
    # A method outside the list falls through to the next route, here the catch-all.
    assert matched(routes, "HEAD", "/items/1") == ("{*path}", {"path": "items/1"})
    assert matched(table(("items/{id}", "GET")), "HEAD", "/items/1") is None


def test_precedence_is_the_webjobs_route_builders() -> None:
    routes = table(("{*path}", None), ("files/{id}", None), ("files/{id:guid}", None),
                   ("files/search", None), ("files/{id}/restore", None), ("Alpha", None),
                   ("{name}", None))
    # Segment by segment: literals first (alphabetically), then the parameter with more
    # constraints, then the longer template; a catch-all after what it ties with.
    assert [route.target for route in routes.routes] == [
        "Alpha", "files/search", "files/{id:guid}", "files/{id}/restore", "files/{id}",
        "{name}", "{*path}",
    ]


def test_registration_order_does_not_decide() -> None:
    forward = table(("files/{id}", "GET"), ("files/search", "GET"))
    backward = table(("files/search", "GET"), ("files/{id}", "GET"))
    for routes in (forward, backward):
        assert matched(routes, "GET", "/files/search") == ("files/search", {})


@pytest.mark.parametrize("template", [
    "files/{id:nosuch}", "files/{a}.{b}", "files/x{id}", "{*rest}/more", "files//x", "x/{1a}",
])
def test_templates_the_host_would_refuse_fail_at_start(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate.parse(template)


def test_prefix_is_part_of_the_template() -> None:
    template = RouteTemplate.parse("files/{id}", prefix="api")
    assert template.text == "api/files/{id}"
    assert template.parameters == ["id"]
