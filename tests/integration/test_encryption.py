"""Encryption at rest: each file sealed under its own data key in authenticated frames,
unreadable in Azurite and in the S3 backup, every range decryptable, keys rotatable."""

from __future__ import annotations

import base64
import os
import random

import httpx
import pytest

from shared.crypto.frames import FRAME_SIZE, TAG_SIZE, ciphertext_size
from tests.integration.helpers import assert_error, pdf, text

KEY_1 = base64.b64encode(os.urandom(32)).decode()
KEY_2 = base64.b64encode(os.urandom(32)).decode()
STREAM = "/api/v1/storage/stream"
SIZE = 3 * FRAME_SIZE + 1234  # four frames, the last one short


@pytest.fixture(scope="module")
def sealed(devhost_with) -> httpx.Client:
    return devhost_with(ENCRYPTION_KEY=KEY_1)


@pytest.fixture
def encrypted_file(sealed, auth_headers, user):
    content = text(SIZE)
    response = sealed.post("/api/v1/storage/upload", headers=auth_headers(user),
                           files={"file": ("secret.txt", content, "text/plain")})
    assert response.status_code == 201, response.text
    return response.json()["file"], content


def test_stored_and_backed_up_bytes_are_not_the_plaintext(encrypted_file, stores, wait_for,
                                                          devhost):
    # devhost: the session's main devhost backs up every blob (devhost_with's do not)
    record, content = encrypted_file
    assert "encryption_key_id" not in record and "key_id" not in str(record)
    key_id = _key_id(stores, record["id"])
    assert key_id.startswith("local:") and KEY_1 not in key_id
    raw = stores.blob_bytes(stores.path_of(record["id"]))
    assert len(raw) == ciphertext_size(SIZE) == SIZE + 4 * TAG_SIZE
    assert content[:64] not in raw and content[FRAME_SIZE:FRAME_SIZE + 64] not in raw
    path = stores.path_of(record["id"])
    wait_for(lambda: stores.sql("SELECT state FROM file_backups WHERE file_path = %s",
                                (path,))[0]["state"] == "done", what="backup")
    assert stores.s3_bytes(path) == raw  # the backup is the same ciphertext
    # The checksums describe the plaintext the client sent.
    import hashlib
    assert record["checksum_sha256"] == hashlib.sha256(content).hexdigest()


def test_every_kind_of_range_decrypts_to_the_right_bytes(sealed, auth_headers, user,
                                                         encrypted_file):
    record, content = encrypted_file
    boundaries = [0, 1, FRAME_SIZE - 1, FRAME_SIZE, FRAME_SIZE + 1, 2 * FRAME_SIZE - 1,
                  3 * FRAME_SIZE, SIZE - 2, SIZE - 1]
    ranges = [(a, b) for a in boundaries for b in boundaries if a <= b]
    rng = random.Random(7)
    ranges += [tuple(sorted(rng.sample(range(SIZE), 2))) for _ in range(40)]
    for start, end in ranges:
        response = sealed.get(f"{STREAM}/{record['id']}",
                              headers={**auth_headers(user), "Range": f"bytes={start}-{end}"})
        assert response.status_code == 206, (start, end, response.text)
        assert response.content == content[start:end + 1], (start, end)
    for header, expected in [("bytes=-100", content[-100:]), ("bytes=150000-",
                                                              content[150000:])]:
        response = sealed.get(f"{STREAM}/{record['id']}",
                              headers={**auth_headers(user), "Range": header})
        assert response.content == expected


def test_downloads_are_decrypted_by_the_service_not_redirected(sealed, auth_headers, user,
                                                               encrypted_file):
    record, content = encrypted_file
    response = sealed.get(f"/api/v1/storage/download/{record['id']}",
                          headers=auth_headers(user))
    assert response.status_code == 200  # no SAS: it would hand out ciphertext
    assert response.content == content
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def _key_id(stores, file_id: str) -> str:
    return stores.sql("SELECT encryption_key_id FROM files WHERE id = %s",
                      (file_id,))[0]["encryption_key_id"]


def test_rotation_keeps_old_files_readable(devhost_with, auth_headers, user, encrypted_file,
                                           stores):
    record, content = encrypted_file
    rotated = devhost_with(ENCRYPTION_KEY=KEY_2, ENCRYPTION_PREVIOUS_KEYS=KEY_1)
    old = rotated.get(f"{STREAM}/{record['id']}", headers=auth_headers(user))
    assert old.status_code == 200 and old.content == content
    new = rotated.post("/api/v1/storage/upload", headers=auth_headers(user),
                       files={"file": ("new.pdf", pdf(5000), "application/pdf")})
    assert new.status_code == 201
    assert _key_id(stores, new.json()["file"]["id"]) not in {None, _key_id(stores, record["id"])}
    # Without the retired key, the file is refused cleanly, never served as garbage.
    forgetful = devhost_with(ENCRYPTION_KEY=KEY_2)
    body = assert_error(forgetful.get(f"{STREAM}/{record['id']}", headers=auth_headers(user)),
                        500, "ENCRYPTION_KEY_UNAVAILABLE")
    assert "key_id" not in body["details"]  # which key: in the log, never in an answer
    # HEAD needs no data key: it is answered without unwrapping anything.
    head = forgetful.head(f"{STREAM}/{record['id']}", headers=auth_headers(user))
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(content)


def test_tampered_ciphertext_is_never_served(sealed, auth_headers, user, encrypted_file,
                                             stores):
    record, _ = encrypted_file
    blob = stores.container.get_blob_client(stores.path_of(record["id"]))
    raw = bytearray(blob.download_blob().readall())
    raw[10] ^= 0x01  # inside the first frame
    blob.upload_blob(bytes(raw), overwrite=True)
    response = sealed.get(f"{STREAM}/{record['id']}",
                          headers={**auth_headers(user), "Range": "bytes=0-99"})
    assert_error(response, 500, "STORAGE_INTEGRITY_ERROR")
    # A range in an untouched frame still reads (frames are authenticated one by one).
    intact = sealed.get(f"{STREAM}/{record['id']}",
                        headers={**auth_headers(user), "Range": f"bytes={FRAME_SIZE}-"
                                                                 f"{FRAME_SIZE + 9}"})
    assert intact.status_code == 206


def test_an_empty_sealed_file_is_backed_up_and_streams(api, sealed, auth_headers, user, stores,
                                                       wait_for):
    """Issue 6, item 13: an empty file's backup copy must not fail (InvalidRange). (``api``:
    the session's main devhost, whose blob trigger backs up every blob.)"""
    response = sealed.post("/api/v1/storage/upload", headers=auth_headers(user),
                           files={"file": ("vide.txt", b"", "text/plain")})
    assert response.status_code == 201, response.text
    record = response.json()["file"]
    path = stores.path_of(record["id"])
    wait_for(lambda: stores.sql("SELECT state FROM file_backups WHERE file_path = %s",
                                (path,))[0]["state"] == "done", what="backup")
    assert stores.s3_bytes(path) == stores.blob_bytes(path)
    streamed = sealed.get(f"{STREAM}/{record['id']}", headers=auth_headers(user))
    assert streamed.status_code == 200 and streamed.content == b""
    downloaded = sealed.get(f"/api/v1/storage/download/{record['id']}",
                            headers=auth_headers(user))
    assert downloaded.status_code == 200 and downloaded.content == b""


def test_encryption_required_without_a_key_stores_no_plaintext(devhost_with, auth_headers,
                                                              user, stores):
    strict = devhost_with(ENCRYPTION_REQUIRED="true")
    h = auth_headers(user)
    before = stores.leftovers(user)
    refused = strict.post("/api/v1/storage/upload", headers=h,
                          files={"file": ("a.pdf", pdf(5000), "application/pdf")})
    body = assert_error(refused, 503, "SERVICE_UNAVAILABLE")
    assert body["details"]["reason"] == "encryption_required"
    tus = strict.post("/api/v1/storage/upload/tus", headers={
        **h, "Tus-Resumable": "1.0.0", "Upload-Length": "5000"})
    assert tus.status_code == 503
    assert stores.leftovers(user) == before
    keyed = devhost_with(ENCRYPTION_REQUIRED="true", ENCRYPTION_KEY=KEY_1)
    assert keyed.post("/api/v1/storage/upload", headers=h, files={
        "file": ("a.pdf", pdf(5000), "application/pdf")}).status_code == 201
