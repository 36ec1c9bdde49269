-- A list's owner is always one of its members, and row-level security
-- holds each role in a list to what that role may do there, not only to
-- the lists one is on.
--
-- The owner rule was kept by the statements alone, each reading the
-- others' rows from its own snapshot. A hand-over racing the new owner's
-- leaving (or the old owner's removing them) could commit both: a list
-- owned by someone not on it, whom it then 404s, and whose invitation no
-- one can rotate. A deferred foreign key from (id, owner_id) to the
-- memberships makes it the database's rule: checked at commit, with the
-- row locks that foreign keys take, so of two such transactions one fails
-- (and identity.ActAs runs it again, on the state the other left).
--
-- The policies: before, any member could UPDATE any column of the list
-- (owner and invitation included), delete anyone's membership, and delete
-- or rewrite any film. The statements' own filters never did; the net now
-- matches them.

-- +goose Up
-- Repair first: an owner who is not a member (left by that race) becomes
-- one again, so that nothing they made drops out of reach.
SET LOCAL ROLE moviedice_system;
INSERT INTO list_members (list_id, user_id)
SELECT l.id, l.owner_id FROM lists l
WHERE NOT EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = l.id AND m.user_id = l.owner_id);
RESET ROLE;

ALTER TABLE lists ADD CONSTRAINT lists_owner_is_member FOREIGN KEY (id, owner_id)
    REFERENCES list_members (list_id, user_id) DEFERRABLE INITIALLY DEFERRED;

-- Lists: only the owner changes one (rename, rotate the invitation, hand
-- it over; the new owner must be a member, which the foreign key checks).
DROP POLICY members_update ON lists;
CREATE POLICY owner_updates ON lists FOR UPDATE TO moviedice_app
    USING (owner_id = app_user()) WITH CHECK (id = ANY ((SELECT member_lists())::uuid[]));

-- Memberships: one leaves oneself; the owner removes others.
DROP POLICY members_leave ON list_members;
CREATE POLICY member_leaves_or_owner_removes ON list_members FOR DELETE TO moviedice_app
    USING (list_id = ANY ((SELECT member_lists())::uuid[]) AND (user_id = app_user() OR is_list_owner(list_id)));

-- Films: members read, add (as themselves) and mark watched; the adder or
-- the owner removes one.
DROP POLICY members_all ON movies;
CREATE POLICY members_read ON movies FOR SELECT TO moviedice_app
    USING (list_id = ANY ((SELECT member_lists())::uuid[]));
CREATE POLICY members_add ON movies FOR INSERT TO moviedice_app
    WITH CHECK (list_id = ANY ((SELECT member_lists())::uuid[]) AND added_by = app_user());
CREATE POLICY members_mark_watched ON movies FOR UPDATE TO moviedice_app
    USING (list_id = ANY ((SELECT member_lists())::uuid[])) WITH CHECK (list_id = ANY ((SELECT member_lists())::uuid[]));
CREATE POLICY adder_or_owner_removes ON movies FOR DELETE TO moviedice_app
    USING (list_id = ANY ((SELECT member_lists())::uuid[]) AND (added_by = app_user() OR is_list_owner(list_id)));

-- Rolls: members read and roll (as themselves); a roll is history, never
-- changed (it goes with its film or its list).
DROP POLICY members_all ON rolls;
CREATE POLICY members_read ON rolls FOR SELECT TO moviedice_app
    USING (list_id = ANY ((SELECT member_lists())::uuid[]));
CREATE POLICY members_roll ON rolls FOR INSERT TO moviedice_app
    WITH CHECK (list_id = ANY ((SELECT member_lists())::uuid[]) AND rolled_by = app_user());

-- Grants: what the app's own statements use, no more. Deleting users,
-- recovery codes and merge records, moving memberships, and rewriting
-- films and rolls are moviedice_system's work (merges, the reaper).
REVOKE DELETE ON users, recovery_codes, merges FROM moviedice_app;
REVOKE UPDATE, DELETE ON rolls FROM moviedice_app;
REVOKE UPDATE ON list_members, lists, movies FROM moviedice_app;
GRANT UPDATE (name, invite_token, owner_id) ON lists TO moviedice_app;
GRANT UPDATE (watched_at) ON movies TO moviedice_app;

-- +goose Down
REVOKE UPDATE (watched_at) ON movies FROM moviedice_app;
REVOKE UPDATE (name, invite_token, owner_id) ON lists FROM moviedice_app;
GRANT UPDATE ON list_members, lists, movies TO moviedice_app;
GRANT UPDATE, DELETE ON rolls TO moviedice_app;
GRANT DELETE ON users, recovery_codes, merges TO moviedice_app;

DROP POLICY members_roll ON rolls;
DROP POLICY members_read ON rolls;
CREATE POLICY members_all ON rolls FOR ALL TO moviedice_app USING (list_id = ANY ((SELECT member_lists())::uuid[])) WITH CHECK (list_id = ANY ((SELECT member_lists())::uuid[]));

DROP POLICY adder_or_owner_removes ON movies;
DROP POLICY members_mark_watched ON movies;
DROP POLICY members_add ON movies;
DROP POLICY members_read ON movies;
CREATE POLICY members_all ON movies FOR ALL TO moviedice_app USING (list_id = ANY ((SELECT member_lists())::uuid[])) WITH CHECK (list_id = ANY ((SELECT member_lists())::uuid[]));

DROP POLICY member_leaves_or_owner_removes ON list_members;
CREATE POLICY members_leave ON list_members FOR DELETE TO moviedice_app USING (list_id = ANY ((SELECT member_lists())::uuid[]));

DROP POLICY owner_updates ON lists;
CREATE POLICY members_update ON lists FOR UPDATE TO moviedice_app USING (id = ANY ((SELECT member_lists())::uuid[])) WITH CHECK (id = ANY ((SELECT member_lists())::uuid[]));

ALTER TABLE lists DROP CONSTRAINT lists_owner_is_member;
