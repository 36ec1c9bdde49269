package migrations_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/moviedice/moviedice/migrations"
	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/web/pgdev/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func mustOpen(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()

	t.Run("several instances migrating at once all succeed, each migration applied once", func(t *testing.T) {
		pdb := pgtest.NewEmpty(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() { errs <- migrations.Up(ctx, mustOpen(t, pdb.URL), quiet) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		p, err := migrations.NewProvider(mustOpen(t, pdb.URL))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := migrations.Current(ctx, p); err != nil || !ok {
			t.Fatalf("not current after Up: %v %v", ok, err)
		}
		sources := p.ListSources()
		if n := pdb.MustCount(t, "SELECT count(*) FROM goose_db_version WHERE version_id > 0"); n != int64(len(sources)) {
			t.Errorf("%d version rows for %d migrations", n, len(sources))
		}
	})

	t.Run("running again changes nothing", func(t *testing.T) {
		pdb := pgtest.New(t)
		before := pdb.MustCount(t, "SELECT count(*) FROM goose_db_version")
		if err := migrations.Up(ctx, mustOpen(t, pdb.URL), quiet); err != nil {
			t.Fatal(err)
		}
		if after := pdb.MustCount(t, "SELECT count(*) FROM goose_db_version"); after != before {
			t.Errorf("version rows %d -> %d", before, after)
		}
	})

	t.Run("an owner left off their own list is put back on it", func(t *testing.T) {
		pdb, p := migratedDownTo(t, 4)
		pdb.MustExec(t, `WITH u AS (INSERT INTO users (display_name) VALUES ('Quiet Otter') RETURNING id)
			INSERT INTO lists (owner_id, name, invite_token) SELECT id, 'Friday', md5('x') FROM u`)
		if _, err := p.Up(ctx); err != nil {
			t.Fatal(err)
		}
		if n := pdb.MustCount(t, "SELECT count(*) FROM lists l JOIN list_members m ON m.list_id = l.id AND m.user_id = l.owner_id"); n != 1 {
			t.Errorf("owner not a member after migrating: %d", n)
		}
	})

	t.Run("rolls made before keep their film's title, and then outlive it", func(t *testing.T) {
		pdb, p := migratedDownTo(t, 6)
		pdb.MustExec(t, `WITH u AS (INSERT INTO users (display_name) VALUES ('Quiet Otter') RETURNING id),
			l AS (INSERT INTO lists (owner_id, name, invite_token) SELECT id, 'Friday', md5('x') FROM u RETURNING id, owner_id),
			m AS (INSERT INTO list_members (list_id, user_id) SELECT id, owner_id FROM l),
			f AS (INSERT INTO movies (list_id, added_by, title, year) SELECT id, owner_id, 'Alien', 1979 FROM l RETURNING id, list_id, added_by)
			INSERT INTO rolls (list_id, movie_id, rolled_by) SELECT list_id, id, added_by FROM f`)
		if _, err := p.Up(ctx); err != nil {
			t.Fatal(err)
		}
		pdb.MustExec(t, "DELETE FROM movies")
		if n := pdb.MustCount(t, "SELECT count(*) FROM rolls WHERE title = 'Alien' AND year = 1979 AND movie_id IS NULL"); n != 1 {
			t.Errorf("the roll did not keep its title, or went with its film: %d", n)
		}
	})

	t.Run("identity row-level security comes off with its grants restored, and on again", func(t *testing.T) {
		pdb, p := migratedDownTo(t, 7)
		// state is whether each identity table is under forced row-level
		// security, and which of 00008's narrowed grants the app holds.
		state := func() string {
			var s string
			err := pdb.Super(t).QueryRow(ctx, `SELECT concat_ws(',',
				(SELECT string_agg(relname || ':' || (relrowsecurity AND relforcerowsecurity), ' ' ORDER BY relname) FROM pg_class
				  WHERE relname IN ('users', 'devices', 'recovery_codes', 'merges', 'replaced_devices') AND relkind = 'r'),
				has_table_privilege($1, 'users', 'UPDATE'), has_table_privilege($1, 'devices', 'UPDATE'),
				has_table_privilege($1, 'recovery_codes', 'UPDATE'), has_table_privilege($1, 'merges', 'INSERT'),
				has_table_privilege($1, 'replaced_devices', 'SELECT'),
				(SELECT count(*) FROM pg_proc WHERE proname IN ('session_for_device', 'device_replaced_at')))`,
				queries.AppRole).Scan(&s)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		const off = "devices:false merges:false recovery_codes:false replaced_devices:false users:false,t,t,t,t,t,0"
		const on = "devices:true merges:true recovery_codes:true replaced_devices:true users:true,f,f,f,f,f,2"
		if got := state(); got != off {
			t.Errorf("down: %s, want %s", got, off)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatal(err)
		}
		if got := state(); got != on {
			t.Errorf("up again: %s, want %s", got, on)
		}
	})

	t.Run("down then up again works", func(t *testing.T) {
		pdb := pgtest.New(t)
		p, err := migrations.NewProvider(mustOpen(t, pdb.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if n := pdb.MustCount(t, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'"); n != 0 {
			t.Errorf("%d tables left after down", n)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// migratedDownTo is a database migrated all the way up, then back down to
// version v, and the provider to migrate it up again.
func migratedDownTo(t *testing.T, v int64) (*pgtest.DB, *goose.Provider) {
	t.Helper()
	pdb := pgtest.New(t)
	p, err := migrations.NewProvider(mustOpen(t, pdb.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return pdb, p
}

func TestSchema(t *testing.T) {
	pdb := pgtest.New(t)

	t.Run("the app works as a role that owns nothing and cannot bypass row security", func(t *testing.T) {
		pool := pdb.Pool(t)
		var user string
		var super, bypass bool
		err := pool.QueryRow(context.Background(),
			"SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&user, &super, &bypass)
		if err != nil {
			t.Fatal(err)
		}
		if user != queries.AppRole || super || bypass {
			t.Errorf("app works as %s (superuser %v, bypassrls %v)", user, super, bypass)
		}
		if n := pdb.MustCount(t, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1", queries.AppRole); n != 0 {
			t.Errorf("app role owns %d tables", n)
		}
		if _, err := pool.Exec(context.Background(), "DROP TABLE rolls"); err == nil {
			t.Errorf("app role could drop a table")
		}
	})

	t.Run("every table is under forced row-level security, with a policy for the app", func(t *testing.T) {
		rows, err := pdb.Super(t).Query(context.Background(), `
			SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity,
			       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND $1::regrole = ANY (p.polroles)),
			       has_any_column_privilege($1, c.oid, 'SELECT')
			FROM pg_class c
			WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname <> 'goose_db_version'`, queries.AppRole)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var table string
			var forced, policy, granted bool
			if err := rows.Scan(&table, &forced, &policy, &granted); err != nil {
				t.Fatal(err)
			}
			// A table the app may read (some columns of: users) needs a
			// policy saying which rows; one it may not (replaced_devices)
			// needs none.
			if !forced || granted != policy {
				t.Errorf("%s: forced row-level security %v, app policy %v, app may read %v", table, forced, policy, granted)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("every reference to users is NOT NULL with an explicit ON DELETE rule", func(t *testing.T) {
		rows, err := pdb.Super(t).Query(context.Background(), `
			SELECT c.conrelid::regclass::text, a.attname, a.attnotnull, c.confdeltype::text
			FROM pg_constraint c
			JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
			WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var table, column, rule string
			var notNull bool
			if err := rows.Scan(&table, &column, &notNull, &rule); err != nil {
				t.Fatal(err)
			}
			n++
			// a = NO ACTION (the implicit default); we want RESTRICT (r) or CASCADE (c).
			if !notNull || (rule != "r" && rule != "c") {
				t.Errorf("%s.%s: not null %v, on delete %q", table, column, notNull, rule)
			}
		}
		if n < 7 {
			t.Errorf("only %d references to users found", n)
		}
	})

	t.Run("a film on a list once per title and year, whatever the case and spacing", func(t *testing.T) {
		pdb.MustExec(t, `WITH u AS (INSERT INTO users (display_name) VALUES ('Quiet Otter') RETURNING id),
			l AS (INSERT INTO lists (owner_id, name, invite_token) SELECT id, 'Friday', md5('x') FROM u RETURNING id, owner_id),
			m AS (INSERT INTO list_members (list_id, user_id) SELECT id, owner_id FROM l)
			INSERT INTO movies (list_id, added_by, title, year) SELECT id, owner_id, 'The Thing', 1982 FROM l`)
		_, err := pdb.Super(t).Exec(context.Background(),
			`INSERT INTO movies (list_id, added_by, title, year) SELECT list_id, added_by, '  the   THING ', 1982 FROM movies`)
		if err == nil {
			t.Errorf("duplicate film accepted")
		}
	})

	t.Run("a list's owner is always a member, whoever commits first", func(t *testing.T) {
		ctx := context.Background()
		super := pdb.Super(t)
		_, err := super.Exec(ctx, `WITH u AS (INSERT INTO users (display_name) VALUES ('Lone Heron') RETURNING id)
			INSERT INTO lists (owner_id, name, invite_token) SELECT id, 'Nobody''s', md5('y') FROM u`)
		if !queries.IsForeignKeyViolation(err) {
			t.Errorf("a list without its owner as member: %v", err)
		}
		var list, owner, member string
		err = super.QueryRow(ctx, `WITH u AS (INSERT INTO users (display_name) VALUES ('Owner'), ('Member') RETURNING id),
			o AS (SELECT min(id::text)::uuid AS id FROM u), -- either one
			l AS (INSERT INTO lists (owner_id, name, invite_token) SELECT id, 'Race', md5('z') FROM o RETURNING id, owner_id),
			m AS (INSERT INTO list_members (list_id, user_id) SELECT l.id, u.id FROM l, u)
			SELECT l.id::text, l.owner_id::text, (SELECT id::text FROM u WHERE id <> l.owner_id) FROM l`).Scan(&list, &owner, &member)
		if err != nil {
			t.Fatal(err)
		}
		// The member leaves while the owner hands the list over, each in a
		// transaction of the app role acting as themselves. The leave
		// bumps the list's version, so the hand-over waits for it; then
		// its UPDATE goes ahead on the row as the leave left it, its
		// membership check read before the leave committed. It must fail
		// at commit.
		pool := pdb.Pool(t)
		begin := func(user string) pgx.Tx {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tx.Rollback(ctx) })
			if _, err := tx.Exec(ctx, "SELECT set_config('app.user_id', $1, true)", user); err != nil {
				t.Fatal(err)
			}
			return tx
		}
		handOver, leave := begin(owner), begin(member)
		if tag, err := leave.Exec(ctx, "DELETE FROM list_members WHERE list_id = $1 AND user_id = $2", list, member); err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("leave: %v %v", tag, err)
		}
		handedOver := make(chan error, 1)
		go func() {
			tag, err := handOver.Exec(ctx, `UPDATE lists SET owner_id = $2 WHERE id = $1 AND owner_id = $3
				AND EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = $1 AND m.user_id = $2)`, list, member, owner)
			if err == nil && tag.RowsAffected() != 1 {
				err = fmt.Errorf("%d rows", tag.RowsAffected())
			}
			if err == nil {
				err = handOver.Commit(ctx)
			}
			handedOver <- err
		}()
		for waiting := int64(0); waiting == 0; time.Sleep(10 * time.Millisecond) {
			waiting = pdb.MustCount(t, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE lists SET owner_id%'")
		}
		if err := leave.Commit(ctx); err != nil {
			t.Fatalf("leave: %v", err)
		}
		if err := <-handedOver; !queries.IsForeignKeyViolation(err) {
			t.Errorf("hand-over to someone who left meanwhile: %v", err)
		}
		if n := pdb.MustCount(t, "SELECT count(*) FROM lists WHERE id = $1 AND owner_id = $2", list, owner); n != 1 {
			t.Errorf("the list changed owner")
		}
	})
}

func TestChangeFeed(t *testing.T) {
	pdb := pgtest.New(t)
	ctx := context.Background()
	listener := pdb.Super(t)
	if _, err := listener.Exec(ctx, "LISTEN moviedice_changes; LISTEN moviedice_devices"); err != nil {
		t.Fatal(err)
	}
	// next returns the next notification's channel and payload, or "" after a quiet 300 ms.
	next := func() (string, map[string]any) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		n, err := listener.WaitForNotification(wctx)
		if err != nil {
			return "", nil
		}
		if n.Channel == "moviedice_devices" {
			return n.Channel, map[string]any{"device": n.Payload}
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(n.Payload), &p); err != nil {
			t.Fatalf("payload %q: %v", n.Payload, err)
		}
		if len(n.Payload) > 300 {
			t.Errorf("payload of %d bytes: ids only, please", len(n.Payload))
		}
		return n.Channel, p
	}
	expect := func(kind, row string, version float64) {
		t.Helper()
		_, p := next()
		if p == nil || p["kind"] != kind || (row != "" && p["row"] != row) || p["version"] != version {
			t.Fatalf("got %v, want %s row %s version %v", p, kind, row, version)
		}
	}
	quiet := func() {
		t.Helper()
		if ch, p := next(); p != nil {
			t.Fatalf("unexpected %s %v", ch, p)
		}
	}

	var owner, member, list, film string
	super := pdb.Super(t)
	super.QueryRow(ctx, "INSERT INTO users (display_name) VALUES ('Owner') RETURNING id").Scan(&owner)
	super.QueryRow(ctx, "INSERT INTO users (display_name) VALUES ('Member') RETURNING id").Scan(&member)
	// A list and its owner's membership go in together: the owner is a
	// member, checked at commit.
	super.QueryRow(ctx, `WITH l AS (INSERT INTO lists (owner_id, name, invite_token) VALUES ($1, 'Friday', 'tok-friday-1234567890123') RETURNING id)
		INSERT INTO list_members (list_id, user_id) SELECT id, $1 FROM l RETURNING list_id`, owner).Scan(&list)
	expect("lists.insert", list, 1)
	expect("list_members.insert", owner, 2)
	super.Exec(ctx, "INSERT INTO list_members (list_id, user_id) VALUES ($1, $2)", list, member)
	expect("list_members.insert", member, 3)

	// Writes through the app role, acting as a member, as requests do.
	pool := pdb.Pool(t)
	asMember := func(sql string, args ...any) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "SELECT set_config('app.user_id', $1, true)", member); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	t.Run("a film added is announced with the list's new version", func(t *testing.T) {
		if err := asMember("INSERT INTO movies (list_id, added_by, title) VALUES ($1, $2, 'Alien')", list, member); err != nil {
			t.Fatal(err)
		}
		super.QueryRow(ctx, "SELECT id FROM movies").Scan(&film)
		expect("movies.insert", film, 4)
		if v := pdb.MustCount(t, "SELECT version FROM lists"); v != 4 {
			t.Errorf("version %d", v)
		}
	})
	t.Run("a rolled-back write is never announced", func(t *testing.T) {
		tx, _ := super.Begin(ctx)
		tx.Exec(ctx, "INSERT INTO movies (list_id, added_by, title) VALUES ($1, $2, 'Heat')", list, owner)
		tx.Rollback(ctx)
		quiet()
		if v := pdb.MustCount(t, "SELECT version FROM lists"); v != 4 {
			t.Errorf("version %d after a rollback", v)
		}
	})
	t.Run("renaming the list is announced once", func(t *testing.T) {
		super.Exec(ctx, "UPDATE lists SET name = 'Saturday'")
		expect("lists.update", list, 5)
		quiet()
	})
	t.Run("a member leaving is announced though they can no longer see the list", func(t *testing.T) {
		if err := asMember("DELETE FROM list_members WHERE list_id = $1 AND user_id = $2", list, member); err != nil {
			t.Fatal(err)
		}
		expect("list_members.delete", member, 6)
	})
	t.Run("deleting the list is one announcement, not one per row", func(t *testing.T) {
		super.Exec(ctx, "DELETE FROM lists")
		expect("lists.delete", list, 7)
		quiet()
	})
	t.Run("a device signed out is announced on its own channel", func(t *testing.T) {
		var device string
		super.QueryRow(ctx, "INSERT INTO devices (user_id) VALUES ($1) RETURNING id", owner).Scan(&device)
		super.Exec(ctx, "UPDATE devices SET last_seen_at = now()")
		quiet()
		super.Exec(ctx, "DELETE FROM devices")
		if ch, p := next(); ch != "moviedice_devices" || p["device"] != device {
			t.Errorf("got %s %v", ch, p)
		}
	})
}
