"""GET /api/v1/storage/download/{id}: 302 to a short-lived SAS URL that Azurite honours;
PDFs and active types are streamed by the service with ``Content-Security-Policy: sandbox``."""

from __future__ import annotations

import time
import urllib.parse

import httpx
import pytest

from tests.integration.helpers import assert_error, pdf, png

DOWNLOAD = "/api/v1/storage/download"


@pytest.fixture
def stored(upload, user):
    content = png(20_000)
    response = upload(user, content, filename="photo finale.png", mime="image/png",
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
    assert fetched.headers["Content-Type"] == "image/png"
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="photo finale.png"'


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
    assert traversal.headers["Content-Disposition"] == 'attachment; filename="passwd.png"'


def test_bad_parameters_are_400(api, auth_headers, user, stored):
    file_id, _ = stored
    assert_error(api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user),
                         params={"disposition": "execute"}), 400, "VALIDATION_ERROR")


def test_private_files_are_404_to_everyone_else(api, auth_headers, user, stored):
    file_id, _ = stored
    # no token: 401 (whether the file exists or not); another user's token: 404
    assert_error(api.get(f"{DOWNLOAD}/{file_id}"), 401, "UNAUTHORIZED")
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
    assert_error(api.get(f"{DOWNLOAD}/{file_id}"), 401, "UNAUTHORIZED")


def test_trashed_files_cannot_be_downloaded(api, auth_headers, user, stored):
    file_id, _ = stored
    api.delete(f"/api/v1/storage/files/{file_id}", headers=auth_headers(user))
    assert_error(api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user)), 404,
                 "NOT_FOUND")


@pytest.mark.parametrize("name", ["x.exe", "x.html", "x.svg", "x.js", "x.bat", "x.cmd", "x.ps1",
                                  "x.sh", "x.jar", "x.msi", "x.scr", "x.lnk", "x.hta",
                                  "x.EXE", "x.exe.", "x.png.exe", "x.jpg"])
def test_a_filename_cannot_give_another_extension(api, auth_headers, user, stored, name):
    """The saved file's extension decides what the user's system does with it: a PNG
    stays a .png whatever name the link asks for."""
    file_id, _ = stored
    response = api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user),
                       params={"filename": name})
    assert response.status_code == 302, response.text
    disposition = response.headers["Content-Disposition"]
    assert disposition.endswith('.png"'), disposition
    assert httpx.get(response.headers["Location"]).headers["Content-Disposition"] == disposition


def test_a_name_without_the_type_extension_gets_it(api, auth_headers, user, stored):
    file_id, _ = stored
    for name, expected in [("vacances", "vacances.png"), ("photo.jpeg.png", "photo.jpeg.png"),
                           ("v1.2 finale", "v1.2 finale.png")]:
        response = api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user),
                           params={"filename": name})
        assert response.headers["Content-Disposition"] == f'attachment; filename="{expected}"'


def test_a_text_file_cannot_be_saved_as_a_script(api, auth_headers, upload, user):
    script = b"@echo off\r\ndel /q %USERPROFILE%\\Documents\r\n"
    file_id = upload(user, script, filename="notes.txt", mime="text/plain").json()["file"]["id"]
    for name in ("run.bat", "run.cmd", "run.ps1", "run.sh", "run.vbs"):
        response = api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user),
                           params={"filename": name})
        assert response.headers["Content-Disposition"] == 'attachment; filename="run.txt"'
    stream = api.get(f"/api/v1/storage/stream/{file_id}", headers=auth_headers(user))
    assert "Content-Security-Policy" not in stream.headers  # plain text is not active


def test_pdfs_are_streamed_in_a_sandbox_not_redirected(api, auth_headers, upload, user):
    """A SAS response cannot carry a Content-Security-Policy header, so the service streams
    the types it sandboxes itself."""
    content = pdf(20_000)
    file_id = upload(user, content, filename="rapport final.pdf", mime="application/pdf"
                     ).json()["file"]["id"]
    for disposition in ("inline", "attachment"):
        response = api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user),
                           params={"disposition": disposition, "filename": "rapport.exe"})
        assert response.status_code == 200 and response.content == content
        assert response.headers["Content-Security-Policy"] == "sandbox"
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"] == f'{disposition}; filename="rapport.pdf"'
    stream = api.get(f"/api/v1/storage/stream/{file_id}", headers={
        **auth_headers(user), "Range": "bytes=0-9"})
    assert stream.status_code == 206 and stream.headers["Content-Security-Policy"] == "sandbox"
    assert stream.headers["Content-Disposition"] == 'inline; filename="rapport final.pdf"'
    head = api.head(f"/api/v1/storage/stream/{file_id}", headers=auth_headers(user))
    assert head.headers["Content-Security-Policy"] == "sandbox"
