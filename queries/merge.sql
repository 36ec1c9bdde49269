-- Merging guest A (from) into account B (into). Every statement names both
-- users; the transaction around them lives in web/identity and acts as
-- moviedice_system (queries.InSystemTx). (The account page counts the
-- merges into its user in ListDevicesForUser, as the user, whom row-level
-- security shows only those.)

-- name: LockMergeUsers :many
-- Fixed lock order (by id) so two merges, or a merge and a contribution,
-- cannot deadlock.
SELECT id FROM users WHERE id IN (@from_user::uuid, @into_user::uuid) ORDER BY id FOR UPDATE;

-- name: DropDuplicateMemberships :execrows
DELETE FROM list_members a
WHERE a.user_id = @from_user
  AND EXISTS (SELECT 1 FROM list_members b WHERE b.list_id = a.list_id AND b.user_id = @into_user);

-- name: MoveMemberships :execrows
UPDATE list_members SET user_id = @into_user WHERE user_id = @from_user;

-- name: MoveLists :execrows
UPDATE lists SET owner_id = @into_user WHERE owner_id = @from_user;

-- name: MoveMovies :execrows
UPDATE movies SET added_by = @into_user WHERE added_by = @from_user;

-- name: MoveRolls :execrows
UPDATE rolls SET rolled_by = @into_user WHERE rolled_by = @from_user;

-- name: MoveDevices :execrows
UPDATE devices SET user_id = @into_user WHERE user_id = @from_user;

-- name: CreateMerge :one
-- The confirming request runs the merge at once; the retries leave it to
-- that request for a minute, then take it over (should the request's
-- process have died meanwhile).
INSERT INTO merges (from_user, into_user, status, next_attempt_at) VALUES ($1, $2, 'pending', now() + interval '1 minute')
RETURNING id;

-- name: LockPendingMerge :one
-- A merge not done yet: pending, or failed so often that it is marked so
-- (and tried hourly; its guest's data is out of reach until it is done).
SELECT id, from_user, into_user FROM merges
WHERE id = $1 AND status IN ('pending', 'failed')
FOR UPDATE SKIP LOCKED;

-- name: GetMergeStatus :one
SELECT status FROM merges WHERE id = $1;

-- name: FinishMerge :exec
UPDATE merges
SET status = 'done', moved = @moved, error = '', attempts = attempts + 1, updated_at = now()
WHERE id = @id;

-- name: FailMerge :exec
UPDATE merges
SET status = CASE WHEN attempts + 1 >= @max_attempts::int THEN 'failed' ELSE 'pending' END,
    error = @error, attempts = attempts + 1, updated_at = now(),
    -- back off: 30 s, 1, 2, 4 … minutes, at most an hour, for good
    next_attempt_at = now() + make_interval(secs => least(30 * power(2, least(attempts, 16)), 3600))
WHERE id = @id AND status IN ('pending', 'failed');

-- name: ListDueMerges :many
SELECT id FROM merges
WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()
ORDER BY next_attempt_at
LIMIT $1;
