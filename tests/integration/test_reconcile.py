"""Reconciliation on the real stack, asked for by an admin: each kind of drift between the
stores and the tables is found and put right (or reported when it cannot be).

It runs on a devhost whose grace period is zero, so that the orphans made here are old
enough at once; the session's other files are marked as checked, so that the integrity
batch reads this test's files."""

from __future__ import annotations

import os

import pytest

from shared.reconcile import LISTED
from tests.integration.helpers import assert_error, png

ADMIN_ROUTE = "/api/v1/storage/admin/reconciliation"


def named(part: dict, name: str, item: str) -> bool:
    """``item`` is in the report's list ``name``, or could be: a list names at most LISTED
    items (the count is complete), and the session's other tests leave drifts of their own
    that the walk may meet first."""
    return item in part[name] or (len(part[name]) == LISTED
                                  and part[f"{name}_count"] > LISTED)


@pytest.fixture(scope="module")
def reconciler(devhost_with):
    return devhost_with(RECONCILE_GRACE_HOURS="0")


def test_each_kind_of_drift_is_found_and_put_right(reconciler, auth_headers, upload, user,
                                                   stores, wait_for):
    files = {name: upload(user, png(3000), mime="image/png").json()["file"]
             for name in ("missing", "corrupt", "both_corrupt", "backup_gone", "backup_stale")}
    for record in files.values():
        wait_for(lambda record=record: stores.sql(
            "SELECT state FROM file_backups WHERE file_path = %s",
            (stores.path_of(record["id"]),))[0]["state"] == "done", what="backup copies")
    original = {name: stores.blob_bytes(stores.path_of(r["id"])) for name, r in files.items()}
    folder = stores.path_of(files["missing"]["id"]).rsplit("/", 1)[0]
    orphan, stray = f"{folder}/orphan.bin", f"{folder}/stray.bin"
    # The drifts: bytes no row names, in each store; a row whose bytes are gone; bytes that
    # changed (with a good backup copy, and with a bad one); a backup copy gone; a backup copy
    # whose record says it should be gone.
    stores.container.upload_blob(orphan, b"no row names me")
    stores.s3.put_object(Bucket=stores.bucket, Key=stray, Body=b"no record names me")
    stores.container.delete_blob(stores.path_of(files["missing"]["id"]))
    for name in ("corrupt", "both_corrupt"):
        stores.container.upload_blob(stores.path_of(files[name]["id"]), os.urandom(3000),
                                     overwrite=True)
    stores.s3.put_object(Bucket=stores.bucket, Key=stores.path_of(files["both_corrupt"]["id"]),
                         Body=os.urandom(3000))
    stores.s3.delete_object(Bucket=stores.bucket, Key=stores.path_of(files["backup_gone"]["id"]))
    stores.sql("UPDATE file_backups SET state = 'delete_pending' WHERE file_path = %s",
               (stores.path_of(files["backup_stale"]["id"]),))
    stores.sql("UPDATE files SET integrity_checked_at = now() WHERE user_id <> %s", (user,))

    admin = auth_headers("ops", "admin")
    response = reconciler.post(ADMIN_ROUTE, headers=admin)
    assert response.status_code == 200, response.text
    report = response.json()["report"]
    primary, backup, integrity = (report["primary"]["azure_blob"], report["backup"],
                                  report["integrity"])
    # Orphans: deleted in both stores.
    assert stores.blobs(orphan) == [] and primary["orphans_deleted_count"] >= 1
    with pytest.raises(stores.s3.exceptions.NoSuchKey):
        stores.s3_bytes(stray)
    # Missing bytes: reported, and restored from the verified backup copy.
    assert named(primary, "missing", files["missing"]["id"])
    assert named(primary, "restored", files["missing"]["id"])
    assert stores.blob_bytes(stores.path_of(files["missing"]["id"])) == original["missing"]
    # Changed bytes: restored when the backup copy matches, reported when it does not.
    assert {files["corrupt"]["id"], files["both_corrupt"]["id"]} <= set(integrity["corrupt"])
    assert files["corrupt"]["id"] in integrity["restored"]
    assert stores.blob_bytes(stores.path_of(files["corrupt"]["id"])) == original["corrupt"]
    assert {"file_id": files["both_corrupt"]["id"],
            "reason": "backup copy does not match its checksum"} in integrity["unrecoverable"]
    # Backup copies: a lost one is queued again, a stale one deleted with its record.
    assert named(backup, "missing", stores.path_of(files["backup_gone"]["id"]))
    assert stores.sql("SELECT state FROM file_backups WHERE file_path = %s",
                      (stores.path_of(files["backup_gone"]["id"]),))[0]["state"] == "pending"
    with pytest.raises(stores.s3.exceptions.NoSuchKey):
        stores.s3_bytes(stores.path_of(files["backup_stale"]["id"]))
    assert stores.sql("SELECT 1 FROM file_backups WHERE file_path = %s",
                      (stores.path_of(files["backup_stale"]["id"]),)) == []
    # The last report, for admins only.
    last = reconciler.get(ADMIN_ROUTE, headers=admin)
    assert last.status_code == 200 and last.json()["report"]["started_at"] == \
        report["started_at"]
    assert_error(reconciler.get(ADMIN_ROUTE, headers=auth_headers(user)), 403, "FORBIDDEN")
    assert_error(reconciler.post(ADMIN_ROUTE, headers=auth_headers(user)), 403, "FORBIDDEN")


def test_a_young_orphan_is_left_alone(api, auth_headers, upload, user, stores):
    """On the session's devhost (a day's grace): an object without a row that was just
    written may be an upload about to record its row."""
    record = upload(user, png(1000), mime="image/png").json()["file"]
    young = stores.path_of(record["id"]).rsplit("/", 1)[0] + "/young.bin"
    stores.container.upload_blob(young, b"in flight")
    stores.sql("UPDATE files SET integrity_checked_at = now() WHERE user_id <> %s", (user,))
    response = api.post(ADMIN_ROUTE, headers=auth_headers("ops", "admin"))
    assert response.status_code == 200, response.text
    assert response.json()["report"]["primary"]["azure_blob"]["orphans_in_grace"] >= 1
    assert stores.blobs(young) == [young]
    stores.container.delete_blob(young)
