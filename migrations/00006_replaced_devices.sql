-- Claiming an account gives the browser a new device (and cookie) and
-- deletes its old one. A request the browser sent with the old cookie
-- just before, still in flight, then found no device: a write was refused
-- as if signed out (or, starting a list, made a new guest), and its answer
-- cleared the cookie, logging out the browser that had just claimed. The
-- old device's id is kept here for a while, so such a request is told it
-- was not saved, and its cookie is left alone. It grants nothing: the id
-- no longer acts as anyone.

-- +goose Up
CREATE TABLE replaced_devices (
    device_id   uuid PRIMARY KEY,
    replaced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX replaced_devices_replaced_at_idx ON replaced_devices (replaced_at);
GRANT SELECT, INSERT, DELETE ON replaced_devices TO moviedice_app;
GRANT SELECT, INSERT, DELETE ON replaced_devices TO moviedice_system;

-- +goose Down
DROP TABLE replaced_devices;
