// Command livebench measures live fan-out on 127.0.0.1 and prints a table:
// with N members subscribed to one list, the time from a change's commit
// to each subscriber's receipt of it (p50, p99, max), next to a bare
// coder/websocket broadcast of bytes of the same size to the same N
// clients in the same run (the floor); and the server's resident memory
// per idle live connection. It starts its own PostgreSQL, a real
// `moviedice serve` process, and client processes (each holds at most
// perProcess connections, from its own loopback address), and stops them
// all by itself. Run from the repository root:
//
//	go run ./cmd/livebench [-fanout 1000,10000] [-rounds 5] [-idle 10000,19000]
//
// Each fan-out is measured -rounds times on the same connections (one
// change, or one broadcast, at a time); the table shows the round with
// the median p99, and the range of p99 over all rounds.
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/moviedice/moviedice/web/pgdev"
)

const (
	// perProcess bounds one client process's connections: a process here
	// may hold at most 20,000 open files. Each reads its connections on
	// one thread; one busy reader is woken far less often than several
	// idle ones, and each wake-up is paid for by the server's write.
	perProcess = 10000
	// members on the benchmark's list.
	members = 5
)

func main() {
	switch os.Getenv("LIVEBENCH_ROLE") {
	case "clients":
		exitOn(runClients())
	case "bare":
		exitOn(runBare())
	default:
		fanout := flag.String("fanout", "1000,10000", "subscriber counts to measure commit-to-receipt latency at")
		rounds := flag.Int("rounds", 5, "changes (and broadcasts) measured at each subscriber count")
		idle := flag.String("idle", "10000,19000", "idle connection counts to measure server memory at")
		flag.Parse()
		exitOn(runParent(counts(*fanout), max(1, min(*rounds, 50)), counts(*idle)))
	}
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "livebench:", err)
		os.Exit(1)
	}
}

func counts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 && n <= 19500 {
			out = append(out, n)
		}
	}
	return out
}

// bench is one run's moving parts.
type bench struct {
	dir     string
	server  *exec.Cmd
	base    string // http://127.0.0.1:port
	list    string // /l/{id}
	cookies []string
	db      *pgx.Conn
}

func runParent(fanout []int, rounds int, idle []int) error {
	ctx := context.Background()
	b := &bench{}
	var err error
	if b.dir, err = os.MkdirTemp("", "moviedice-livebench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	os.Chmod(b.dir, 0o711)
	cluster, err := pgdev.Start(ctx, pgdev.Options{Dir: filepath.Join(b.dir, "pg"), Throwaway: true, Log: io.Discard})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	dbURL, err := cluster.EnsureDatabase(ctx, "moviedice", "moviedice")
	if err != nil {
		return err
	}
	if err := b.startServer(dbURL); err != nil {
		return err
	}
	defer func() { b.server.Process.Signal(syscall.SIGTERM); b.server.Wait() }()
	if b.db, err = pgx.Connect(ctx, cluster.DSN(pgdev.Superuser, "moviedice")); err != nil {
		return err
	}
	defer b.db.Close(ctx)
	need := slices.Max(append(slices.Clone(fanout), idle...))
	if err := b.seed(members); err != nil {
		return err
	}
	// Connection i uses member i%members's session: a few people with
	// thousands of tabs between them, as the load, on a list of a usual size.
	for len(b.cookies) < need {
		b.cookies = append(b.cookies, b.cookies[len(b.cookies)%members])
	}
	fmt.Printf("one list with 10 films and %d members; %d connections at most, spread over their sessions\n", members, need)

	fmt.Printf("\n| subscribers | message | MovieDice p50 | p99 | max | bare broadcast p50 | p99 | max | p99 ratio | p99 over %d rounds: MovieDice | bare |\n", rounds)
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range fanout {
		apps, size, err := b.measureApp(n, rounds)
		if err != nil {
			return fmt.Errorf("fan-out to %d: %w", n, err)
		}
		bares, err := b.measureBare(n, size, rounds)
		if err != nil {
			return fmt.Errorf("bare broadcast to %d: %w", n, err)
		}
		app, bare := median(apps), median(bares)
		fmt.Printf("| %d | %d B | %s | %s | %s | %s | %s | %s | %.2f | %s | %s |\n", n, size, ms(app.p50), ms(app.p99), ms(app.max),
			ms(bare.p50), ms(bare.p99), ms(bare.max), float64(app.p99)/float64(bare.p99), p99Range(apps), p99Range(bares))
	}

	fmt.Println("\n| idle live connections | server RSS before | after | per connection |")
	fmt.Println("|---:|---:|---:|---:|")
	for _, n := range idle {
		// A fresh server each time: memory a busier phase grew would hide
		// what the connections cost.
		b.server.Process.Signal(syscall.SIGTERM)
		b.server.Wait()
		if err := b.startServer(dbURL); err != nil {
			return err
		}
		time.Sleep(2 * time.Second)
		before := rss(b.server.Process.Pid)
		cs, err := b.connect(n, b.wsURL(), b.cookies)
		if err != nil {
			return fmt.Errorf("idle %d: %w", n, err)
		}
		time.Sleep(5 * time.Second) // "who is here" settles; nothing else moves
		after := rss(b.server.Process.Pid)
		stopClients(cs)
		fmt.Printf("| %d | %.1f MiB | %.1f MiB | %.1f KiB |\n", n, float64(before)/(1<<20), float64(after)/(1<<20), float64(after-before)/float64(n)/1024)
	}
	return nil
}

func (b *bench) wsURL() string { return "ws" + strings.TrimPrefix(b.base, "http") + b.list + "/live" }

func (b *bench) startServer(dbURL string) error {
	if b.base == "" {
		port, err := freePort()
		if err != nil {
			return err
		}
		b.base = "http://127.0.0.1:" + strconv.Itoa(port)
	}
	port := strings.TrimPrefix(b.base, "http://127.0.0.1:")
	bin := filepath.Join(b.dir, "moviedice")
	if _, err := os.Stat(bin); err != nil {
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/moviedice").CombinedOutput(); err != nil {
			return fmt.Errorf("build moviedice (run from the repository root): %v\n%s", err, out)
		}
	}
	key := "bGl2ZWJlbmNoLWtleS1saXZlYmVuY2gta2V5LWxpdmViZW5jaC0="
	b.server = exec.Command(bin, "serve")
	b.server.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "MOVIEDICE_COOKIE_KEYS="+key, "MOVIEDICE_RECOVERY_PEPPER="+key,
		"MOVIEDICE_ADDR=127.0.0.1:"+port, "MOVIEDICE_BASE_URL="+b.base, "MOVIEDICE_LOG_LEVEL=warn",
		"MOVIEDICE_MINTS_PER_MINUTE=100000", "MOVIEDICE_LIVE_MAX_CONNS=19600", "MOVIEDICE_LIVE_PER_DEVICE=19600")
	b.server.Stderr = os.Stderr
	b.server.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := b.server.Start(); err != nil {
		return err
	}
	for range 300 {
		if res, err := http.Get(b.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("server not ready after 30 s")
}

// seed creates a list with a few films and n members, each its own
// browser (device), and keeps their session cookies.
func (b *bench) seed(n int) error {
	jar, _ := cookiejar.New(nil)
	owner := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := owner.PostForm(b.base+"/lists", url.Values{"name": {"Bench night"}})
	if err != nil {
		return err
	}
	res.Body.Close()
	b.list = res.Header.Get("Location")
	for i := range 10 {
		res, err := owner.PostForm(b.base+b.list+"/movies", url.Values{"title": {fmt.Sprintf("Seed film %d", i)}})
		if err != nil {
			return err
		}
		res.Body.Close()
	}
	res, err = owner.Get(b.base + b.list)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`(/join/[A-Za-z0-9_-]{22})`).FindSubmatch(page)
	if m == nil {
		return errors.New("no invitation link")
	}
	join := b.base + string(m[1])
	b.cookies = make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := 0
	for range 16 {
		wg.Go(func() {
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				res, err := c.Post(join, "application/x-www-form-urlencoded", nil)
				if err == nil {
					res.Body.Close()
					for _, ck := range res.Cookies() {
						b.cookies[i] = ck.Name + "=" + ck.Value
					}
				}
				if err == nil && b.cookies[i] == "" {
					err = fmt.Errorf("join: %s", res.Status)
				}
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

type stats struct{ p50, p99, max time.Duration }

func summarize(d []time.Duration) stats {
	slices.Sort(d)
	return stats{p50: d[len(d)/2], p99: d[len(d)*99/100], max: d[len(d)-1]}
}

// median is the round with the median p99.
func median(rounds []stats) stats {
	s := slices.SortedFunc(slices.Values(rounds), func(a, b stats) int { return cmp.Compare(a.p99, b.p99) })
	return s[len(s)/2]
}

func p99Range(rounds []stats) string {
	lo := slices.MinFunc(rounds, func(a, b stats) int { return cmp.Compare(a.p99, b.p99) })
	hi := slices.MaxFunc(rounds, func(a, b stats) int { return cmp.Compare(a.p99, b.p99) })
	return strings.TrimSuffix(ms(lo.p99), " ms") + "–" + ms(hi.p99)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// measureApp subscribes n members, then commits a change and measures
// each one's commit-to-receipt latency, rounds times; it returns the
// rounds' figures and the size of the fragment received.
func (b *bench) measureApp(n, rounds int) ([]stats, int, error) {
	cs, err := b.connect(n, b.wsURL(), b.cookies)
	if err != nil {
		return nil, 0, err
	}
	defer stopClients(cs)
	time.Sleep(2 * time.Second) // let "who is here" settle
	var out []stats
	size := 0
	for r := range rounds {
		title := fmt.Sprintf("Bench film %d %d %d", n, r, time.Now().UnixNano())
		for _, c := range cs {
			fmt.Fprintf(c.in, "watch %s\n", title)
		}
		time.Sleep(200 * time.Millisecond)
		if _, err := b.db.Exec(context.Background(),
			"INSERT INTO movies (list_id, added_by, title) SELECT id, owner_id, $1 FROM lists", title); err != nil {
			return nil, 0, err
		}
		committed := time.Now()
		recv, sz, err := collect(cs)
		if err != nil {
			return nil, 0, err
		}
		if len(recv) != n {
			return nil, 0, fmt.Errorf("only %d of %d subscribers got the change within 10 s", len(recv), n)
		}
		lat := make([]time.Duration, len(recv))
		for i, r := range recv {
			lat[i] = time.Unix(0, r).Sub(committed)
		}
		out, size = append(out, summarize(lat)), max(size, sz)
	}
	return out, size, nil
}

// measureBare is the floor: a bare coder/websocket server writing size
// bytes to the same number of clients, rounds times.
func (b *bench) measureBare(n, size, rounds int) ([]stats, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	self, _ := os.Executable()
	bare := exec.Command(self)
	bare.Env = append(os.Environ(), "LIVEBENCH_ROLE=bare", "LIVEBENCH_ADDR=127.0.0.1:"+strconv.Itoa(port), "LIVEBENCH_SIZE="+strconv.Itoa(size))
	bare.Stderr = os.Stderr
	bare.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	in, _ := bare.StdinPipe()
	out, _ := bare.StdoutPipe()
	if err := bare.Start(); err != nil {
		return nil, err
	}
	defer func() { bare.Process.Kill(); bare.Wait() }()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "listening" {
		return nil, errors.New("bare server did not start")
	}
	cs, err := b.connect(n, "ws://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	if err != nil {
		return nil, err
	}
	defer stopClients(cs)
	time.Sleep(time.Second)
	var rs []stats
	for range rounds {
		for _, c := range cs {
			fmt.Fprintf(c.in, "watch bare-payload\n")
		}
		time.Sleep(200 * time.Millisecond)
		fmt.Fprintln(in, "send")
		if !lines.Scan() {
			return nil, errors.New("bare server did not report its send")
		}
		start, _ := strconv.ParseInt(strings.TrimPrefix(lines.Text(), "sent "), 10, 64)
		recv, _, err := collect(cs)
		if err != nil {
			return nil, err
		}
		if len(recv) != n {
			return nil, fmt.Errorf("only %d of %d clients got the broadcast within 10 s", len(recv), n)
		}
		lat := make([]time.Duration, len(recv))
		for i, r := range recv {
			lat[i] = time.Duration(r - start)
		}
		rs = append(rs, summarize(lat))
	}
	return rs, nil
}

// clientProc is one client process and its pipes.
type clientProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// connect starts client processes holding n connections to target, with
// cookies[i] for connection i when given; they are ready when it returns.
func (b *bench) connect(n int, target string, cookies []string) ([]*clientProc, error) {
	self, _ := os.Executable()
	var cs []*clientProc
	for i, start := 0, 0; start < n; i, start = i+1, start+perProcess {
		count := min(perProcess, n-start)
		file := filepath.Join(b.dir, fmt.Sprintf("cookies-%d", i))
		if cookies != nil {
			os.WriteFile(file, []byte(strings.Join(cookies[start:start+count], "\n")), 0o600)
		}
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), "LIVEBENCH_ROLE=clients", "LIVEBENCH_TARGET="+target, "LIVEBENCH_ORIGIN="+b.base,
			"LIVEBENCH_COUNT="+strconv.Itoa(count), "LIVEBENCH_SOURCE=127.0.0."+strconv.Itoa(2+i), "LIVEBENCH_COOKIES="+file)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return cs, err
		}
		c := &clientProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
		c.out.Buffer(make([]byte, 1<<20), 64<<20)
		cs = append(cs, c)
	}
	for _, c := range cs {
		if !c.out.Scan() || c.out.Text() != "ready" {
			stopClients(cs)
			return nil, fmt.Errorf("client process failed: %q", c.out.Text())
		}
	}
	return cs, nil
}

// collect gathers every client's receipt time (unix ns) and the payload size.
func collect(cs []*clientProc) ([]int64, int, error) {
	var all []int64
	size := 0
	for _, c := range cs {
		if !c.out.Scan() {
			return nil, 0, errors.New("client process ended early")
		}
		var r struct {
			Recv []int64 `json:"recv"`
			Size int     `json:"size"`
		}
		if err := json.Unmarshal(c.out.Bytes(), &r); err != nil {
			return nil, 0, err
		}
		all = append(all, r.Recv...)
		size = max(size, r.Size)
	}
	return all, size, nil
}

func stopClients(cs []*clientProc) {
	for _, c := range cs {
		c.in.Close()
		c.cmd.Process.Signal(syscall.SIGTERM)
		c.cmd.Wait()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// rss is a process's resident memory in bytes.
func rss(pid int) int64 {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb * 1024
}

// runBare is the floor: accept websockets, and on "send" write the same
// LIVEBENCH_SIZE bytes (containing "bare-payload") to every one.
func runBare() error {
	size, _ := strconv.Atoi(os.Getenv("LIVEBENCH_SIZE"))
	payload := []byte("bare-payload " + strings.Repeat("x", max(0, size-13)))
	var mu sync.Mutex
	var sends []chan []byte
	l, err := net.Listen("tcp", os.Getenv("LIVEBENCH_ADDR"))
	if err != nil {
		return err
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		ch := make(chan []byte, 16)
		mu.Lock()
		sends = append(sends, ch)
		mu.Unlock()
		ctx := c.CloseRead(r.Context())
		for {
			select {
			case <-ctx.Done():
				return
			case msg := <-ch:
				if c.Write(ctx, websocket.MessageText, msg) != nil {
					return
				}
			}
		}
	}))
	fmt.Println("listening")
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		mu.Lock()
		fmt.Printf("sent %d\n", time.Now().UnixNano())
		for _, ch := range sends {
			ch <- payload
		}
		mu.Unlock()
	}
	return nil
}
