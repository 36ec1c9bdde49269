package pgdev

import (
	"context"
	"errors"
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
		_, err := findBinDir("/nonexistent/pg_config", "/nonexistent/*/bin")
		if !errors.Is(err, ErrNoBinaries) {
			t.Fatalf("got %v", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "apt-get install -y postgresql") || strings.Contains(msg, "\n") {
			t.Errorf("message %q", msg)
		}
	})
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
