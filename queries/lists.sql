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
-- a no-op. NULL when no list has the token; an error (no_data_found) when
-- the token changed while the join waited (migrations/00011).
SELECT join_by_invite(@token::text)::uuid AS list_id;

-- name: IsListMember :one
SELECT EXISTS (SELECT 1 FROM list_members WHERE list_id = @list_id AND user_id = @user_id) AS member;

-- name: GetListPageForMember :one
-- Everything a list page shows, in one statement: the list (if the user is
-- on it), and its members, films and last five rolls as parallel arrays
-- (element i of each *_ids/*_names/... array belongs together), which
-- decode far faster than JSON. Each part's rows are sorted once in a
-- subquery and aggregated in that order (an ORDER BY inside every
-- array_agg would sort once per array). A live update that only needs some
-- parts turns the others off (with_members, with_movies, with_rolls).
SELECT l.id, l.owner_id, l.name, l.invite_token, l.version, l.created_at, o.display_name AS owner_name,
       mem.ids::uuid[] AS member_ids, mem.names::text[] AS member_names,
       mov.ids::uuid[] AS movie_ids, mov.titles::text[] AS movie_titles, mov.years::int[] AS movie_years,
       mov.watched::bool[] AS movie_watched, mov.added_by::uuid[] AS movie_added_by,
       mov.added_by_names::text[] AS movie_added_by_names, mov.created::timestamptz[] AS movie_created,
       rol.ids::uuid[] AS roll_ids, rol.created::timestamptz[] AS roll_created, rol.titles::text[] AS roll_titles,
       rol.years::int[] AS roll_years, rol.names::text[] AS roll_names, rol.by::uuid[] AS roll_by
FROM lists l
JOIN list_members me ON me.list_id = l.id AND me.user_id = @user_id
JOIN users o ON o.id = l.owner_id
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(x.id), '{}') AS ids, coalesce(array_agg(x.display_name), '{}') AS names
    FROM (SELECT u.id, u.display_name
            FROM list_members m JOIN users u ON u.id = m.user_id
           WHERE m.list_id = l.id AND @with_members::bool
           ORDER BY u.id = l.owner_id DESC, m.joined_at, u.id) x) mem
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(x.id), '{}') AS ids, coalesce(array_agg(x.title), '{}') AS titles,
           coalesce(array_agg(x.year), '{}') AS years, coalesce(array_agg(x.watched), '{}') AS watched,
           coalesce(array_agg(x.added_by), '{}') AS added_by, coalesce(array_agg(x.name), '{}') AS added_by_names,
           coalesce(array_agg(x.created_at), '{}') AS created
    FROM (SELECT f.id, f.title, coalesce(f.year, 0) AS year, f.watched_at IS NOT NULL AS watched,
                 f.added_by, u.display_name AS name, f.created_at
            FROM movies f JOIN users u ON u.id = f.added_by
           WHERE f.list_id = l.id AND @with_movies::bool
           ORDER BY f.watched_at IS NOT NULL, f.created_at, f.id) x) mov
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(x.id), '{}') AS ids, coalesce(array_agg(x.created_at), '{}') AS created,
           coalesce(array_agg(x.title), '{}') AS titles, coalesce(array_agg(x.year), '{}') AS years,
           coalesce(array_agg(x.name), '{}') AS names, coalesce(array_agg(x.rolled_by), '{}') AS by
    FROM (SELECT r.id, r.created_at, r.title, coalesce(r.year, 0) AS year, u.display_name AS name, r.rolled_by
            FROM rolls r JOIN users u ON u.id = r.rolled_by
           WHERE r.list_id = l.id AND @with_rolls::bool
           ORDER BY r.created_at DESC, r.id
           LIMIT 5) x) rol
WHERE l.id = @id;

-- name: GetListFilmsForMember :one
-- The given films of a list as they are now, for a live update that sends
-- only what changed: the list's version and unwatched count (if the user is
-- on it), and the films that still exist, as parallel arrays in page order,
-- each with the film that follows it on the page (next_ids; NULL for the
-- last), so a browser can put it in its place.
SELECT l.version,
       (SELECT count(*) FROM movies u WHERE u.list_id = l.id AND u.watched_at IS NULL) AS unwatched,
       mov.ids::uuid[] AS movie_ids, mov.titles::text[] AS movie_titles, mov.years::int[] AS movie_years,
       mov.watched::bool[] AS movie_watched, mov.added_by::uuid[] AS movie_added_by,
       mov.added_by_names::text[] AS movie_added_by_names, mov.created::timestamptz[] AS movie_created,
       mov.next_ids::uuid[] AS movie_next_ids
FROM lists l
JOIN list_members me ON me.list_id = l.id AND me.user_id = @user_id
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(x.id), '{}') AS ids, coalesce(array_agg(x.title), '{}') AS titles,
           coalesce(array_agg(x.year), '{}') AS years, coalesce(array_agg(x.watched), '{}') AS watched,
           coalesce(array_agg(x.added_by), '{}') AS added_by, coalesce(array_agg(x.name), '{}') AS added_by_names,
           coalesce(array_agg(x.created_at), '{}') AS created, coalesce(array_agg(x.next_id), '{}') AS next_ids
    FROM (SELECT f.id, f.title, coalesce(f.year, 0) AS year, f.watched_at IS NOT NULL AS watched,
                 f.added_by, u.display_name AS name, f.created_at,
                 (SELECT n.id FROM movies n
                   WHERE n.list_id = f.list_id
                     AND (n.watched_at IS NOT NULL, n.created_at, n.id) > (f.watched_at IS NOT NULL, f.created_at, f.id)
                   ORDER BY n.watched_at IS NOT NULL, n.created_at, n.id
                   LIMIT 1) AS next_id
            FROM movies f JOIN users u ON u.id = f.added_by
           WHERE f.list_id = l.id AND f.id = ANY(@films::uuid[])
           ORDER BY f.watched_at IS NOT NULL, f.created_at, f.id) x) mov
WHERE l.id = @id;
