"""GET /api/v1/storage/download/{id}: 302 to a short-lived SAS URL that Azurite honours."""

from __future__ import annotations

import time
import urllib.parse

import httpx
import pytest

from tests.integration.helpers import assert_error, pdf, png

DOWNLOAD = "/api/v1/storage/download"


@pytest.fixture
def stored(upload, user):
    content = pdf(20_000)
    response = upload(user, content, filename="rapport final.pdf", mime="application/pdf",
                      metadata={"is_public": False})
    assert response.status_code == 201, response.text
    return response.json()["file"]["id"], content


def test_owner_is_redirected_to_a_working_signed_url(api, auth_headers, user, stored,
                                                    stack_env):
    file_id, content = stored
    response = api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user))
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(stack_env["AzureWebJobsStorage"].split("BlobEndpoint=")[1]
                               .split(";")[0])
    query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    assert query["sp"] == ["r"]  # read only
    expiry = time.mktime(time.strptime(query["se"][0], "%Y-%m-%dT%H:%M:%SZ"))
    assert 0 < expiry - time.mktime(time.gmtime()) <= int(stack_env["SIGNED_URL_EXPIRES"]) + 5
    assert response.headers["Cache-Control"].startswith("private, max-age=")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    fetched = httpx.get(location)
    assert fetched.status_code == 200 and fetched.content == content
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="rapport final.pdf"'


def test_disposition_and_filename_are_made_safe(api, auth_headers, user, stored):
    file_id, _ = stored
    response = api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user), params={
        "disposition": "inline", "filename": 'Résumé "final"\r\nSet-Cookie: x.pdf'})
    assert response.status_code == 302
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline; filename=")
    assert "\r" not in disposition and "\n" not in disposition
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9" in disposition
    assert "set-cookie" not in {k.lower() for k in response.headers}
    fetched = httpx.get(response.headers["Location"])
    assert fetched.headers["Content-Disposition"] == disposition
    traversal = api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user),
                        params={"filename": "../../etc/passwd"})
    assert traversal.headers["Content-Disposition"] == 'attachment; filename="passwd"'


def test_bad_parameters_are_400(api, auth_headers, user, stored):
    file_id, _ = stored
    assert_error(api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user),
                         params={"disposition": "execute"}), 400, "VALIDATION_ERROR")


def test_private_files_are_404_to_everyone_else(api, auth_headers, user, stored):
    file_id, _ = stored
    assert_error(api.get(f"{DOWNLOAD}/{file_id}"), 404, "NOT_FOUND")
    assert_error(api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(f"{user}-x")), 404,
                 "NOT_FOUND")
    assert api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers("boss", "admin")
                   ).status_code == 302
    assert_error(api.get(f"{DOWNLOAD}/{file_id}", headers={"Authorization": "Bearer nope"}),
                 401, "UNAUTHORIZED")


def test_public_files_need_no_token(api, auth_headers, upload, user):
    content = png()
    file_id = upload(user, content, mime="image/png", metadata={"is_public": True}
                     ).json()["file"]["id"]
    response = api.get(f"{DOWNLOAD}/{file_id}")
    assert response.status_code == 302
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert httpx.get(response.headers["Location"]).content == content
    api.put(f"/api/v1/storage/files/{file_id}", headers=auth_headers(user),
            json={"is_public": False})
    assert_error(api.get(f"{DOWNLOAD}/{file_id}"), 404, "NOT_FOUND")


def test_trashed_files_cannot_be_downloaded(api, auth_headers, user, stored):
    file_id, _ = stored
    api.delete(f"/api/v1/storage/files/{file_id}", headers=auth_headers(user))
    assert_error(api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user)), 404,
                 "NOT_FOUND")
