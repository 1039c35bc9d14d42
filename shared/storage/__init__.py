"""Object stores behind one interface (``base.ObjectStore``): Azure Blob and S3, chosen by
``PRIMARY_STORAGE``, S3 for the backup copy, and an in-memory store for tests."""

from __future__ import annotations

from shared.settings import Settings
from shared.storage.azure_blob import AzureBlobStore
from shared.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectWriter,
    Stores,
    UnknownStorageProvider,
)
from shared.storage.s3 import S3Store

__all__ = [
    "ObjectInfo", "ObjectNotFound", "ObjectStore", "ObjectWriter", "Stores",
    "UnknownStorageProvider", "backup_store_for", "stores_for",
]


def stores_for(settings: Settings) -> Stores:
    """The configured primary store, and the other provider too, so that rows written before
    a change of ``PRIMARY_STORAGE`` stay readable (clients connect lazily, on first use)."""
    azure = AzureBlobStore(settings)
    s3 = S3Store(settings, settings.primary_s3_bucket)
    primary: ObjectStore = s3 if settings.primary_storage == s3.name else azure
    return Stores(primary=primary, readable={azure.name: azure, s3.name: s3})


def backup_store_for(settings: Settings) -> ObjectStore:
    return S3Store(settings, settings.s3_bucket)
