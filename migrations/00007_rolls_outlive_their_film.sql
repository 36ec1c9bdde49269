-- A roll is history a member made: removing its film no longer deletes it.
-- Rolls keep the title and year they picked, and lose only the link to
-- the film (ON DELETE SET NULL (movie_id), PostgreSQL 15+). Before, taking
-- tonight's film off the list erased its roll, and the roll before it
-- came back as tonight's film.

-- +goose Up
ALTER TABLE rolls ADD COLUMN title text, ADD COLUMN year integer;
ALTER TABLE rolls DISABLE TRIGGER rolls_announce; -- filling in a copy changes nothing to announce
SET LOCAL ROLE moviedice_system; -- row-level security binds the owner too (FORCE)
UPDATE rolls r SET title = f.title, year = f.year FROM movies f WHERE f.id = r.movie_id;
RESET ROLE;
ALTER TABLE rolls ENABLE TRIGGER rolls_announce;
ALTER TABLE rolls ALTER COLUMN title SET NOT NULL;
ALTER TABLE rolls ALTER COLUMN movie_id DROP NOT NULL;
ALTER TABLE rolls DROP CONSTRAINT rolls_list_id_movie_id_fkey;
ALTER TABLE rolls ADD CONSTRAINT rolls_list_id_movie_id_fkey FOREIGN KEY (list_id, movie_id)
    REFERENCES movies (list_id, id) ON DELETE SET NULL (movie_id);

-- +goose Down
SET LOCAL ROLE moviedice_system;
DELETE FROM rolls WHERE movie_id IS NULL;
RESET ROLE;
ALTER TABLE rolls DROP CONSTRAINT rolls_list_id_movie_id_fkey;
ALTER TABLE rolls ADD CONSTRAINT rolls_list_id_movie_id_fkey FOREIGN KEY (list_id, movie_id)
    REFERENCES movies (list_id, id) ON DELETE CASCADE;
ALTER TABLE rolls ALTER COLUMN movie_id SET NOT NULL;
ALTER TABLE rolls DROP COLUMN title, DROP COLUMN year;
