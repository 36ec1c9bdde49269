-- name: ListUnwatchedMovieIDsForMember :many
SELECT f.id FROM movies f
WHERE f.list_id = @list_id AND f.watched_at IS NULL
  AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = @list_id AND m.user_id = @user_id)
ORDER BY f.id;

-- name: CreateRollForMember :one
-- The roll keeps the film's title and year: it outlives the film.
INSERT INTO rolls (list_id, movie_id, rolled_by, title, year)
SELECT f.list_id, f.id, @user_id, f.title, f.year FROM movies f
WHERE f.id = @movie_id AND f.list_id = @list_id
  AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = @list_id AND m.user_id = @user_id)
RETURNING id;
