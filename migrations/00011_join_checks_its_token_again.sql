-- Joining checks the invitation again once its membership is in. The
-- insert can wait for an owner's transaction that removes this very user
-- and rotates the link (a removal does both); when that commits, the
-- insert goes ahead, and the removed member was back on the list with the
-- old link. Now the token is read again in a snapshot taken after the
-- insert, and a token that changed meanwhile undoes the join
-- (no_data_found, the whole transaction). A link rotated before the join
-- began matches no list, as before: NULL.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION join_by_invite(token text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    joined uuid;
BEGIN
    SELECT l.id INTO joined FROM public.lists l WHERE l.invite_token = token AND public.app_user() IS NOT NULL;
    IF joined IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.list_members (list_id, user_id) VALUES (joined, public.app_user()) ON CONFLICT DO NOTHING;
    PERFORM FROM public.lists l WHERE l.id = joined AND l.invite_token = token;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the invitation changed while joining' USING ERRCODE = 'no_data_found';
    END IF;
    RETURN joined;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION join_by_invite(token text) RETURNS uuid
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    INSERT INTO public.list_members (list_id, user_id)
    SELECT l.id, public.app_user() FROM public.lists l WHERE l.invite_token = token AND public.app_user() IS NOT NULL
    ON CONFLICT DO NOTHING;
    SELECT l.id FROM public.lists l WHERE l.invite_token = token AND public.app_user() IS NOT NULL;
$$;
-- +goose StatementEnd
