"""The blob trigger copies each new file to the S3 backup bucket and records its state."""

from __future__ import annotations

import hashlib

from tests.integration.helpers import pdf


def test_new_file_is_backed_up_byte_for_byte(upload, user, stores, wait_for):
    content = pdf(2 * 1024 * 1024 + 17)  # three 1 MiB blocks in Azure, one S3 upload
    record = upload(user, content, filename="a.pdf", mime="application/pdf").json()["file"]
    path = stores.path_of(record["id"])
    wait_for(lambda: _state(stores, path) == "done", what="backup of a new file")
    row = stores.sql("SELECT * FROM file_backups WHERE file_path = %s", (path,))[0]
    assert row["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    assert row["attempts"] == 1 and row["last_error"] is None
    assert stores.s3_bytes(path) == content


def test_a_refused_upload_is_never_backed_up(upload, user, stores):
    content = pdf()
    upload(user, content, mime="application/pdf")
    upload(user, content, mime="application/pdf")  # 409
    assert stores.sql("SELECT count(*) AS n FROM file_backups b JOIN files f ON f.id = b.file_id"
                      " WHERE f.user_id = %s", (user,))[0]["n"] == 1


def _state(stores, path: str) -> str:
    return stores.sql("SELECT state FROM file_backups WHERE file_path = %s", (path,))[0]["state"]


def test_an_empty_file_is_stored_and_backed_up(api, auth_headers, upload, user, stores,
                                               wait_for):
    """Issue 6, item 13: an empty file's backup copy failed (InvalidRange) at every run."""
    response = upload(user, b"", filename="vide.txt", mime="text/plain")
    assert response.status_code == 201, response.text
    record = response.json()["file"]
    assert record["size_bytes"] == 0
    path = stores.path_of(record["id"])
    wait_for(lambda: _state(stores, path) == "done", what="backup of an empty file")
    row = stores.sql("SELECT * FROM file_backups WHERE file_path = %s", (path,))[0]
    assert row["checksum_sha256"] == hashlib.sha256(b"").hexdigest()
    assert row["attempts"] == 1 and row["last_error"] is None
    assert stores.s3_bytes(path) == b""
    streamed = api.get(f"/api/v1/storage/stream/{record['id']}", headers=auth_headers(user))
    assert streamed.status_code == 200 and streamed.content == b""
