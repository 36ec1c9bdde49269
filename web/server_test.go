package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moviedice/moviedice/static"
	"github.com/moviedice/moviedice/web/identity"
	"github.com/moviedice/moviedice/web/pgdev/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testApp is a server on a database of the test's own, behind a real
// listener on 127.0.0.1.
type testApp struct {
	*httptest.Server
	srv  *Server
	db   *pgtest.DB
	logs *syncBuffer
	idc  identity.Config // as given, for a second instance
}

func mustApp(t testing.TB) *testApp {
	t.Helper()
	return mustAppWith(t, identity.Config{})
}

// mustAppWith is mustApp with identity settings (keys and pool are filled in).
func mustAppWith(t testing.TB, idc identity.Config) *testApp {
	t.Helper()
	return startApp(t, pgtest.New(t), idc)
}

// secondInstance starts another server on a's database, as a second
// process of a deployment would be.
func (a *testApp) secondInstance(t testing.TB) *testApp {
	t.Helper()
	return startApp(t, a.db, a.idc)
}

func startApp(t testing.TB, db *pgtest.DB, idc identity.Config) *testApp {
	t.Helper()
	given := idc
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	base, _ := url.Parse("http://127.0.0.1")
	pool := db.Pool(t)
	reg := NewRegistry()
	idc.Pool, idc.Log, idc.Registerer = pool, log, reg
	if idc.CookieKeys == nil {
		idc.CookieKeys = [][]byte{bytes.Repeat([]byte{1}, 32)}
	}
	idc.Pepper = bytes.Repeat([]byte{2}, 32)
	id, err := identity.New(idc)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{BaseURL: base, Pool: pool, Log: log, Registry: reg, Identity: id, LiveDatabaseURL: db.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { srv.Hub().Run(ctx); close(hubDone) }()
	t.Cleanup(func() { srv.Hub().Shutdown(); stop(); <-hubDone })
	select {
	case <-srv.Hub().Listening():
	case <-time.After(10 * time.Second):
		t.Fatal("live hub not listening")
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testApp{Server: ts, srv: srv, db: db, logs: logs, idc: given}
}

// do sends a request and returns the response with its body read.
func (a *testApp) do(t testing.TB, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := a.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHomePage(t *testing.T) {
	a := mustApp(t)

	t.Run("shows the landing text and counts read from the database", func(t *testing.T) {
		res, body := a.do(t, "GET", "/", nil)
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		for _, want := range []string{"<!doctype html>", "your browser becomes your account", "<strong>0</strong> lists"} {
			if !strings.Contains(body, want) {
				t.Errorf("home page lacks %q", want)
			}
		}
		a.db.MustExec(t, `WITH u AS (INSERT INTO users (display_name) VALUES ('Quiet Otter') RETURNING id)
			, l AS (INSERT INTO lists (owner_id, name, invite_token) SELECT id, n, md5(n) FROM u, (VALUES ('Friday'), ('Sunday')) v(n) RETURNING id, owner_id)
			INSERT INTO list_members (list_id, user_id) SELECT id, owner_id FROM l`)
		_, body = a.do(t, "GET", "/", nil)
		if !strings.Contains(body, "<strong>2</strong> lists") {
			t.Errorf("home page does not count the two lists just stored")
		}
	})

	t.Run("a GET sets no cookie", func(t *testing.T) {
		res, _ := a.do(t, "GET", "/", nil)
		if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("Set-Cookie on a page view: %v", c)
		}
	})
}

func TestHealthAndReadiness(t *testing.T) {
	a := mustApp(t)

	res, body := a.do(t, "GET", "/healthz", nil)
	if res.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", res.StatusCode, body)
	}
	res, body = a.do(t, "GET", "/readyz", nil)
	if res.StatusCode != 200 || body != "ready\n" {
		t.Errorf("readyz on a migrated database: %d %q", res.StatusCode, body)
	}

	t.Run("unready while a migration is missing", func(t *testing.T) {
		a.db.MustExec(t, "DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)")
		res, body := a.do(t, "GET", "/readyz", nil)
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "migrations") {
			t.Errorf("readyz with a missing migration: %d %q", res.StatusCode, body)
		}
		res, _ = a.do(t, "GET", "/healthz", nil)
		if res.StatusCode != 200 {
			t.Errorf("healthz must not depend on the database: %d", res.StatusCode)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	a := mustApp(t)
	for _, path := range []string{"/", "/healthz", "/no-such-page", a.srv.assets.url("css/app.css")} {
		res, _ := a.do(t, "GET", path, nil)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: missing headers: %v", path, h)
		}
		if h.Get("X-Request-Id") == "" {
			t.Errorf("%s: no request id", path)
		}
	}
}

// TestPagesAreNotCached: no shared cache keeps a page, and the browser
// asks again before showing one it kept (a list page shows its
// invitation link; a recovery code is not kept at all). Static files,
// named by their content, are kept for good.
func TestPagesAreNotCached(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	list := b.mustStartList("Cached?")
	for path, want := range map[string]string{
		"/": "private, no-cache", list: "private, no-cache", "/account": "private, no-cache", "/claim": "private, no-cache",
		"/no-such-page": "private, no-cache", a.srv.assets.url("css/app.css"): "public, max-age=31536000, immutable",
	} {
		if res, _ := b.get(path); res.Header.Get("Cache-Control") != want {
			t.Errorf("GET %s: Cache-Control %q, want %q", path, res.Header.Get("Cache-Control"), want)
		}
	}
	if res, _ := b.post("/account/recovery-code"); res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("recovery code page: Cache-Control %q, want no-store", res.Header.Get("Cache-Control"))
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	a := mustApp(t)
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"browser says cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"foreign Origin without fetch metadata", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"same-origin reaches routing", http.Header{"Sec-Fetch-Site": {"same-origin"}}, http.StatusMethodNotAllowed},
		{"non-browser client reaches routing", nil, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := a.do(t, "POST", "/", tt.header)
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
			if tt.want == http.StatusForbidden && !strings.Contains(body, "sent from another site") {
				t.Errorf("403 page does not explain itself: %s", body)
			}
		})
	}
	t.Run("safe methods from another site still read", func(t *testing.T) {
		res, _ := a.do(t, "GET", "/", http.Header{"Sec-Fetch-Site": {"cross-site"}})
		if res.StatusCode != 200 {
			t.Errorf("status %d", res.StatusCode)
		}
	})
}

func TestStaticFilesAreContentHashed(t *testing.T) {
	a := mustApp(t)
	_, home := a.do(t, "GET", "/", nil)
	m := regexp.MustCompile(`href="(/static/css/app\.([0-9a-f]{12})\.css)"`).FindStringSubmatch(home)
	if m == nil {
		t.Fatalf("home page links no hashed stylesheet")
	}
	css, _ := static.FS.ReadFile("css/app.css")
	sum := sha256.Sum256(css)
	if m[2] != hex.EncodeToString(sum[:6]) {
		t.Errorf("URL hash %s is not the content's", m[2])
	}

	res, body := a.do(t, "GET", m[1], nil)
	if res.StatusCode != 200 || body != string(css) {
		t.Fatalf("stylesheet: %d, %d bytes", res.StatusCode, len(body))
	}
	if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
		t.Errorf("Cache-Control %q", cc)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type %q", ct)
	}
	res, _ = a.do(t, "GET", m[1], http.Header{"If-None-Match": {res.Header.Get("ETag")}})
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", res.StatusCode)
	}
	for _, stale := range []string{"/static/css/app.000000000000.css", "/static/css/app.css", "/static/static.go"} {
		if res, _ := a.do(t, "GET", stale, nil); res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", stale, res.StatusCode)
		}
	}
}

func TestErrorPages(t *testing.T) {
	a := mustApp(t)

	res, body := a.do(t, "GET", "/no/such/page", nil)
	if res.StatusCode != 404 || !strings.Contains(body, "Page not found") || !strings.Contains(body, "<!doctype html>") {
		t.Errorf("404: %d %s", res.StatusCode, body)
	}
	res, body = a.do(t, "DELETE", "/healthz", nil)
	if res.StatusCode != 405 || !strings.Contains(body, "Not allowed") || res.Header.Get("Allow") == "" {
		t.Errorf("405: %d %v %s", res.StatusCode, res.Header, body)
	}

	t.Run("a panic is a logged 500 page and the server lives on", func(t *testing.T) {
		h := a.srv.chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
		ts := httptest.NewServer(h)
		defer ts.Close()
		res, err := http.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 500 || !strings.Contains(string(body), "Something went wrong") || strings.Contains(string(body), "boom") {
			t.Errorf("panic response: %d %s", res.StatusCode, body)
		}
		if !strings.Contains(a.logs.String(), "panic=boom") {
			t.Errorf("panic not logged")
		}
		if res, _ := a.do(t, "GET", "/healthz", nil); res.StatusCode != 200 {
			t.Errorf("server did not live on: %d", res.StatusCode)
		}
	})
}

func TestMetricsAndAccessLog(t *testing.T) {
	a := mustApp(t)
	a.do(t, "GET", "/", nil)
	a.do(t, "GET", "/nowhere", nil)
	res, body := a.do(t, "GET", "/metrics", nil)
	if res.StatusCode != 200 {
		t.Fatalf("metrics: %d", res.StatusCode)
	}
	for _, want := range []string{
		`moviedice_http_requests_total{code="200",method="GET",route="GET /{$}"} 1`,
		`moviedice_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`moviedice_http_request_duration_seconds_count{route="GET /{$}"} 1`,
		`moviedice_db_pool_connections `,
		`moviedice_db_pool_acquires_total `,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if logs := a.logs.String(); !strings.Contains(logs, `route="GET /{$}" status=200`) || !strings.Contains(logs, "request_id=") {
		t.Errorf("access log lacks the request: %s", logs)
	}
}

func TestServeDrainsInFlightRequests(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.Write([]byte("finished"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, h, slog.New(slog.NewTextHandler(io.Discard, nil)), 10*time.Second) }()

	got := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + l.Addr().String())
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	// Shutdown closes the listener at once: a new connection is refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still open after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if body := <-got; body != "finished" {
		t.Errorf("in-flight request got %q", body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestGCPercentFollowsTheHeap(t *testing.T) {
	for _, c := range []struct {
		scan uint64
		want int
	}{
		{0, 400},        // nothing measured yet
		{8 << 20, 400},  // serving pages: collect seldom
		{32 << 20, 200}, // growing: 64 MiB of headroom
		{128 << 20, 50}, // thousands of idle live connections: 1.5×
		{1 << 30, 50},   // never below 1.5×
		{100 << 20, 60}, // in steps of ten
	} {
		if got := gcPercent(c.scan); got != c.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", c.scan>>20, got, c.want)
		}
	}
}

// A request still running when the drain time is up is cut off, and Serve
// ends without an error: the stop was asked for.
func TestServeCutsOffWhatOutlastsTheDrain(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, never := make(chan struct{}), make(chan struct{})
	defer close(never)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-never:
		case <-r.Context().Done(): // the connection closed under it
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, l, h, slog.New(slog.NewTextHandler(io.Discard, nil)), 200*time.Millisecond)
	}()
	got := make(chan error, 1)
	go func() {
		res, err := http.Get("http://" + l.Addr().String())
		if err == nil {
			res.Body.Close()
		}
		got <- err
	}()
	<-started
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := <-got; err == nil {
		t.Error("the request outlasting the drain was answered")
	}
}

// A session that cannot be read (the database failing) gets a styled 503
// that says to try again: the request is not served as a visitor's, the
// cookie is not cleared, and nothing changes. Once the database answers,
// the same cookie is the same person.
func TestSessionUnreadableIsAStyled503(t *testing.T) {
	a := mustApp(t)
	alice := a.browser(t)
	list := alice.mustStartList("Friday films")
	b := a.secondInstance(t) // an empty session cache, as after a restart
	alice.app = b
	a.db.MustExec(t, "ALTER FUNCTION session_for_device(uuid) RENAME TO session_for_device_gone")
	before := a.snapshot(t)
	for _, send := range []func() (*http.Response, string){
		func() (*http.Response, string) { return alice.get(list) },
		func() (*http.Response, string) { return alice.post("/lists", "name", "Saturday films") },
	} {
		res, body := send()
		mustSee(t, res, body, http.StatusServiceUnavailable, "Back in a moment", "cannot reach its database")
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q, want a page", res.Request.URL.Path, ct)
		}
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", res.Request.URL.Path)
		}
		if c := res.Header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("%s: sets %q, want the cookie left alone", res.Request.URL.Path, c)
		}
	}
	if after := a.snapshot(t); after != before {
		t.Errorf("the database changed: %s, was %s", after, before)
	}
	a.db.MustExec(t, "ALTER FUNCTION session_for_device_gone(uuid) RENAME TO session_for_device")
	res, body := alice.get(list)
	mustSee(t, res, body, 200, "Friday films", `id="list-rename"`) // the owner's form
}
