-- name: CreateList :one
INSERT INTO lists (owner_id, name, invite_token) VALUES ($1, $2, $3)
RETURNING id;

-- name: AddListMember :exec
INSERT INTO list_members (list_id, user_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING;

-- name: GetListForMember :one
SELECT l.id, l.owner_id, l.name, l.version, l.created_at,
       (SELECT count(*) FROM list_members c WHERE c.list_id = l.id) AS members
FROM lists l
JOIN list_members m ON m.list_id = l.id AND m.user_id = @user_id
WHERE l.id = @id;

-- name: ListListsForMember :many
SELECT l.id, l.name, l.owner_id,
       (SELECT count(*) FROM movies f WHERE f.list_id = l.id) AS movies
FROM lists l
JOIN list_members m ON m.list_id = l.id AND m.user_id = $1
ORDER BY l.created_at DESC;
