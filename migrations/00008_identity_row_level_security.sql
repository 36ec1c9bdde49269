-- Row-level security on the identity tables: users, devices,
-- recovery_codes, merges and replaced_devices get the second net that
-- lists, members, films and rolls have had since 00002. Their queries
-- filter by user or device in their own SQL; now a query that forgets to
-- still sees nothing of anyone else's but names, and changes nothing.
--
-- The app role (moviedice_app), acting for app.user_id:
--   - users: reads the id and name of any user, and nothing else of them
--     (column grants); creates only its own row (minting picks the id and
--     acts as it first) and changes only its own name and last-seen time.
--     Names are what the app shows of people, ids are random, and reading
--     a row is all a forgotten filter could do: limiting the reads to the
--     people on one's lists put a policy on every join to users, and cost
--     the list page's query a fifth more PostgreSQL time.
--   - devices, recovery_codes: its own only; a device's last-seen time is
--     the one column of a device it changes.
--   - merges: reads the merges into it (the account page's pending ones);
--     making, running and retrying merges is moviedice_system's work.
--   - replaced_devices: nothing; claims record them as moviedice_system.
--
-- Before any user is known a request holds only a device id, from its
-- authenticated cookie. That id is the credential, as an invitation token
-- is for list_by_invite: SECURITY DEFINER functions owned by
-- moviedice_lookup (read-only) answer for exactly that one device:
--   - session_for_device(id): the device, its user and whether the user
--     has a recovery code; the session middleware and the live hub's
--     recheck call it bare, and a write (identity.ActAs) sets app.user_id
--     from it in its first statement, so it locks and acts as the user
--     the device belongs to at that moment (a merge may just have moved it).
--   - device_replaced_at(id): whether a claim replaced that device, for a
--     request still carrying its old cookie.
-- Claims (the lookup by selector, the preview, the confirmation) and
-- merges cross users and run as moviedice_system, which sees everything.
-- Signing in with a verified code acts as that code's account.

-- +goose Up
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
ALTER TABLE devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE devices FORCE ROW LEVEL SECURITY;
ALTER TABLE recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE recovery_codes FORCE ROW LEVEL SECURITY;
ALTER TABLE merges ENABLE ROW LEVEL SECURITY;
ALTER TABLE merges FORCE ROW LEVEL SECURITY;
ALTER TABLE replaced_devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE replaced_devices FORCE ROW LEVEL SECURITY;

CREATE POLICY system_all ON users FOR ALL TO moviedice_system USING (true) WITH CHECK (true);
CREATE POLICY system_all ON devices FOR ALL TO moviedice_system USING (true) WITH CHECK (true);
CREATE POLICY system_all ON recovery_codes FOR ALL TO moviedice_system USING (true) WITH CHECK (true);
CREATE POLICY system_all ON merges FOR ALL TO moviedice_system USING (true) WITH CHECK (true);
CREATE POLICY system_all ON replaced_devices FOR ALL TO moviedice_system USING (true) WITH CHECK (true);

CREATE POLICY lookup_reads ON users FOR SELECT TO moviedice_lookup USING (true);
CREATE POLICY lookup_reads ON devices FOR SELECT TO moviedice_lookup USING (true);
CREATE POLICY lookup_reads ON recovery_codes FOR SELECT TO moviedice_lookup USING (true);
CREATE POLICY lookup_reads ON replaced_devices FOR SELECT TO moviedice_lookup USING (true);

CREATE POLICY app_reads_names ON users FOR SELECT TO moviedice_app USING (true);
CREATE POLICY self_creates ON users FOR INSERT TO moviedice_app WITH CHECK (id = (SELECT app_user()));
CREATE POLICY self_updates ON users FOR UPDATE TO moviedice_app
    USING (id = (SELECT app_user())) WITH CHECK (id = (SELECT app_user()));

CREATE POLICY own_devices ON devices FOR ALL TO moviedice_app
    USING (user_id = (SELECT app_user())) WITH CHECK (user_id = (SELECT app_user()));
CREATE POLICY own_code ON recovery_codes FOR ALL TO moviedice_app
    USING (user_id = (SELECT app_user())) WITH CHECK (user_id = (SELECT app_user()));
CREATE POLICY merges_into_self_read ON merges FOR SELECT TO moviedice_app
    USING (into_user = (SELECT app_user()));

-- The shapes the lookup functions return, as views so that sqlc knows
-- their columns. security_invoker: a view grants nothing of its own; read
-- by the functions, its tables are read as moviedice_lookup. The app has
-- no grant on them.
CREATE VIEW device_sessions WITH (security_invoker = true) AS
SELECT d.id AS device_id, d.user_id, d.last_seen_at AS device_seen_at,
       u.display_name, u.created_at AS user_created_at, rc.created_at AS secured_at
FROM devices d
JOIN users u ON u.id = d.user_id
LEFT JOIN recovery_codes rc ON rc.user_id = d.user_id;

-- It is plpgsql, not sql, for the plan cache (as member_lists() in 00002):
-- it runs for every write and every session not cached.
-- +goose StatementBegin
CREATE FUNCTION session_for_device(device uuid) RETURNS SETOF device_sessions
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
    RETURN QUERY SELECT * FROM public.device_sessions s WHERE s.device_id = device;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION device_replaced_at(device uuid) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT r.replaced_at FROM public.replaced_devices r WHERE r.device_id = device $$;
-- +goose StatementEnd

GRANT SELECT ON users, devices, replaced_devices, device_sessions TO moviedice_lookup;
GRANT SELECT (user_id, created_at) ON recovery_codes TO moviedice_lookup; -- never a verifier
GRANT CREATE ON SCHEMA public TO moviedice_lookup;
ALTER FUNCTION session_for_device(uuid) OWNER TO moviedice_lookup;
ALTER FUNCTION device_replaced_at(uuid) OWNER TO moviedice_lookup;
REVOKE CREATE ON SCHEMA public FROM moviedice_lookup;
REVOKE ALL ON FUNCTION session_for_device(uuid), device_replaced_at(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_for_device(uuid), device_replaced_at(uuid) TO moviedice_app;

-- Grants: what the app's own statements use, no more (see 00005).
-- users: ids and names to read; mint, rename, touch, and the key-share
-- lock of every write (row locks need UPDATE on some column).
REVOKE SELECT, UPDATE ON users FROM moviedice_app;
GRANT SELECT (id, display_name), UPDATE (display_name, last_seen_at) ON users TO moviedice_app;
-- devices: mint and sign-in insert, sign-outs delete, requests touch.
REVOKE UPDATE ON devices FROM moviedice_app;
GRANT UPDATE (last_seen_at) ON devices TO moviedice_app;
-- recovery_codes: a new code replaces the old (upsert); a sign-in marks it used.
REVOKE UPDATE ON recovery_codes FROM moviedice_app;
GRANT UPDATE (selector, verifier, created_at, last_used_at) ON recovery_codes TO moviedice_app;
REVOKE INSERT, UPDATE ON merges FROM moviedice_app;
REVOKE ALL ON replaced_devices FROM moviedice_app;

-- +goose Down
GRANT SELECT, INSERT, DELETE ON replaced_devices TO moviedice_app;
GRANT INSERT, UPDATE ON merges TO moviedice_app;
REVOKE UPDATE (selector, verifier, created_at, last_used_at) ON recovery_codes FROM moviedice_app;
GRANT UPDATE ON recovery_codes TO moviedice_app;
REVOKE UPDATE (last_seen_at) ON devices FROM moviedice_app;
GRANT UPDATE ON devices TO moviedice_app;
REVOKE SELECT (id, display_name), UPDATE (display_name, last_seen_at) ON users FROM moviedice_app;
GRANT SELECT, UPDATE ON users TO moviedice_app;

DROP POLICY merges_into_self_read ON merges;
DROP POLICY own_code ON recovery_codes;
DROP POLICY own_devices ON devices;
DROP POLICY self_updates ON users;
DROP POLICY self_creates ON users;
DROP POLICY app_reads_names ON users;
DROP POLICY lookup_reads ON replaced_devices;
DROP POLICY lookup_reads ON recovery_codes;
DROP POLICY lookup_reads ON devices;
DROP POLICY lookup_reads ON users;
DROP POLICY system_all ON replaced_devices;
DROP POLICY system_all ON merges;
DROP POLICY system_all ON recovery_codes;
DROP POLICY system_all ON devices;
DROP POLICY system_all ON users;

ALTER TABLE replaced_devices NO FORCE ROW LEVEL SECURITY;
ALTER TABLE replaced_devices DISABLE ROW LEVEL SECURITY;
ALTER TABLE merges NO FORCE ROW LEVEL SECURITY;
ALTER TABLE merges DISABLE ROW LEVEL SECURITY;
ALTER TABLE recovery_codes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE recovery_codes DISABLE ROW LEVEL SECURITY;
ALTER TABLE devices NO FORCE ROW LEVEL SECURITY;
ALTER TABLE devices DISABLE ROW LEVEL SECURITY;
ALTER TABLE users NO FORCE ROW LEVEL SECURITY;
ALTER TABLE users DISABLE ROW LEVEL SECURITY;

DROP FUNCTION device_replaced_at(uuid);
DROP FUNCTION session_for_device(uuid);
REVOKE ALL ON users, devices, recovery_codes, replaced_devices FROM moviedice_lookup;
DROP VIEW device_sessions;
