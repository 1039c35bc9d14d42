"""Object stores behind one interface: the primary (Azure Blob) and the backup (S3)."""

from __future__ import annotations

from functools import lru_cache

from shared.settings import get_settings
from shared.storage.azure_blob import AzureBlobStore
from shared.storage.base import ObjectInfo, ObjectNotFound, ObjectStore, ObjectWriter
from shared.storage.s3 import S3Store

__all__ = [
    "ObjectInfo", "ObjectNotFound", "ObjectStore", "ObjectWriter",
    "backup_store", "primary_store",
]


@lru_cache(maxsize=1)
def primary_store() -> AzureBlobStore:
    return AzureBlobStore(get_settings())


@lru_cache(maxsize=1)
def backup_store() -> S3Store:
    return S3Store(get_settings())
