package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/moviedice/moviedice/web/pgdev"
	"github.com/moviedice/moviedice/web/pgdev/pgtest"
)

// TestMain doubles as the moviedice binary: with MOVIEDICE_TEST_RUN_MAIN=1
// the test executable runs main, so a test can kill a real server process.
func TestMain(m *testing.M) {
	if os.Getenv("MOVIEDICE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(pgtest.Main(m))
}

var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

// runningApp is run() serving in a goroutine.
type runningApp struct {
	url    string
	cancel context.CancelFunc
	done   chan error
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// mustStart runs the app with env and waits until it listens.
func mustStart(t *testing.T, env map[string]string) *runningApp {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &runningApp{cancel: cancel, done: make(chan error, 1), stderr: &lockedBuffer{}}
	addr := make(chan string, 1)
	go func() {
		a.done <- run(ctx, nil, envFunc(env), io.Discard, a.stderr, func(s string) { addr <- s })
	}()
	select {
	case s := <-addr:
		a.url = "http://" + s
	case err := <-a.done:
		cancel()
		t.Fatalf("run ended before listening: %v\n%s", err, a.stderr)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("not listening after 60s\n%s", a.stderr)
	}
	t.Cleanup(func() { a.stop(t) })
	return a
}

// stop cancels the app (as SIGTERM would) and returns what run returned.
func (a *runningApp) stop(t *testing.T) error {
	t.Helper()
	if a.cancel == nil {
		return nil
	}
	a.cancel()
	a.cancel = nil
	select {
	case err := <-a.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("run did not return after cancel\n%s", a.stderr)
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// eventually polls url until it answers want, or fails after 10 s.
func eventually(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := get(t, url)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", url, code, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postmasterPID(t *testing.T, pgdata string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(first)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// processGone reports whether pid has exited (a zombie waiting for a
// reaper that is not us counts as exited).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d still running", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeOnEmbeddedPostgres(t *testing.T) {
	data := filepath.Join(pgtest.TempDir(t), "data")
	env := map[string]string{"MOVIEDICE_DATA": data, "MOVIEDICE_ADDR": "127.0.0.1:0"}
	pgdata := filepath.Join(data, "pg")
	ctx := context.Background()

	a := mustStart(t, env)
	code, body := get(t, a.url+"/")
	if code != 200 || !strings.Contains(body, "<strong>0</strong> lists") {
		t.Fatalf("first page: %d %s", code, body)
	}
	if code, _ := get(t, a.url+"/readyz"); code != 200 {
		t.Errorf("readyz %d", code)
	}
	conn, err := pgx.Connect(ctx, "host="+data+"/pg-run user=postgres dbname=moviedice")
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `WITH u AS (INSERT INTO users (display_name) VALUES ('Quiet Otter') RETURNING id)
		, l AS (INSERT INTO lists (owner_id, name, invite_token) SELECT id, 'Friday', md5('friday') FROM u RETURNING id, owner_id)
		INSERT INTO list_members (list_id, user_id) SELECT id, owner_id FROM l`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, a.url+"/"); !strings.Contains(body, "<strong>1</strong> list<") {
		t.Errorf("page does not show the list stored in the embedded database")
	}
	t.Run("serving connects as a role that cannot become the tables' owner", func(t *testing.T) {
		super, err := pgx.Connect(ctx, "host="+data+"/pg-run user=postgres dbname=moviedice")
		if err != nil {
			t.Fatal(err)
		}
		defer super.Close(ctx)
		rows, _ := super.Query(ctx, `SELECT DISTINCT usename::text FROM pg_stat_activity
			WHERE datname = 'moviedice' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
		users, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || !slices.Equal(users, []string{webRole}) {
			t.Errorf("the server's connections log in as %v (%v), want only %s", users, err, webRole)
		}
		web, err := pgx.Connect(ctx, "host="+data+"/pg-run user="+webRole+" dbname=moviedice")
		if err != nil {
			t.Fatal(err)
		}
		defer web.Close(ctx)
		for _, sql := range []string{
			"SELECT count(*) FROM lists", // its own rights: none
			"SET ROLE moviedice",         // the owner
			"GRANT pg_execute_server_program TO CURRENT_USER",
			"CREATE TABLE escape (x int)",
			"ALTER TABLE lists DISABLE ROW LEVEL SECURITY",
		} {
			if _, err := web.Exec(ctx, sql); err == nil {
				t.Errorf("%s: allowed", sql)
			}
		}
		var n int
		if _, err := web.Exec(ctx, "SET ROLE moviedice_app"); err != nil {
			t.Fatal(err)
		}
		if err := web.QueryRow(ctx, "SELECT count(*) FROM lists").Scan(&n); err != nil || n != 0 {
			t.Errorf("as moviedice_app acting for no one: %d lists, %v; want 0 (row-level security)", n, err)
		}
	})
	secrets, err := os.ReadFile(filepath.Join(data, "secrets.json"))
	if err != nil {
		t.Fatalf("development secrets not kept: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(data, "secrets.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets.json mode %v", fi.Mode().Perm())
	}
	initialised, _ := os.Stat(filepath.Join(pgdata, "PG_VERSION"))
	pid := postmasterPID(t, pgdata)

	t.Run("stopping the server stops its PostgreSQL", func(t *testing.T) {
		if err := a.stop(t); err != nil {
			t.Fatalf("run after SIGTERM: %v", err)
		}
		waitGone(t, pid)
		if _, err := os.Stat(filepath.Join(pgdata, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("postmaster.pid left behind: %v", err)
		}
	})

	t.Run("a second start reuses the data and the secrets", func(t *testing.T) {
		a := mustStart(t, env)
		if _, body := get(t, a.url+"/"); !strings.Contains(body, "<strong>1</strong> list<") {
			t.Errorf("the stored list is gone after a restart")
		}
		again, _ := os.Stat(filepath.Join(pgdata, "PG_VERSION"))
		if !again.ModTime().Equal(initialised.ModTime()) {
			t.Errorf("cluster initialised again")
		}
		if now, _ := os.ReadFile(filepath.Join(data, "secrets.json")); !bytes.Equal(now, secrets) {
			t.Errorf("development secrets regenerated")
		}

		// If the embedded server dies, serving ends with a clear error.
		if err := syscall.Kill(postmasterPID(t, pgdata), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-a.done:
			a.cancel = nil
			if !errors.Is(err, errDBExited) {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("server kept running without its database")
		}
	})
}

func TestKilledServerLeavesNoPostgres(t *testing.T) {
	data := filepath.Join(pgtest.TempDir(t), "data")
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = append(os.Environ(), "MOVIEDICE_TEST_RUN_MAIN=1", "MOVIEDICE_DATA="+data, "MOVIEDICE_ADDR=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := regexp.MustCompile(`msg="serving MovieDice" addr=(\S+)`)
	lines := bufio.NewScanner(stderr)
	var url string
	for url == "" && lines.Scan() {
		if m := addr.FindStringSubmatch(lines.Text()); m != nil {
			url = "http://" + m[1]
		}
	}
	if url == "" {
		cmd.Process.Kill()
		t.Fatal("server never said it was serving")
	}
	go io.Copy(io.Discard, stderr)
	if code, _ := get(t, url+"/"); code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	pid := postmasterPID(t, filepath.Join(data, "pg"))

	cmd.Process.Kill() // SIGKILL: no chance to clean up
	cmd.Wait()
	waitGone(t, pid)

	// And the folder is usable again at once.
	a := mustStart(t, map[string]string{"MOVIEDICE_DATA": data, "MOVIEDICE_ADDR": "127.0.0.1:0"})
	if code, _ := get(t, a.url+"/readyz"); code != 200 {
		t.Errorf("restart after kill: readyz %d", code)
	}
}

func TestServeWithDatabaseURL(t *testing.T) {
	dir := pgtest.TempDir(t)
	ctx := context.Background()
	opts := pgdev.Options{Dir: filepath.Join(dir, "pg"), Throwaway: true}
	cluster, err := pgdev.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cluster.Stop() }()
	url, err := cluster.EnsureDatabase(ctx, "production", "moviedice")
	if err != nil {
		t.Fatal(err)
	}
	unused := filepath.Join(dir, "no-embedded-here")
	a := mustStart(t, map[string]string{
		"DATABASE_URL": url, "MOVIEDICE_COOKIE_KEYS": testKey, "MOVIEDICE_RECOVERY_PEPPER": testKey,
		"MOVIEDICE_ADDR": "127.0.0.1:0", "MOVIEDICE_DATA": unused,
	})
	if code, body := get(t, a.url+"/"); code != 200 || !strings.Contains(body, "On this server so far") {
		t.Fatalf("GET / = %d", code)
	}
	if _, err := os.Stat(unused); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("production mode touched the embedded data folder")
	}

	t.Run("readyz goes unready while the database is down, and back", func(t *testing.T) {
		eventually(t, a.url+"/readyz", 200)
		if err := cluster.Stop(); err != nil {
			t.Fatal(err)
		}
		eventually(t, a.url+"/readyz", http.StatusServiceUnavailable)
		if code, _ := get(t, a.url+"/healthz"); code != 200 {
			t.Errorf("healthz %d while the database is down", code)
		}
		if cluster, err = pgdev.Start(ctx, opts); err != nil {
			t.Fatal(err)
		}
		eventually(t, a.url+"/readyz", 200)
	})
}

func TestProductionModeNeedsSecrets(t *testing.T) {
	short := base64.StdEncoding.EncodeToString([]byte("short"))
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // in the error
		not  []string
	}{
		{"both missing", map[string]string{}, nil,
			[]string{"MOVIEDICE_COOKIE_KEYS", "MOVIEDICE_RECOVERY_PEPPER"}, nil},
		{"pepper missing", map[string]string{"MOVIEDICE_COOKIE_KEYS": testKey}, nil,
			[]string{"missing: MOVIEDICE_RECOVERY_PEPPER"}, []string{"MOVIEDICE_COOKIE_KEYS"}},
		{"a flag stands in for its variable", map[string]string{"MOVIEDICE_COOKIE_KEYS": testKey}, []string{"-recovery-pepper", short},
			[]string{"MOVIEDICE_RECOVERY_PEPPER: too short"}, nil},
		{"a bad older cookie key", map[string]string{"MOVIEDICE_COOKIE_KEYS": testKey + ",%%%", "MOVIEDICE_RECOVERY_PEPPER": testKey}, nil,
			[]string{"MOVIEDICE_COOKIE_KEYS: key 2: not base64"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
			tt.env["MOVIEDICE_ADDR"] = "127.0.0.1:0"
			listened := false
			err := run(context.Background(), tt.args, envFunc(tt.env), io.Discard, io.Discard, func(string) { listened = true })
			if err == nil || listened {
				t.Fatalf("started without its secrets (err %v)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error %q names %q", err, n)
				}
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	t.Run("-h documents every setting with its variable", func(t *testing.T) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"-h"}, envFunc(nil), &out, &out, nil)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("err %v", err)
		}
		for _, s := range settings {
			if !strings.Contains(out.String(), "-"+s.flag) || !strings.Contains(out.String(), s.env) {
				t.Errorf("usage lacks -%s / %s", s.flag, s.env)
			}
		}
		for _, sub := range []string{"[serve]", "migrate", "reap", "version"} {
			if !strings.Contains(out.String(), "moviedice "+sub) {
				t.Errorf("usage lacks the %s command", sub)
			}
		}
	})
	t.Run("version", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"version"}, envFunc(nil), &out, io.Discard, nil); err != nil || !strings.HasPrefix(out.String(), "moviedice ") {
			t.Errorf("%q %v", out.String(), err)
		}
	})
	t.Run("unknown command or bad setting is an error", func(t *testing.T) {
		for _, args := range [][]string{{"frobnicate"}, {"-log-level", "loud"}, {"-base-url", "ftp://x"}, {"-base-url", "http://dice.example.org"}, {"serve", "extra"}} {
			if err := run(context.Background(), args, envFunc(map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "MOVIEDICE_COOKIE_KEYS": testKey, "MOVIEDICE_RECOVERY_PEPPER": testKey}), io.Discard, io.Discard, nil); err == nil {
				t.Errorf("%v accepted", args)
			}
		}
	})
	t.Run("migrate applies migrations and exits", func(t *testing.T) {
		db := pgtest.NewEmpty(t)
		if err := run(context.Background(), []string{"migrate"}, envFunc(map[string]string{"DATABASE_URL": db.URL}), io.Discard, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		if n := db.MustCount(t, "SELECT count(*) FROM pg_tables WHERE tablename = 'users'"); n != 1 {
			t.Errorf("users table missing after migrate")
		}
	})
	t.Run("reap deletes idle guests; a dry run only counts", func(t *testing.T) {
		db := pgtest.New(t)
		db.MustExec(t, `INSERT INTO users (display_name, last_seen_at) VALUES ('Idle Otter', now() - interval '40 days'), ('Busy Otter', now())`)
		env := envFunc(map[string]string{"DATABASE_URL": db.URL, "MOVIEDICE_COOKIE_KEYS": testKey, "MOVIEDICE_RECOVERY_PEPPER": testKey})
		var out bytes.Buffer
		if err := run(context.Background(), []string{"reap", "-dry-run"}, env, &out, io.Discard, nil); err != nil || out.String() != "would delete 1 idle guests (dry run: nothing deleted)\n" {
			t.Fatalf("dry run: %q %v", out.String(), err)
		}
		if n := db.MustCount(t, "SELECT count(*) FROM users"); n != 2 {
			t.Fatalf("dry run deleted users")
		}
		out.Reset()
		if err := run(context.Background(), []string{"reap", "-older-than", "720h"}, env, &out, io.Discard, nil); err != nil || out.String() != "deleted 1 idle guests\n" {
			t.Fatalf("reap: %q %v", out.String(), err)
		}
		if n := db.MustCount(t, "SELECT count(*) FROM users WHERE display_name = 'Busy Otter'"); n != 1 {
			t.Errorf("the active user was reaped")
		}
		if err := run(context.Background(), []string{"reap", "-older-than", "10m"}, env, io.Discard, io.Discard, nil); err == nil {
			t.Errorf("a 10-minute threshold was accepted")
		}
	})
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:8080":       "",
		"http://127.0.0.1:8080":       "",
		"https://dice.example.org":    "",
		"https://dice.example.org/":   "",
		"dice.example.org":            "want an absolute http(s) URL",
		"ftp://dice.example.org":      "want an absolute http(s) URL",
		"http://dice.example.org":     "plain http on a host other than localhost",
		"http://192.168.1.5:8080":     "plain http on a host other than localhost",
		"https://example.org/dice":    "without a path, query or user",
		"https://dice.example.org/?":  "",
		"https://dice.example.org?a":  "without a path, query or user",
		"https://dice.example.org#x":  "without a path, query or user",
		"https://me@dice.example.org": "without a path, query or user",
	} {
		_, err := (&config{BaseURL: in}).baseURL()
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", in, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want an error saying %q", in, err, want)
		}
	}
}

// A setting refused at start-up leaves the data folder as it was: no
// secrets written, no permissions changed.
func TestRefusedSettingsWriteNothing(t *testing.T) {
	data := t.TempDir()
	os.Chmod(data, 0o755)
	err := run(context.Background(), nil, envFunc(map[string]string{"MOVIEDICE_DATA": data, "MOVIEDICE_MINTS_PER_MINUTE": "0"}), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "MOVIEDICE_MINTS_PER_MINUTE") {
		t.Fatalf("run: %v", err)
	}
	if entries, _ := os.ReadDir(data); len(entries) != 0 {
		t.Errorf("the data folder gained %v", entries)
	}
	if fi, _ := os.Stat(data); fi.Mode().Perm() != 0o755 {
		t.Errorf("the data folder's mode became %v", fi.Mode().Perm())
	}
}

// A port in use is said at once: before the database starts, and before
// anything is written to the data folder.
func TestPortInUseIsSaidFirst(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	data := t.TempDir()
	err = run(context.Background(), nil, envFunc(map[string]string{"MOVIEDICE_DATA": data, "MOVIEDICE_ADDR": taken.Addr().String()}), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "listen") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run: %v, want it to say the address is in use", err)
	}
	if entries, _ := os.ReadDir(data); len(entries) != 0 {
		t.Errorf("the data folder gained %v", entries)
	}
}

func TestEnsureDataDirOnlyAddsTraversal(t *testing.T) {
	for before, after := range map[os.FileMode]os.FileMode{0o700: 0o711, 0o755: 0o755, 0o750: 0o751} {
		dir := filepath.Join(t.TempDir(), "data")
		os.Mkdir(dir, before)
		os.Chmod(dir, before)
		if err := ensureDataDir(dir); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != after {
			t.Errorf("%v became %v, want %v", before, fi.Mode().Perm(), after)
		}
	}
	fresh := filepath.Join(t.TempDir(), "new", "data")
	if err := ensureDataDir(fresh); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o711 {
		t.Errorf("a new data folder is %v, want 0711", fi.Mode().Perm())
	}
}
