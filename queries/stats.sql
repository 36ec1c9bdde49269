-- name: CountSiteStats :one
-- Aggregate counts for the landing page; no user data leaves this query.
SELECT
    (SELECT count(*) FROM lists)  AS lists,
    (SELECT count(*) FROM movies) AS movies,
    (SELECT count(*) FROM rolls)  AS rolls;
