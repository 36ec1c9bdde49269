-- A user with a recovery code can be reached again, so nothing may delete
-- it: not the reaper, not a claim retiring an empty guest, not a merge
-- deleting the guest it emptied (each deletes only users without a code,
-- checked first). Until now a code went with its user (ON DELETE CASCADE),
-- and a code made while a merge of its user was under way would have been
-- deleted with the guest after it had been shown. Now such a delete fails,
-- and the merge with it: it is retried, the user, their code and their
-- data intact.

-- +goose Up
ALTER TABLE recovery_codes
    DROP CONSTRAINT recovery_codes_user_id_fkey,
    ADD CONSTRAINT recovery_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT;

-- +goose Down
ALTER TABLE recovery_codes
    DROP CONSTRAINT recovery_codes_user_id_fkey,
    ADD CONSTRAINT recovery_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
