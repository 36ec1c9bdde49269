-- name: LockFilmsOfList :exec
-- Adding films to one list goes one at a time from here to commit, so
-- that the count below sees every film committed before (a statement of
-- its own: a statement's snapshot is taken before it waits). The two-key
-- advisory locks are a key space apart from the reaper's one-key lock.
SELECT pg_advisory_xact_lock(1, hashtext(@list_id::text));

-- name: CountFilmsForMember :one
SELECT count(*) FROM movies f
WHERE f.list_id = @list_id
  AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = @list_id AND m.user_id = @user_id);

-- name: AddMovieForMember :one
INSERT INTO movies (list_id, added_by, title, year)
SELECT @list_id, @user_id, @title, sqlc.narg(year)::int
WHERE EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = @list_id AND m.user_id = @user_id)
RETURNING id;

-- name: FindSameMovieForMember :one
-- The film a duplicate would clash with (same title, folding case and
-- spaces, and same year), to name it in the message.
SELECT f.title, f.year, u.display_name AS added_by_name
FROM movies f
JOIN users u ON u.id = f.added_by
WHERE f.list_id = @list_id
  AND f.title_key = lower(regexp_replace(btrim(@title::text), '\s+', ' ', 'g'))
  AND coalesce(f.year, 0) = coalesce(sqlc.narg(year)::int, 0)
  AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = @list_id AND m.user_id = @user_id);

-- name: DeleteMovieForAdderOrOwner :execrows
DELETE FROM movies f USING lists l
WHERE f.id = @id AND f.list_id = @list_id AND l.id = f.list_id
  AND (f.added_by = @user_id OR l.owner_id = @user_id)
  AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = f.list_id AND m.user_id = @user_id);

-- name: SetWatchedForMember :execrows
-- Sets a film watched or not, as asked, never flipping it, so a repeated
-- or concurrent post ends where it meant to; marking a watched film again
-- keeps the time it was first marked.
UPDATE movies f SET watched_at = CASE WHEN @watched::boolean THEN coalesce(f.watched_at, now()) ELSE NULL END
WHERE f.id = @id AND f.list_id = @list_id
  AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = f.list_id AND m.user_id = @user_id);

-- name: CountMoviesForMember :one
SELECT count(*) FROM movies f
WHERE f.list_id = @list_id
  AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = @list_id AND m.user_id = @user_id);
