"""Settings read from the environment (the Functions host puts app settings there).

Names follow the specification's list of variables, plus the ecosystem's own where one
exists (``AzureWebJobsStorage``, ``AZURE_STORAGE_CONNECTION_STRING``, boto3's
``AWS_ENDPOINT_URL_S3``).
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*$", re.IGNORECASE | re.ASCII)

# Azurite's well-known development account (public, documented by Microsoft).
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# The HS256 secret of local.settings.example.json: public, so never accepted outside local
# development, and neither is any secret shorter than HS256's own 32-byte key size.
DEV_JWT_SECRET = "dev-secret-change-me-please-32-bytes!"
MIN_JWT_SECRET_BYTES = 32
# Options of the Azure Storage clients on the request path (blob and queue): the SDK's
# defaults (15 s, then 3^n s, a 20 s connect timeout) keep a client waiting for a minute and
# more while storage restarts; these give up within ~10 s (answered with the spec's 502).
STORAGE_CLIENT_RETRIES: dict[str, Any] = {"retry_total": 3, "initial_backoff": 0.5,
                                          "increment_base": 2, "random_jitter_range": 0.2,
                                          "connection_timeout": 5}
MAX_SAS_SECONDS = 15 * 60


def parse_size(value: str | int) -> int:
    """'100MB' -> 104857600 (binary units, as the specification's examples use)."""
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(f"not a size: {value!r}")
    number, unit = match.groups()
    unit = unit.upper()
    if unit and not unit.endswith("B"):
        unit += "B"
    return int(float(number) * _SIZE_UNITS[unit])


def expand_connection_string(value: str) -> str:
    """Turn ``UseDevelopmentStorage=true`` into Azurite's explicit connection string."""
    pairs = (p.split("=", 1) for p in value.replace(" ", "").split(";") if "=" in p)
    if {k.lower(): v.lower() for k, v in pairs}.get("usedevelopmentstorage") == "true":
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={DEV_ACCOUNT_NAME};AccountKey={DEV_ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:10000/{DEV_ACCOUNT_NAME};"
            f"QueueEndpoint=http://127.0.0.1:10001/{DEV_ACCOUNT_NAME};"
            f"TableEndpoint=http://127.0.0.1:10002/{DEV_ACCOUNT_NAME};"
        )
    return value


class Settings(BaseSettings):
    # Only the documented names are read (a field name such as CONTAINER_NAME is not).
    # Errors never echo values: they would print secrets into the host's log.
    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    # "Development" under `func start` (and the devhost); Azure sets "Production".
    functions_environment: str = Field("", validation_alias="AZURE_FUNCTIONS_ENVIRONMENT")

    # Where new files go: "azure_blob" (default) or "aws_s3" (the bucket PRIMARY_S3_BUCKET,
    # reached with the AWS settings below). The value is recorded on each file's row
    # (storage_provider), and reads use the store the row names.
    primary_storage: Literal["azure_blob", "aws_s3"] = Field(
        "azure_blob", validation_alias="PRIMARY_STORAGE"
    )
    primary_s3_bucket: str = Field("visiobook-files", validation_alias="PRIMARY_S3_BUCKET")

    # Azure Blob. A connection string wins; otherwise the account name with a managed
    # identity (DefaultAzureCredential).
    host_storage: str = Field("", validation_alias="AzureWebJobsStorage")
    storage_connection_string: str = Field("", validation_alias="AZURE_STORAGE_CONNECTION_STRING")
    storage_account: str = Field("", validation_alias="AZURE_STORAGE_ACCOUNT")
    storage_key: str = Field("", validation_alias="AZURE_STORAGE_KEY")
    container_name: str = Field("visiobook-files", validation_alias="AZURE_CONTAINER_NAME")
    transform_queue: str = Field("transformations", validation_alias="TRANSFORM_QUEUE_NAME")

    # Backup storage (S3), and the S3 primary's region and endpoint. boto3 reads its own
    # AWS_* variables (credentials); these are the ones we use.
    s3_bucket: str = Field("visiobook-backup", validation_alias="AWS_S3_BUCKET")
    aws_region: str = Field("eu-west-1", validation_alias="AWS_REGION")
    s3_endpoint_url: str = Field(
        "", validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    )
    backup_enabled: bool = Field(True, validation_alias="BACKUP_ENABLED")

    # Database
    database_url: str = Field("", validation_alias="DATABASE_URL")
    db_pool_max: int = Field(5, validation_alias="DB_POOL_MAX")
    # Entra authentication (main.bicep sets it): the password of each new connection is an
    # access token of the managed identity (shared/db/pg/entra.py); DATABASE_URL has none.
    database_entra_auth: bool = Field(False, validation_alias="DATABASE_ENTRA_AUTH")
    # The user-assigned managed identity's client id (azure-identity reads it too).
    azure_client_id: str = Field("", validation_alias="AZURE_CLIENT_ID")
    # How long a request waits for a pooled connection (all busy, or the server down) before
    # it is answered 503 with Retry-After: seconds, so that an exhausted pool never hangs.
    db_pool_timeout: float = Field(5.0, gt=0, le=60, validation_alias="DB_POOL_TIMEOUT")

    # Auth
    jwt_secret: str = Field("", validation_alias="JWT_SECRET")
    jwt_jwks_url: str = Field("", validation_alias="JWT_JWKS_URL")
    jwt_issuer: str = Field("", validation_alias="JWT_ISSUER")
    jwt_audience: str = Field("", validation_alias="JWT_AUDIENCE")

    # Limits
    max_file_size: int = Field(100 * 1024**2, validation_alias="MAX_FILE_SIZE")
    allowed_mime_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "image/jpeg", "image/png", "image/gif", "video/mp4", "application/pdf", "text/plain",
        ],
        validation_alias="ALLOWED_MIME_TYPES",
    )
    quota_user_bytes: int = Field(5 * 1024**3, validation_alias="QUOTA_USER_BYTES")
    quota_premium_bytes: int = Field(50 * 1024**3, validation_alias="QUOTA_PREMIUM_BYTES")
    trash_retention_days: int = Field(30, validation_alias="TRASH_RETENTION_DAYS")
    # A SAS lives SIGNED_URL_EXPIRES seconds, never more than MAX_SAS_SECONDS (a SAS cannot
    # be revoked: making the file private or trashing it ends access only when it expires).
    signed_url_expires: int = Field(3600, ge=60, validation_alias="SIGNED_URL_EXPIRES")
    # Azure blocks: fewer, larger ones are faster (Azurite pays per request); 8 MiB blocks keep
    # an upload's memory near 24 MiB whatever the file size.
    upload_block_size: int = Field(8 * 1024**2, validation_alias="UPLOAD_BLOCK_SIZE")
    # Resumable uploads (chunk protocol and tus): the largest file, the chunk sizes the service
    # grants (multiples of the 64 KiB encryption frame; below the Functions host's 100 MB body
    # limit), and how long a session lives without activity (uncommitted Azure blocks last a
    # week after the last one staged, so this must stay well under 7 days).
    max_resumable_file_size: int = Field(50 * 1024**3,
                                         validation_alias="MAX_RESUMABLE_FILE_SIZE")
    resumable_chunk_size: int = Field(8 * 1024**2, validation_alias="RESUMABLE_CHUNK_SIZE")
    resumable_min_chunk_size: int = Field(256 * 1024,
                                          validation_alias="RESUMABLE_MIN_CHUNK_SIZE")
    resumable_max_chunk_size: int = Field(64 * 1024**2,
                                          validation_alias="RESUMABLE_MAX_CHUNK_SIZE")
    resumable_session_ttl: int = Field(24 * 3600, ge=60, le=6 * 24 * 3600,
                                       validation_alias="RESUMABLE_SESSION_TTL")
    # Origins whose browser pages may use the tus endpoint ("*": any; tokens are bearer
    # headers, never cookies, so no credentials ride along).
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"], validation_alias="CORS_ALLOWED_ORIGINS")
    # Upload admission (shared/limits): each instance admits uploads by the memory they may
    # hold (their length, at most three blocks) within UPLOAD_MEMORY_BUDGET, and at most
    # MAX_CONCURRENT_UPLOADS at once; each user may have MAX_USER_CONCURRENT_UPLOADS uploads
    # (or chunks) in progress and start MAX_USER_UPLOADS_PER_MINUTE uploads (or sessions) a
    # minute, counted across instances through Redis when REDIS_URL is set (Azure Cache for
    # Redis: rediss://:<key>@<name>.redis.cache.windows.net:6380/0), in-process otherwise.
    # A slot is a lease of UPLOAD_LEASE_SECONDS, renewed while its upload runs.
    max_concurrent_uploads: int = Field(100, ge=1, validation_alias="MAX_CONCURRENT_UPLOADS")
    upload_memory_budget: Annotated[int, BeforeValidator(parse_size)] = Field(
        256 * 1024**2, ge=1024**2, validation_alias="UPLOAD_MEMORY_BUDGET")
    max_user_concurrent_uploads: int = Field(8, ge=1,
                                             validation_alias="MAX_USER_CONCURRENT_UPLOADS")
    max_user_uploads_per_minute: int = Field(120, ge=1,
                                             validation_alias="MAX_USER_UPLOADS_PER_MINUTE")
    upload_lease_seconds: float = Field(60, ge=3, le=3600,
                                        validation_alias="UPLOAD_LEASE_SECONDS")
    redis_url: str = Field("", validation_alias="REDIS_URL")
    # An upload whose body stops arriving for this long is ended (408, nothing kept).
    upload_idle_timeout_seconds: float = Field(
        30, gt=0, le=3600, validation_alias="UPLOAD_IDLE_TIMEOUT_SECONDS")

    # Observability (shared/telemetry.py, devhost/metrics.py). LOG_LEVEL: the app's loggers.
    # The connection string is Application Insights' (Entra auth: it holds no secret); the
    # devhost serves Prometheus metrics on PROMETHEUS_PORT (0: not served; the spec's example
    # is 9090).
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", validation_alias="LOG_LEVEL")
    applicationinsights_connection_string: str = Field(
        "", validation_alias="APPLICATIONINSIGHTS_CONNECTION_STRING")
    prometheus_port: int = Field(0, ge=0, le=65535, validation_alias="PROMETHEUS_PORT")

    # Encryption at rest: base64 of a 32-byte key; unset means no application encryption.
    encryption_key: str = Field("", validation_alias="ENCRYPTION_KEY")
    # true (the Bicep deployment sets it): with no active key (ENCRYPTION_KEY or a Key Vault
    # key), uploads answer 503 SERVICE_UNAVAILABLE instead of storing plaintext; files stored
    # before stay readable.
    encryption_required: bool = Field(False, validation_alias="ENCRYPTION_REQUIRED")
    encryption_previous_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="ENCRYPTION_PREVIOUS_KEYS"
    )
    # In Azure: a versioned Key Vault key URL; it wraps the data keys instead of ENCRYPTION_KEY.
    encryption_key_vault_key: str = Field("", validation_alias="ENCRYPTION_KEY_VAULT_KEY_ID")
    encryption_previous_vault_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="ENCRYPTION_PREVIOUS_KEY_VAULT_KEY_IDS"
    )
    stream_max_open_range: int = Field(16 * 1024**2, validation_alias="STREAM_MAX_OPEN_RANGE")

    # Media processing (the spec's names), then the media limits: shared.media.limits.MediaLimits
    # checks their bounds and documents each one.
    temp_storage_path: str = Field("/tmp/visiobook", validation_alias="TEMP_STORAGE_PATH")
    image_quality: int = Field(85, validation_alias="IMAGE_QUALITY")
    video_bitrate: str = Field("2000k", validation_alias="VIDEO_BITRATE")
    media_max_pixels: int = Field(100_000_000, validation_alias="MEDIA_MAX_PIXELS")
    media_max_frames: int = Field(1000, validation_alias="MEDIA_MAX_FRAMES")
    media_max_video_seconds: float = Field(1800, validation_alias="MEDIA_MAX_VIDEO_SECONDS")
    media_max_video_pixels: int = Field(4096 * 2160, validation_alias="MEDIA_MAX_VIDEO_PIXELS")
    media_max_pdf_pages: int = Field(2000, validation_alias="MEDIA_MAX_PDF_PAGES")
    media_max_ocr_pages: int = Field(20, validation_alias="MEDIA_MAX_OCR_PAGES")
    media_max_output_size: Annotated[int, BeforeValidator(parse_size)] = Field(
        500 * 1024**2, validation_alias="MEDIA_MAX_OUTPUT_SIZE")
    media_max_unpacked_size: Annotated[int, BeforeValidator(parse_size)] = Field(
        256 * 1024**2, validation_alias="MEDIA_MAX_UNPACKED_SIZE")
    media_max_memory: Annotated[int, BeforeValidator(parse_size)] = Field(
        2 * 1024**3, validation_alias="MEDIA_MAX_MEMORY")
    media_job_timeout: float = Field(540, validation_alias="MEDIA_JOB_TIMEOUT")
    # The largest stored file that metadata extraction and transformations read to local disk.
    media_max_source_size: Annotated[int, BeforeValidator(parse_size)] = Field(
        2 * 1024**3, validation_alias="MEDIA_MAX_SOURCE_SIZE")

    # URLs shown to clients. AZURE_CDN_ENDPOINT is the public CDN's base URL (Front Door's
    # endpoint, a Cloudflare host in front of it, or the local Varnish).
    public_base_url: str = Field("http://127.0.0.1:8089", validation_alias="PUBLIC_BASE_URL")
    cdn_endpoint: str = Field("", validation_alias="AZURE_CDN_ENDPOINT")

    # /health reuses its answer this long: anonymous callers cannot load the database.
    health_cache_seconds: float = Field(5.0, ge=0, le=60, validation_alias="HEALTH_CACHE_SECONDS")

    # Tiering: a file moves to a cheaper tier after this many days without a download, a
    # stream or a CDN miss; reading an archived file starts its rehydration (202, Retry-After).
    tier_cool_after_days: int = Field(30, ge=1, validation_alias="TIER_COOL_AFTER_DAYS")
    tier_cold_after_days: int = Field(90, ge=1, validation_alias="TIER_COLD_AFTER_DAYS")
    tier_archive_after_days: int = Field(180, ge=1, validation_alias="TIER_ARCHIVE_AFTER_DAYS")
    rehydrate_priority: Literal["Standard", "High"] = Field(
        "Standard", validation_alias="REHYDRATE_PRIORITY")
    rehydrate_retry_after: int = Field(3600, ge=1, validation_alias="REHYDRATE_RETRY_AFTER")

    # Reconciliation of the stores against the tables: how often the timer runs it (0: never,
    # only on demand), how old
    # an object without a row must be before it is deleted (an upload commits its object a
    # moment before its row), and how many files' SHA-256 each run verifies (oldest first).
    reconcile_interval_hours: float = Field(24, ge=0, validation_alias="RECONCILE_INTERVAL_HOURS")
    reconcile_grace_hours: float = Field(24, ge=0, validation_alias="RECONCILE_GRACE_HOURS")
    reconcile_verify_batch: int = Field(200, ge=0, validation_alias="RECONCILE_VERIFY_BATCH")

    # CDN providers: each one configured is purged and asked for statistics.
    cdn_cache_ttl: int = Field(86400, ge=0, validation_alias="CDN_CACHE_TTL")
    front_door_profile_id: str = Field("", validation_alias="AZURE_FRONT_DOOR_PROFILE_ID")
    front_door_endpoint_name: str = Field("", validation_alias="AZURE_FRONT_DOOR_ENDPOINT_NAME")
    cloudflare_zone_id: str = Field("", validation_alias="CLOUDFLARE_ZONE_ID")
    cloudflare_api_token: str = Field("", validation_alias="CLOUDFLARE_API_TOKEN")
    # The local edge (devhost): Varnish's address, its varnishncsa log and its working
    # directory (for varnishstat).
    varnish_url: str = Field("", validation_alias="VARNISH_URL")
    varnish_log_path: str = Field("", validation_alias="VARNISH_LOG_PATH")
    varnish_workdir: str = Field("", validation_alias="VARNISH_WORKDIR")

    @field_validator("max_file_size", "quota_user_bytes", "quota_premium_bytes",
                     "upload_block_size", "stream_max_open_range", "max_resumable_file_size",
                     "resumable_chunk_size", "resumable_min_chunk_size",
                     "resumable_max_chunk_size", mode="before")
    @classmethod
    def _size(cls, value: str | int) -> int:
        return parse_size(value)

    @field_validator("allowed_mime_types", "encryption_previous_keys", "cors_allowed_origins",
                     "encryption_previous_vault_keys", mode="before")
    @classmethod
    def _csv(cls, value: str | list[str]) -> list[str]:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: str) -> str:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("encryption_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if value and len(base64.b64decode(value, validate=True)) != 32:
            raise ValueError("ENCRYPTION_KEY must be the base64 of 32 bytes")
        return value

    @model_validator(mode="after")
    def _tokens_are_checked_safely(self) -> Settings:
        """Refuse to start with token settings that would let foreign tokens in."""
        if self.jwt_jwks_url:
            if not (self.jwt_issuer and self.jwt_audience):
                raise ValueError(
                    "JWT_JWKS_URL is set, so JWT_ISSUER and JWT_AUDIENCE are required: the "
                    "identity provider signs every tenant's tokens with the same keys (Entra "
                    "ID: JWT_ISSUER=https://login.microsoftonline.com/<tenant-id>/v2.0, "
                    "JWT_AUDIENCE=<the API's application id>)")
            if not (self.jwt_jwks_url.startswith("https://") or self.local_development):
                raise ValueError("JWT_JWKS_URL must be an https:// URL outside local development")
        elif self.jwt_secret and not self.local_development:
            secret = self.jwt_secret.strip()
            if secret == DEV_JWT_SECRET or len(secret.encode()) < MIN_JWT_SECRET_BYTES:
                raise ValueError(
                    "JWT_SECRET is the development secret or shorter than "
                    f"{MIN_JWT_SECRET_BYTES} bytes: refused outside local development "
                    "(AZURE_FUNCTIONS_ENVIRONMENT=Development); in Azure set JWT_JWKS_URL, "
                    "JWT_ISSUER and JWT_AUDIENCE")
        return self

    @property
    def sas_lifetime(self) -> int:
        """Seconds a signed URL lives: SIGNED_URL_EXPIRES capped at 15 minutes."""
        return min(self.signed_url_expires, MAX_SAS_SECONDS)

    @property
    def local_development(self) -> bool:
        return self.functions_environment.strip().lower() == "development"

    @model_validator(mode="after")
    def _tiers_in_order(self) -> Settings:
        if not (self.tier_cool_after_days < self.tier_cold_after_days
                < self.tier_archive_after_days):
            raise ValueError("TIER_COOL_AFTER_DAYS < TIER_COLD_AFTER_DAYS < "
                             "TIER_ARCHIVE_AFTER_DAYS must hold")
        return self

    @property
    def primary_connection_string(self) -> str:
        """Connection string of the primary store, or '' when a managed identity is used."""
        raw = self.storage_connection_string or (
            "" if self.storage_account else self.host_storage
        )
        return expand_connection_string(raw) if raw else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
