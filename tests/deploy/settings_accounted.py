# ruff: noqa: E501  (one reason per line reads better than wrapped strings)
"""Settings the deployment does not provide, or provides for someone other than our code.

tests/deploy/test_settings_coverage.py holds the code and infra/bicep to these lists: a setting
the code starts reading fails there until main.bicep provides it or it is listed here with a
reason; an entry that goes stale fails too.
"""

# Read by the code, deliberately not set in Azure: the default (shared/settings.py) is right
# there, or the setting is for local development only.
OPTIONAL = {
    "AzureWebJobsStorage": "local connection string; Azure uses identity-based AzureWebJobsStorage__* (modules/functionapp.bicep)",
    "AZURE_STORAGE_CONNECTION_STRING": "local alternative to AZURE_STORAGE_ACCOUNT + managed identity",
    "AZURE_STORAGE_KEY": "shared key, which the account refuses (allowSharedKeyAccess: false)",
    "AWS_ENDPOINT_URL_S3": "local S3 (moto); Azure uses AWS's own endpoint",
    "AWS_ENDPOINT_URL": "local S3 (moto); Azure uses AWS's own endpoint",
    "JWT_SECRET": "HS256 is for local development; Azure validates RS256/ES256 through JWT_JWKS_URL",
    "ENCRYPTION_KEY": "local master key; Azure wraps data keys with Key Vault (ENCRYPTION_KEY_VAULT_KEY_ID)",
    "ENCRYPTION_PREVIOUS_KEYS": "local keys retired by a rotation; Azure lists retired Key Vault key versions",
    "DB_POOL_MAX": "default (5 per instance) suits Flex Consumption; extraAppSettings can change it",
    "DB_POOL_TIMEOUT": "default (5 s) answers 503 before API Management's timeout; extraAppSettings can change it",
    "MAX_FILE_SIZE": "default from shared/settings.py; extraAppSettings can change it",
    "ALLOWED_MIME_TYPES": "default: the spec's list; extraAppSettings can change it",
    "QUOTA_USER_BYTES": "default from shared/settings.py; extraAppSettings can change it",
    "QUOTA_PREMIUM_BYTES": "default from shared/settings.py; extraAppSettings can change it",
    "TRASH_RETENTION_DAYS": "default: the spec's 30 days",
    "SIGNED_URL_EXPIRES": "default from shared/settings.py; extraAppSettings can change it",
    "UPLOAD_BLOCK_SIZE": "tuning; the default suits Azure Blob",
    "UPLOAD_IDLE_TIMEOUT_SECONDS": "tuning; default (30 s) from shared/settings.py, extraAppSettings can change it",
    "MAX_CONCURRENT_UPLOADS": "tuning; default per instance (a backstop: memory admits), the platform adds instances",
    "UPLOAD_MEMORY_BUDGET": "tuning; bytes uploads may hold per instance (256MB default fits a 2 GB instance)",
    "MAX_USER_CONCURRENT_UPLOADS": "per-user limit; default from shared/settings.py; extraAppSettings can change it",
    "MAX_USER_UPLOADS_PER_MINUTE": "per-user limit; default from shared/settings.py; extraAppSettings can change it",
    "UPLOAD_LEASE_SECONDS": "tuning: how soon a dead instance's upload slots free themselves",
    "STREAM_MAX_OPEN_RANGE": "tuning; the default suits browsers and players",
    "HEALTH_CACHE_SECONDS": "tuning; default (5 s) from shared/settings.py, extraAppSettings can change it",
    "AZURE_FUNCTIONS_ENVIRONMENT": "unset in Azure is Production (the host's default); only Development, set locally by func start and the devhost, accepts the development JWT secret",
    "PRIMARY_STORAGE": "default azure_blob is the deployment's primary; aws_s3 is for S3-compatible hosting",
    "PRIMARY_S3_BUCKET": "only read with PRIMARY_STORAGE=aws_s3",
    "TEMP_STORAGE_PATH": "default /tmp/visiobook: Flex Consumption instances have a writable local /tmp",
    "IMAGE_QUALITY": "default: the spec's 85",
    "VIDEO_BITRATE": "default: the spec's 2000k",
    "MEDIA_MAX_PIXELS": "media limit; default from shared/media/limits.py; extraAppSettings can change it",
    "MEDIA_MAX_FRAMES": "media limit; default from shared/media/limits.py; extraAppSettings can change it",
    "MEDIA_MAX_VIDEO_SECONDS": "media limit; default from shared/media/limits.py; extraAppSettings can change it",
    "MEDIA_MAX_VIDEO_PIXELS": "media limit; default from shared/media/limits.py; extraAppSettings can change it",
    "MEDIA_MAX_PDF_PAGES": "media limit; default from shared/media/limits.py; extraAppSettings can change it",
    "MEDIA_MAX_OCR_PAGES": "media limit; default from shared/media/limits.py; extraAppSettings can change it",
    "MEDIA_MAX_OUTPUT_SIZE": "media limit; default from shared/media/limits.py; extraAppSettings can change it",
    "MEDIA_MAX_UNPACKED_SIZE": "media limit; default from shared/media/limits.py; extraAppSettings can change it",
    "MEDIA_MAX_MEMORY": "media limit (RLIMIT_AS of FFmpeg and the media readers); the 2GB default fits a 2 GB or 4 GB instance",
    "MEDIA_JOB_TIMEOUT": "media limit; default 540 s, under host.json's functionTimeout (600 s) so the job records its own failure first",
    "MEDIA_MAX_SOURCE_SIZE": "media limit; default (2GB) from shared/settings.py; extraAppSettings can change it",
    "TIER_COOL_AFTER_DAYS": "tiering by idle days: defaults in shared/settings.py; extraAppSettings can change them",
    "TIER_COLD_AFTER_DAYS": "tiering by idle days: defaults in shared/settings.py; extraAppSettings can change them",
    "TIER_ARCHIVE_AFTER_DAYS": "tiering by idle days: defaults in shared/settings.py; extraAppSettings can change them",
    "REHYDRATE_PRIORITY": "Standard rehydration (up to 15 h, cheaper); High is a deliberate cost choice",
    "REHYDRATE_RETRY_AFTER": "tuning: the Retry-After of a read that started a rehydration",
    "RECONCILE_INTERVAL_HOURS": "tuning: the timer reconciles the stores daily by default",
    "RECONCILE_GRACE_HOURS": "tuning: an object without a row is kept a day before it is deleted",
    "RECONCILE_VERIFY_BATCH": "tuning: files whose SHA-256 each reconciliation reads back",
    "PROMETHEUS_PORT": "the devhost's Prometheus endpoint (local only); Azure's metrics go to Application Insights",
    "VARNISH_URL": "the local edge (devhost's Varnish); Azure's CDN is Front Door",
    "VARNISH_LOG_PATH": "the local edge's request log (devhost's varnishncsa)",
    "VARNISH_WORKDIR": "the local edge's working directory, for varnishstat",
    "MAX_RESUMABLE_FILE_SIZE": "resumable uploads: default from shared/settings.py; extraAppSettings can change it",
    "RESUMABLE_CHUNK_SIZE": "resumable uploads: tuning; the default is a multiple of the encryption frame",
    "RESUMABLE_MIN_CHUNK_SIZE": "resumable uploads: tuning; the smallest chunk a client may ask for",
    "RESUMABLE_MAX_CHUNK_SIZE": "resumable uploads: tuning; under the host's 100 MB request limit",
    "RESUMABLE_SESSION_TTL": "resumable uploads: default session lifetime (the spec's 24 h)",
    "CORS_ALLOWED_ORIGINS": "browser tus/chunk clients calling the app directly (local); in Azure API Management answers CORS",
}

# Provided by main.bicep or modules/functionapp.bicep for the Functions host or a library.
PLATFORM = {
    "AzureWebJobsStorage__credential": "host: identity-based host storage",
    "AzureWebJobsStorage__clientId": "host: which user-assigned identity",
    "AzureWebJobsStorage__blobServiceUri": "host: blob endpoint (locks, keys, blob trigger)",
    "AzureWebJobsFeatureFlags": "host: worker indexing of the v2 programming model",
    "PYTHON_ENABLE_INIT_INDEXING": "Python 3.11 worker: without it no HTTP streaming server starts",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "host and azure-monitor-opentelemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "host: Entra auth to Application Insights",
    "AZURE_CLIENT_ID": "azure-identity: DefaultAzureCredential's user-assigned identity",
    "AWS_ACCESS_KEY_ID": "boto3: the backup bucket's credentials (a Key Vault reference)",
    "AWS_SECRET_ACCESS_KEY": "boto3: the backup bucket's credentials (a Key Vault reference)",
}

# Provided now for code being written on other branches (name: who reads it). When the code
# reads one, it leaves this list (the test says so).
PENDING = {
}
