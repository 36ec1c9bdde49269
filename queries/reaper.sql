-- name: TryReaperLock :one
-- One reaper at a time across instances: each batch's transaction holds
-- this lock, released at commit.
SELECT pg_try_advisory_xact_lock(@lock_id::bigint) AS locked;

-- name: ReapIdleUsers :many
-- Deletes up to @batch users with no recovery code and nothing made or
-- joined, idle since before @cutoff. Users locked by a running contribution
-- are skipped, not waited for. It runs as moviedice_system: it reads
-- every user.
DELETE FROM users
WHERE id IN (
    SELECT u.id FROM users u
    WHERE u.last_seen_at < @cutoff
      AND NOT EXISTS (SELECT 1 FROM recovery_codes c WHERE c.user_id = u.id)
      AND NOT EXISTS (SELECT 1 FROM lists l WHERE l.owner_id = u.id)
      AND NOT EXISTS (SELECT 1 FROM list_members m WHERE m.user_id = u.id)
      AND NOT EXISTS (SELECT 1 FROM movies f WHERE f.added_by = u.id)
      AND NOT EXISTS (SELECT 1 FROM rolls r WHERE r.rolled_by = u.id)
      AND NOT EXISTS (SELECT 1 FROM merges g WHERE g.from_user = u.id AND g.status = 'pending')
    ORDER BY u.last_seen_at
    LIMIT @batch
    FOR UPDATE SKIP LOCKED
)
RETURNING id;
