package pgdev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestFindBinDir(t *testing.T) {
	t.Run("finds the installed server binaries", func(t *testing.T) {
		dir, err := FindBinDir()
		if err != nil {
			t.Fatal(err)
		}
		if !isExecutable(filepath.Join(dir, "postgres")) {
			t.Errorf("%s has no postgres", dir)
		}
	})
	t.Run("without binaries says how to install them, in one line", func(t *testing.T) {
		_, _, err := findBinDir("/nonexistent/pg_config", "/nonexistent/*/bin", 0)
		if !errors.Is(err, ErrNoBinaries) {
			t.Fatalf("got %v", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "apt-get install -y postgresql") || strings.Contains(msg, "\n") {
			t.Errorf("message %q", msg)
		}
	})
}

// fakeBinaries makes root/{major}/bin with an initdb and a postgres that
// only says its version, for each of majors.
func fakeBinaries(t *testing.T, majors ...int) (glob string) {
	t.Helper()
	root := t.TempDir()
	for _, m := range majors {
		bin := filepath.Join(root, fmt.Sprint(m), "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		script := fmt.Sprintf("#!/bin/sh\necho 'postgres (PostgreSQL) %d.3'\n", m)
		for _, name := range []string{"initdb", "postgres"} {
			if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(root, "*", "bin")
}

func TestBinariesMatchTheCluster(t *testing.T) {
	glob := fakeBinaries(t, 14, 15, 16)
	for want, wantDir := range map[int]string{0: "16", 15: "15", 16: "16", 14: "14"} {
		dir, major, err := findBinDir("/nonexistent/pg_config", glob, want)
		if err != nil || filepath.Base(filepath.Dir(dir)) != wantDir || fmt.Sprint(major) != wantDir {
			t.Errorf("want %d: %s, %d, %v; want the binaries of %s", want, dir, major, err, wantDir)
		}
	}

	// Start, on a data folder whose cluster no installed binaries can run,
	// says which version it needs and touches nothing.
	defer func(c, g string) { pgConfig, versionedBinGlob = c, g }(pgConfig, versionedBinGlob)
	pgConfig, versionedBinGlob = "/nonexistent/pg_config", glob
	for version, says := range map[string][]string{
		"13\n": {"made by PostgreSQL 13", "found 16 (", "15 (", "14 (", "postgresql-13", "pg_upgrade"},
		"14\n": {"PostgreSQL 15 or newer is needed", "is PostgreSQL 14", "pg_upgrade"},
		"x\n":  {"not a PostgreSQL version"},
	} {
		data := t.TempDir()
		if err := os.WriteFile(filepath.Join(data, "PG_VERSION"), []byte(version), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Start(context.Background(), Options{Dir: data, SocketDir: t.TempDir()})
		if err == nil {
			t.Fatalf("PG_VERSION %q: started", version)
		}
		for _, s := range says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("PG_VERSION %q: %v, want it to say %q", version, err, s)
			}
		}
		if entries, _ := os.ReadDir(data); len(entries) != 1 {
			t.Errorf("PG_VERSION %q: the data folder now holds %v", version, entries)
		}
	}
}

func TestClusterLifecycle(t *testing.T) {
	parent, err := os.MkdirTemp("", "moviedice-pgdev-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	os.Chmod(parent, 0o711)
	ctx := context.Background()
	opts := Options{Dir: filepath.Join(parent, "pg"), Throwaway: true}

	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := c.EnsureDatabase(ctx, "moviedice", "moviedice")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if _, err := c.EnsureDatabase(ctx, "moviedice", "moviedice"); err != nil {
		t.Errorf("second EnsureDatabase: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Exited():
	default:
		t.Fatal("Stop returned before the server exited")
	}

	c, err = Start(ctx, opts)
	if err != nil {
		t.Fatalf("restart on existing data: %v", err)
	}
	defer c.Stop()
	conn, err = pgx.Connect(ctx, c.DSN("moviedice", "moviedice"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT n FROM kept").Scan(&n); err != nil || n != 42 {
		t.Errorf("data not kept across restarts: %d %v", n, err)
	}

	t.Run("a second server on the same data folder is refused, saying why", func(t *testing.T) {
		_, err := Start(ctx, opts)
		if err == nil {
			t.Fatal("second postmaster started on one data folder")
		}
		if !strings.Contains(err.Error(), `FATAL:  lock file "postmaster.pid" already exists`) {
			t.Errorf("the error does not pass on the server's reason: %v", err)
		}
	})
}

// The server's own FATAL, DETAIL and HINT lines are kept as it starts,
// however its output is split.
func TestStartLogKeepsWhy(t *testing.T) {
	var l startLog
	out := "2026-11-25 LOG:  starting\n2026-11-25 FATAL:  database files are incompatible with server\n" +
		"2026-11-25 DETAIL:  The data directory was initialized by PostgreSQL version 16.\nLOG:  done\n"
	for i := 0; i < len(out); i += 7 {
		l.Write([]byte(out[i:min(i+7, len(out))]))
	}
	want := "2026-11-25 FATAL:  database files are incompatible with server 2026-11-25 DETAIL:  The data directory was initialized by PostgreSQL version 16."
	if got := l.why(); got != want {
		t.Errorf("kept %q, want %q", got, want)
	}
}

func TestVersionMajor(t *testing.T) {
	for out, want := range map[string]int{
		"postgres (PostgreSQL) 15.18 (Ubuntu 15.18-1.pgdg22.04+1)\n": 15,
		"postgres (PostgreSQL) 16.4\n":                               16,
		"postgres (PostgreSQL) 9.6.24\n":                             9,
		"postgres (PostgreSQL) 17beta1\n":                            17,
		"something else\n":                                           0,
		"postgres (PostgreSQL) \n":                                   0,
	} {
		if got := versionMajor(out); got != want {
			t.Errorf("%q: %d, want %d", out, got, want)
		}
	}
}
