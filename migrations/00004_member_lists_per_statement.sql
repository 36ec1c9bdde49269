-- member_lists() sits in the policy of every table a statement reads, so a
-- list page's one statement used to look up the user's memberships five
-- times. Now the lookup runs once per statement: load_member_lists() (the
-- old body, still SECURITY DEFINER as moviedice_lookup) keeps its answer in
-- transaction-local settings, keyed by the acting user and the statement's
-- start time, and member_lists() becomes a plain SQL expression the planner
-- inlines, answering from those settings while the key matches.
--
-- statement_timestamp() moves with each message from the client, not with
-- each statement: the statements of one simple-protocol query string, or
-- of one function, share it. So any change to list_members also empties
-- the writing transaction's cache (forget_member_lists), and a statement
-- after a membership change, in the same message or not, looks the
-- memberships up again. What is left shared within one message is only
-- what another transaction commits meanwhile.
--
-- The settings are exactly as trustworthy as app.user_id: SQL running as
-- moviedice_app could set either. Row-level security here is the net under
-- forgotten filters, not a defence against arbitrary SQL.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION load_member_lists() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    lists uuid[] := (SELECT coalesce(array_agg(m.list_id), '{}') FROM public.list_members m WHERE m.user_id = public.app_user());
BEGIN
    -- Set here, inside a function with its own SET clause: only search_path
    -- is restored on return, these two stay for the rest of the transaction.
    PERFORM set_config('app.member_lists', lists::text, true);
    PERFORM set_config('app.member_lists_key', current_setting('app.user_id', true) || '@' || statement_timestamp(), true);
    RETURN lists;
END
$$;
-- +goose StatementEnd

-- The same function (policies hold its oid), now a cache lookup. It must
-- stay a single SQL expression of stable functions, so that the planner
-- inlines it into each policy's InitPlan.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION member_lists() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT CASE WHEN current_setting('app.member_lists_key', true) = current_setting('app.user_id', true) || '@' || statement_timestamp()
                THEN current_setting('app.member_lists', true)::uuid[]
                ELSE load_member_lists() END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION forget_member_lists() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM set_config('app.member_lists_key', '', true);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER list_members_forget AFTER INSERT OR UPDATE OR DELETE ON list_members
    FOR EACH STATEMENT EXECUTE FUNCTION forget_member_lists();

GRANT CREATE ON SCHEMA public TO moviedice_lookup;
ALTER FUNCTION load_member_lists() OWNER TO moviedice_lookup;
REVOKE CREATE ON SCHEMA public FROM moviedice_lookup;
REVOKE ALL ON FUNCTION load_member_lists() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION load_member_lists() TO moviedice_app, moviedice_system;

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION member_lists() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
    RETURN (SELECT coalesce(array_agg(m.list_id), '{}') FROM public.list_members m WHERE m.user_id = public.app_user());
END
$$;
-- +goose StatementEnd
DROP TRIGGER list_members_forget ON list_members;
DROP FUNCTION forget_member_lists();
DROP FUNCTION load_member_lists();
