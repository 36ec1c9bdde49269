-- name: RemoveMemberForOwner :execrows
DELETE FROM list_members m USING lists l
WHERE m.list_id = l.id AND l.id = @list_id AND l.owner_id = @owner_id
  AND m.user_id = @member_id AND m.user_id <> l.owner_id;

-- name: LeaveListForMember :execrows
-- The owner cannot leave: hand the list over or delete it first.
DELETE FROM list_members m USING lists l
WHERE m.list_id = l.id AND l.id = @list_id AND m.user_id = @user_id AND l.owner_id <> @user_id;
