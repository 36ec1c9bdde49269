-- name: ActAsUser :exec
-- Row-level security reads app.user_id: the user this transaction acts for.
SELECT set_config('app.user_id', @user_id::text, true);

-- name: ActAsSystem :exec
-- Identity's cross-user work (merge, reaper, claim preview, server-wide
-- counts) acts as moviedice_system for the rest of the transaction.
SELECT set_config('role', 'moviedice_system', true);
