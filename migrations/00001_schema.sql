-- The whole data model of DESIGN.md. Every reference to users(id) is NOT NULL
-- with an explicit ON DELETE rule: credentials (devices, recovery codes) die
-- with their user; anything a user made RESTRICTs the delete, so a merge or
-- reaper that forgot a table fails loudly instead of losing data.

-- +goose Up
CREATE TABLE users (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 40),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_last_seen_at_idx ON users (last_seen_at);

CREATE TABLE devices (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    user_agent   text NOT NULL DEFAULT '' CHECK (char_length(user_agent) <= 512)
);
CREATE INDEX devices_user_id_idx ON devices (user_id);

-- selector is HMAC-SHA256(pepper, first symbols of the code): one indexed
-- lookup per claim. verifier is the argon2id hash of the whole code, in PHC
-- form so its parameters travel with it.
CREATE TABLE recovery_codes (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    selector     bytea NOT NULL UNIQUE CHECK (octet_length(selector) = 32),
    verifier     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);

CREATE TABLE lists (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
    invite_token text NOT NULL UNIQUE CHECK (char_length(invite_token) >= 22),
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lists_owner_id_idx ON lists (owner_id);

CREATE TABLE list_members (
    list_id   uuid NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list_id, user_id)
);
CREATE INDEX list_members_user_id_idx ON list_members (user_id);

-- title_key folds case and runs of white space so "The  Thing" and
-- "the thing" of the same year are one film on a list.
CREATE TABLE movies (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    list_id    uuid NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    added_by   uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    title      text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    title_key  text NOT NULL GENERATED ALWAYS AS (lower(regexp_replace(btrim(title), '\s+', ' ', 'g'))) STORED,
    year       integer CHECK (year BETWEEN 1870 AND 2200),
    watched_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (list_id, id)
);
CREATE INDEX movies_list_id_created_at_idx ON movies (list_id, created_at);
CREATE INDEX movies_added_by_idx ON movies (added_by);
CREATE UNIQUE INDEX movies_list_title_year_key ON movies (list_id, title_key, coalesce(year, 0));

CREATE TABLE rolls (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    list_id    uuid NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    movie_id   uuid NOT NULL,
    rolled_by  uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (list_id, movie_id) REFERENCES movies (list_id, id) ON DELETE CASCADE
);
CREATE INDEX rolls_list_id_created_at_idx ON rolls (list_id, created_at DESC);
CREATE INDEX rolls_movie_id_idx ON rolls (movie_id);
CREATE INDEX rolls_rolled_by_idx ON rolls (rolled_by);

-- from_user is deliberately not a foreign key: a finished merge has deleted
-- that user, and this row is the audit record of where its data went.
CREATE TABLE merges (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_user       uuid NOT NULL,
    into_user       uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    status          text NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    moved           jsonb NOT NULL DEFAULT '{}',
    error           text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (from_user <> into_user)
);
CREATE INDEX merges_pending_idx ON merges (next_attempt_at) WHERE status = 'pending';
CREATE INDEX merges_into_user_idx ON merges (into_user);

-- The app works as moviedice_app: not the owner of these tables, not a
-- superuser, no BYPASSRLS, so row-level security will bind it. The role is
-- cluster-wide; the connecting (owning) role is made a member so the pool can
-- SET ROLE to it on connect.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'moviedice_app') THEN
        CREATE ROLE moviedice_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
-- +goose StatementEnd
GRANT moviedice_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO moviedice_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, devices, recovery_codes, lists, list_members, movies, rolls, merges TO moviedice_app;
GRANT SELECT ON goose_db_version TO moviedice_app;

-- +goose Down
REVOKE ALL ON goose_db_version FROM moviedice_app;
DROP TABLE merges, rolls, movies, list_members, lists, recovery_codes, devices, users;
REVOKE USAGE ON SCHEMA public FROM moviedice_app;
