// Command loadtest measures a signed-in member's GET /l/{id} against a
// MovieDice server on 127.0.0.1, next to what PostgreSQL alone manages for
// that page's queries (pgbench, same queries, as many clients as the
// cores, twice as many, as many as the server's pool, and as many as the
// HTTP load; and the best of those in each round), and prints a table.
// The HTTP load comes from wrk or, without it (or with -gen go), from a
// built-in generator in a process of its own (hitCommand). The sides take
// turns, several rounds, so that a shared machine's slow minute weighs on
// both; each ratio is taken within a round. A second table gives each
// side's CPU per page: the server's, PostgreSQL's, the load tool's, and
// the cores' time none of them used. It starts its own throwaway
// PostgreSQL and server, is bounded in time, and stops by itself. Run from
// the repository root:
//
//	go run ./cmd/loadtest [-duration 5s] [-rounds 3] [-conns 32] [-pool 0] [-gen auto] [-cpuprofile cpu.out]
package main

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/moviedice/moviedice/migrations"
	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/web"
	"github.com/moviedice/moviedice/web/identity"
	"github.com/moviedice/moviedice/web/pgdev"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "how long to measure each side in a round")
	rounds := flag.Int("rounds", 3, "rounds of measuring each side")
	conns := flag.Int("conns", 32, "concurrent HTTP connections")
	poolSize := flag.Int("pool", 0, "database connections, for the server's pool and for pgbench (0: the server's default, as moviedice serve runs)")
	films := flag.Int("films", 50, "films on the list")
	members := flag.Int("members", 5, "members of the list, owner included")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the server during the HTTP run to this file")
	gen := flag.String("gen", "auto", "HTTP load generator: wrk, go (built in, Linux only), or auto (wrk when installed, else go)")
	if len(os.Args) > 1 && os.Args[1] == "hit" {
		os.Exit(hitCommand(os.Args[2:])) // the built-in generator's own process
	}
	flag.Parse()
	if *duration < time.Second || *duration > 5*time.Minute || *rounds < 1 || *rounds > 20 || *conns > 1000 || *poolSize > 100 {
		fmt.Fprintln(os.Stderr, "loadtest: keep it bounded: -duration 1s to 5m, -rounds 1 to 20, -conns at most 1000, -pool at most 100")
		os.Exit(2)
	}
	if *gen == "auto" {
		*gen = "go"
		if _, err := exec.LookPath("wrk"); err == nil || !hitSupported {
			*gen = "wrk"
		}
	}
	if *gen != "go" && *gen != "wrk" || *gen == "go" && !hitSupported {
		fmt.Fprintln(os.Stderr, "loadtest: -gen is go (on Linux), wrk or auto")
		os.Exit(2)
	}
	if err := run(*duration, *rounds, *conns, *poolSize, *films, *members, *cpuprofile, *gen); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, rounds, conns, poolSize, films, members int, cpuprofile, gen string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "moviedice-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o711)
	cluster, err := pgdev.Start(ctx, pgdev.Options{Dir: filepath.Join(dir, "pg"), Throwaway: true})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	dbURL, err := cluster.EnsureDatabase(ctx, "moviedice", "moviedice")
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	log, flush := web.NewLogger(logFile, nil) // as moviedice serve logs
	defer flush()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return err
	}
	if err := migrations.Up(ctx, db, log); err != nil {
		return err
	}
	db.Close()
	// The server connects as moviedice serve's does: a login role of its
	// own, a member of the app's and the system's roles.
	if dbURL, err = cluster.EnsureLoginRole(ctx, "moviedice_web", "moviedice", queries.AppRole, queries.SystemRole); err != nil {
		return err
	}

	poolURL := dbURL
	if poolSize > 0 {
		poolURL += " pool_max_conns=" + fmt.Sprint(poolSize) // the pool's setting, not a server parameter for the live hub's connection
	}
	pool, err := queries.OpenPool(ctx, poolURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	poolSize = int(pool.Config().MaxConns)
	web.TuneGC(ctx) // as moviedice serve does
	reg := web.NewRegistry()
	key := bytes.Repeat([]byte{7}, 32)
	id, err := identity.New(identity.Config{Pool: pool, Log: log, CookieKeys: [][]byte{key}, Pepper: key,
		MintsPerMinute: 1_000_000, Registerer: reg})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base, _ := url.Parse("http://" + l.Addr().String())
	srv, err := web.New(web.Config{BaseURL: base, Pool: pool, Log: log, Registry: reg, Identity: id, LiveDatabaseURL: dbURL})
	if err != nil {
		return err
	}
	serveCtx, stop := context.WithCancel(ctx)
	go srv.Hub().Run(serveCtx) // as moviedice serve does: its feed also keeps the session cache in use
	select {
	case <-srv.Hub().Listening():
	case <-time.After(10 * time.Second):
		stop()
		return errors.New("live hub not listening")
	}
	served := make(chan error, 1)
	go func() { served <- web.Serve(serveCtx, l, srv, log, 5*time.Second) }()
	defer func() { stop(); <-served }()

	page, cookie, err := seed(base.String(), films, members)
	if err != nil {
		return err
	}
	// The seeding browser's user, whom pgbench acts as; read as the
	// superuser, since the app's role sees no device without acting as
	// its user (migrations/00008).
	super, err := pgx.Connect(ctx, cluster.DSN(pgdev.Superuser, "moviedice"))
	if err != nil {
		return err
	}
	var owner string
	err = super.QueryRow(ctx, "SELECT user_id::text FROM devices ORDER BY created_at LIMIT 1").Scan(&owner)
	super.Close(ctx)
	if err != nil {
		return err
	}
	// PostgreSQL alone: with one and two clients per core (where its best
	// rate usually is), with as many as the server's pool (what the page's
	// database work meets), and with as many as the HTTP load has (each
	// client a page view in flight).
	clients := []int{runtime.NumCPU(), 2 * runtime.NumCPU(), poolSize, conns}
	slices.Sort(clients)
	clients = slices.Compact(clients)
	fmt.Printf("list with %d films and %d members; %d HTTP connections, %d database connections, %d rounds of %v per side, load generator %s, GOMAXPROCS=%d\n\n",
		films, members, conns, poolSize, rounds, duration, gen, runtime.GOMAXPROCS(0))

	load := builtin
	if gen == "wrk" {
		load = wrk
	}
	load(page, cookie, conns, 2*time.Second) // warm up the pool, caches and plans
	var pages []result
	dbTPS := make([][]float64, len(clients)) // [clients][round]
	dbCPU := make([][]perPage, len(clients))
	for round := range rounds {
		var prof *os.File
		if cpuprofile != "" && round == 0 {
			if prof, err = os.Create(cpuprofile); err != nil {
				return err
			}
			pprof.StartCPUProfile(prof)
		}
		res, cpu, err := measureCPU(cluster.PID(), func() (result, int, error) {
			res := load(page, cookie, conns, duration)
			return res, res.count, nil
		})
		if err != nil {
			return err
		}
		res.cpu = cpu
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
		}
		if res.errors > 0 {
			return fmt.Errorf("%d requests failed", res.errors)
		}
		pages = append(pages, res)
		// The server stays up, idle, while pgbench runs.
		for i, c := range clients {
			tps, cpu, err := measureCPU(cluster.PID(), func() (float64, int, error) {
				return pgbench(ctx, cluster, dir, c, duration, owner)
			})
			if err != nil {
				return err
			}
			dbTPS[i] = append(dbTPS[i], tps)
			dbCPU[i] = append(dbCPU[i], cpu)
		}
	}

	stop()
	if err := <-served; err != nil {
		return err
	}
	served <- nil // for the deferred stop

	rps := make([]float64, rounds)
	for i, p := range pages {
		rps[i] = p.rps
	}
	mid := median(pages, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
	// A ratio is a round's page rate over the same round's pgbench rate;
	// the table gives the median of those, not a ratio of the medians.
	fmt.Println("| measurement | req/s, median round | all rounds | p50 | p99 | page / this, median of the rounds' | all rounds |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	fmt.Printf("| GET /l/{id}, signed-in member, over HTTP (%d connections) | %.0f | %s | %.2f ms | %.2f ms | | |\n",
		conns, mid.rps, span(rps, "%.0f"), ms(mid.p50), ms(mid.p99))
	ratioRow := func(what string, tps []float64) {
		ratios := make([]float64, rounds)
		for r := range rounds {
			ratios[r] = 100 * rps[r] / tps[r]
		}
		fmt.Printf("| the page's queries alone: pgbench, prepared, same round trips, %s | %.0f | %s | | | %.0f %% | %s %% |\n",
			what, median(tps, cmp.Compare), span(tps, "%.0f"), median(ratios, cmp.Compare), span(ratios, "%.0f"))
	}
	best := make([]float64, rounds) // each round's best pgbench rate
	for i, c := range clients {
		ratioRow(fmt.Sprintf("%d clients", c), dbTPS[i])
		for r, tps := range dbTPS[i] {
			best[r] = max(best[r], tps)
		}
	}
	if len(clients) > 1 {
		ratioRow("the round's best", best)
	}

	// Where each side's CPU goes, per page, in the round with the side's
	// median rate.
	fmt.Printf("\nCPU per page, µs (%d cores; idle or other: the cores' time no part used, or other processes on the machine):\n\n", runtime.NumCPU())
	fmt.Println("| side | server | PostgreSQL | load tool | idle or other | total |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	fmt.Printf("| HTTP, %d connections | %.0f | %.0f | %.0f | %.0f | %.0f |\n", conns, mid.cpu.server, mid.cpu.postgres, mid.cpu.tools, mid.cpu.idle, mid.cpu.total)
	for i, c := range clients {
		m := median(dbCPU[i], func(a, b perPage) int { return cmp.Compare(a.total, b.total) })
		fmt.Printf("| pgbench, %d clients | | %.0f | %.0f | %.0f | %.0f |\n", c, m.postgres, m.tools, m.idle, m.total)
	}
	return nil
}

// median is the middle element of xs by compare (the upper one of an even
// count).
func median[T any](xs []T, compare func(a, b T) int) T {
	s := slices.Clone(xs)
	slices.SortFunc(s, compare)
	return s[len(s)/2]
}

// span is "lowest–highest" of xs.
func span(xs []float64, format string) string {
	return fmt.Sprintf(format+"–"+format, slices.Min(xs), slices.Max(xs))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// seed builds the list over HTTP, as people would: the owner starts it,
// the others join by its invitation link, everyone adds films, the owner
// rolls. It returns the page's URL and the owner's session cookie.
func seed(base string, films, members int) (page string, cookie *http.Cookie, err error) {
	owner := newBrowser()
	res, err := owner.PostForm(base+"/lists", url.Values{"name": {"Friday film night"}})
	if err != nil {
		return "", nil, err
	}
	res.Body.Close()
	page = base + res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(page, "/l/") {
		return "", nil, fmt.Errorf("create list: %s", res.Status)
	}
	body, err := get(owner, page)
	if err != nil {
		return "", nil, err
	}
	invite := regexp.MustCompile(`id="invite-link" readonly value="[^"]*(/join/[^"]+)"`).FindStringSubmatch(body)
	if invite == nil {
		return "", nil, errors.New("no invitation link on the list page")
	}
	people := []*http.Client{owner}
	for range members - 1 {
		b := newBrowser()
		res, err := b.PostForm(base+invite[1], nil)
		if err != nil {
			return "", nil, err
		}
		res.Body.Close()
		people = append(people, b)
	}
	for i := range films {
		form := url.Values{"title": {fmt.Sprintf("Film number %d", i+1)}, "year": {fmt.Sprint(1950 + i%70)}}
		res, err := people[i%len(people)].PostForm(page+"/movies", form)
		if err != nil {
			return "", nil, err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			return "", nil, fmt.Errorf("add film: %s", res.Status)
		}
	}
	for range 3 {
		res, err := owner.PostForm(page+"/roll", nil)
		if err != nil {
			return "", nil, err
		}
		res.Body.Close()
	}
	u, _ := url.Parse(base)
	for _, c := range owner.Jar.Cookies(u) {
		if c.Name == "md_session" {
			cookie = c
		}
	}
	if cookie == nil {
		return "", nil, errors.New("owner has no session cookie")
	}
	return page, cookie, nil
}

func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(c *http.Client, u string) (string, error) {
	res, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

// pageQueries are the queries behind GET /l/{id}, in the order and round
// trips the server uses, read from queries/*.sql so the baseline runs
// exactly the app's SQL: as queries.ReadAsUser does, acting as the user
// and the page query in one pipeline (one implicit transaction). The
// session lookup (GetSessionForDevice) is not among them: a signed-in
// device's session is cached between requests (identity's sessionCache),
// so it runs once every few seconds, not per page. Lines starting with a
// backslash are pgbench commands.
var pageQueries = []string{`\startpipeline`, "ActAsUser", "GetListPageForMember", `\endpipeline`}

// pgbenchScript turns the page's named queries into a pgbench script with
// :device, :user and :list variables.
func pgbenchScript() (string, error) {
	named := map[string]string{"BEGIN": "BEGIN", "COMMIT": "COMMIT"}
	files, _ := filepath.Glob("queries/*.sql")
	block := regexp.MustCompile(`(?ms)^-- name: (\w+) :\w+\n(.*?);\s*$`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		for _, m := range block.FindAllStringSubmatch(string(b), -1) {
			named[m[1]] = m[2]
		}
	}
	params := strings.NewReplacer("@user_id", ":user", "@list_id", ":list", "@id", ":list", "$1", ":device")
	// A full page load asks for every part: @with_members and the like
	// become variables set to true (-D), sent as parameters as the app
	// sends them, not constants the planner could fold away.
	parts := regexp.MustCompile(`@(with_\w+)`)
	var script strings.Builder
	for _, name := range pageQueries {
		if strings.HasPrefix(name, `\`) {
			script.WriteString(name + "\n")
			continue
		}
		q, ok := named[name]
		if !ok {
			return "", fmt.Errorf("query %s not found under queries/ (run from the repository root)", name)
		}
		var lines []string
		q = parts.ReplaceAllString(params.Replace(q), ":$1")
		for _, line := range strings.Split(q, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				lines = append(lines, line)
			}
		}
		script.WriteString(strings.Join(lines, " ") + ";\n")
	}
	return script.String(), nil
}

// pgbench runs the page's queries with conns clients for d, as the app's
// role, and returns transactions (page loads) per second and their count.
func pgbench(ctx context.Context, cluster *pgdev.Cluster, dir string, conns int, d time.Duration, cookieOwner string) (tps float64, count int, err error) {
	script, err := pgbenchScript()
	if err != nil {
		return 0, 0, err
	}
	conn, err := pgx.Connect(ctx, cluster.DSN(pgdev.Superuser, "moviedice"))
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	var device, user, list string
	err = conn.QueryRow(ctx, `SELECT d.id::text, d.user_id::text, l.id::text FROM devices d JOIN lists l ON l.owner_id = d.user_id
		WHERE d.user_id = $1::uuid`, cookieOwner).Scan(&device, &user, &list)
	if err != nil {
		return 0, 0, fmt.Errorf("pgbench ids: %w", err)
	}
	path := filepath.Join(dir, "page.sql")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return 0, 0, err
	}
	bin, err := pgdev.FindBinDir()
	if err != nil {
		return 0, 0, err
	}
	dsn := cluster.DSN("moviedice_web", "moviedice")
	host := regexp.MustCompile(`host=(\S+)`).FindStringSubmatch(dsn)[1]
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pgbench"), "-n", "-M", "prepared", "-c", fmt.Sprint(conns), "-j", "2",
		"-T", fmt.Sprint(int(d.Seconds())), "-D", "device="+device, "-D", "user="+user, "-D", "list="+list,
		"-D", "with_members=true", "-D", "with_movies=true", "-D", "with_rolls=true",
		"-f", path, "-h", host, "-U", "moviedice_web", "moviedice")
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c role=moviedice_app")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("pgbench: no tps in output:\n%s", out)
	}
	fmt.Sscan(string(m[1]), &tps)
	if m := regexp.MustCompile(`number of transactions actually processed: (\d+)`).FindSubmatch(out); m != nil {
		fmt.Sscan(string(m[1]), &count)
	}
	return tps, count, nil
}

// wrk runs wrk against page with cookie for d and reads its summary.
func wrk(page string, cookie *http.Cookie, conns int, d time.Duration) result {
	out, err := exec.Command("wrk", "-t", fmt.Sprint(loadThreads), "-c", fmt.Sprint(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())),
		"--latency", "-H", "Cookie: "+cookie.Name+"="+cookie.Value, page).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "wrk: %v\n%s", err, out)
		return result{errors: 1}
	}
	var res result
	if m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out); m != nil {
		fmt.Sscan(string(m[1]), &res.rps)
	}
	if m := regexp.MustCompile(`(\d+) requests in`).FindSubmatch(out); m != nil {
		fmt.Sscan(string(m[1]), &res.count)
	}
	pct := func(p string) time.Duration {
		m := regexp.MustCompile(`(?m)^\s+` + p + `%\s+([0-9.]+)(us|ms|s)`).FindSubmatch(out)
		if m == nil {
			return 0
		}
		d, _ := time.ParseDuration(string(m[1]) + strings.Replace(string(m[2]), "us", "µs", 1))
		return d
	}
	res.p50, res.p99 = pct("50"), pct("99")
	if regexp.MustCompile(`Non-2xx or 3xx responses|Socket errors`).Match(out) {
		res.errors = 1
		fmt.Fprintf(os.Stderr, "wrk reported errors:\n%s", out)
	}
	return res
}

type result struct {
	rps      float64
	count    int // requests answered
	p50, p99 time.Duration
	errors   int
	cpu      perPage
}
