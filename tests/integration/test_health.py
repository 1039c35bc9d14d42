"""GET /health probes every dependency for real, at most once per HEALTH_CACHE_SECONDS."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from devhost.hostprocess import DevhostProcess
from devhost.ports import free_ports
from tests.integration.helpers import health_when, png


def _status_becomes(api, wait_for, status: str) -> dict:
    return health_when(api, wait_for, lambda body: body["status"] == status, f"health {status}")


def test_everything_up(api):
    response = api.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "UP" and body["service"] == "support-storage-service"
    assert set(body["checks"]) >= {"database", "azure_blob", "aws_s3", "cdn",
                                   "processing_queue"}
    for check in body["checks"].values():
        assert check["status"] == "UP" and check["responseTime"].endswith("ms")
    assert body["checks"]["processing_queue"]["pending_jobs"] >= 0


def test_callers_share_a_recent_answer(api):
    """Anonymous callers cannot make the service probe the database at their own pace."""
    with ThreadPoolExecutor(20) as pool:
        bodies = list(pool.map(lambda _: api.get("/health").json(), range(40)))
    assert len({body["timestamp"] for body in bodies}) <= 2  # a probe may end mid-burst
    assert api.get("/health").json()["timestamp"] == api.get("/health").json()["timestamp"]


def test_backup_store_down_degrades_but_uploads_still_work(api, stack, upload, user, stores,
                                                          run_maintenance, wait_for):
    stack.s3.stop()
    try:
        health = _status_becomes(api, wait_for, "DEGRADED")
        assert health["checks"]["aws_s3"]["status"] == "DOWN"
        assert set(health["checks"]["aws_s3"]) == {"status", "responseTime"}
        response = upload(user, png(), mime="image/png")
        assert response.status_code == 201, response.text
        path = stores.path_of(response.json()["file"]["id"])
        wait_for(lambda: _backup(stores, path)["state"] == "failed", what="backup failure")
        assert _backup(stores, path)["last_error"]
    finally:
        stack.s3.start()
        stack.provision()  # moto keeps nothing across a restart: the bucket again
    _status_becomes(api, wait_for, "UP")
    # Time passes: the retry back-off is over, and maintenance catches the copy up.
    stores.sql("UPDATE file_backups SET updated_at = now() - interval '1 hour' "
               "WHERE file_path = %s", (path,))
    run_maintenance()
    row = _backup(stores, path)
    assert row["state"] == "done" and row["attempts"] == 2
    assert stores.s3_bytes(path) == stores.blob_bytes(path)


def _backup(stores, path: str) -> dict:
    return stores.sql("SELECT * FROM file_backups WHERE file_path = %s", (path,))[0]


def _health_with(env: dict[str, str], tmp_path) -> tuple[int, dict]:
    port = free_ports(1)[0]
    host = DevhostProcess({**env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                           "AzureWebJobs.backup_new_blob.Disabled": "true"}, port,
                          log_path=tmp_path / f"devhost-{port}.log")
    host.start()
    try:
        import httpx

        response = httpx.get(f"{host.url}/health", timeout=30)
        return response.status_code, response.json()
    finally:
        host.stop()


def test_database_down_is_503(stack_env, tmp_path):
    dead = free_ports(1)[0]
    status, body = _health_with({**stack_env, "DATABASE_URL":
                                 f"postgresql://nobody@127.0.0.1:{dead}/none"}, tmp_path)
    assert status == 503 and body["status"] == "DOWN"
    assert body["checks"]["database"] == {**body["checks"]["database"], "status": "DOWN"}
    assert set(body["checks"]["database"]) == {"status", "responseTime"}  # no exception name
    assert body["checks"]["azure_blob"]["status"] == "UP"
    assert str(dead) not in str(body)


def test_primary_storage_down_is_503(stack_env, tmp_path):
    dead = free_ports(1)[0]
    broken = stack_env["AzureWebJobsStorage"]
    for part in broken.split(";"):
        if part.startswith(("BlobEndpoint=", "QueueEndpoint=")):
            key, url = part.split("=", 1)
            port = url.split(":")[2].split("/")[0]
            broken = broken.replace(part, f"{key}={url.replace(port, str(dead))}")
    status, body = _health_with({**stack_env, "AzureWebJobsStorage": broken}, tmp_path)
    assert status == 503
    assert body["checks"]["azure_blob"]["status"] == "DOWN"
    assert body["checks"]["processing_queue"]["status"] == "DOWN"
    assert body["checks"]["database"]["status"] == "UP"
    assert "127.0.0.1" not in str(body) and "devstoreaccount1" not in str(body)
