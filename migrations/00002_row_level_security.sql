-- Row-level security: the second net under the SQL filters. The app role
-- sees and writes only rows of lists the acting user (app.user_id, set per
-- transaction) is a member of. Identity's cross-user work (merges, the
-- reaper, claim previews, server-wide counts) runs as moviedice_system,
-- which the policies let through; membership checks and invitation lookups
-- run inside SECURITY DEFINER functions owned by moviedice_lookup, which
-- may only read. FORCE makes the table owner obey the policies too.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'moviedice_system') THEN
        CREATE ROLE moviedice_system NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'moviedice_lookup') THEN
        CREATE ROLE moviedice_lookup NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
-- +goose StatementEnd
GRANT moviedice_system TO CURRENT_USER;
GRANT moviedice_lookup TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO moviedice_system, moviedice_lookup;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, devices, recovery_codes, lists, list_members, movies, rolls, merges TO moviedice_system;
GRANT SELECT ON lists, list_members TO moviedice_lookup;
GRANT INSERT ON list_members TO moviedice_lookup;

-- The user a transaction acts for; NULL (no rows anywhere) when unset.
-- +goose StatementBegin
CREATE FUNCTION app_user() RETURNS uuid
LANGUAGE sql STABLE
AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
-- +goose StatementEnd

-- The lists the acting user is on. A policy on list_members cannot query
-- list_members itself (infinite recursion), so this runs as
-- moviedice_lookup. Policies call it as a scalar subquery, (SELECT
-- member_lists()), so it runs once per statement, not once per row.
-- +goose StatementBegin
-- It is plpgsql, not sql, because a plpgsql body's plan is cached for the
-- session; a sql function's is made anew in every statement.
CREATE FUNCTION member_lists() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
    RETURN (SELECT coalesce(array_agg(m.list_id), '{}') FROM public.list_members m WHERE m.user_id = public.app_user());
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION is_list_owner(list uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT EXISTS (SELECT 1 FROM public.lists l WHERE l.id = list AND l.owner_id = public.app_user()) $$;
-- +goose StatementEnd

-- What the invitation page shows to someone not (yet) on the list: only
-- the list whose token they hold.
-- +goose StatementBegin
CREATE FUNCTION list_by_invite(token text) RETURNS SETOF lists
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT * FROM public.lists l WHERE l.invite_token = token $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION invite_member_count(token text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT count(*) FROM public.list_members m JOIN public.lists l ON l.id = m.list_id WHERE l.invite_token = token
$$;
-- +goose StatementEnd

-- Joining: the only way onto a list you are not on is its invitation token.
-- +goose StatementBegin
CREATE FUNCTION join_by_invite(token text) RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    INSERT INTO public.list_members (list_id, user_id)
    SELECT l.id, public.app_user() FROM public.lists l WHERE l.invite_token = token AND public.app_user() IS NOT NULL
    ON CONFLICT DO NOTHING;
    SELECT l.id FROM public.lists l WHERE l.invite_token = token AND public.app_user() IS NOT NULL;
$$;
-- +goose StatementEnd

-- Giving a function to a role needs that role to hold CREATE on the schema,
-- for the moment of the hand-over only.
GRANT CREATE ON SCHEMA public TO moviedice_lookup;
ALTER FUNCTION member_lists() OWNER TO moviedice_lookup;
ALTER FUNCTION is_list_owner(uuid) OWNER TO moviedice_lookup;
ALTER FUNCTION list_by_invite(text) OWNER TO moviedice_lookup;
ALTER FUNCTION invite_member_count(text) OWNER TO moviedice_lookup;
ALTER FUNCTION join_by_invite(text) OWNER TO moviedice_lookup;
REVOKE CREATE ON SCHEMA public FROM moviedice_lookup;
REVOKE ALL ON FUNCTION member_lists(), is_list_owner(uuid), list_by_invite(text), invite_member_count(text), join_by_invite(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION member_lists(), is_list_owner(uuid), list_by_invite(text), invite_member_count(text), join_by_invite(text) TO moviedice_app, moviedice_system;

ALTER TABLE lists ENABLE ROW LEVEL SECURITY;
ALTER TABLE lists FORCE ROW LEVEL SECURITY;
ALTER TABLE list_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE list_members FORCE ROW LEVEL SECURITY;
ALTER TABLE movies ENABLE ROW LEVEL SECURITY;
ALTER TABLE movies FORCE ROW LEVEL SECURITY;
ALTER TABLE rolls ENABLE ROW LEVEL SECURITY;
ALTER TABLE rolls FORCE ROW LEVEL SECURITY;

CREATE POLICY lookup_reads ON lists FOR SELECT TO moviedice_lookup USING (true);
CREATE POLICY lookup_reads ON list_members FOR SELECT TO moviedice_lookup USING (true);
CREATE POLICY lookup_joins ON list_members FOR INSERT TO moviedice_lookup WITH CHECK (user_id = app_user());

CREATE POLICY system_all ON lists FOR ALL TO moviedice_system USING (true) WITH CHECK (true);
CREATE POLICY system_all ON list_members FOR ALL TO moviedice_system USING (true) WITH CHECK (true);
CREATE POLICY system_all ON movies FOR ALL TO moviedice_system USING (true) WITH CHECK (true);
CREATE POLICY system_all ON rolls FOR ALL TO moviedice_system USING (true) WITH CHECK (true);

CREATE POLICY members_read ON lists FOR SELECT TO moviedice_app USING (owner_id = app_user() OR id = ANY ((SELECT member_lists())::uuid[]));
CREATE POLICY owner_creates ON lists FOR INSERT TO moviedice_app WITH CHECK (owner_id = app_user());
CREATE POLICY members_update ON lists FOR UPDATE TO moviedice_app USING (id = ANY ((SELECT member_lists())::uuid[])) WITH CHECK (id = ANY ((SELECT member_lists())::uuid[]));
CREATE POLICY owner_deletes ON lists FOR DELETE TO moviedice_app USING (owner_id = app_user());

CREATE POLICY members_read ON list_members FOR SELECT TO moviedice_app USING (list_id = ANY ((SELECT member_lists())::uuid[]));
CREATE POLICY owner_joins_own ON list_members FOR INSERT TO moviedice_app WITH CHECK (user_id = app_user() AND is_list_owner(list_id));
CREATE POLICY members_leave ON list_members FOR DELETE TO moviedice_app USING (list_id = ANY ((SELECT member_lists())::uuid[]));

CREATE POLICY members_all ON movies FOR ALL TO moviedice_app USING (list_id = ANY ((SELECT member_lists())::uuid[])) WITH CHECK (list_id = ANY ((SELECT member_lists())::uuid[]));
CREATE POLICY members_all ON rolls FOR ALL TO moviedice_app USING (list_id = ANY ((SELECT member_lists())::uuid[])) WITH CHECK (list_id = ANY ((SELECT member_lists())::uuid[]));

-- +goose Down
DROP POLICY members_all ON rolls;
DROP POLICY members_all ON movies;
DROP POLICY members_leave ON list_members;
DROP POLICY owner_joins_own ON list_members;
DROP POLICY members_read ON list_members;
DROP POLICY owner_deletes ON lists;
DROP POLICY members_update ON lists;
DROP POLICY owner_creates ON lists;
DROP POLICY members_read ON lists;
DROP POLICY system_all ON rolls;
DROP POLICY system_all ON movies;
DROP POLICY system_all ON list_members;
DROP POLICY system_all ON lists;
DROP POLICY lookup_joins ON list_members;
DROP POLICY lookup_reads ON list_members;
DROP POLICY lookup_reads ON lists;
ALTER TABLE rolls NO FORCE ROW LEVEL SECURITY;
ALTER TABLE rolls DISABLE ROW LEVEL SECURITY;
ALTER TABLE movies NO FORCE ROW LEVEL SECURITY;
ALTER TABLE movies DISABLE ROW LEVEL SECURITY;
ALTER TABLE list_members NO FORCE ROW LEVEL SECURITY;
ALTER TABLE list_members DISABLE ROW LEVEL SECURITY;
ALTER TABLE lists NO FORCE ROW LEVEL SECURITY;
ALTER TABLE lists DISABLE ROW LEVEL SECURITY;
DROP FUNCTION join_by_invite(text);
DROP FUNCTION invite_member_count(text);
DROP FUNCTION list_by_invite(text);
DROP FUNCTION is_list_owner(uuid);
DROP FUNCTION member_lists();
DROP FUNCTION app_user();
REVOKE ALL ON lists, list_members FROM moviedice_lookup;
REVOKE ALL ON users, devices, recovery_codes, lists, list_members, movies, rolls, merges FROM moviedice_system;
REVOKE USAGE ON SCHEMA public FROM moviedice_system, moviedice_lookup;
