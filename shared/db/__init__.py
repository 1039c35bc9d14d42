"""The database behind one interface (``repository.Database``); PostgreSQL in ``pg``,
numbered SQL migrations in ``migrations`` (``python -m shared.db.migrate``)."""

from shared.db.repository import (
    EXACT_TOTAL_UP_TO,
    FILE_COLUMNS,
    PART_COLUMNS,
    SESSION_COLUMNS,
    BackupRepository,
    BackupSource,
    BackupState,
    Database,
    DuplicateKey,
    FileListing,
    FilePage,
    FileRepository,
    Repository,
    Row,
    SortField,
    UploadSessionRepository,
    UsageRepository,
)

__all__ = [
    "EXACT_TOTAL_UP_TO", "FILE_COLUMNS", "PART_COLUMNS", "SESSION_COLUMNS", "BackupRepository",
    "BackupSource", "BackupState", "Database",
    "DuplicateKey", "FileListing", "FilePage", "FileRepository", "Repository", "Row", "SortField",
    "UploadSessionRepository", "UsageRepository",
]
