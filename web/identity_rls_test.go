package web

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/moviedice/moviedice/queries"
)

// TestIdentityRowLevelSecurityNet is TestRowLevelSecurityNet for the
// identity tables (migrations/00008): a statement that forgot its user
// filter sees and changes nothing of anyone else's.
func TestIdentityRowLevelSecurityNet(t *testing.T) {
	a := mustAppWith(t, unlimited)
	w := a.mustSweepWorld(t) // O and M on L; Z on ZL; X on its own list
	ctx := context.Background()
	// D adds a film to L and leaves, R rolls there and leaves: their names
	// stay on L, by the film and the roll.
	d, r := a.browser(t), a.browser(t)
	for _, step := range []struct {
		b          *browser
		path, form string
	}{{d, "/join/" + w.token, ""}, {d, "/l/" + w.list + "/movies", "Departed's film"}, {d, "/l/" + w.list + "/leave", ""},
		{r, "/join/" + w.token, ""}, {r, "/l/" + w.list + "/roll", ""}, {r, "/l/" + w.list + "/leave", ""}} {
		res, _ := step.b.post(step.path, "title", step.form)
		mustRedirect(t, res, "/")
	}
	w.o.mustGetCode()
	w.z.mustGetCode()
	ids := map[string]uuid.UUID{"M": uuid.MustParse(w.mID), "Z": uuid.MustParse(w.zID)}
	super := a.db.Super(t)
	for name, sql := range map[string]string{
		"O": "SELECT owner_id FROM lists WHERE name = 'L'",
		"X": "SELECT owner_id FROM lists WHERE name = 'X''s own'",
		"D": "SELECT added_by FROM movies WHERE title = 'Departed''s film'",
		"R": "SELECT rolled_by FROM rolls WHERE list_id = (SELECT id FROM lists WHERE name = 'L')",
	} {
		var id uuid.UUID
		if err := super.QueryRow(ctx, sql).Scan(&id); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ids[name] = id
	}
	a.db.MustExec(t, `INSERT INTO merges (from_user, into_user, status)
		VALUES (gen_random_uuid(), $1, 'failed'), (gen_random_uuid(), $2, 'pending')`, ids["O"], ids["Z"])
	a.db.MustExec(t, "INSERT INTO replaced_devices (device_id) VALUES (gen_random_uuid())")
	// whose is the ids of the users named, sorted as owners sorts them.
	whose := func(names ...string) []uuid.UUID {
		out := []uuid.UUID{}
		for _, n := range names {
			out = append(out, ids[n])
		}
		return sortIDs(out)
	}

	pool := a.srv.pool
	// begin starts a transaction acting the way a request's does: as a
	// user (ActAsUser, as ReadAsUser and InTxAsUser do), or as the user of
	// a device (ActAsUserOfDevice, as identity.ActAs does); "" for neither.
	begin := func(t *testing.T, user uuid.UUID, device string) pgx.Tx {
		t.Helper()
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback(ctx) })
		q := queries.New(tx)
		switch {
		case device != "":
			err = q.ActAsUserOfDevice(ctx, uuid.MustParse(device))
		case user != uuid.Nil:
			err = q.ActAsUser(ctx, user.String())
		}
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	// owners runs a deliberately unfiltered SELECT * and returns, sorted,
	// the column that says whose each row is.
	owners := func(t *testing.T, tx pgx.Tx, table, column string) []uuid.UUID {
		t.Helper()
		r, err := tx.Query(ctx, "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(r, func(row pgx.CollectableRow) (uuid.UUID, error) {
			values, err := row.Values()
			if err != nil {
				return uuid.Nil, err
			}
			for i, f := range row.FieldDescriptions() {
				if f.Name == column {
					return uuid.Parse(fmt.Sprint(values[i]))
				}
			}
			return uuid.Nil, fmt.Errorf("no column %s", column)
		})
		if err != nil {
			t.Fatal(err)
		}
		return sortIDs(got)
	}
	tables := []struct {
		table, column, what string
		asO                 []uuid.UUID
	}{
		{"devices", "user_id", "the user's own devices", whose("O")},
		{"recovery_codes", "user_id", "the user's own code", whose("O")},
		{"merges", "into_user", "the merges into the user", whose("O")},
	}
	for _, c := range tables {
		t.Run("an unfiltered SELECT * FROM "+c.table+" returns "+c.what, func(t *testing.T) {
			if total := a.db.MustCount(t, "SELECT count(DISTINCT "+c.column+") FROM "+c.table); total <= int64(len(c.asO)) {
				t.Fatalf("fixture too small to show anything: %d owners in %s", total, c.table)
			}
			if got := owners(t, begin(t, ids["O"], ""), c.table, c.column); !slices.Equal(got, c.asO) {
				t.Errorf("as O: %v, want %v", got, c.asO)
			}
			if got := owners(t, begin(t, uuid.Nil, w.devices[w.o]), c.table, c.column); !slices.Equal(got, c.asO) {
				t.Errorf("as O's device: %v, want %v", got, c.asO)
			}
		})
	}
	t.Run("a user on no list with anyone sees its own identity rows only", func(t *testing.T) {
		tx := begin(t, ids["X"], "")
		for _, c := range tables {
			want := whose("X")
			if c.table == "recovery_codes" || c.table == "merges" {
				want = []uuid.UUID{}
			}
			if got := owners(t, tx, c.table, c.column); !slices.Equal(got, want) {
				t.Errorf("%s: %v, want %v", c.table, got, want)
			}
		}
	})
	t.Run("with no acting user, or as a device that does not exist, no identity row is visible", func(t *testing.T) {
		for _, tx := range []pgx.Tx{begin(t, uuid.Nil, ""), begin(t, uuid.Nil, uuid.NewString())} {
			for _, c := range tables {
				if got := owners(t, tx, c.table, c.column); len(got) != 0 {
					t.Errorf("%s: %v", c.table, got)
				}
			}
		}
	})
	t.Run("of users, the app reads ids and names and nothing else", func(t *testing.T) {
		for _, sql := range []string{"SELECT * FROM users", "SELECT last_seen_at FROM users", "SELECT created_at FROM users"} {
			tx := begin(t, ids["O"], "")
			if _, err := tx.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("%s: %v, want permission denied", sql, err)
			}
			tx.Rollback(ctx)
		}
		total := a.db.MustCount(t, "SELECT count(*) FROM users")
		var n int64
		if err := begin(t, ids["X"], "").QueryRow(ctx, "SELECT count(*) FROM users WHERE display_name <> ''").Scan(&n); err != nil || n != total {
			t.Errorf("names read as X: %d of %d (%v)", n, total, err)
		}
	})
	t.Run("the app reads no replaced devices and no sessions but the one its device id names", func(t *testing.T) {
		for _, sql := range []string{"SELECT * FROM replaced_devices", "SELECT * FROM device_sessions"} {
			tx := begin(t, ids["O"], "")
			if _, err := tx.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("%s: %v, want permission denied", sql, err)
			}
			tx.Rollback(ctx)
		}
		var user uuid.UUID
		var n int
		err := begin(t, ids["O"], "").QueryRow(ctx, "SELECT min(user_id::text)::uuid, count(*) FROM session_for_device($1)", w.zDevice).Scan(&user, &n)
		if err != nil || n != 1 || user != ids["Z"] {
			t.Errorf("session_for_device(Z's device): %d rows, user %s (%v)", n, user, err)
		}
	})

	// identity is every identity row, as the superuser sees it.
	identity := func(t *testing.T) string {
		t.Helper()
		var s string
		err := super.QueryRow(ctx, `SELECT concat_ws('|',
			(SELECT string_agg(u::text, ',' ORDER BY u.id) FROM users u),
			(SELECT string_agg(d::text, ',' ORDER BY d.id) FROM devices d),
			(SELECT string_agg(c::text, ',' ORDER BY c.user_id) FROM recovery_codes c),
			(SELECT string_agg(m::text, ',' ORDER BY m.id) FROM merges m),
			(SELECT string_agg(r::text, ',' ORDER BY r.device_id) FROM replaced_devices r))`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// write runs sql as O, committed if it succeeds, and returns the rows
	// it changed (none when refused).
	write := func(t *testing.T, sql string) (int64, error) {
		t.Helper()
		tx := begin(t, ids["O"], "")
		tag, err := tx.Exec(ctx, sql, ids["O"], ids["Z"], w.zDevice)
		if err == nil {
			err = tx.Commit(ctx)
		}
		return tag.RowsAffected(), err
	}
	for _, c := range []struct{ name, sql string }{
		{"sign out another user's device", "DELETE FROM devices WHERE id = $3 AND $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL"},
		{"sign out every device but its own", "DELETE FROM devices WHERE user_id <> $1 AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"touch another user's device", "UPDATE devices SET last_seen_at = now() - interval '1 day' WHERE user_id = $2 AND $1::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"take another user's device", "UPDATE devices SET user_id = $1 WHERE id = $3 AND $2::uuid IS NOT NULL"},
		{"add a device to another user", "INSERT INTO devices (user_id) SELECT $2 WHERE $1::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"replace another user's recovery code", "UPDATE recovery_codes SET verifier = 'guessable', selector = sha256('x') WHERE user_id <> $1 AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"mark another user's recovery code used", "UPDATE recovery_codes SET last_used_at = now() WHERE user_id = $2 AND $1::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"give another user a recovery code", "INSERT INTO recovery_codes (user_id, selector, verifier) SELECT id, sha256(id::text::bytea), 'v' FROM users WHERE id <> $1 AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"delete a recovery code", "DELETE FROM recovery_codes WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"rename a list-mate", "UPDATE users SET display_name = 'Renamed' WHERE id <> $1 AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"create a user it does not act as", "INSERT INTO users (display_name) SELECT 'Forged' WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"rewrite a merge", "UPDATE merges SET status = 'done' WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
		{"record a merge", "INSERT INTO merges (from_user, into_user, status) SELECT $2, $1, 'pending' WHERE $3::uuid IS NOT NULL"},
		{"forget a replaced device", "DELETE FROM replaced_devices WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL"},
	} {
		t.Run("a user cannot "+c.name, func(t *testing.T) {
			before := identity(t)
			if n, err := write(t, c.sql); err == nil && n != 0 {
				t.Errorf("%d rows changed", n)
			}
			if identity(t) != before {
				t.Errorf("identity rows changed")
			}
		})
	}
	t.Run("a user still touches, renames and signs out itself", func(t *testing.T) {
		for _, sql := range []string{
			"UPDATE devices SET last_seen_at = now() WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL",
			"UPDATE users SET display_name = 'Still Me', last_seen_at = now() WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL",
			"UPDATE recovery_codes SET last_used_at = now() WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL",
			"DELETE FROM devices WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL",
		} {
			tx := begin(t, ids["O"], "")
			if tag, err := tx.Exec(ctx, sql, ids["O"], ids["Z"], w.zDevice); err != nil || tag.RowsAffected() != 1 {
				t.Errorf("%s: %d rows, %v", sql, tag.RowsAffected(), err)
			}
			tx.Rollback(ctx)
		}
	})
	t.Run("the list page still names its members and whoever left a film or a roll there", func(t *testing.T) {
		names := map[string]string{}
		for _, n := range []string{"M", "D", "R"} {
			var name string
			super.QueryRow(ctx, "SELECT display_name FROM users WHERE id = $1", ids[n]).Scan(&name)
			names[n] = name
		}
		res, body := w.o.get("/l/" + w.list)
		mustSee(t, res, body, 200, names["M"], names["D"], names["R"], "Departed&#39;s film")
	})
}

func sortIDs(ids []uuid.UUID) []uuid.UUID {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}
