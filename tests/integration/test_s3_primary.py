"""PRIMARY_STORAGE=aws_s3: the same API with S3 (moto) as the primary store, by the same
storage contract: upload, stream, download and delete never touch Azure Blob."""

from __future__ import annotations

import hashlib

import botocore.exceptions
import httpx
import pytest

from tests.integration.helpers import pdf, png

MiB = 1024 * 1024
BUCKET = "visiobook-primary"
S3_PRIMARY = {"PRIMARY_STORAGE": "aws_s3", "PRIMARY_S3_BUCKET": BUCKET,
              "MAX_FILE_SIZE": "20MB"}


@pytest.fixture(scope="module")
def s3_api(stack, stack_env, devhost_with) -> httpx.Client:
    stack.provision(extra_env={**stack_env, **S3_PRIMARY})  # creates the bucket, as deployed
    return devhost_with(**S3_PRIMARY)


def test_upload_stream_download_delete_with_an_s3_primary(s3_api, upload, user, stores,
                                                          auth_headers):
    # An image: PDFs are streamed by the service in a sandbox, images go through the 302.
    content = png(9 * MiB + 7)  # past one 8 MiB part: a multipart upload
    response = upload(user, content, filename="scan.png", mime="image/png",
                      role="premium", client=s3_api)
    assert response.status_code == 201, response.text
    record = response.json()["file"]
    path, file_id = stores.path_of(record["id"]), record["id"]
    assert record["storage_provider"] == "aws_s3"
    assert record["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    assert stores.s3.get_object(Bucket=BUCKET, Key=path)["Body"].read() == content
    assert stores.blobs(f"users/{user}/") == []  # nothing went to Azure Blob
    headers = auth_headers(user, "premium")

    ranged = s3_api.get(f"/api/v1/storage/stream/{file_id}",
                        headers={**headers, "Range": "bytes=8388600-8388700"})
    assert ranged.status_code == 206 and ranged.content == content[8388600:8388701]

    redirect = s3_api.get(f"/api/v1/storage/download/{file_id}", headers=headers)
    assert redirect.status_code == 302, redirect.text
    fetched = httpx.get(redirect.headers["Location"])
    assert fetched.status_code == 200 and fetched.content == content
    assert fetched.headers["content-disposition"] == redirect.headers["Content-Disposition"]

    deleted = s3_api.delete(f"/api/v1/storage/files/{file_id}", headers=headers,
                            params={"permanent": "true"})
    assert deleted.status_code == 200, deleted.text
    with pytest.raises(botocore.exceptions.ClientError):
        stores.s3.head_object(Bucket=BUCKET, Key=path)
    assert stores.sql("SELECT count(*) AS n FROM files WHERE id = %s", (file_id,))[0]["n"] == 0


def test_health_names_the_s3_primary_and_the_backup_apart(s3_api):
    body = s3_api.get("/health").json()
    assert body["status"] == "UP", body
    assert body["checks"]["aws_s3"]["status"] == "UP"
    assert BUCKET not in str(body)  # names stay inside the service
    assert body["checks"]["aws_s3_backup"]["status"] == "UP"
    assert "azure_blob" not in body["checks"]


def test_files_stored_before_the_switch_stay_readable(s3_api, upload, user, auth_headers):
    content = pdf(50_000)
    record = upload(user, content, mime="application/pdf").json()["file"]  # Azure primary
    assert record["storage_provider"] == "azure_blob"
    streamed = s3_api.get(f"/api/v1/storage/stream/{record['id']}",
                          headers=auth_headers(user))
    assert streamed.status_code == 200 and streamed.content == content
