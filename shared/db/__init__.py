"""The database behind one interface (``repository.Database``); PostgreSQL in ``pg``,
numbered SQL migrations in ``migrations`` (``python -m shared.db.migrate``)."""

from shared.db.repository import (
    FILE_COLUMNS,
    BackupRepository,
    BackupSource,
    BackupState,
    Database,
    DuplicateKey,
    FileListing,
    FileRepository,
    Repository,
    Row,
    SortField,
    UsageRepository,
)

__all__ = [
    "FILE_COLUMNS", "BackupRepository", "BackupSource", "BackupState", "Database",
    "DuplicateKey", "FileListing", "FileRepository", "Repository", "Row", "SortField",
    "UsageRepository",
]
