package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/moviedice/moviedice/web"
	"github.com/moviedice/moviedice/web/identity"
	"github.com/moviedice/moviedice/web/pgdev/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// chromiumPath is where Debian's chromium package puts the browser;
// `make chromium` installs it.
const chromiumPath = "/usr/bin/chromium"

const (
	// pageTimeout bounds one step in a tab: a navigation, or a form post
	// and the page its redirect leads to.
	pageTimeout = 10 * time.Second
	// liveWithin is how soon a change must show on another member's page.
	liveWithin = 2 * time.Second
)

// app is the whole server on a database of the test's own, behind a real
// listener on 127.0.0.1, as a browser reaches it.
type app struct {
	url string
	db  *pgtest.DB
}

func startApp(t *testing.T) *app {
	t.Helper()
	db := pgtest.New(t)
	pool := db.Pool(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := &url.URL{Scheme: "http", Host: l.Addr().String()}
	reg := web.NewRegistry()
	id, err := identity.New(identity.Config{
		Pool: pool, Log: log, Registerer: reg,
		CookieKeys: [][]byte{randomKey()}, Pepper: randomKey(),
		MintsPerMinute: 1_000_000, ClaimsPerMinute: 1_000_000, ClaimsPerSecond: 1_000_000,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{BaseURL: base, Pool: pool, Log: log, Registry: reg, Identity: id, LiveDatabaseURL: db.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { srv.Hub().Run(ctx); close(hubDone) }()
	served := make(chan error, 1)
	go func() { served <- web.Serve(ctx, l, srv, log, 5*time.Second) }()
	t.Cleanup(func() {
		srv.Hub().Shutdown()
		stop()
		<-hubDone
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	select {
	case <-srv.Hub().Listening():
	case <-time.After(10 * time.Second):
		t.Fatal("live hub not listening after 10 s")
	}
	return &app{url: base.String(), db: db}
}

// randomKey is a fresh 32-byte key.
func randomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// syncBuffer collects the server's log from its many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// browser is one headless Chromium, closed and its files removed after the
// test. Start it before the app: without Chromium, the test fails at once.
type browser struct {
	ctx context.Context // a chromedp context whose browser is running
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is missing (%v): run `make chromium`, or as root `apt-get install -y chromium`", err)
	}
	// Chromium's profile and temporary files go in a folder of the test's own.
	dir, err := os.MkdirTemp("", "moviedice-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Env("TMPDIR="+dir),
		chromedp.WindowSize(1024, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		chromedp.Cancel(cctx) // closes Chromium gracefully
		cancel()
		cancelAlloc() // and kills it if it did not close
	})
	within(t, 30*time.Second, "start Chromium", func() error { return chromedp.Do(ctx) })
	return &browser{ctx: ctx}
}

// within runs f and fails t if f fails or has not returned after d; the
// test's cleanup then cancels what f waits on.
func within(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s: not done after %v", what, d)
	}
}

// tab is one person at their own browser: a tab in a browser context of
// its own, so with cookies of its own. It keeps what the page writes to
// the console, for the report of a failure.
type tab struct {
	name string
	ctx  context.Context
	js   bool // JavaScript on: forms are sent by htmx, without a reload

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// open opens name's tab, with JavaScript on or off.
func (b *browser) open(t *testing.T, name string, js bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	within(t, pageTimeout, "open "+name+"'s tab", func() error { return chromedp.Do(ctx) })
	p := &tab{name: name, ctx: ctx, js: js}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	if js {
		p.do(t, "count live messages", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: countLiveMessages})
			return err
		}))
	} else {
		p.do(t, "turn JavaScript off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	}
	return p
}

// countLiveMessages runs in every page a JavaScript tab loads, before the
// page's own scripts: it counts the live messages the page has swapped in,
// and notes when the last one came; and the status and the settling of
// each boosted form's answer. Both are read from events htmx fires on the
// swap's target, <body>: those it fires on the form itself do not reach
// the document once a live message has taken the form off the page.
const countLiveMessages = `window.e2eLiveMessages = 0;
document.addEventListener("htmx:wsAfterMessage", () => { window.e2eLiveMessages++; window.e2eLastLive = performance.now(); });
window.e2eBoosted = 0;
document.addEventListener("htmx:beforeSwap", e => { if (e.detail.boosted) window.e2eStatus = e.detail.xhr.status; });
document.addEventListener("htmx:afterSettle", e => { if (e.detail.boosted) window.e2eBoosted++; });`

// waitLive waits until the tab's list page is connected, has swapped in
// its first live messages (the whole list, which replaces the films and
// their buttons, then who is here) and has had none for a moment: a click
// on a button being replaced can miss.
func (p *tab) waitLive(t *testing.T) {
	t.Helper()
	p.waitFor(t, "the page going live", pageTimeout, `document.getElementById("live-status")?.textContent.trim() === "live" &&
		document.querySelector("#presence li") !== null && performance.now() - window.e2eLastLive > 200`)
}

// do runs steps in the tab within pageTimeout.
func (p *tab) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	get(t, p, what, chromedp.Steps(steps...))
}

// get runs a in the tab within pageTimeout and returns its value.
func get[T any](t *testing.T, p *tab, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pageTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.fail(t, "%s: %v", what, err)
	}
	return v
}

// visit opens path (or a full URL) and waits for the page to load.
func (p *tab) visit(t *testing.T, app *app, path string) {
	t.Helper()
	if strings.HasPrefix(path, "/") {
		path = app.url + path
	}
	p.navigate(t, "open "+path, chromedp.Navigate(path))
}

// press clicks the button labelled label, as a user does to send its
// form, and waits for the page the form's redirect leads to.
func (p *tab) press(t *testing.T, label string) {
	t.Helper()
	p.load(t, "press "+label, chromedp.Click(button(label)))
}

// load runs a step that sends a form and waits for the page it leads to,
// checking it is not an error page. With JavaScript on, htmx sends the
// form (hx-boost) and swaps the result in without a reload; with it off,
// the browser navigates.
func (p *tab) load(t *testing.T, what string, step chromedp.Action[chromedp.Void]) {
	t.Helper()
	if !p.js {
		p.navigate(t, what, step)
		return
	}
	if status := p.send(t, what, step); status != 200 {
		p.fail(t, "%s: page status %d", what, status)
	}
}

// send runs a step that sends a form through htmx on a JavaScript tab,
// waits until the response is swapped in, and returns its status. A form
// inside a live section is often replaced by the live update its own
// change causes before its response comes; htmx still swaps the response
// in. A full page load instead would start the counters over and never
// get here.
func (p *tab) send(t *testing.T, what string, step chromedp.Action[chromedp.Void]) int {
	t.Helper()
	p.do(t, "reset the swap counter", chromedp.Evaluate[chromedp.Void](`window.e2eBoosted = 0; window.e2eStatus = 0`))
	p.do(t, what, step)
	p.waitFor(t, what+": the page swapped in", pageTimeout, `window.e2eBoosted > 0 && window.e2eStatus !== 0`)
	return get(t, p, "read the status", chromedp.Evaluate[int]("window.e2eStatus"))
}

// navigate runs a step that makes the browser load a new page, waits for
// it, and checks it is not an error page.
func (p *tab) navigate(t *testing.T, what string, step chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pageTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, step)
	if err != nil {
		p.fail(t, "%s: %v", what, err)
	}
	if res == nil || res.Status != 200 {
		status := int64(0)
		if res != nil {
			status = res.Status
		}
		p.fail(t, "%s: page status %d", what, status)
	}
}

// typeInto types text into the field, key by key.
func (p *tab) typeInto(t *testing.T, field, text string) {
	t.Helper()
	p.do(t, "type into "+field, chromedp.SendKeys(chromedp.CSS(field), text))
}

// path is the path of the tab's page.
func (p *tab) path(t *testing.T) string {
	t.Helper()
	loc := get(t, p, "read the location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		p.fail(t, "location %q: %v", loc, err)
	}
	return u.Path
}

// text is the visible text of the first element sel matches, read at
// once in one step, so a live update cannot replace the element halfway.
func (p *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return strings.TrimSpace(get(t, p, "read "+sel, chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const e = document.querySelector(%q); if (!e) throw new Error("nothing matches %s"); return e.innerText; })()`, sel, sel))))
}

// texts is the text of every element sel matches, trimmed, in page
// order; none is an empty slice, at once.
func (p *tab) texts(t *testing.T, sel string) []string {
	t.Helper()
	return get(t, p, "read all "+sel, chromedp.Evaluate[[]string](
		fmt.Sprintf(`Array.from(document.querySelectorAll(%q), e => e.textContent.trim().replace(/\s+/g, " "))`, sel)))
}

// waitFor waits up to d for the JavaScript condition to hold on the
// tab's page, without reloading it.
func (p *tab) waitFor(t *testing.T, what string, d time.Duration, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, d+time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		p.fail(t, "%s: not within %v (%v)", what, d, err)
	}
}

// fail saves a screenshot of the whole page, then fails t with msg, the
// screenshot's path and what the page wrote to its console.
func (p *tab) fail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := p.name + ": " + fmt.Sprintf(format, args...)
	if path, err := p.screenshot(t); err != nil {
		msg += "\n(no screenshot: " + err.Error() + ")"
	} else {
		msg += "\nscreenshot: " + path
	}
	if c := p.consoleText(); c != "" {
		msg += "\nconsole:\n" + c
	}
	t.Fatal(msg)
}

// screenshot saves a PNG of the whole page where it outlives the test and
// returns its path.
func (p *tab) screenshot(t *testing.T) (string, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", err
	}
	dir, err := artifactDir(t)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", p.name, time.Now().Format("150405.000")))
	return path, os.WriteFile(path, png, 0o644)
}

// artifactDir is t.ArtifactDir when go test runs with -artifacts (the
// files then stay under -outputdir), otherwise a folder named after the
// test under the system's temporary folder, which is not removed.
func artifactDir(t *testing.T) (string, error) {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir(), nil
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir := filepath.Join(os.TempDir(), "moviedice-e2e", name)
	return dir, os.MkdirAll(dir, 0o755)
}

// consoleText is what the page wrote to the console, one message a line.
func (p *tab) consoleText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, m := range p.console {
		fmt.Fprintf(&b, "  [%s] %s (%s:%d)\n", m.Type, m.Text, m.URL, m.Line)
	}
	return b.String()
}

// consoleErrors are the errors and exceptions the page reported, such as
// a script the Content-Security-Policy refused.
func (p *tab) consoleErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []string
	for _, m := range p.console {
		// Chromium logs every 4xx response, and the duplicate-film step's
		// 409 from the film form is one the test asks for.
		if strings.Contains(m.Text, "status of 409") && strings.HasSuffix(m.URL, "/movies") {
			continue
		}
		if m.Type == "error" || m.IsException() {
			errs = append(errs, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line))
		}
	}
	return errs
}

// button selects the button whose text is label.
func button(label string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//button[normalize-space()=%q]`, label))
}
