-- Processing (issue 9): what the transformation worker needs on file_transformations, and
-- the text extracted from documents, indexed for full-text search.

ALTER TABLE file_transformations
    -- who asked, and with which role: the output is theirs and counts in their quota
    ADD COLUMN user_id VARCHAR(255),
    ADD COLUMN requested_role VARCHAR(20),
    ADD COLUMN output_name VARCHAR(255),
    -- deliveries that claimed it, and the last sign of life of the one running it (the timer
    -- gives a stale one back to the queue, or ends it failed after too many attempts)
    ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN heartbeat_at TIMESTAMPTZ,
    ADD COLUMN error_code VARCHAR(50),
    -- what the job reported (dimensions, duration, extracted_text_length, pages...)
    ADD COLUMN result JSONB,
    -- true when the target file was made by this transformation (a variant: it follows its
    -- source to the trash, back, and away); false when identical bytes already existed
    ADD COLUMN owns_target BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX idx_file_transformations_open ON file_transformations (created_at)
    WHERE status IN ('queued', 'processing');

-- Text extracted from a file (text_extraction, ocr), for GET /files?search=. Both the French
-- configuration (stems: "documents" finds "document") and the simple one (exact words, any
-- language) go into one vector.
CREATE TABLE file_texts (
    file_id UUID PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    search_vector TSVECTOR NOT NULL,
    text_length INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_file_texts_search ON file_texts USING GIN (search_vector);
