-- name: ActAsUser :exec
-- Row-level security reads app.user_id: the user this transaction acts for.
SELECT set_config('app.user_id', @user_id::text, true);

-- name: ActAsUserOfDevice :exec
-- Acts for the user a device belongs to now, or for no one if it is gone:
-- a write starts with only the device id from its cookie, and
-- session_for_device (moviedice_lookup) is the one way to read a device
-- before acting as anyone.
SELECT set_config('app.user_id', coalesce((SELECT s.user_id::text FROM session_for_device(@device_id::uuid) s), ''), true);

-- name: ActAsSystem :exec
-- Identity's cross-user work (claims, merges, the reaper) and server-wide
-- counts act as moviedice_system for the rest of the transaction.
SELECT set_config('role', 'moviedice_system', true);
