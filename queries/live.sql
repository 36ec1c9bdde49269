-- name: Announce :exec
-- Sends a notification to every instance's live hub.
SELECT pg_notify(@channel::text, @payload::text);
