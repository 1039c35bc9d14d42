"""A method a route does not have answers 405 with the route's methods in ``Allow`` and the
specification's error body (issue 6, item 13); an unknown path under the API answers 404 in
that body. The routes' own methods are not affected."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.helpers import assert_error

API = "/api/v1/storage"


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("OPTIONS", f"{API}/files/{uuid.uuid4()}", "DELETE, GET, PUT"),
    ("PATCH", f"{API}/files/{uuid.uuid4()}", "DELETE, GET, PUT"),
    ("POST", f"{API}/files/{uuid.uuid4()}", "DELETE, GET, PUT"),
    ("DELETE", f"{API}/files", "GET"),
    ("GET", f"{API}/upload", "POST"),
    ("HEAD", f"{API}/download/{uuid.uuid4()}", "GET"),
    ("PUT", f"{API}/stream/{uuid.uuid4()}", "GET, HEAD"),
    ("GET", f"{API}/files/{uuid.uuid4()}/restore", "POST"),
    ("POST", "/health", "GET"),
    ("DELETE", f"/files/{uuid.uuid4()}", "GET, HEAD"),
    ("POST", f"/thumbnails/{uuid.uuid4()}", "GET, HEAD"),
    ("GET", f"{API}/upload/tus", "OPTIONS, POST"),
    ("PUT", "/api/v1/openapi.json", "GET"),
])
def test_other_methods_answer_405_with_allow(api, auth_headers, user, method, path, allow):
    response = api.request(method, path, headers=auth_headers(user))
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allow
    if method != "HEAD":
        body = assert_error(response, 405, "METHOD_NOT_ALLOWED")
        assert body["details"]["allowed"] == allow.split(", ")


def test_unknown_paths_under_the_api_are_404_in_the_spec_body(api):
    assert_error(api.get(f"{API}/nothing-here"), 404, "NOT_FOUND")
    assert_error(api.delete(f"{API}/files/{uuid.uuid4()}/extra"), 404, "NOT_FOUND")


def test_the_routes_own_methods_still_answer(api, auth_headers, user):
    assert api.get("/health").status_code in {200, 503}
    assert api.options(f"{API}/upload/tus").status_code == 204
    assert api.get(f"{API}/files", headers=auth_headers(user)).status_code == 200
    assert_error(api.get(f"{API}/files/{uuid.uuid4()}", headers=auth_headers(user)), 404,
                 "NOT_FOUND")
