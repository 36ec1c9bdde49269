package web

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/moviedice/moviedice/web/live"
)

// wsClient is one browser tab's live connection.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// dialLive opens b's live connection to list (a path like /l/{id}).
func (b *browser) dialLive(list string) (*wsClient, *http.Response, error) {
	u, _ := url.Parse(b.app.URL)
	h := http.Header{"Origin": {b.app.URL}}
	for _, c := range b.client.Jar.Cookies(u) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.app.URL, "http")+list+"/live", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, res, err
	}
	conn.SetReadLimit(4 << 20)
	c := &wsClient{t: b.t.(*testing.T), conn: conn}
	c.t.Cleanup(func() { conn.CloseNow() })
	return c, res, nil
}

func (b *browser) mustDialLive(list string) *wsClient {
	b.t.Helper()
	c, res, err := b.dialLive(list)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		b.t.Fatalf("dial %s: %v (status %d)", list, err, status)
	}
	return c
}

// liveWait bounds how long a test waits for a live message: updates take
// milliseconds, but the whole suite at once (race detector, Chromium) on
// two shared cores has stalled one for over two seconds.
const liveWait = 5 * time.Second

// next returns the next message, failing after liveWait.
func (c *wsClient) next() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), liveWait)
	defer cancel()
	_, msg, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("no live message within %v: %v", liveWait, err)
	}
	return string(msg)
}

// waitFor reads messages until one contains want, failing after liveWait.
func (c *wsClient) waitFor(want string) string {
	c.t.Helper()
	deadline := time.Now().Add(liveWait)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		var msg []byte
		_, msg, err = c.conn.Read(ctx)
		cancel()
		if err != nil {
			break
		}
		if strings.Contains(string(msg), want) {
			return string(msg)
		}
	}
	c.t.Fatalf("no live message with %q within %v: %v", want, liveWait, err)
	return ""
}

// closedWith waits (up to 1 s, the contract) for the server to close the
// connection, and returns the close code. No message before the close may
// contain any of leaks.
func (c *wsClient) closedWith(leaks ...string) websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for {
		_, msg, err := c.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				c.t.Fatalf("connection still open after 1 s")
			}
			return websocket.CloseStatus(err)
		}
		for _, leak := range leaks {
			if strings.Contains(string(msg), leak) {
				c.t.Errorf("sent %q before its close:\n%s", leak, msg)
			}
		}
	}
}

func TestLiveList(t *testing.T) {
	a := mustAppWith(t, unlimited)
	w := a.mustSweepWorld(t)
	list := "/l/" + w.list

	t.Run("a member gets the full list, then each change", func(t *testing.T) {
		c := w.m.mustDialLive(list)
		first := c.next()
		for _, want := range []string{`id="roll"`, `id="movies"`, "Film on " + w.list, `id="members"`} {
			if !strings.Contains(first, want) {
				t.Errorf("first message lacks %q", want)
			}
		}
		res, _ := w.o.post(list+"/movies", "title", "Arrival", "year", "2016")
		mustRedirect(t, res, list)
		c.waitFor("Arrival")
		res, _ = w.o.post(list + "/roll")
		mustRedirect(t, res, list)
		got := c.waitFor("Tonight")
		if !strings.Contains(got, "just-rolled") {
			t.Errorf("a fresh roll does not animate for those watching")
		}
	})
	t.Run("a changed film comes alone, naming the film it goes before", func(t *testing.T) {
		c := w.m.mustDialLive(list)
		c.next()
		filmID := func(title string) string {
			t.Helper()
			var id string
			if err := a.db.Super(t).QueryRow(context.Background(), "SELECT id::text FROM movies WHERE list_id = $1 AND title = $2", w.list, title).Scan(&id); err != nil {
				t.Fatalf("%s: %v", title, err)
			}
			return "film-" + id
		}
		filmOn := "film-" + w.film
		// Each update: the film (or its removal), the unwatched count, and
		// nothing of the other films.
		update := func(want ...string) {
			t.Helper()
			got := c.waitFor(want[0])
			for _, s := range append(want, `id="film-updates"`, `id="unwatched"`) {
				if !strings.Contains(got, s) {
					t.Errorf("update lacks %q:\n%s", s, got)
				}
			}
			if n := strings.Count(got, "<li"); n > 1 || strings.Contains(got, `id="movies"`) {
				t.Errorf("update carries %d films or the whole list:\n%s", n, got)
			}
		}
		post := func(path string, form ...string) {
			t.Helper()
			res, _ := w.o.post(path, form...)
			mustRedirect(t, res, list)
		}
		// Page order: unwatched films first, each group oldest first.
		post(list+"/movies/"+w.film+"/watched", "watched", "true")
		update(`class="movie watched" id="` + filmOn + `">`) // last: names no film after it
		post(list+"/movies", "title", "Heat", "year", "1995")
		update(`id="`+filmID("Heat")+`" data-next="`+filmOn+`"`, "Heat")
		post(list+"/movies/"+w.film+"/watched", "watched", "false")
		update(`class="movie" id="` + filmOn + `" data-next="` + filmID("Arrival") + `"`)
		heat := filmID("Heat")
		post(list + "/movies/" + strings.TrimPrefix(heat, "film-") + "/delete")
		update(`<i data-gone="` + heat + `">`)
	})
	t.Run("per-viewer controls come hidden, for the page's script to reveal", func(t *testing.T) {
		c := w.m.mustDialLive(list)
		first := c.next()
		if !strings.Contains(first, `hidden data-added-by="`) || !strings.Contains(first, "data-owner-only") {
			t.Errorf("controls not marked for the script: %s", first)
		}
	})
	t.Run("visitors, outsiders and foreign origins are refused before the upgrade", func(t *testing.T) {
		for name, b := range map[string]*browser{"visitor": w.v, "non-member": w.x} {
			if _, res, err := b.dialLive(list); err == nil || res == nil || res.StatusCode != 404 {
				t.Errorf("%s: err %v, response %v", name, err, res)
			}
		}
		u, _ := url.Parse(a.URL)
		for _, origin := range []string{"https://evil.example", "null", "https" + strings.TrimPrefix(a.URL, "http"), "http://sub." + u.Host} {
			h := http.Header{"Origin": {origin}}
			for _, c := range w.m.client.Jar.Cookies(u) {
				h.Add("Cookie", c.Name+"="+c.Value)
			}
			_, res, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(a.URL, "http")+list+"/live", &websocket.DialOptions{HTTPHeader: h})
			if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
				t.Errorf("origin %s: err %v, response %v", origin, err, res)
			}
			// The refusal is the app's page, not the websocket library's
			// plain-text one, which would refuse some of these too.
			req, _ := http.NewRequest("GET", a.URL+list+"/live", nil)
			req.Header = upgradeHeader()
			req.Header.Set("Origin", origin)
			res, body := w.m.do(req)
			mustSee(t, res, body, http.StatusForbidden, "can only be opened from the list&#39;s own page")
		}
	})
	t.Run("a member opening the live address as a page gets a page saying what it is", func(t *testing.T) {
		res, body := w.m.get(list + "/live")
		mustSee(t, res, body, http.StatusUpgradeRequired, "<h1>Not a page</h1>", "the list page opens by itself")
		if res.Header.Get("Upgrade") != "websocket" {
			t.Errorf("Upgrade %q", res.Header.Get("Upgrade"))
		}
	})
	t.Run("a removed member's connection closes", func(t *testing.T) {
		res, _ := w.x.post("/join/" + w.token)
		mustRedirect(t, res, list)
		c := w.x.mustDialLive(list)
		c.next()
		var xID string
		a.db.Super(t).QueryRow(context.Background(), "SELECT owner_id::text FROM lists WHERE name = 'X''s own'").Scan(&xID)
		res, _ = w.o.post(list + "/members/" + xID + "/remove")
		mustRedirect(t, res, list)
		if code := c.closedWith(); code != live.StatusRemoved {
			t.Errorf("closed with %d", code)
		}
	})
	t.Run("a signed-out device's connection closes", func(t *testing.T) {
		c := w.m.mustDialLive(list)
		c.next()
		res, _ := w.m.post("/signout", "confirm", "yes")
		mustRedirect(t, res, "/")
		if code := c.closedWith(); code != live.StatusSignedOut {
			t.Errorf("closed with %d", code)
		}
	})
	t.Run("deleting the list closes its connections", func(t *testing.T) {
		c := w.o.mustDialLive(list)
		c.next()
		res, _ := w.o.post(list+"/delete", "confirm", "yes")
		mustRedirect(t, res, "/")
		if code := c.closedWith(); code != live.StatusListDeleted {
			t.Errorf("closed with %d", code)
		}
	})
}

// A removal or sign-out the hub never heard of, because its feed was down
// or the connection was still being opened when it was announced, still
// closes the connection, before it is sent anything more of the list; the
// members left keep getting every change.
func TestLiveClosesWhatTheHubMissed(t *testing.T) {
	// What a closed connection must never have been sent: the whole list
	// (a resync's), and the film added after its end.
	const added = "Added after the end"
	leaks := []string{`id="movies"`, added}
	// ends opens the list live as the member (who goes) and the owner (who
	// stays), ends the member's subscription with end, and checks what
	// each hears afterwards.
	ends := func(t *testing.T, w *sweepWorld, end func(), want live.StatusCode) {
		t.Helper()
		list := "/l/" + w.list
		gone := w.m.mustDialLive(list)
		gone.next()
		stays := w.o.mustDialLive(list)
		stays.next()
		end()
		res, _ := w.o.post(list+"/movies", "title", added)
		mustRedirect(t, res, list)
		stays.waitFor(added)
		if code := gone.closedWith(leaks...); code != want {
			t.Errorf("closed with %d, want %d", code, want)
		}
		res, _ = w.o.post(list + "/roll")
		mustRedirect(t, res, list)
		stays.waitFor("Tonight")
	}
	t.Run("a member removed while the feed was down is closed at its resync", func(t *testing.T) {
		a := mustAppWith(t, unlimited)
		w := a.mustSweepWorld(t)
		ends(t, w, func() {
			a.db.WhileListenerDown(t, live.ListenerName, "DELETE FROM list_members WHERE list_id = $1 AND user_id = $2", w.list, w.mID)
		}, live.StatusRemoved)
	})
	t.Run("a device signed out while the feed was down is closed at its resync", func(t *testing.T) {
		a := mustAppWith(t, unlimited)
		w := a.mustSweepWorld(t)
		ends(t, w, func() {
			a.db.WhileListenerDown(t, live.ListenerName, "DELETE FROM devices WHERE id = $1", w.devices[w.m])
		}, live.StatusSignedOut)
	})
	t.Run("a member removed while their connection is being opened is closed before it gets anything", func(t *testing.T) {
		a := mustAppWith(t, unlimited)
		w := a.mustSweepWorld(t)
		list := "/l/" + w.list
		stays := w.o.mustDialLive(list)
		stays.next()
		// The member's connection passes the membership check, then its
		// upgrade is held while the owner removes them and the hub hears of
		// it (the owner's tab gets the new member list).
		held, gate := make(chan struct{}), make(chan struct{})
		holding := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			a.srv.ServeHTTP(heldUpgrade{ResponseWriter: rw, held: held, gate: gate}, r)
		}))
		t.Cleanup(holding.Close)
		opening := &browser{t: t, app: &testApp{Server: holding, srv: a.srv, db: a.db}, client: w.m.client}
		dialed := make(chan *wsClient, 1)
		go func() {
			c, _, _ := opening.dialLive(list)
			dialed <- c
		}()
		<-held
		res, _ := w.o.post(list + "/members/" + w.mID + "/remove")
		mustRedirect(t, res, list)
		stays.waitFor(`id="members"`)
		close(gate)
		gone := <-dialed
		if gone == nil {
			t.Fatal("the upgrade failed")
		}
		if code := gone.closedWith(`id="movies"`, `id="members"`, `id="presence"`, "Film on "); code != live.StatusRemoved {
			t.Errorf("closed with %d, want %d", code, live.StatusRemoved)
		}
		res, _ = w.o.post(list+"/movies", "title", added)
		mustRedirect(t, res, list)
		stays.waitFor(added)
	})
}

// heldUpgrade holds a websocket upgrade, after telling held it got there,
// until gate closes.
type heldUpgrade struct {
	http.ResponseWriter
	held chan<- struct{}
	gate <-chan struct{}
}

func (h heldUpgrade) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	close(h.held)
	<-h.gate
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

func TestLiveResyncAfterListenerDrop(t *testing.T) {
	a := mustAppWith(t, unlimited)
	o := a.browser(t)
	list := o.mustStartList("Resync")
	c := o.mustDialLive(list)
	c.next()
	a.db.WhileListenerDown(t, live.ListenerName, "INSERT INTO movies (list_id, added_by, title) SELECT id, owner_id, 'Missed while away' FROM lists")
	c.waitFor("Missed while away")
}

// A quiet feed is checked (the hub pings its connection when nothing came
// for a while), not replaced: every reconnect empties the session cache.
func TestQuietFeedKeepsItsConnection(t *testing.T) {
	a := mustApp(t)
	ctx := context.Background()
	listener := func() (pid int64) {
		t.Helper()
		err := a.db.Super(t).QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", live.ListenerName).Scan(&pid)
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	before := listener()
	time.Sleep(5 * time.Second) // two quiet spells, each ended by a ping
	if after := listener(); after != before {
		t.Errorf("the listener's backend changed from %d to %d while the feed was quiet", before, after)
	}
	o := a.browser(t) // and it still hears what happens
	list := o.mustStartList("Still listening")
	c := o.mustDialLive(list)
	c.next()
	res, _ := o.post(list+"/movies", "title", "Heard after the quiet")
	mustRedirect(t, res, list)
	c.waitFor("Heard after the quiet")
}

func TestLiveAcrossInstances(t *testing.T) {
	one := mustAppWith(t, unlimited)
	two := one.secondInstance(t)
	owner := one.browser(t)
	list := owner.mustStartList("Shared")
	watcher := &browser{t: t, app: two, client: owner.client} // same browser, other instance
	c := watcher.mustDialLive(list)
	c.next()
	res, _ := owner.post(list+"/movies", "title", "Made on instance one")
	mustRedirect(t, res, list)
	c.waitFor("Made on instance one")
}

func TestLiveLimits(t *testing.T) {
	a := mustAppWith(t, unlimited)
	b := a.browser(t)
	list := b.mustStartList("Tabs")
	var opened []*wsClient
	for range 8 {
		opened = append(opened, b.mustDialLive(list))
	}
	// The hub counts a connection just after its 101 response has left.
	deadline := time.Now().Add(2 * time.Second)
	for a.srv.Hub().Conns() < 8 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, res, err := b.dialLive(list); err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("ninth connection of one device: err %v, response %v", err, res)
	}
	opened[0].conn.Close(websocket.StatusNormalClosure, "")
	deadline = time.Now().Add(2 * time.Second)
	for a.srv.Hub().Conns() > 7 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, err := b.dialLive(list); err != nil {
		t.Errorf("after one closed, another cannot open: %v", err)
	}

	// Twelve at once from a new device: eight open and stay open, four
	// get the 429. (live's TestLimitsCountConnectionsBeingOpened holds the
	// upgrades, so that they surely overlap.)
	c := a.browser(t)
	list = c.mustStartList("Twelve tabs")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var statuses []int
	var open []*wsClient
	for range 12 {
		wg.Go(func() {
			ws, res, err := c.dialLive(list)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				open = append(open, ws)
			case res != nil:
				statuses = append(statuses, res.StatusCode)
			default:
				statuses = append(statuses, 0)
			}
		})
	}
	wg.Wait()
	if len(open) != 8 || len(statuses) != 4 || slices.ContainsFunc(statuses, func(s int) bool { return s != http.StatusTooManyRequests }) {
		t.Fatalf("twelve at once: %d opened, the others answered %v; want 8, and four 429s", len(open), statuses)
	}
	for _, ws := range open {
		ws.next() // the list's state, not a close
	}

	// Upgrades that fail after the hub counted them (no key: the
	// websocket library answers 400) give their places back.
	d := a.browser(t)
	list = d.mustStartList("Broken upgrades")
	before := a.srv.Hub().Conns()
	for range 10 {
		req, _ := http.NewRequest("GET", a.URL+list+"/live", nil)
		req.Header = upgradeHeader()
		req.Header.Del("Sec-WebSocket-Key")
		if res, _ := d.do(req); res.StatusCode != http.StatusBadRequest {
			t.Fatalf("upgrade without a key: %d, want 400", res.StatusCode)
		}
	}
	if n := a.srv.Hub().Conns(); n != before {
		t.Errorf("%d live connections after failed upgrades, want %d", n, before)
	}
	for range 8 {
		d.mustDialLive(list).next()
	}
}

// upgradeHeader is a browser's request to open a websocket from the app's
// own pages (cookies come from the browser's jar).
func upgradeHeader() http.Header {
	return http.Header{
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-Websocket-Version": {"13"},
	}
}

func TestLivePresence(t *testing.T) {
	one := mustAppWith(t, unlimited)
	two := one.secondInstance(t)
	w := one.mustSweepWorld(t)
	list := "/l/" + w.list
	names := map[*browser]string{}
	for _, b := range []*browser{w.o, w.m} {
		_, body := b.get("/account")
		names[b] = between(body, `name="display_name" type="text" maxlength="40" required value="`, `"`)
		if names[b] == "" {
			t.Fatal("no display name on the account page")
		}
	}
	ownerTab := w.o.mustDialLive(list)
	memberTab := (&browser{t: t, app: two, client: w.m.client}).mustDialLive(list) // the member is on the other instance
	for _, c := range []*wsClient{ownerTab, memberTab} {
		c.presence(func(here string) bool {
			return strings.Contains(here, names[w.o]) && strings.Contains(here, names[w.m])
		}, "both viewers, across instances")
	}
	t.Run("a second tab of the same user is not a second viewer", func(t *testing.T) {
		tab := (&browser{t: t, app: one, client: w.o.client}).mustDialLive(list)
		tab.presence(func(here string) bool {
			return strings.Count(here, names[w.o]) == 1 && strings.Contains(here, names[w.m])
		}, "the owner once, and the member")
	})
	t.Run("a viewer's new name shows on every instance", func(t *testing.T) {
		res, _ := w.m.post("/account/name", "display_name", "Renamed Heron")
		mustRedirect(t, res, "/account?done=renamed")
		for _, c := range []*wsClient{ownerTab, memberTab} {
			c.t = t
			c.presence(func(here string) bool {
				return strings.Contains(here, "Renamed Heron") && !strings.Contains(here, names[w.m])
			}, "the member's new name")
		}
		names[w.m] = "Renamed Heron"
	})
	t.Run("a viewer who leaves drops off", func(t *testing.T) {
		memberTab.conn.Close(websocket.StatusNormalClosure, "")
		ownerTab.t = t
		ownerTab.presence(func(here string) bool {
			return strings.Contains(here, names[w.o]) && !strings.Contains(here, names[w.m])
		}, "the owner without the member")
	})
}

// presence reads messages until a "who is here" list satisfies ok, failing
// after liveWait.
func (c *wsClient) presence(ok func(here string) bool, what string) {
	c.t.Helper()
	deadline := time.Now().Add(liveWait)
	last := ""
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, msg, err := c.conn.Read(ctx)
		cancel()
		if err != nil {
			break
		}
		if strings.HasPrefix(string(msg), `<ul id="presence"`) {
			if last = string(msg); ok(last) {
				return
			}
		}
	}
	c.t.Fatalf("who is here never showed %s; last: %s", what, last)
}

// A rename reaches every member's page at once: the list's heading comes
// in the live update, escaped like anything else a member typed.
func TestLiveRename(t *testing.T) {
	a := mustAppWith(t, unlimited)
	w := a.mustSweepWorld(t)
	list := "/l/" + w.list
	res, body := w.m.get(list)
	mustSee(t, res, body, 200, `<h1 id="list-heading">L</h1>`)
	c := w.m.mustDialLive(list)
	c.next()
	res, _ = w.o.post(list+"/rename", "name", `Tom & Jerry <b>night</b>`)
	mustRedirect(t, res, list)
	got := c.waitFor(`id="list-heading"`)
	if !strings.Contains(got, `<h1 id="list-heading">Tom &amp; Jerry &lt;b&gt;night&lt;/b&gt;</h1>`) {
		t.Errorf("the new name, escaped, is not in the update:\n%s", got)
	}
}

// A browser whose device a claim replaces, or a merge moves to another
// account, is signed in as that account, not signed out: its open tabs
// are told so (4002), not "signed out" (4001).
func TestLiveTabOfABrowserThatClaimsAnAccount(t *testing.T) {
	if live.StatusSwitched == live.StatusSignedOut || live.StatusSwitched == live.StatusRemoved || live.StatusSwitched == live.StatusListDeleted {
		t.Fatalf("close code %d is taken", live.StatusSwitched)
	}
	// claimWith has g paste code and confirm the preview, with a tab of
	// g's open on "Guest one" (which the account is on too: the guest's
	// membership collapses into the account's) and one on "Guest two"
	// (which only moves); both must be closed with 4002.
	claimWith := func(t *testing.T, a *testApp, g *browser, code, confirm string) {
		t.Helper()
		var tabs []*wsClient
		for _, name := range []string{"Guest one", "Guest two"} {
			var list string
			a.db.Super(t).QueryRow(context.Background(), "SELECT id::text FROM lists WHERE name = $1", name).Scan(&list)
			tab := g.mustDialLive("/l/" + list)
			tab.next()
			tabs = append(tabs, tab)
		}
		res, body := g.post("/claim", "code", code)
		mustSee(t, res, body, 200, confirm)
		res, _ = g.post("/claim/confirm", "token", between(body, `name="token" value="`, `"`))
		mustRedirect(t, res, "/account")
		for i, tab := range tabs {
			if got := tab.closedWith(); got != live.StatusSwitched {
				t.Errorf("tab %d closed with %d, want %d", i, got, live.StatusSwitched)
			}
		}
	}
	t.Run("a guest's tabs when the guest merges into an account", func(t *testing.T) {
		a := mustAppWith(t, unlimited)
		_, g, code := guestWithData(t, a)
		claimWith(t, a, g, code, "Merge and sign in")
	})
	t.Run("an account's tabs when the browser switches accounts", func(t *testing.T) {
		a := mustAppWith(t, unlimited)
		_, g, code := guestWithData(t, a)
		g.mustGetCode()
		claimWith(t, a, g, code, "Switch accounts")
	})
	t.Run("a tab of a device a merge moves to the account", func(t *testing.T) {
		a := mustAppWith(t, unlimited)
		w := a.mustSweepWorld(t)
		tab := w.m.mustDialLive("/l/" + w.list)
		tab.next()
		a.db.MustExec(t, "UPDATE devices SET user_id = $1 WHERE id = $2", w.zID, w.devices[w.m])
		if got := tab.closedWith(); got != live.StatusSwitched {
			t.Errorf("closed with %d, want %d", got, live.StatusSwitched)
		}
	})
}

// Removing the film that was rolled changes the roll (its film is gone)
// and the film list in one update, which is read in two statements.
func TestLiveRemovingTheRolledFilm(t *testing.T) {
	a := mustAppWith(t, unlimited)
	w := a.mustSweepWorld(t)
	list := "/l/" + w.list
	c := w.m.mustDialLive(list)
	c.next()
	res, _ := w.o.post(list + "/roll")
	mustRedirect(t, res, list)
	c.waitFor("Tonight")
	var rolled string
	if err := a.db.Super(t).QueryRow(context.Background(), "SELECT movie_id::text FROM rolls WHERE list_id = $1", w.list).Scan(&rolled); err != nil {
		t.Fatal(err)
	}
	res, _ = w.o.post(list + "/movies/" + rolled + "/delete")
	mustRedirect(t, res, list)
	// Both changes' notifications usually come in one batch, and so in
	// one update; if the feed delivers them apart, the roll follows.
	if got := c.waitFor(`data-gone="film-` + rolled + `"`); !strings.Contains(got, `id="roll"`) {
		c.waitFor(`id="roll"`)
	}
	// The list's updates keep flowing.
	res, _ = w.o.post(list+"/movies", "title", "Arrival", "year", "2016")
	mustRedirect(t, res, list)
	c.waitFor("Arrival")
}
