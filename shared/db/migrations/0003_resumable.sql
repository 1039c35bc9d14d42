-- Resumable uploads (the specification's chunk protocol and tus 1.0). A session holds what
-- any instance needs to take the next request: the staged blocks of the final object (in
-- upload_parts), the quota reserved at creation, the running MD5/SHA-256 state of the bytes
-- received in order so far, and for tus the bytes past the last staged block (carry).

CREATE TABLE upload_sessions (
    id UUID PRIMARY KEY,
    file_id UUID NOT NULL UNIQUE,
    user_id VARCHAR(255) NOT NULL,
    protocol VARCHAR(10) NOT NULL CHECK (protocol IN ('chunks', 'tus')),
    state VARCHAR(20) NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'completed', 'aborted', 'expired')),
    ended_reason VARCHAR(100),
    original_name VARCHAR(255) NOT NULL,
    declared_type VARCHAR(100) NOT NULL,
    mime_type VARCHAR(100),
    file_path VARCHAR(500) NOT NULL UNIQUE,
    storage_provider VARCHAR(50) NOT NULL,
    staging_handle TEXT NOT NULL DEFAULT '',
    file_size BIGINT NOT NULL CHECK (file_size >= 0),
    chunk_size BIGINT NOT NULL CHECK (chunk_size > 0),
    total_chunks INTEGER NOT NULL CHECK (total_chunks >= 0),
    reserved_bytes BIGINT NOT NULL DEFAULT 0,
    metadata JSONB NOT NULL DEFAULT '{}',
    checksum_sha256 VARCHAR(64),
    encryption JSONB,
    -- bytes 0..hashed_bytes-1 are folded into hash_state (MD5 + SHA-256, see crypto/hashstate)
    hashed_bytes BIGINT NOT NULL DEFAULT 0,
    hash_state BYTEA NOT NULL,
    received_bytes BIGINT NOT NULL DEFAULT 0,
    parts_received INTEGER NOT NULL DEFAULT 0,
    next_block INTEGER NOT NULL DEFAULT 1,
    carry BYTEA,
    carry_length INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ
);

CREATE INDEX idx_upload_sessions_user ON upload_sessions(user_id);
CREATE INDEX idx_upload_sessions_open_expiry ON upload_sessions(expires_at) WHERE state = 'open';
CREATE INDEX idx_upload_sessions_ended ON upload_sessions(updated_at) WHERE state <> 'open';

-- One row per accepted piece: a chunk of the chunk protocol (part_no = its index), or a run
-- of bytes of a tus PATCH (part_no in arrival order). blocks are the store's references of
-- the staged blocks (Azure block ids, S3 part numbers and ETags), committed in order.
CREATE TABLE upload_parts (
    session_id UUID NOT NULL REFERENCES upload_sessions(id) ON DELETE CASCADE,
    part_no INTEGER NOT NULL CHECK (part_no >= 0),
    plain_offset BIGINT NOT NULL CHECK (plain_offset >= 0),
    plain_length BIGINT NOT NULL CHECK (plain_length >= 0),
    checksum_md5 VARCHAR(32) NOT NULL,
    blocks TEXT[] NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, part_no)
);
