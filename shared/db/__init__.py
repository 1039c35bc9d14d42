"""The database behind one interface (``repository.Database``); PostgreSQL in ``pg``,
numbered SQL migrations in ``migrations`` (``python -m shared.db.migrate``)."""

from shared.db.repository import (
    FILE_COLUMNS,
    PART_COLUMNS,
    SESSION_COLUMNS,
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
    UploadSessionRepository,
    UsageRepository,
)

__all__ = [
    "FILE_COLUMNS", "PART_COLUMNS", "SESSION_COLUMNS", "BackupRepository", "BackupSource",
    "BackupState", "Database",
    "DuplicateKey", "FileListing", "FileRepository", "Repository", "Row", "SortField",
    "UploadSessionRepository", "UsageRepository",
]
