-- name: ListUnwatchedMovieIDsForMember :many
SELECT f.id FROM movies f
WHERE f.list_id = @list_id AND f.watched_at IS NULL
  AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = @list_id AND m.user_id = @user_id)
ORDER BY f.id;

-- name: CreateRollForMember :one
INSERT INTO rolls (list_id, movie_id, rolled_by)
SELECT @list_id, @movie_id, @user_id
WHERE EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = @list_id AND m.user_id = @user_id)
RETURNING id;
