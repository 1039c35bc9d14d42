"""The lifecycle timer on the real stack, run in-process with a clock the test moves forward
(the registered timer function, as the host calls it): files move hot -> cool -> cold ->
archive in Azurite as in their rows, an archived file answers 202 and reads again once
rehydrated, files past expires_at go with their backup copy, and the quota does not drift."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
import pytest

from shared.db.pg import PostgresDatabase
from tests.integration.helpers import assert_error, png, text

FILES = "/api/v1/storage/files"
STREAM = "/api/v1/storage/stream"


def days_later(days: float) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + timedelta(days=days)


def tier_of(stores, record) -> tuple[str, str]:
    """(the row's storage_tier, the blob's access tier) of an uploaded file."""
    row = stores.sql("SELECT storage_tier FROM files WHERE id = %s", (record["id"],))[0]
    blob = stores.container.get_blob_client(stores.path_of(record["id"]))
    tier = blob.get_blob_properties().blob_tier
    return row["storage_tier"], str(getattr(tier, "value", tier)).lower()


def run_until(run_maintenance, clock, condition: Callable[[], bool], runs: int = 10) -> None:
    """The timer moves a batch per run, most idle first (the session's older files come
    first): run it until ``condition`` holds, a bounded number of times."""
    for _ in range(runs):
        run_maintenance(clock=clock)
        if condition():
            return
    raise AssertionError(f"not done after {runs} runs of the timer")


def test_idle_files_move_down_the_tiers(api, auth_headers, upload, user, stores,
                                        run_maintenance):
    """(Back up to hot when read again: on the fake clock, tests/unit/lifecycle.)"""
    record = upload(user, png(3000), mime="image/png").json()["file"]
    assert tier_of(stores, record) == ("hot", "hot")
    for days, tier in ((31, "cool"), (91, "cold"), (181, "archive")):
        run_until(run_maintenance, days_later(days),
                  lambda tier=tier: tier_of(stores, record) == (tier, tier))
    # Storage used per tier, as the listing reports it.
    usage = api.get(FILES, headers=auth_headers(user)).json()["storage_usage"]
    assert usage["bytes_by_tier"] == {"archive": 3000}
    details = api.get(f"{FILES}/{record['id']}", headers=auth_headers(user)).json()
    assert details["file"]["storage_tier"] == "archive"


def test_an_archived_file_answers_202_then_reads_once_rehydrated(api, auth_headers, upload,
                                                                 user, stores,
                                                                 run_maintenance, wait_for):
    content = png(5000)
    record = upload(user, content, mime="image/png").json()["file"]
    run_until(run_maintenance, days_later(200),
              lambda: tier_of(stores, record) == ("archive", "archive"))
    h = auth_headers(user)
    first = api.get(f"{STREAM}/{record['id']}", headers=h)
    assert first.status_code == 202, first.text
    assert int(first.headers["retry-after"]) > 0
    assert first.json()["status"] == "rehydrating" and first.json()["file_id"] == record["id"]
    assert first.headers["cache-control"] == "no-store"
    # Azurite rehydrates at once; in Azure the blob says "rehydrate-pending" for hours.
    second = api.get(f"{STREAM}/{record['id']}", headers=h)
    assert second.status_code == 200 and second.content == content
    assert tier_of(stores, record) == ("hot", "hot")
    assert stores.sql("SELECT rehydration_requested_at FROM files WHERE id = %s",
                      (record["id"],))[0]["rehydration_requested_at"] is None
    # The read counted: last access recorded (in a batch, a moment later).
    wait_for(lambda: stores.sql("SELECT last_accessed_at FROM files WHERE id = %s",
                                (record["id"],))[0]["last_accessed_at"] is not None,
             what="the read's access recorded")


def test_download_of_an_archived_file_starts_its_rehydration(api, auth_headers, upload, user,
                                                             stores, run_maintenance):
    record = upload(user, text(2000), mime="text/plain").json()["file"]
    run_until(run_maintenance, days_later(200),
              lambda: tier_of(stores, record) == ("archive", "archive"))
    first = api.get(f"/api/v1/storage/download/{record['id']}", headers=auth_headers(user))
    assert first.status_code == 202 and first.headers["retry-after"]
    again = api.get(f"/api/v1/storage/download/{record['id']}", headers=auth_headers(user))
    assert again.status_code == 302


def test_expired_files_go_with_their_backup_copy_and_free_the_quota(api, auth_headers, upload,
                                                                    user, stores,
                                                                    run_maintenance,
                                                                    wait_for):
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    expiring = upload(user, png(4000), mime="image/png", metadata={"expires_at": soon})
    assert expiring.status_code == 201, expiring.text
    record = expiring.json()["file"]
    kept = upload(user, png(1000), mime="image/png").json()["file"]
    wait_for(lambda: stores.sql("SELECT state FROM file_backups WHERE file_path = %s",
                                (stores.path_of(record["id"]),))[0]["state"] == "done")
    run_maintenance(clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    assert stores.sql("SELECT 1 FROM files WHERE id = %s", (record["id"],)) == []
    assert stores.blobs(stores.path_of(record["id"])) == []
    with pytest.raises(stores.s3.exceptions.NoSuchKey):
        stores.s3_bytes(stores.path_of(record["id"]))
    assert stores.leftovers(user).used_bytes == 1000  # only the file that stays
    assert_error(api.get(f"{FILES}/{record['id']}", headers=auth_headers(user)), 404,
                 "NOT_FOUND")
    assert api.get(f"{FILES}/{kept['id']}", headers=auth_headers(user)).status_code == 200


def test_one_file_that_cannot_be_removed_does_not_stop_the_sweep(api, auth_headers, upload,
                                                                 user, stores,
                                                                 run_maintenance):
    h = auth_headers(user)
    stuck, gone = (upload(user, png(2000), mime="image/png").json()["file"] for _ in range(2))
    for record in (stuck, gone):
        assert api.delete(f"{FILES}/{record['id']}", headers=h).status_code == 200
    # 0 where trashing frees the quota, 4000 where the trash counts until it is purged:
    # either way each purged file must release exactly what it counted.
    trashed_usage = stores.leftovers(user).used_bytes
    # Another transaction holds one row's lock: its removal fails (the timer's database
    # gives up on locks after a second), the other file goes, and the quota follows each
    # file exactly.
    impatient = PostgresDatabase(with_lock_timeout(stores.database_url), pool_max=2)
    with psycopg.connect(stores.database_url) as locker:
        locker.execute("SELECT 1 FROM files WHERE id = %s FOR UPDATE", (stuck["id"],))
        run_maintenance(clock=days_later(31), db=impatient)
        locker.rollback()
    assert stores.sql("SELECT id::text AS id FROM files WHERE user_id = %s", (user,)) == [
        {"id": stuck["id"]}]
    assert stores.leftovers(user).used_bytes == trashed_usage // 2
    run_maintenance(clock=days_later(31))
    assert stores.leftovers(user).rows == 0
    assert stores.leftovers(user).used_bytes == 0 and stores.leftovers(user).blobs == []


def with_lock_timeout(url: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("options", "-c lock_timeout=1000")]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
