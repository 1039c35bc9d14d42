-- migrate: no-transaction
-- A million files per user (issue 11). Run statement by statement in autocommit (see
-- shared/db/migrate.py): the indexes are built CONCURRENTLY, so a live database keeps taking
-- uploads while they build; every statement may run again after a failure part-way.

-- Search: a case-insensitive substring of the name, the description or the tags (joined by
-- spaces), as before. Without pg_trgm (not in every PostgreSQL build we run on), each row's
-- substrings of 1 to 3 characters, taken per field, are indexed with GIN's built-in array
-- operators; a needle's own grams (itself up to 3 characters, else its 3-character ones)
-- must all be there, and ILIKE then checks the candidates: the index only narrows, the
-- matching rules are unchanged. Its COST tells the planner never to compute it row by row
-- (a walk of a million rows filtered by it takes seconds): only through the index. Text extracted by processing (migration 0004) can join by a
-- new version of this function and index.
CREATE OR REPLACE FUNCTION files_search_grams(name text, description text, tags text[])
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 100000 AS $$
    SELECT ARRAY(SELECT substr(t, i, n)  -- duplicates are fine: GIN keeps each key once
                 FROM unnest(ARRAY[lower(name), lower(coalesce(description, '')),
                                   lower(array_to_string(tags, ' '))]) AS t,
                      generate_series(1, length(t)) AS i, generate_series(1, 3) AS n)
$$;

CREATE OR REPLACE FUNCTION files_needle_grams(needle text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN length(lower(needle)) <= 3 THEN ARRAY[lower(needle)]
           ELSE ARRAY(SELECT DISTINCT substr(lower(needle), i, 3)
                      FROM generate_series(1, length(lower(needle)) - 2) AS i) END
$$;

-- Files and bytes per owner, tier and state (live or trashed), kept by statement triggers
-- in the writing transaction: listing totals and bytes_by_tier read a few rows instead of
-- counting and summing a million. The backfill holds writes to files (SHARE ROW
-- EXCLUSIVE) for the time of one GROUP BY, so that no write falls between it and the
-- triggers.
CREATE OR REPLACE FUNCTION file_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO file_totals AS t (user_id, storage_tier, trashed, files, bytes)
        SELECT user_id, storage_tier, deleted_at IS NOT NULL, count(*), sum(size_bytes)
        FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (user_id, storage_tier, trashed) DO UPDATE
            SET files = t.files + excluded.files, bytes = t.bytes + excluded.bytes;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO file_totals AS t (user_id, storage_tier, trashed, files, bytes)
        SELECT user_id, storage_tier, deleted_at IS NOT NULL, -count(*), -sum(size_bytes)
        FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (user_id, storage_tier, trashed) DO UPDATE
            SET files = t.files + excluded.files, bytes = t.bytes + excluded.bytes;
    ELSE
        INSERT INTO file_totals AS t (user_id, storage_tier, trashed, files, bytes)
        SELECT user_id, storage_tier, trashed, sum(files), sum(bytes) FROM (
            SELECT user_id, storage_tier, deleted_at IS NOT NULL AS trashed,
                   1 AS files, size_bytes AS bytes FROM new_rows
            UNION ALL
            SELECT user_id, storage_tier, deleted_at IS NOT NULL, -1, -size_bytes
            FROM old_rows) AS moves
        GROUP BY 1, 2, 3 HAVING sum(files) <> 0 OR sum(bytes) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (user_id, storage_tier, trashed) DO UPDATE
            SET files = t.files + excluded.files, bytes = t.bytes + excluded.bytes;
    END IF;
    RETURN NULL;
END
$$;

DO $$
BEGIN
    IF to_regclass('file_totals') IS NULL THEN
        LOCK TABLE files IN SHARE ROW EXCLUSIVE MODE;
        CREATE TABLE file_totals (
            user_id VARCHAR(255) NOT NULL,
            storage_tier VARCHAR(50) NOT NULL,
            trashed BOOLEAN NOT NULL,
            files BIGINT NOT NULL,
            bytes BIGINT NOT NULL,
            PRIMARY KEY (user_id, storage_tier, trashed)
        );
        INSERT INTO file_totals (user_id, storage_tier, trashed, files, bytes)
        SELECT user_id, storage_tier, deleted_at IS NOT NULL, count(*), sum(size_bytes)
        FROM files GROUP BY 1, 2, 3;
        CREATE TRIGGER files_totals_insert AFTER INSERT ON files
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION file_totals_apply();
        CREATE TRIGGER files_totals_delete AFTER DELETE ON files
            REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION file_totals_apply();
        CREATE TRIGGER files_totals_update AFTER UPDATE ON files
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION file_totals_apply();
    END IF;
END
$$;

-- Listings: one index per whitelisted sort key, per owner, for live files (with the two
-- filters' columns included, so that deep OFFSETs count index entries only) and for the
-- trash; ties are broken by id, as the queries order. Both orders walk the same index.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_live_created
    ON files (user_id, created_at, id) INCLUDE (project_id, file_type) WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_live_updated
    ON files (user_id, updated_at, id) INCLUDE (project_id, file_type) WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_live_name
    ON files (user_id, original_name, id) INCLUDE (project_id, file_type)
    WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_live_size
    ON files (user_id, size_bytes, id) INCLUDE (project_id, file_type) WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_live_type
    ON files (user_id, file_type, id) INCLUDE (project_id) WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_live_mime
    ON files (user_id, mime_type, id) INCLUDE (project_id, file_type) WHERE deleted_at IS NULL;
-- A filter by project or by type, newest first (the default sort), whatever its share.
-- (The other filter included: both filters together are counted from the index alone.)
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_live_project_created
    ON files (user_id, project_id, created_at, id) INCLUDE (file_type) WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_live_type_created
    ON files (user_id, file_type, created_at, id) INCLUDE (project_id) WHERE deleted_at IS NULL;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_trash_created
    ON files (user_id, created_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_trash_updated
    ON files (user_id, updated_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_trash_name
    ON files (user_id, original_name, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_trash_size
    ON files (user_id, size_bytes, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_trash_type
    ON files (user_id, file_type, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_trash_mime
    ON files (user_id, mime_type, id) WHERE deleted_at IS NOT NULL;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_files_search_grams
    ON files USING gin (files_search_grams(original_name, description, tags));

-- The per-owner indexes above cover what these single-column ones served.
DROP INDEX CONCURRENTLY IF EXISTS idx_files_type;
DROP INDEX CONCURRENTLY IF EXISTS idx_files_project_id;
