-- name: CreateUser :exec
-- The caller picks the id and acts as it already (app.user_id): row-level
-- security lets the app create only the user it acts for.
INSERT INTO users (id, display_name) VALUES (@id, @display_name);

-- name: CreateDevice :one
INSERT INTO devices (user_id, user_agent) VALUES ($1, $2)
RETURNING id;

-- name: GetSessionForDevice :one
-- One indexed lookup per request: the device, its user, and whether the
-- user is secured by a recovery code. No user is known yet, so it reads
-- through session_for_device (moviedice_lookup, see migrations/00008):
-- the device id from the cookie is the credential.
SELECT s.device_id, s.user_id, s.device_seen_at, s.display_name, s.user_created_at, s.secured_at
FROM session_for_device(@id::uuid) s;

-- name: TouchDevice :exec
-- Records activity on the device and its user (the reaper reads users.last_seen_at).
WITH d AS (
    UPDATE devices SET last_seen_at = now() WHERE devices.id = $1 RETURNING user_id
)
UPDATE users SET last_seen_at = now() WHERE users.id = (SELECT user_id FROM d);

-- name: LockUserOfDevice :one
-- Starts every contribution, acting already as the device's user
-- (ActAsUserOfDevice): key-share locks that user, in the same order a
-- merge locks (users first), so a contribution either finishes before a
-- merge of its user or waits, finds nothing, and runs again as the user
-- the device was moved to.
SELECT u.id
FROM devices d
JOIN users u ON u.id = d.user_id
WHERE d.id = $1
FOR KEY SHARE OF u;

-- name: DeviceStillOfUser :one
-- Read after LockUserOfDevice, in a statement of its own (a snapshot taken
-- after the lock): the device still belongs to that user. A claim that
-- retired the device, or a merge that moved it, while the lock waited
-- left the user's row as it was, so the lock alone does not tell.
SELECT EXISTS (SELECT 1 FROM devices WHERE id = @device_id AND user_id = @user_id);

-- name: RenameUser :execrows
UPDATE users SET display_name = @display_name WHERE id = @id;

-- name: DeleteUser :execrows
DELETE FROM users WHERE id = $1;

-- name: ListDevicesForUser :many
-- The account page's one read: the user's devices, most recently seen
-- first, each row with the counts of the merges into the user still
-- running and given up on.
SELECT d.id, d.created_at, d.last_seen_at, d.user_agent,
       (SELECT count(*) FROM merges m WHERE m.into_user = @user_id AND m.status = 'pending') AS pending_merges,
       (SELECT count(*) FROM merges m WHERE m.into_user = @user_id AND m.status = 'failed') AS failed_merges
FROM devices d
WHERE d.user_id = @user_id
ORDER BY d.last_seen_at DESC, d.created_at DESC;

-- name: DeleteDeviceForUser :execrows
DELETE FROM devices WHERE id = @id AND user_id = @user_id;

-- name: DeleteOtherDevicesForUser :execrows
DELETE FROM devices WHERE user_id = @user_id AND id <> @keep_id;

-- name: UpsertRecoveryCode :exec
-- A user has at most one code: a new one replaces the old at once.
INSERT INTO recovery_codes (user_id, selector, verifier)
VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE
SET selector = EXCLUDED.selector, verifier = EXCLUDED.verifier, created_at = now(), last_used_at = NULL;

-- name: GetRecoveryCodeBySelector :one
-- A claim's lookup, as moviedice_system: whose code it is, is what it finds.
SELECT user_id, verifier, created_at FROM recovery_codes WHERE selector = $1;

-- name: LockRecoveryCode :one
-- When the user's code was made, locked until the claim that checked it
-- commits: no replacement meanwhile. Not a share lock: the same claim
-- then marks the code used, and two claims upgrading shared locks on one
-- row deadlock; this way the second waits here.
SELECT created_at FROM recovery_codes WHERE user_id = $1 FOR NO KEY UPDATE;

-- name: MarkRecoveryCodeUsed :exec
UPDATE recovery_codes SET last_used_at = now() WHERE user_id = $1;

-- name: CountUserData :one
-- What a guest would bring along in a merge (memberships exclude lists it owns).
SELECT
    (SELECT count(*) FROM lists l WHERE l.owner_id = @user_id) AS lists,
    (SELECT count(*) FROM list_members m
      WHERE m.user_id = @user_id
        AND NOT EXISTS (SELECT 1 FROM lists o WHERE o.id = m.list_id AND o.owner_id = @user_id)) AS memberships,
    (SELECT count(*) FROM movies f WHERE f.added_by = @user_id) AS movies,
    (SELECT count(*) FROM rolls r WHERE r.rolled_by = @user_id) AS rolls,
    EXISTS (SELECT 1 FROM recovery_codes c WHERE c.user_id = @user_id) AS secured;

-- name: GetDisplayName :one
SELECT display_name FROM users WHERE id = $1;

-- name: ListDisplayNames :many
-- Names of users by id, for the "who is here" list (display names are not
-- list data; anyone on a list with you sees yours, and the app may read
-- any user's id and name, nothing else of them: migrations/00008).
SELECT id, display_name FROM users WHERE id = ANY(@ids::uuid[]) ORDER BY display_name, id;

-- name: RecordReplacedDevice :exec
-- A claim replaced this device (see migrations/00006); a day's records
-- are plenty, older ones go. Claims run as moviedice_system, the only
-- role that writes here.
WITH pruned AS (DELETE FROM replaced_devices WHERE replaced_at < now() - interval '1 day')
INSERT INTO replaced_devices (device_id) VALUES ($1) ON CONFLICT DO NOTHING;

-- name: WasDeviceReplaced :one
-- Whether a claim replaced this device in the last ten minutes. The
-- request is a visitor's, so it asks device_replaced_at (moviedice_lookup).
SELECT coalesce(device_replaced_at(@device_id::uuid) > now() - interval '10 minutes', false)::boolean AS replaced;
