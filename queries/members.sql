-- name: ListMembersForMember :many
SELECT u.id, u.display_name, m.joined_at, (l.owner_id = u.id) AS is_owner
FROM list_members m
JOIN users u ON u.id = m.user_id
JOIN lists l ON l.id = m.list_id
WHERE m.list_id = @list_id
  AND EXISTS (SELECT 1 FROM list_members me WHERE me.list_id = @list_id AND me.user_id = @user_id)
ORDER BY is_owner DESC, m.joined_at, u.display_name;

-- name: RemoveMemberForOwner :execrows
DELETE FROM list_members m USING lists l
WHERE m.list_id = l.id AND l.id = @list_id AND l.owner_id = @owner_id
  AND m.user_id = @member_id AND m.user_id <> l.owner_id;

-- name: LeaveListForMember :execrows
-- The owner cannot leave: hand the list over or delete it first.
DELETE FROM list_members m USING lists l
WHERE m.list_id = l.id AND l.id = @list_id AND m.user_id = @user_id AND l.owner_id <> @user_id;
