// Package pgtest gives each test its own PostgreSQL database, cloned from a
// migrated template, on one throwaway cluster per test process (started on
// first use with web/pgdev, fsync off, in a temporary folder).
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for goose

	"github.com/moviedice/moviedice/migrations"
	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/web/pgdev"
)

const (
	templateDB = "moviedice_template"
	// Owner owns the test databases and runs migrations, as in production.
	Owner = "moviedice"
)

var (
	once     sync.Once
	cluster  *pgdev.Cluster
	tmpDir   string
	startErr error
	createMu sync.Mutex // CREATE DATABASE ... TEMPLATE wants the template to itself
	seq      atomic.Int64
)

// Main runs the package's tests, then stops the cluster if one was started.
// Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	return code
}

// TempDir returns a fresh folder the postgres system user can reach (unlike
// t.TempDir, whose parent is private to root), removed after the test.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "moviedice-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func start() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if tmpDir, startErr = os.MkdirTemp("", "moviedice-pgtest-"); startErr != nil {
		return
	}
	if startErr = os.Chmod(tmpDir, 0o711); startErr != nil {
		return
	}
	logFile, err := os.Create(filepath.Join(tmpDir, "postgres.log"))
	if err != nil {
		startErr = err
		return
	}
	cluster, startErr = pgdev.Start(ctx, pgdev.Options{Dir: filepath.Join(tmpDir, "pg"), Throwaway: true, Log: logFile})
	if startErr != nil {
		return
	}
	url, err := cluster.EnsureDatabase(ctx, templateDB, Owner)
	if err != nil {
		startErr = err
		return
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		startErr = err
		return
	}
	defer db.Close()
	startErr = migrations.Up(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// Cluster returns the process's test cluster, starting it if needed.
func Cluster(t testing.TB) *pgdev.Cluster {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("pgtest: start PostgreSQL: %v", startErr)
	}
	return cluster
}

// DB is one test's database.
type DB struct {
	Name string
	// URL connects as the owner, the role that runs migrations.
	URL string
	// SuperURL connects as the superuser: for asserting on what is stored,
	// past any row-level security.
	SuperURL string
}

// New returns a migrated database of the test's own, dropped afterwards.
func New(t testing.TB) *DB {
	t.Helper()
	return create(t, templateDB)
}

// NewEmpty returns an unmigrated database of the test's own.
func NewEmpty(t testing.TB) *DB {
	t.Helper()
	return create(t, "template0")
}

func create(t testing.TB, template string) *DB {
	t.Helper()
	c := Cluster(t)
	name := fmt.Sprintf("test_%d", seq.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN(pgdev.Superuser, "postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	createMu.Lock()
	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s OWNER %s", name, template, Owner))
	createMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, c.DSN(pgdev.Superuser, "postgres"))
		if err != nil {
			t.Errorf("pgtest: connect for drop: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	return &DB{Name: name, URL: c.DSN(Owner, name), SuperURL: c.DSN(pgdev.Superuser, name)}
}

// Pool returns a pool that works as the app role, like the server's.
func (db *DB) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := queries.OpenPool(context.Background(), db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Super returns a superuser connection to the database, closed afterwards.
func (db *DB) Super(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db.SuperURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// MustExec runs sql as the superuser and fails the test on error.
func (db *DB) MustExec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Super(t).Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// WithoutListPolicies turns row-level security off on the tables of the
// lists' data (lists, list_members, movies, rolls), for tests that show
// what the SQL's own filters let through.
func (db *DB) WithoutListPolicies(t testing.TB) {
	t.Helper()
	tables := []string{"lists", "list_members", "movies", "rolls"}
	for _, table := range tables {
		db.MustExec(t, "ALTER TABLE "+table+" NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY")
	}
	if n := db.MustCount(t, `SELECT count(*) FROM pg_class WHERE relname = ANY($1) AND (relrowsecurity OR relforcerowsecurity)`, tables); n != 0 {
		t.Fatalf("%d list tables still have row-level security", n)
	}
}

// MustCount returns the single integer sql selects, read as the superuser.
func (db *DB) MustCount(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Super(t).QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return n
}

// WhileListenerDown cuts the connection that application (its
// application_name) listens on, runs sql as the superuser (none if empty)
// while it is down, so that the change's notifications are lost, and
// returns once application has connected again, after the change. The
// live hub's resync must then find the change on its own.
func (db *DB) WhileListenerDown(t testing.TB, application, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn := db.Super(t)
	const listener = "SELECT pid, backend_start FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() AND pid <> $2"
	var old int64
	var since time.Time
	if err := conn.QueryRow(ctx, listener, application, 0).Scan(&old, &since); err != nil {
		t.Fatalf("no connection of %s: %v", application, err)
	}
	var gone bool
	if err := conn.QueryRow(ctx, "SELECT pg_terminate_backend($1)", old).Scan(&gone); err != nil || !gone {
		t.Fatalf("%s's connection %d not terminated (%v)", application, old, err)
	}
	if sql != "" {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("exec %q: %v", sql, err)
		}
	}
	var changed time.Time
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&changed); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var pid int64
		err := conn.QueryRow(ctx, listener, application, old).Scan(&pid, &since)
		switch {
		case err == nil && sql != "" && !since.After(changed):
			t.Fatalf("%s connected again before the change was made, and heard of it", application)
		case err == nil:
			return
		case time.Now().After(deadline):
			t.Fatalf("%s did not connect again within 5 s (%v)", application, err)
		}
	}
}
