-- The specification's four tables, with what the foundation needs on top:
-- ids of users and projects are the identity provider's strings (not always UUIDs),
-- timestamps carry a time zone, and user-facing metadata (description, tags, custom
-- fields) lives on the file row so that listing and search need no join.

CREATE TABLE files (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id VARCHAR(255) NOT NULL,
    project_id VARCHAR(255),
    original_name VARCHAR(255) NOT NULL,
    file_path VARCHAR(500) NOT NULL UNIQUE,
    file_type VARCHAR(100) NOT NULL,
    mime_type VARCHAR(100) NOT NULL,
    size_bytes BIGINT NOT NULL CHECK (size_bytes >= 0),
    checksum_md5 VARCHAR(32) NOT NULL,
    checksum_sha256 VARCHAR(64) NOT NULL,
    storage_provider VARCHAR(50) NOT NULL DEFAULT 'azure_blob',
    storage_tier VARCHAR(50) NOT NULL DEFAULT 'hot',
    encryption_key_id VARCHAR(255),
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at TIMESTAMPTZ,
    -- additions
    description TEXT,
    tags TEXT[] NOT NULL DEFAULT '{}',
    custom_fields JSONB NOT NULL DEFAULT '{}',
    auto_transform BOOLEAN NOT NULL DEFAULT FALSE,
    recovery_deadline TIMESTAMPTZ,
    last_accessed_at TIMESTAMPTZ,
    stored_size_bytes BIGINT,
    encryption JSONB
);

CREATE INDEX idx_files_user_id ON files(user_id);
CREATE INDEX idx_files_project_id ON files(project_id);
CREATE INDEX idx_files_type ON files(file_type);
CREATE INDEX idx_files_created_at ON files(created_at);
CREATE INDEX idx_files_checksum_md5 ON files(checksum_md5);
-- One live copy of the same bytes per owner: the database settles concurrent duplicates.
CREATE UNIQUE INDEX uq_files_owner_sha256_live
    ON files(user_id, checksum_sha256) WHERE deleted_at IS NULL;
CREATE INDEX idx_files_trash ON files(recovery_deadline) WHERE deleted_at IS NOT NULL;

CREATE TABLE file_metadata (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    file_id UUID REFERENCES files(id) ON DELETE CASCADE,
    metadata_type VARCHAR(50) NOT NULL,
    metadata JSONB NOT NULL,
    extracted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_file_metadata_file_id ON file_metadata(file_id);
CREATE INDEX idx_file_metadata_type ON file_metadata(metadata_type);

CREATE TABLE file_transformations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    source_file_id UUID REFERENCES files(id) ON DELETE CASCADE,
    target_file_id UUID REFERENCES files(id) ON DELETE CASCADE,
    transformation_type VARCHAR(100) NOT NULL,
    transformation_params JSONB NOT NULL,
    status VARCHAR(50) NOT NULL DEFAULT 'pending',
    progress_percent INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_file_transformations_source ON file_transformations(source_file_id);
CREATE INDEX idx_file_transformations_target ON file_transformations(target_file_id);
CREATE INDEX idx_file_transformations_status ON file_transformations(status);

CREATE TABLE cdn_cache (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    file_id UUID REFERENCES files(id) ON DELETE CASCADE,
    cdn_provider VARCHAR(50) NOT NULL,
    cdn_url VARCHAR(500) NOT NULL,
    cache_key VARCHAR(255) NOT NULL,
    hit_count BIGINT NOT NULL DEFAULT 0,
    last_hit_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_cdn_cache_file_id ON cdn_cache(file_id);
CREATE INDEX idx_cdn_cache_key ON cdn_cache(cache_key);
CREATE INDEX idx_cdn_cache_provider ON cdn_cache(cdn_provider);

-- Bytes each user holds in live (not trashed) files; quotas compare against it.
CREATE TABLE storage_usage (
    user_id VARCHAR(255) PRIMARY KEY,
    used_bytes BIGINT NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    file_count INTEGER NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- State of each object's copy in the backup store. Not tied to files by a foreign key:
-- when a file is removed for good its backup copy must still be found and deleted.
CREATE TABLE file_backups (
    file_path VARCHAR(500) PRIMARY KEY,
    file_id UUID NOT NULL,
    state VARCHAR(20) NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'done', 'failed', 'delete_pending')),
    backup_key VARCHAR(500),
    backup_etag VARCHAR(200),
    checksum_sha256 VARCHAR(64),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_file_backups_state ON file_backups(state, updated_at);
CREATE INDEX idx_file_backups_file_id ON file_backups(file_id);
