"""Listing, details, metadata updates, trash, restore and permanent deletion."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.helpers import Leftovers, assert_error, pdf, png, text

MiB = 1024 * 1024
FILES = "/api/v1/storage/files"


@pytest.fixture
def three_files(upload, user):
    ids = {}
    for name, content, mime, meta in [
        ("alpha.png", png(1000), "image/png", {"project_id": "p1", "tags": ["style_template"]}),
        ("beta.pdf", pdf(3000), "application/pdf",
         {"project_id": "p1", "description": "Le document principal"}),
        ("gamma.txt", text(2000), "text/plain", {"project_id": "p2", "tags": ["notes"]}),
    ]:
        response = upload(user, content, filename=name, mime=mime, metadata=meta)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["file"]["id"]
    return ids


def _names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [f["original_name"] for f in response.json()["files"]]


def test_list_filters_sort_search_and_paginate(api, auth_headers, user, three_files):
    h = auth_headers(user)
    everything = api.get(FILES, headers=h)
    body = everything.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 3, "pages": 1,
                                  "total_is_estimate": False, "next_cursor": None}
    assert body["storage_usage"]["used_bytes"] == 6000
    assert body["storage_usage"]["quota_bytes"] == 8 * MiB
    assert 0 < body["storage_usage"]["usage_percent"] < 1
    first = body["files"][0]
    assert set(first) >= {"id", "original_name", "file_type", "mime_type", "size_bytes",
                          "is_public", "created_at", "urls", "metadata"}
    assert _names(api.get(FILES, headers=h, params={"project_id": "p1", "sort": "original_name",
                                                   "order": "asc"})) == ["alpha.png", "beta.pdf"]
    assert _names(api.get(FILES, headers=h, params={"file_type": "document", "sort": "size_bytes",
                                                   "order": "desc"})) == ["beta.pdf", "gamma.txt"]
    assert _names(api.get(FILES, headers=h, params={"search": "PRINCIPAL"})) == ["beta.pdf"]
    assert _names(api.get(FILES, headers=h, params={"search": "style_temp"})) == ["alpha.png"]
    assert _names(api.get(FILES, headers=h, params={"search": "%"})) == []  # a literal %
    page2 = api.get(FILES, headers=h, params={"limit": 2, "page": 2, "sort": "original_name",
                                              "order": "asc"})
    assert _names(page2) == ["gamma.txt"]
    assert page2.json()["pagination"] == {"page": 2, "limit": 2, "total": 3, "pages": 2,
                                          "total_is_estimate": False, "next_cursor": None}


@pytest.mark.parametrize("params", [
    {"sort": "checksum_md5; DROP TABLE files"}, {"order": "sideways"}, {"limit": 0},
    {"limit": 101}, {"page": 0}, {"page": "one"}, {"trashed": "maybe"},
])
def test_bad_list_parameters_are_400(api, auth_headers, user, params):
    body = assert_error(api.get(FILES, headers=auth_headers(user), params=params), 400,
                        "VALIDATION_ERROR")
    assert body["details"]["errors"][0]["field"] == next(iter(params))


def test_users_see_only_their_files_admins_see_all(api, auth_headers, user, three_files):
    stranger = auth_headers(f"{user}-stranger")
    file_id = three_files["beta.pdf"]
    assert _names(api.get(FILES, headers=stranger)) == []
    assert_error(api.get(f"{FILES}/{file_id}", headers=stranger), 404, "NOT_FOUND")
    assert_error(api.put(f"{FILES}/{file_id}", headers=stranger, json={"is_public": True}),
                 404, "NOT_FOUND")
    assert_error(api.delete(f"{FILES}/{file_id}", headers=stranger), 404, "NOT_FOUND")
    assert_error(api.get(FILES, headers=stranger, params={"user_id": user}), 403, "FORBIDDEN")
    admin = auth_headers("root-admin", "admin")
    assert api.get(f"{FILES}/{file_id}", headers=admin).status_code == 200
    assert len(_names(api.get(FILES, headers=admin, params={"user_id": user}))) == 3


def test_unknown_and_malformed_ids_are_404(api, auth_headers, user):
    for file_id in (str(uuid.uuid4()), "not-a-uuid", "1%27%20OR%201=1"):
        assert_error(api.get(f"{FILES}/{file_id}", headers=auth_headers(user)), 404,
                     "NOT_FOUND")


def test_details_have_the_spec_shape(api, auth_headers, user, three_files):
    file_id = three_files["alpha.png"]
    body = api.get(f"{FILES}/{file_id}", headers=auth_headers(user)).json()
    assert body["file"]["id"] == file_id and body["file"]["user_id"] == user
    assert body["file"]["storage_tier"] == "hot"
    assert set(body) == {"file", "metadata", "urls", "transformations"}
    assert body["urls"]["download"].endswith(f"/download/{file_id}")


def test_update_metadata(api, auth_headers, user, three_files):
    file_id = three_files["gamma.txt"]
    response = api.put(f"{FILES}/{file_id}", headers=auth_headers(user), json={
        "original_name": "nouveau_nom.txt", "is_public": True,
        "metadata": {"description": "Document mis à jour", "tags": ["final", "public"],
                     "custom_fields": {"department": "Marketing", "version": "2.1"}},
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "File metadata updated successfully"
    assert body["file"]["original_name"] == "nouveau_nom.txt" and body["file"]["is_public"]
    details = api.get(f"{FILES}/{file_id}", headers=auth_headers(user)).json()["file"]
    assert details["tags"] == ["final", "public"]
    assert details["custom_fields"] == {"department": "Marketing", "version": "2.1"}
    assert details["updated_at"] > details["created_at"]


@pytest.mark.parametrize("payload", [
    {"original_name": ""}, {"is_public": "yes please"}, {"metadata": {"tags": [""]}},
    {"unknown": 1}, {"metadata": {"custom_fields": {"x": "y" * 20000}}},
])
def test_invalid_updates_are_422_and_change_nothing(api, auth_headers, user, three_files,
                                                    payload):
    file_id = three_files["gamma.txt"]
    before = api.get(f"{FILES}/{file_id}", headers=auth_headers(user)).json()["file"]
    assert_error(api.put(f"{FILES}/{file_id}", headers=auth_headers(user), json=payload), 422,
                 "UNPROCESSABLE_ENTITY")
    assert api.get(f"{FILES}/{file_id}", headers=auth_headers(user)).json()["file"] == before


def test_update_body_must_be_json(api, auth_headers, user, three_files):
    response = api.put(f"{FILES}/{three_files['gamma.txt']}", content=b"{oops",
                       headers={**auth_headers(user), "Content-Type": "application/json"})
    assert_error(response, 400, "BAD_REQUEST")


def test_soft_delete_trash_and_restore(api, auth_headers, user, three_files, stores):
    h = auth_headers(user)
    file_id = three_files["beta.pdf"]
    path = stores.sql("SELECT file_path FROM files WHERE id = %s", (file_id,))[0]["file_path"]
    deleted = api.delete(f"{FILES}/{file_id}", headers=h)
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert body["deleted"] is True and body["permanent"] is False
    assert body["storage_freed_bytes"] == 0 and body["recovery_deadline"]
    assert "30 days" in body["message"]
    assert stores.leftovers(user).used_bytes == 6000  # the trash counts until purged
    assert stores.blobs(path) == [path]  # bytes kept for recovery
    assert "beta.pdf" not in _names(api.get(FILES, headers=h))
    trash = api.get(FILES, headers=h, params={"trashed": "true"}).json()["files"]
    assert [f["id"] for f in trash] == [file_id] and trash[0]["recovery_deadline"]
    assert_error(api.delete(f"{FILES}/{file_id}", headers=h), 404, "NOT_FOUND")

    restored = api.post(f"{FILES}/{file_id}/restore", headers=h)
    assert restored.status_code == 200, restored.text
    assert restored.json()["file"]["deleted_at"] is None
    assert stores.leftovers(user).used_bytes == 6000
    assert_error(api.post(f"{FILES}/{file_id}/restore", headers=h), 409, "FILE_NOT_DELETED")


def test_restore_is_refused_after_the_deadline(api, auth_headers, user, three_files, stores):
    h = auth_headers(user)
    file_id = three_files["alpha.png"]
    assert api.delete(f"{FILES}/{file_id}", headers=h).status_code == 200
    stores.sql("UPDATE files SET recovery_deadline = now() - interval '1 second' WHERE id = %s",
               (file_id,))
    assert_error(api.post(f"{FILES}/{file_id}/restore", headers=h), 410, "RECOVERY_EXPIRED")
    assert stores.leftovers(user).used_bytes == 6000


def test_restore_refuses_duplicates_and_keeps_usage_exact(api, auth_headers, upload, user,
                                                          stores):
    h = auth_headers(user)
    content = png(MiB)
    first = upload(user, content, mime="image/png").json()["file"]["id"]
    assert api.delete(f"{FILES}/{first}", headers=h).status_code == 200
    again = upload(user, content, mime="image/png")
    assert again.status_code == 201  # the trashed copy does not count as a duplicate
    before = stores.leftovers(user)
    assert before.used_bytes == 2 * len(content)
    assert_error(api.post(f"{FILES}/{first}/restore", headers=h), 409, "DUPLICATE_FILE")
    assert stores.leftovers(user) == before
    assert api.delete(f"{FILES}/{again.json()['file']['id']}", headers=h,
                      params={"permanent": "true"}).json()["storage_freed_bytes"] == len(content)
    assert api.post(f"{FILES}/{first}/restore", headers=h).status_code == 200
    assert stores.leftovers(user).used_bytes == len(content)


def test_upload_trash_repeat_hits_the_quota(api, auth_headers, upload, user, stores):
    """The trash counts against the quota until purged: 8 MiB quota, 3 MiB files."""
    h = auth_headers(user)
    for round_ in range(2):
        response = upload(user, png(3 * MiB - 1000 - round_), mime="image/png")
        assert response.status_code == 201, response.text
        assert api.delete(f"{FILES}/{response.json()['file']['id']}", headers=h).status_code == 200
    before = stores.leftovers(user)
    body = assert_error(upload(user, png(3 * MiB - 1000 - 2), mime="image/png"), 413,
                        "QUOTA_EXCEEDED")
    assert body["details"]["user_quota_remaining"] == 8 * MiB - before.used_bytes
    assert stores.leftovers(user) == before
    trashed = api.get(FILES, headers=h, params={"trashed": "true"}).json()["files"]
    purged = api.delete(f"{FILES}/{trashed[0]['id']}", headers=h, params={"permanent": "true"})
    assert purged.json()["storage_freed_bytes"] == trashed[0]["size_bytes"]
    assert upload(user, png(3 * MiB - 1000 - 2), mime="image/png").status_code == 201


def test_permanent_delete_removes_bytes_row_and_backup(api, auth_headers, upload, user,
                                                      stores, run_maintenance, wait_for):
    h = auth_headers(user)
    response = upload(user, pdf(5000), filename="gone.pdf", mime="application/pdf")
    record = response.json()["file"]
    wait_for(lambda: stores.sql("SELECT state FROM file_backups WHERE file_path = %s",
                                (stores.path_of(record["id"]),))[0]["state"] == "done")
    result = api.delete(f"{FILES}/{record['id']}", headers=h, params={"permanent": "true"})
    assert result.status_code == 200, result.text
    assert result.json()["permanent"] is True and result.json()["recovery_deadline"] is None
    assert stores.blobs(stores.path_of(record["id"])) == []
    assert stores.leftovers(user).rows == 0 and stores.leftovers(user).used_bytes == 0
    assert_error(api.get(f"{FILES}/{record['id']}", headers=h), 404, "NOT_FOUND")
    # The backup copy goes with the next maintenance run.
    run_maintenance()
    assert stores.sql("SELECT 1 FROM file_backups WHERE file_path = %s",
                      (stores.path_of(record["id"]),)) == []
    with pytest.raises(stores.s3.exceptions.NoSuchKey):
        stores.s3_bytes(stores.path_of(record["id"]))


def test_trash_past_its_deadline_is_purged_by_maintenance(api, auth_headers, upload, user,
                                                         stores, run_maintenance):
    h = auth_headers(user)
    record = upload(user, text(), mime="text/plain").json()["file"]
    assert api.delete(f"{FILES}/{record['id']}", headers=h).status_code == 200
    stores.sql("UPDATE files SET recovery_deadline = now() - interval '1 minute' WHERE id = %s",
               (record["id"],))
    run_maintenance()
    assert stores.leftovers(user) == Leftovers([], 0, 0)


def test_storage_paths_and_key_ids_are_shown_to_admins_only(api, auth_headers, upload, user,
                                                            stores):
    h = auth_headers(user)
    created = upload(user, png(), mime="image/png").json()
    file_id = created["file"]["id"]
    path = stores.path_of(file_id)
    answers = [created,
               api.get(f"{FILES}/{file_id}", headers=h).json(),
               api.get(FILES, headers=h).json(),
               api.put(f"{FILES}/{file_id}", headers=h, json={"description": "x"}).json()]
    assert api.delete(f"{FILES}/{file_id}", headers=h).status_code == 200
    answers.append(api.get(FILES, headers=h, params={"trashed": "true"}).json())
    answers.append(api.post(f"{FILES}/{file_id}/restore", headers=h).json())
    for answer in answers:
        text = str(answer)
        assert path not in text and "file_path" not in text and "key_id" not in text, answer
    admin = api.get(f"{FILES}/{file_id}", headers=auth_headers("root", "admin")).json()
    assert admin["file"]["file_path"] == path and "encryption_key_id" not in admin["file"]
