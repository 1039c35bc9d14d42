-- Lifecycle and CDN (issue 10): tiering by last access, rehydration of archived files,
-- integrity checks by the reconciliation sweep and its reports, CDN purge requests.

ALTER TABLE files
    ADD COLUMN tier_changed_at TIMESTAMPTZ,
    -- set while an archived file is being rehydrated (the store says when it is done)
    ADD COLUMN rehydration_requested_at TIMESTAMPTZ,
    -- when the reconciliation last read the bytes back and compared their SHA-256
    ADD COLUMN integrity_checked_at TIMESTAMPTZ;

-- The tiering sweep reads live files by tier and by when they were last used.
CREATE INDEX idx_files_tier_idle ON files (storage_tier, (coalesce(last_accessed_at, created_at)))
    WHERE deleted_at IS NULL;
CREATE INDEX idx_files_rehydrating ON files (rehydration_requested_at)
    WHERE rehydration_requested_at IS NOT NULL;
CREATE INDEX idx_files_integrity ON files (integrity_checked_at NULLS FIRST, id);
CREATE INDEX idx_files_expiry_sweep ON files (expires_at) WHERE expires_at IS NOT NULL;
-- Reconciliation walks the rows in the stores' listing order (bytes, as "C" collates).
CREATE INDEX idx_files_path_c ON files (storage_provider, (file_path COLLATE "C"));
CREATE INDEX idx_file_backups_path_c ON file_backups ((file_path COLLATE "C"));
-- The CDN's variant URLs (thumbnails, previews) resolve through the transformations.
CREATE INDEX idx_file_transformations_variant ON file_transformations (source_file_id, status)
    WHERE target_file_id IS NOT NULL;

-- The spec's cdn_cache: one row per file, provider and cached URL; a purge stamps it.
ALTER TABLE cdn_cache ADD COLUMN purged_at TIMESTAMPTZ;
CREATE UNIQUE INDEX uq_cdn_cache_entry ON cdn_cache (file_id, cdn_provider, cache_key);

-- A purge of CDN URLs, asked by a client (POST /cdn/purge) or by a change of a file's state
-- (trashed, deleted, made private, expired). The URLs are kept here: the files may be gone.
CREATE TABLE cdn_purge_requests (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    requested_by VARCHAR(255) NOT NULL,
    reason VARCHAR(50) NOT NULL,
    purge_type VARCHAR(20) NOT NULL,
    file_ids UUID[] NOT NULL,
    urls TEXT[] NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at TIMESTAMPTZ
);
CREATE INDEX idx_cdn_purge_requests_open ON cdn_purge_requests (updated_at)
    WHERE status <> 'completed';

-- Each provider's part of a purge.
CREATE TABLE cdn_purge_results (
    purge_id UUID NOT NULL REFERENCES cdn_purge_requests(id) ON DELETE CASCADE,
    provider VARCHAR(50) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    urls_purged INTEGER NOT NULL DEFAULT 0,
    error_code VARCHAR(50),
    error_message TEXT,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (purge_id, provider)
);

-- What each reconciliation found and did (the admin route shows the last one).
CREATE TABLE reconciliation_reports (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    trigger VARCHAR(20) NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    report JSONB NOT NULL
);
CREATE INDEX idx_reconciliation_reports_started ON reconciliation_reports (started_at DESC);
