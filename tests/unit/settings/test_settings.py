"""Settings come from documented environment names only, with sizes and lists parsed."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import DEV_JWT_SECRET, Settings, expand_connection_string, parse_size
from tests.unit.conftest import documented_setting_names

pytestmark = pytest.mark.usefixtures("clean_env")
DOCUMENTED = documented_setting_names()

# Azurite's well-known development account, as Microsoft documents it.
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
REAL_ACCOUNT = (
    "DefaultEndpointsProtocol=https;AccountName=prodaccount;"
    "AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"
)


def parse_connection_string(value: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in value.split(";") if item)
    return {key: val for key, val in pairs}


# --- parse_size ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100MB", 100 * 1024**2),
        ("5GB", 5 * 1024**3),
        ("1.5MB", 1536 * 1024),
        ("512", 512),
        ("10 kb", 10 * 1024),
        ("  7 mb ", 7 * 1024**2),
        ("1K", 1024),
        ("2B", 2),
        ("1TB", 1024**4),
        ("0", 0),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_parse_size_passes_integers_through() -> None:
    assert parse_size(3_000_000) == 3_000_000


@pytest.mark.parametrize(
    "text", ["", "MB", "abc", "-1MB", "1PB", "1.2.3MB", "1 M B", "1e3", "ten MB", "5 GiB"]
)
def test_parse_size_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


# --- expand_connection_string -----------------------------------------------------------

@pytest.mark.parametrize(
    "value",
    [
        "UseDevelopmentStorage=true",
        "UseDevelopmentStorage=true;",
        "usedevelopmentstorage=TRUE",
        " UseDevelopmentStorage = true ",
    ],
)
def test_development_storage_becomes_azurite(value: str) -> None:
    parts = parse_connection_string(expand_connection_string(value))
    assert parts["DefaultEndpointsProtocol"] == "http"
    assert parts["AccountName"] == "devstoreaccount1"
    assert parts["AccountKey"] == AZURITE_KEY
    assert parts["BlobEndpoint"] == "http://127.0.0.1:10000/devstoreaccount1"
    assert parts["QueueEndpoint"] == "http://127.0.0.1:10001/devstoreaccount1"


def test_expanded_string_is_understood_by_the_azure_sdk() -> None:
    """The SDK parses the string without any network call; its URLs are Azurite's."""
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    expanded = expand_connection_string("UseDevelopmentStorage=true")
    blob = BlobServiceClient.from_connection_string(expanded)
    queue = QueueServiceClient.from_connection_string(expanded)
    assert blob.url.rstrip("/") == "http://127.0.0.1:10000/devstoreaccount1"
    assert queue.url.rstrip("/") == "http://127.0.0.1:10001/devstoreaccount1"
    assert blob.account_name == "devstoreaccount1"


@pytest.mark.parametrize(
    "value",
    [REAL_ACCOUNT, "UseDevelopmentStorage=false", "", "AccountName=x;AccountKey=eQ=="],
)
def test_other_connection_strings_are_unchanged(value: str) -> None:
    assert expand_connection_string(value) == value


# --- Settings from the environment ------------------------------------------------------

def test_defaults_without_environment() -> None:
    settings = Settings()
    assert settings.container_name == "visiobook-files"
    assert settings.max_file_size == 100 * 1024**2
    assert settings.allowed_mime_types == [
        "image/jpeg", "image/png", "image/gif", "video/mp4", "application/pdf", "text/plain",
    ]
    assert settings.encryption_key == ""
    assert settings.backup_enabled is True
    assert settings.primary_connection_string == ""


def test_documented_names_are_read(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AZURE_CONTAINER_NAME", "my-files")
    clean_env.setenv("AWS_S3_BUCKET", "my-backup")
    clean_env.setenv("TRANSFORM_QUEUE_NAME", "work")
    clean_env.setenv("JWT_SECRET", "s3cret-of-at-least-thirty-two-bytes!")
    clean_env.setenv("BACKUP_ENABLED", "false")
    clean_env.setenv("DB_POOL_MAX", "9")
    clean_env.setenv("DB_POOL_TIMEOUT", "2.5")
    clean_env.setenv("AZURE_CDN_ENDPOINT", "https://cdn.example")
    settings = Settings()
    assert settings.container_name == "my-files"
    assert settings.s3_bucket == "my-backup"
    assert settings.transform_queue == "work"
    assert settings.jwt_secret == "s3cret-of-at-least-thirty-two-bytes!"
    assert settings.backup_enabled is False
    assert settings.db_pool_max == 9
    assert settings.db_pool_timeout == 2.5
    assert settings.cdn_endpoint == "https://cdn.example"


@pytest.mark.parametrize("seconds", ["0", "-1", "61"])
def test_the_pool_timeout_is_bounded(clean_env: pytest.MonkeyPatch, seconds: str) -> None:
    """A request never waits long for a connection, nor gives up at once."""
    clean_env.setenv("DB_POOL_TIMEOUT", seconds)
    with pytest.raises(ValueError, match="DB_POOL_TIMEOUT"):
        Settings()


def test_undocumented_names_are_ignored(clean_env: pytest.MonkeyPatch) -> None:
    """CONTAINER_NAME (set on some machines for other reasons) must not rename the container;
    no field is read under its Python name when its documented name differs."""
    baseline = Settings().model_dump()
    documented = {name.lower() for name in DOCUMENTED}
    planted = []
    for field_name in Settings.model_fields:
        if field_name.lower() not in documented:
            clean_env.setenv(field_name.upper(), "1")
            planted.append(field_name.upper())
    clean_env.setenv("CONTAINER_NAME", "not-ours")
    assert "CONTAINER_NAME" in planted
    assert Settings().model_dump() == baseline


def test_sizes_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MAX_FILE_SIZE", "3MB")
    clean_env.setenv("QUOTA_USER_BYTES", "8MB")
    clean_env.setenv("QUOTA_PREMIUM_BYTES", "1.5GB")
    clean_env.setenv("UPLOAD_BLOCK_SIZE", "512 kb")
    clean_env.setenv("STREAM_MAX_OPEN_RANGE", "65536")
    settings = Settings()
    assert settings.max_file_size == 3 * 1024**2
    assert settings.quota_user_bytes == 8 * 1024**2
    assert settings.quota_premium_bytes == 1536 * 1024**2
    assert settings.upload_block_size == 512 * 1024
    assert settings.stream_max_open_range == 65536


def test_invalid_size_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MAX_FILE_SIZE", "lots")
    with pytest.raises(ValidationError):
        Settings()


def test_comma_lists(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ALLOWED_MIME_TYPES", " image/png , ,text/plain,application/pdf ")
    clean_env.setenv("ENCRYPTION_PREVIOUS_KEYS", "a2V5MQ==,a2V5Mg==")
    settings = Settings()
    assert settings.allowed_mime_types == ["image/png", "text/plain", "application/pdf"]
    assert settings.encryption_previous_keys == ["a2V5MQ==", "a2V5Mg=="]
    assert settings.encryption_previous_vault_keys == []


def test_a_single_mime_type_is_a_one_item_list(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ALLOWED_MIME_TYPES", "image/png")
    assert Settings().allowed_mime_types == ["image/png"]


def test_s3_specific_endpoint_wins(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AWS_ENDPOINT_URL", "http://generic:1")
    assert Settings().s3_endpoint_url == "http://generic:1"
    clean_env.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:2")
    assert Settings().s3_endpoint_url == "http://s3-only:2"


def test_valid_encryption_key_is_accepted(clean_env: pytest.MonkeyPatch) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    clean_env.setenv("ENCRYPTION_KEY", key)
    assert Settings().encryption_key == key


@pytest.mark.parametrize(
    "key",
    [
        base64.b64encode(b"k" * 16).decode(),  # too short
        base64.b64encode(b"k" * 33).decode(),  # too long
        "not base64 at all!",
        base64.b64encode(b"k" * 32).decode().rstrip("="),  # padding removed
    ],
)
def test_invalid_encryption_key_is_refused(clean_env: pytest.MonkeyPatch, key: str) -> None:
    clean_env.setenv("ENCRYPTION_KEY", key)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert any(error["loc"] == ("ENCRYPTION_KEY",) for error in info.value.errors())


# --- primary_connection_string ----------------------------------------------------------

def test_host_storage_is_used_when_nothing_else_is_set(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    parts = parse_connection_string(Settings().primary_connection_string)
    assert parts["BlobEndpoint"] == "http://127.0.0.1:10000/devstoreaccount1"


def test_storage_connection_string_wins_over_host_storage(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    clean_env.setenv("AZURE_STORAGE_CONNECTION_STRING", REAL_ACCOUNT)
    assert Settings().primary_connection_string == REAL_ACCOUNT


def test_storage_connection_string_may_itself_be_development_storage(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("AzureWebJobsStorage", REAL_ACCOUNT)
    clean_env.setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
    parts = parse_connection_string(Settings().primary_connection_string)
    assert parts["AccountName"] == "devstoreaccount1"


def test_account_name_without_connection_string_means_managed_identity(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    clean_env.setenv("AZURE_STORAGE_ACCOUNT", "prodaccount")
    settings = Settings()
    assert settings.storage_account == "prodaccount"
    assert settings.primary_connection_string == ""


def test_account_name_does_not_hide_an_explicit_connection_string(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("AZURE_STORAGE_ACCOUNT", "prodaccount")
    clean_env.setenv("AZURE_STORAGE_CONNECTION_STRING", REAL_ACCOUNT)
    assert Settings().primary_connection_string == REAL_ACCOUNT


# --- token settings that would let foreign tokens in ---------------------------------------

ROOT = Path(__file__).resolve().parents[3]
STRONG = "a-production-secret-of-32-bytes!"  # exactly 32 bytes


def test_the_development_secret_is_the_documented_one() -> None:
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    assert values["JWT_SECRET"] == DEV_JWT_SECRET
    assert values["AZURE_FUNCTIONS_ENVIRONMENT"] == "Development"


@pytest.mark.parametrize("secret", [DEV_JWT_SECRET, f" {DEV_JWT_SECRET} ", "w3ak-s3cret",
                                    "x" * 31, "é" * 15])
@pytest.mark.parametrize("environment", [None, "Production", "Staging", "dev"])
def test_a_weak_jwt_secret_is_refused_outside_local_development(
        clean_env: pytest.MonkeyPatch, secret: str, environment: str | None) -> None:
    clean_env.setenv("JWT_SECRET", secret)
    if environment is not None:
        clean_env.setenv("AZURE_FUNCTIONS_ENVIRONMENT", environment)
    with pytest.raises(ValidationError, match="JWT_SECRET is the development secret") as info:
        Settings()
    assert secret.strip() not in str(info.value)  # errors never echo a value


@pytest.mark.parametrize("environment", ["Development", "development"])
def test_the_development_secret_is_fine_in_local_development(
        clean_env: pytest.MonkeyPatch, environment: str) -> None:
    clean_env.setenv("JWT_SECRET", DEV_JWT_SECRET)
    clean_env.setenv("AZURE_FUNCTIONS_ENVIRONMENT", environment)
    assert Settings().local_development and Settings().jwt_secret == DEV_JWT_SECRET


def test_a_strong_secret_is_fine_anywhere(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("JWT_SECRET", STRONG)
    clean_env.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Production")
    assert Settings().jwt_secret == STRONG and not Settings().local_development


def test_the_app_refuses_to_start_with_a_jwks_url_but_no_issuer_or_audience() -> None:
    """Importing function_app is what the Functions host does at start-up (indexing)."""
    env = {name: value for name, value in os.environ.items()
           if name.lower() not in {n.lower() for n in DOCUMENTED}}
    env |= {"JWT_JWKS_URL": "https://login.example/keys", "JWT_AUDIENCE": "api://storage",
            "ENCRYPTION_KEY": base64.b64encode(b"s" * 32).decode()}
    started = subprocess.run([sys.executable, "-c", "import function_app"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert started.returncode != 0
    assert "JWT_ISSUER and JWT_AUDIENCE are required" in started.stderr
    assert env["ENCRYPTION_KEY"] not in started.stderr
    env["JWT_ISSUER"] = "https://login.example/tenant/v2.0"
    assert subprocess.run([sys.executable, "-c", "import function_app"], cwd=ROOT, env=env,
                          capture_output=True, timeout=120).returncode == 0
