"""Builds the real ``AppContext`` from settings: Azure Blob or S3 as the primary store, S3
for the backup, PostgreSQL, the key ring, Azure queues. Nothing connects until first use."""

from __future__ import annotations

from shared.cdn import providers_for
from shared.context import AppContext
from shared.crypto.keys import keyring_for
from shared.db.pg import PostgresDatabase
from shared.db.pg.entra import managed_identity_password
from shared.limits import Admission
from shared.queues import AzureQueues
from shared.settings import Settings
from shared.storage import backup_store_for, stores_for


def build_context(settings: Settings) -> AppContext:
    return AppContext(
        settings=settings,
        stores=stores_for(settings),
        backup=backup_store_for(settings),
        db=PostgresDatabase(
            settings.database_url, pool_max=settings.db_pool_max,
            pool_timeout=settings.db_pool_timeout,
            password=(managed_identity_password(settings.azure_client_id)
                      if settings.database_entra_auth else None)),
        keyring=keyring_for(settings),
        queues=AzureQueues(settings),
        cdn=providers_for(settings),
        uploads=admission_for(settings),
    )


def admission_for(settings: Settings) -> Admission:
    """Per-user upload limits in Redis when ``REDIS_URL`` is set, in-process otherwise."""
    if not settings.redis_url:
        return Admission()
    from shared.limits.redis import RedisUserLimiter

    return Admission(users=RedisUserLimiter(settings.redis_url))
