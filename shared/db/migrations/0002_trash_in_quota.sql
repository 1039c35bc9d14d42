-- The trash counts against the quota until it is purged (upload, trash, repeat must hit
-- QUOTA_EXCEEDED). Before this, trashing a file released its bytes and restoring reserved
-- them again; from now on only a purge (permanent delete, trash expiry, expires_at) releases
-- them. Files already in the trash are added back to their owner's usage, so that their
-- purge releases exactly what they hold.
INSERT INTO storage_usage (user_id)
SELECT DISTINCT user_id FROM files WHERE deleted_at IS NOT NULL
ON CONFLICT (user_id) DO NOTHING;

UPDATE storage_usage AS u
SET used_bytes = u.used_bytes + t.bytes, file_count = u.file_count + t.files, updated_at = now()
FROM (SELECT user_id, sum(size_bytes) AS bytes, count(*) AS files
      FROM files WHERE deleted_at IS NOT NULL GROUP BY user_id) AS t
WHERE u.user_id = t.user_id;
