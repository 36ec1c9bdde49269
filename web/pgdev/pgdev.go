// Package pgdev runs a private PostgreSQL cluster from the installed server
// binaries: the embedded default of `moviedice serve` and the throwaway
// cluster of the tests. The postmaster is a child of this process, in its own
// process group (a terminal's Ctrl-C reaches us, and we stop it in order),
// and is told to quit by the kernel if we die, so no stray server outlives us.
package pgdev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallHint is the one line shown when no PostgreSQL server binaries exist.
const InstallHint = "PostgreSQL server binaries not found (looked at `pg_config --bindir` and /usr/lib/postgresql/*/bin); " +
	"install them with `apt-get install -y postgresql` (as root), or set DATABASE_URL to use an existing server"

// ErrNoBinaries is returned when no PostgreSQL server binaries can be found.
var ErrNoBinaries = errors.New(InstallHint)

// Superuser is the bootstrap superuser of clusters made here.
const Superuser = "postgres"

// maxSocketPath is the longest unix socket path the kernel accepts, less the
// terminating NUL.
const maxSocketPath = 107

// Options describes a cluster.
type Options struct {
	// Dir is the data directory (PGDATA). It is created if missing and
	// initialised on first use; an existing cluster is reused.
	Dir string
	// SocketDir holds the unix socket. Defaults to Dir + "-run", or a short
	// temporary folder when that path would be too long for a socket.
	SocketDir string
	// Throwaway trades durability for speed (fsync and friends off): tests.
	Throwaway bool
	// Log receives the server's own output. Defaults to discarding it.
	Log io.Writer
}

// Cluster is a running postmaster.
type Cluster struct {
	dir       string
	socketDir string
	cmd       *exec.Cmd
	exited    chan struct{}
	waitErr   error
	said      startLog // what the server said while starting
}

// startLog keeps the FATAL, DETAIL and HINT lines the server writes while
// it starts (at most a few), to say why it would not: the log itself may
// be a file the reader has to go and find.
type startLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
}

func (l *startLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 || len(l.lines) >= 8 {
			break
		}
		line := string(bytes.TrimSpace(l.partial[:i]))
		l.partial = l.partial[i+1:]
		for _, level := range []string{"FATAL:", "DETAIL:", "HINT:", "PANIC:"} {
			if strings.Contains(line, level) {
				l.lines = append(l.lines, line)
				break
			}
		}
	}
	if len(l.partial) > 4096 {
		l.partial = l.partial[len(l.partial)-4096:]
	}
	return len(p), nil
}

// why is what the server said of its trouble, or "".
func (l *startLog) why() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, " ")
}

// Where the server binaries are looked for (variables for the tests).
var (
	pgConfig         = "pg_config"
	versionedBinGlob = "/usr/lib/postgresql/*/bin"
)

// FindBinDir returns the folder holding initdb and postgres, preferring
// `pg_config --bindir` and then the newest /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	bin, _, err := findBinDir(pgConfig, versionedBinGlob, 0)
	return bin, err
}

// findBinDir returns the first folder, `pgConfig --bindir` and then those
// matching versionedGlob newest first, that holds initdb and postgres of
// major version want (of any version when want is 0), and that version.
func findBinDir(pgConfig, versionedGlob string, want int) (string, int, error) {
	var candidates []string
	if out, err := exec.Command(pgConfig, "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	versioned, _ := filepath.Glob(versionedGlob)
	sort.Slice(versioned, func(i, j int) bool { return majorOf(versioned[i]) > majorOf(versioned[j]) })
	candidates = append(candidates, versioned...)
	var found []string // "16 (/usr/lib/postgresql/16/bin)", for the message
	for _, dir := range candidates {
		if !isExecutable(filepath.Join(dir, "initdb")) || !isExecutable(filepath.Join(dir, "postgres")) {
			continue
		}
		out, err := exec.Command(filepath.Join(dir, "postgres"), "--version").Output()
		if err != nil {
			return "", 0, fmt.Errorf("pgdev: %s --version: %w", filepath.Join(dir, "postgres"), err)
		}
		major := versionMajor(string(out))
		if want == 0 || major == want {
			return dir, major, nil
		}
		found = append(found, fmt.Sprintf("%d (%s)", major, dir))
	}
	if len(found) == 0 {
		return "", 0, ErrNoBinaries
	}
	return "", 0, fmt.Errorf("pgdev: the cluster was made by PostgreSQL %d, whose server binaries are not installed (found %s): "+
		"install them (e.g. 'sudo apt-get install -y postgresql-%d'), or upgrade the cluster with pg_upgrade", want, strings.Join(found, ", "), want)
}

// clusterMajor is the major version of the cluster in dir, from its
// PG_VERSION file, or 0 when there is no cluster yet.
func clusterMajor(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pgdev: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("pgdev: %s holds %q, not a PostgreSQL version", filepath.Join(dir, "PG_VERSION"), bytes.TrimSpace(b))
	}
	return n, nil
}

// MinMajor is the oldest PostgreSQL the migrations run on (ON DELETE SET
// NULL of one column, security_invoker views: 15).
const MinMajor = 15

// versionMajor reads the major version from `postgres --version`
// ("postgres (PostgreSQL) 15.18 (Ubuntu 15.18-1)"), or 0.
func versionMajor(out string) int {
	_, rest, ok := strings.Cut(out, ") ")
	if !ok {
		return 0
	}
	digits := strings.FieldsFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if len(digits) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(digits[0])
	return n
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start initialises the cluster if needed, starts it, and waits until it
// accepts connections. Stop it with Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	// An existing cluster runs only on the binaries of its own major
	// version: they are chosen to match it, not merely the newest.
	want, err := clusterMajor(opts.Dir)
	if err != nil {
		return nil, err
	}
	bin, major, err := findBinDir(pgConfig, versionedBinGlob, want)
	if err != nil {
		return nil, err
	}
	if major < MinMajor {
		upgrade := ""
		if want != 0 {
			upgrade = ", and upgrade the cluster with pg_upgrade"
		}
		return nil, fmt.Errorf("pgdev: PostgreSQL %d or newer is needed, and %s is PostgreSQL %d: install a newer one (e.g. 'sudo apt-get install -y postgresql-%d')%s",
			MinMajor, bin, major, MinMajor, upgrade)
	}
	owner, err := serverOwner()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: opts.Dir, socketDir: opts.SocketDir, exited: make(chan struct{})}
	if c.socketDir == "" {
		c.socketDir = opts.Dir + "-run"
	}
	if len(c.socketDir)+len("/.s.PGSQL.5432") > maxSocketPath {
		if c.socketDir, err = os.MkdirTemp("", "moviedice-pg-"); err != nil {
			return nil, fmt.Errorf("pgdev: socket dir: %w", err)
		}
	}
	for _, d := range []string{c.dir, c.socketDir} {
		if err := owner.ownedDir(d); err != nil {
			return nil, err
		}
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	if _, err := os.Stat(filepath.Join(c.dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx, bin, owner); err != nil {
			return nil, err
		}
	}
	if err := c.start(bin, owner, opts.Throwaway, logw); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) initdb(ctx context.Context, bin string, owner *osUser) error {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", c.dir, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions")
	owner.apply(cmd, c.dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgdev: initdb %s: %w\n%s", c.dir, err, tail(out.String()))
	}
	return nil
}

func (c *Cluster) start(bin string, owner *osUser, throwaway bool, logw io.Writer) error {
	args := []string{"-D", c.dir, "-k", c.socketDir, "-c", "listen_addresses=", "-c", "unix_socket_permissions=0700"}
	if throwaway {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=200")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	owner.apply(cmd, c.dir)
	// SIGQUIT is PostgreSQL's immediate shutdown: the postmaster stops its
	// backends and exits. The kernel sends it when this process dies.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	out := io.MultiWriter(logw, &c.said)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgdev: start postgres: %w", err)
	}
	c.cmd = cmd
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	lastErr := errors.New("server not started yet")
	for {
		// Only our own postmaster counts: a server already running on this
		// folder would answer on the same socket while ours gives up.
		if c.holdsLock() {
			conn, err := pgx.Connect(ctx, c.DSN(Superuser, "postgres"))
			if err == nil {
				return conn.Close(ctx)
			}
			lastErr = err
		}
		select {
		case <-c.exited:
			if why := c.said.why(); why != "" {
				return fmt.Errorf("pgdev: postgres exited during start-up (%v) and said: %s", c.waitErr, why)
			}
			return fmt.Errorf("pgdev: postgres exited during start-up (%v); is another server using %s? last error: %w", c.waitErr, c.dir, lastErr)
		case <-ctx.Done():
			return fmt.Errorf("pgdev: postgres not ready: %w", lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// holdsLock reports whether postmaster.pid names our postmaster.
func (c *Cluster) holdsLock() bool {
	b, err := os.ReadFile(filepath.Join(c.dir, "postmaster.pid"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return first == strconv.Itoa(c.cmd.Process.Pid)
}

// DSN returns a connection string for user and database over the socket.
func (c *Cluster) DSN(user, database string) string {
	return fmt.Sprintf("host=%s port=5432 user=%s dbname=%s sslmode=disable", c.socketDir, user, database)
}

// Dir is the cluster's data directory.
func (c *Cluster) Dir() string { return c.dir }

// PID is the postmaster's process id.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Exited is closed when the postmaster has exited.
func (c *Cluster) Exited() <-chan struct{} { return c.exited }

// Stop asks for a fast shutdown (roll back open transactions, checkpoint,
// exit) and waits for it; after 30 s it kills the server.
func (c *Cluster) Stop() error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("pgdev: postgres did not stop within 30s; killed")
	}
}

// EnsureDatabase creates the login role owner (allowed to create roles, so
// the migrations can make the app role) and the database name owned by it,
// unless they exist. It returns owner's connection string for the database.
func (c *Cluster) EnsureDatabase(ctx context.Context, name, owner string) (string, error) {
	conn, exists, err := c.superuserAsking(ctx, owner)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{owner}.Sanitize()
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE ROLE "+ident+" LOGIN CREATEROLE"); err != nil {
			return "", fmt.Errorf("pgdev: create role: %w", err)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("pgdev: database lookup: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER "+ident); err != nil {
			return "", fmt.Errorf("pgdev: create database: %w", err)
		}
	}
	return c.DSN(owner, name), nil
}

// EnsureLoginRole makes role a login role with no rights of its own:
// not a superuser, creating neither roles nor databases, without
// BYPASSRLS, owning nothing, and NOINHERIT, so that it has none of the
// rights of the roles in memberOf until it sets one of them (SET ROLE).
// It returns the address that logs in as role to database. A session of
// it that resets its role is role itself, with nothing to use: not the
// owner of the tables, as a session of the migrating role would be.
func (c *Cluster) EnsureLoginRole(ctx context.Context, role, database string, memberOf ...string) (string, error) {
	conn, exists, err := c.superuserAsking(ctx, role)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{role}.Sanitize()
	verb := "CREATE"
	if exists {
		verb = "ALTER"
	}
	if _, err := conn.Exec(ctx, verb+" ROLE "+ident+" LOGIN NOINHERIT NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS NOREPLICATION"); err != nil {
		return "", fmt.Errorf("pgdev: %s role %s: %w", strings.ToLower(verb), role, err)
	}
	for _, group := range memberOf {
		if _, err := conn.Exec(ctx, "GRANT "+pgx.Identifier{group}.Sanitize()+" TO "+ident); err != nil {
			return "", fmt.Errorf("pgdev: grant %s to %s: %w", group, role, err)
		}
	}
	return c.DSN(role, database), nil
}

// superuserAsking connects as the superuser and says whether role exists.
func (c *Cluster) superuserAsking(ctx context.Context, role string) (*pgx.Conn, bool, error) {
	conn, err := pgx.Connect(ctx, c.DSN(Superuser, "postgres"))
	if err != nil {
		return nil, false, fmt.Errorf("pgdev: connect: %w", err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		conn.Close(ctx)
		return nil, false, fmt.Errorf("pgdev: role lookup: %w", err)
	}
	return conn, exists, nil
}

// osUser is who the server runs as: ourselves, or the postgres system user
// when we are root (initdb and postgres refuse to run as root).
type osUser struct {
	uid, gid uint32
	switched bool
}

func serverOwner() (*osUser, error) {
	if os.Geteuid() != 0 {
		return &osUser{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgdev: running as root needs the postgres system user to run the server: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &osUser{uid: uint32(uid), gid: uint32(gid), switched: true}, nil
}

// ownedDir makes dir (mode 0700) owned by the server's user, and makes sure
// that user can reach it through its parents.
func (u *osUser) ownedDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pgdev: %w", err)
	}
	if !u.switched {
		return nil
	}
	if err := os.Chown(dir, int(u.uid), int(u.gid)); err != nil {
		return fmt.Errorf("pgdev: %w", err)
	}
	for p := filepath.Dir(dir); p != filepath.Dir(p); p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgdev: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("pgdev: %s is not traversable by the postgres user (mode %v); use a data folder whose parents are, e.g. chmod o+x %s", p, fi.Mode().Perm(), p)
		}
	}
	return nil
}

func (u *osUser) apply(cmd *exec.Cmd, dir string) {
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if u.switched {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid}
	}
}

// serverEnv is our environment without PG* variables, which would steer the
// server's tools to some other cluster.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
