-- name: CreateList :one
INSERT INTO lists (owner_id, name, invite_token) VALUES (@owner_id, @name, @invite_token)
RETURNING id;

-- name: AddOwnerMembership :exec
-- The owner of a new list becomes its first member.
INSERT INTO list_members (list_id, user_id)
SELECT l.id, l.owner_id FROM lists l WHERE l.id = @list_id AND l.owner_id = @owner_id;

-- name: GetListForMember :one
SELECT l.id, l.owner_id, l.name, l.invite_token, l.version, l.created_at, o.display_name AS owner_name
FROM lists l
JOIN list_members m ON m.list_id = l.id AND m.user_id = @user_id
JOIN users o ON o.id = l.owner_id
WHERE l.id = @id;

-- name: ListListsForMember :many
SELECT l.id, l.name, l.owner_id,
       (SELECT count(*) FROM movies f WHERE f.list_id = l.id) AS movies,
       (SELECT count(*) FROM list_members c WHERE c.list_id = l.id) AS members,
       greatest(l.created_at,
                (SELECT max(f.created_at) FROM movies f WHERE f.list_id = l.id),
                (SELECT max(r.created_at) FROM rolls r WHERE r.list_id = l.id),
                (SELECT max(c.joined_at) FROM list_members c WHERE c.list_id = l.id))::timestamptz AS last_activity
FROM lists l
JOIN list_members m ON m.list_id = l.id AND m.user_id = @user_id
ORDER BY last_activity DESC, l.name;

-- name: RenameListForOwner :execrows
UPDATE lists SET name = @name WHERE id = @id AND owner_id = @owner_id;

-- name: DeleteListForOwner :execrows
DELETE FROM lists WHERE id = @id AND owner_id = @owner_id;

-- name: RotateInviteForOwner :execrows
UPDATE lists SET invite_token = @invite_token WHERE id = @id AND owner_id = @owner_id;

-- name: HandOverListForOwner :execrows
-- Only to someone already on the list.
UPDATE lists SET owner_id = @new_owner_id
WHERE id = @id AND owner_id = @owner_id AND @new_owner_id::uuid <> @owner_id::uuid
  AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = @id AND m.user_id = @new_owner_id);

-- name: GetInvite :one
-- The invitation token is the credential here: anyone holding it may see
-- the list's name and size (list_by_invite runs as moviedice_lookup).
SELECT l.id, l.name, invite_member_count(@token::text) AS members FROM list_by_invite(@token::text) l;

-- name: JoinByInvite :one
-- Adds the acting user (app.user_id) to the token's list; joining twice is
-- a no-op. NULL when no list has the token.
SELECT join_by_invite(@token::text)::uuid AS list_id;

-- name: IsListMember :one
SELECT EXISTS (SELECT 1 FROM list_members WHERE list_id = @list_id AND user_id = @user_id) AS member;
