-- A merge that failed often enough to be marked failed is still retried,
-- hourly (web/identity: until it is done, its guest's data is out of
-- everyone's reach), so the index the retries read covers it too.

-- +goose Up
DROP INDEX merges_pending_idx;
CREATE INDEX merges_due_idx ON merges (next_attempt_at) WHERE status IN ('pending', 'failed');

-- +goose Down
DROP INDEX merges_due_idx;
CREATE INDEX merges_pending_idx ON merges (next_attempt_at) WHERE status = 'pending';
