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

	t.Run("a second server on the same data folder is refused", func(t *testing.T) {
		if _, err := Start(ctx, opts); err == nil {
			t.Fatal("second postmaster started on one data folder")
		}
	})
}
