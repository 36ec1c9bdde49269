-- The change feed: every write to a list, its members, films or rolls bumps
-- the list's version and announces {list, kind, row, version} on the
-- moviedice_changes channel, from inside the writing transaction. NOTIFY is
-- delivered at commit and dropped on rollback, so every instance hears
-- exactly the changes that happened, from any source (requests, merges,
-- the reaper, an operator's psql). Payloads carry ids only, far below
-- NOTIFY's 8000-byte limit. Device sign-outs and moves are announced on
-- moviedice_devices so live connections of those devices can be closed.

-- +goose Up
-- +goose StatementBegin
-- A list's own edits (name, owner, invitation) bump its version in place.
CREATE FUNCTION bump_list_version() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.name, NEW.owner_id, NEW.invite_token) IS DISTINCT FROM (OLD.name, OLD.owner_id, OLD.invite_token) THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION announce_list_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    changed jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
    list_id uuid;
    row_id  text;
    version bigint;
BEGIN
    IF TG_TABLE_NAME = 'lists' THEN
        IF TG_OP = 'UPDATE' AND (NEW.name, NEW.owner_id, NEW.invite_token) IS NOT DISTINCT FROM (OLD.name, OLD.owner_id, OLD.invite_token) THEN
            RETURN NULL; -- only the version moved: the child change announces itself
        END IF;
        list_id := changed->>'id';
        row_id := list_id::text;
        version := (changed->>'version')::bigint + CASE WHEN TG_OP = 'DELETE' THEN 1 ELSE 0 END;
    ELSE
        list_id := changed->>'list_id';
        row_id := coalesce(changed->>'id', changed->>'user_id'); -- list_members: the member
        UPDATE public.lists SET version = lists.version + 1 WHERE lists.id = list_id
        RETURNING lists.version INTO version;
        IF version IS NULL THEN
            RETURN NULL; -- the list itself is being deleted: it announces that
        END IF;
    END IF;
    PERFORM pg_notify('moviedice_changes', json_build_object(
        'list', list_id, 'kind', TG_TABLE_NAME || '.' || lower(TG_OP), 'row', row_id, 'version', version)::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION announce_device_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.user_id <> OLD.user_id THEN
        PERFORM pg_notify('moviedice_devices', OLD.id::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- The announcing function runs as moviedice_system, which row-level
-- security lets update any list: a member who just left can no longer see
-- the list, yet its version must still move.
GRANT CREATE ON SCHEMA public TO moviedice_system;
ALTER FUNCTION announce_list_change() OWNER TO moviedice_system;
REVOKE CREATE ON SCHEMA public FROM moviedice_system;
REVOKE ALL ON FUNCTION announce_list_change() FROM PUBLIC;

CREATE TRIGGER lists_bump_version BEFORE UPDATE ON lists FOR EACH ROW EXECUTE FUNCTION bump_list_version();
CREATE TRIGGER lists_announce AFTER INSERT OR UPDATE OR DELETE ON lists FOR EACH ROW EXECUTE FUNCTION announce_list_change();
CREATE TRIGGER list_members_announce AFTER INSERT OR UPDATE OR DELETE ON list_members FOR EACH ROW EXECUTE FUNCTION announce_list_change();
CREATE TRIGGER movies_announce AFTER INSERT OR UPDATE OR DELETE ON movies FOR EACH ROW EXECUTE FUNCTION announce_list_change();
CREATE TRIGGER rolls_announce AFTER INSERT OR UPDATE OR DELETE ON rolls FOR EACH ROW EXECUTE FUNCTION announce_list_change();
CREATE TRIGGER devices_announce AFTER UPDATE OR DELETE ON devices FOR EACH ROW EXECUTE FUNCTION announce_device_change();

-- +goose Down
DROP TRIGGER devices_announce ON devices;
DROP TRIGGER rolls_announce ON rolls;
DROP TRIGGER movies_announce ON movies;
DROP TRIGGER list_members_announce ON list_members;
DROP TRIGGER lists_announce ON lists;
DROP TRIGGER lists_bump_version ON lists;
DROP FUNCTION announce_device_change();
DROP FUNCTION announce_list_change();
DROP FUNCTION bump_list_version();
