package web

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/web/identity"
)

// browser is one cookie jar talking to the app, like one browser profile.
// It does not follow redirects, so tests see each 303.
type browser struct {
	t      testing.TB
	app    *testApp
	client *http.Client
}

func (a *testApp) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, app: a, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.app.URL+path, nil)
	return b.do(req)
}

// post sends a form; values alternate name, value.
func (b *browser) post(path string, values ...string) (*http.Response, string) {
	b.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(values); i += 2 {
		form.Add(values[i], values[i+1])
	}
	return b.postRaw(path, form.Encode())
}

func (b *browser) postRaw(path, body string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.app.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// mustSee expects status and every one of wants in body.
func mustSee(t testing.TB, res *http.Response, body string, status int, wants ...string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, status, body)
	}
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s %s: page lacks %q", res.Request.Method, res.Request.URL.Path, w)
		}
	}
}

// mustRedirect expects a 303 to a location starting with prefix.
func mustRedirect(t testing.TB, res *http.Response, prefix string) string {
	t.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("%s %s: %d to %q, want 303 to %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, loc, prefix)
	}
	return loc
}

// mustStartList creates a list as b and returns its path.
func (b *browser) mustStartList(name string) string {
	b.t.Helper()
	res, _ := b.post("/lists", "name", name)
	return mustRedirect(b.t, res, "/l/")
}

// mustGetCode asks for a recovery code and returns it as shown.
func (b *browser) mustGetCode() string {
	b.t.Helper()
	res, body := b.post("/account/recovery-code")
	mustSee(b.t, res, body, 200, "only time it is shown")
	code := regexp.MustCompile(`id="recovery-code">([0-9A-Z-]{29})<`).FindStringSubmatch(body)
	if code == nil {
		b.t.Fatalf("no code on the page: %s", body)
	}
	return code[1]
}

// snapshot is every table's row count, to show that a request changed nothing.
func (a *testApp) snapshot(t *testing.T) string {
	t.Helper()
	var s string
	err := a.db.Super(t).QueryRow(context.Background(), `SELECT concat_ws(',',
		(SELECT count(*) FROM users), (SELECT count(*) FROM devices), (SELECT count(*) FROM recovery_codes),
		(SELECT count(*) FROM lists), (SELECT count(*) FROM list_members), (SELECT count(*) FROM movies),
		(SELECT count(*) FROM rolls), (SELECT count(*) FROM merges),
		(SELECT string_agg(display_name, '|' ORDER BY id) FROM users),
		(SELECT string_agg(owner_id::text || name, '|' ORDER BY id) FROM lists))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// concrete turns a route pattern into a path a visitor could request.
func (a *testApp) concrete(t *testing.T, pattern string) string {
	t.Helper()
	_, path, _ := strings.Cut(pattern, " ")
	path = strings.TrimSuffix(path, "{$}")
	path = strings.ReplaceAll(path, "{id}", uuid.NewString())
	path = strings.ReplaceAll(path, "{movieID}", uuid.NewString())
	path = strings.ReplaceAll(path, "{userID}", uuid.NewString())
	path = strings.ReplaceAll(path, "{token}", newInviteToken())
	path = strings.ReplaceAll(path, "{path...}", strings.TrimPrefix(a.srv.assets.url("css/app.css"), "/static/"))
	if strings.Contains(path, "{") {
		t.Fatalf("route %q has a wildcard this sweep does not know: teach it", pattern)
	}
	return path
}

func TestVisitorsCreateNothing(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	for _, pattern := range a.srv.patterns {
		if !strings.HasPrefix(pattern, "GET ") {
			continue
		}
		path := a.concrete(t, pattern)
		res, _ := b.get(path)
		if res.StatusCode >= 500 {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
		if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("GET %s set a cookie: %v", path, c)
		}
	}
	if n := a.db.MustCount(t, "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM devices)"); n != 0 {
		t.Errorf("crawling as a visitor created %d users and devices", n)
	}
}

func TestTwoBrowsersOneAccount(t *testing.T) {
	a := mustApp(t)
	b1, b2 := a.browser(t), a.browser(t)

	res, _ := b1.post("/lists", "name", "Friday films")
	list := mustRedirect(t, res, "/l/")
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "md_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.MaxAge != 400*24*3600 || session.Path != "/" {
		t.Fatalf("first contribution's cookie: %+v", session)
	}
	if n := a.db.MustCount(t, "SELECT count(*) FROM users"); n != 1 {
		t.Fatalf("%d users after the first contribution", n)
	}
	res, body := b1.get(list)
	mustSee(t, res, body, 200, "Friday films")
	res, body = b1.get("/account")
	mustSee(t, res, body, 200, "Get a recovery code", "this device")

	code := b1.mustGetCode()
	if n := a.db.MustCount(t, `SELECT count(*) FROM recovery_codes
		WHERE verifier LIKE '$argon2id$v=19$m=19456,t=2,p=1$%' AND octet_length(selector) = 32
		AND position(convert_to($1, 'UTF8') IN selector) = 0`, strings.ReplaceAll(code, "-", "")[:12]); n != 1 {
		t.Errorf("stored code is not a peppered selector plus an argon2id verifier")
	}
	res, body = b1.get("/account")
	mustSee(t, res, body, 200, "Secured since")
	if strings.Contains(body, code) {
		t.Errorf("the account page shows the code again")
	}

	res, body = b2.get(list)
	mustSee(t, res, body, 404)
	res, _ = b2.post("/claim", "code", strings.ToLower(strings.ReplaceAll(code, "-", " ")))
	welcome := mustRedirect(t, res, "/account")
	res, body = b2.get(list)
	mustSee(t, res, body, 200, "Friday films")
	res, body = b2.get(welcome)
	mustSee(t, res, body, 200, "Welcome back")
	if got := len(regexp.MustCompile(`action="/devices/[0-9a-f-]{36}/signout"`).FindAllString(body, -1)); got != 2 {
		t.Errorf("account page lists %d devices, want 2", got)
	}
	if n := a.db.MustCount(t, "SELECT count(*) FROM devices"); n != 2 {
		t.Errorf("%d devices", n)
	}

	var first string
	a.db.Super(t).QueryRow(context.Background(), "SELECT id::text FROM devices ORDER BY created_at LIMIT 1").Scan(&first)
	res, _ = b2.post("/devices/" + first + "/signout")
	mustRedirect(t, res, "/account")
	res, body = b1.get("/account")
	mustSee(t, res, body, 200, "No account on this browser yet")
	res, _ = b1.get(list)
	if res.StatusCode != 404 {
		t.Errorf("signed-out browser still sees the list: %d", res.StatusCode)
	}
	if n := a.db.MustCount(t, "SELECT count(*) FROM devices"); n != 1 {
		t.Errorf("%d devices after signing one out", n)
	}
}

// guestWithData is a guest (browser g) with 2 lists, a film and a roll, who
// is also a member of the account's list; the account (browser acct)
// has a code and is a member of one of the guest's lists.
func guestWithData(t *testing.T, a *testApp) (acct, g *browser, code string) {
	acct, g = a.browser(t), a.browser(t)
	acct.mustStartList("Account list")
	code = acct.mustGetCode()
	g.mustStartList("Guest one")
	g.mustStartList("Guest two")
	a.db.MustExec(t, `WITH g AS (SELECT owner_id, id FROM lists WHERE name = 'Guest one'),
		m AS (INSERT INTO movies (list_id, added_by, title, year) SELECT id, owner_id, 'Alien', 1979 FROM g RETURNING id, list_id, added_by, title, year)
		INSERT INTO rolls (list_id, movie_id, rolled_by, title, year) SELECT list_id, id, added_by, title, year FROM m`)
	a.db.MustExec(t, `INSERT INTO list_members (list_id, user_id)
		SELECT l.id, g.owner_id FROM lists l, (SELECT owner_id FROM lists WHERE name = 'Guest one') g WHERE l.name = 'Account list'`)
	a.db.MustExec(t, `INSERT INTO list_members (list_id, user_id)
		SELECT l.id, acct.owner_id FROM lists l, (SELECT owner_id FROM lists WHERE name = 'Account list') acct WHERE l.name = 'Guest one'`)
	return acct, g, code
}

func TestGuestClaimsAnAccount(t *testing.T) {
	a := mustApp(t)
	_, g, code := guestWithData(t, a)
	before := a.snapshot(t)

	res, body := g.post("/claim", "code", code)
	mustSee(t, res, body, 200, "2 lists", "1 joined list", "1 film", "Merge and sign in", "Cancel")
	if a.snapshot(t) != before {
		t.Fatalf("something moved before the user confirmed")
	}
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(body)
	if token == nil {
		t.Fatal("preview has no confirmation token")
	}

	t.Run("cancel leaves everything as it was", func(t *testing.T) {
		res, body := g.get("/")
		mustSee(t, res, body, 200, "Guest one", "Guest two")
		if a.snapshot(t) != before {
			t.Errorf("cancel changed something")
		}
	})
	t.Run("a forged or foreign token changes nothing", func(t *testing.T) {
		other := a.browser(t)
		other.mustStartList("Other guest")
		mid := a.snapshot(t)
		for _, tc := range []struct {
			b   *browser
			tok string
		}{{other, token[1]}, {g, token[1][:len(token[1])-4] + "AAAA"}, {g, ""}} {
			res, body := tc.b.post("/claim/confirm", "token", tc.tok)
			mustSee(t, res, body, 400, "expired or belongs to another browser")
		}
		if a.snapshot(t) != mid {
			t.Errorf("a bad confirmation changed something")
		}
		a.db.MustExec(t, "DELETE FROM lists WHERE name = 'Other guest'")
		a.db.MustExec(t, "DELETE FROM users WHERE id NOT IN (SELECT owner_id FROM lists)")
	})
	t.Run("confirming moves everything into the account, the guest is gone", func(t *testing.T) {
		res, _ := g.post("/claim/confirm", "token", token[1])
		mustRedirect(t, res, "/account?done=merged")
		res, body := g.get("/")
		mustSee(t, res, body, 200, "Account list", "Guest one", "Guest two")
		ctx := context.Background()
		var acctID string
		a.db.Super(t).QueryRow(ctx, "SELECT owner_id::text FROM lists WHERE name = 'Account list'").Scan(&acctID)
		checks := map[string]string{
			"users":                     "SELECT count(*) FROM users WHERE id::text <> $1",
			"lists not the account's":   "SELECT count(*) FROM lists WHERE owner_id::text <> $1",
			"films not the account's":   "SELECT count(*) FROM movies WHERE added_by::text <> $1",
			"rolls not the account's":   "SELECT count(*) FROM rolls WHERE rolled_by::text <> $1",
			"foreign memberships":       "SELECT count(*) FROM list_members WHERE user_id::text <> $1",
			"devices not the account's": "SELECT count(*) FROM devices WHERE user_id::text <> $1",
		}
		for what, sql := range checks {
			if n := a.db.MustCount(t, sql, acctID); n != 0 {
				t.Errorf("%s: %d", what, n)
			}
		}
		if n := a.db.MustCount(t, "SELECT count(*) FROM list_members"); n != 3 {
			t.Errorf("%d memberships, want 3 (the duplicate collapsed)", n)
		}
		if n := a.db.MustCount(t, `SELECT count(*) FROM merges WHERE status = 'done'
			AND moved @> '{"lists": 2, "movies": 1, "rolls": 1, "duplicate_memberships": 2}'`); n != 1 {
			t.Errorf("merge not recorded with its counts")
		}
	})
	t.Run("replaying the confirmation changes nothing", func(t *testing.T) {
		after := a.snapshot(t)
		res, body := g.post("/claim/confirm", "token", token[1])
		mustSee(t, res, body, 400)
		if a.snapshot(t) != after {
			t.Errorf("a replayed confirmation changed something")
		}
	})
}

func TestClaimOutcomes(t *testing.T) {
	t.Run("a guest that added a list after the preview sees a new one, and nothing moves until it is confirmed", func(t *testing.T) {
		a := mustApp(t)
		_, g, code := guestWithData(t, a)
		res, body := g.post("/claim", "code", code)
		mustSee(t, res, body, 200, "2 lists")
		token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(body)[1]
		g.mustStartList("Guest three") // in another tab
		before := a.snapshot(t)
		res, body = g.post("/claim/confirm", "token", token)
		mustSee(t, res, body, http.StatusConflict, "changed since you looked, so nothing has happened yet", "3 lists", "Merge and sign in")
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
		}
		if a.snapshot(t) != before {
			t.Fatal("the out-of-date confirmation changed something")
		}
		fresh := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(body)[1]
		res, _ = g.post("/claim/confirm", "token", fresh)
		mustRedirect(t, res, "/account?done=merged")
		if n := a.db.MustCount(t, `SELECT count(*) FROM merges WHERE status = 'done' AND moved @> '{"lists": 3}'`); n != 1 {
			t.Error("the merge did not move the three lists the new preview showed")
		}
	})
	t.Run("an account with its own code is switched, not merged", func(t *testing.T) {
		a := mustApp(t)
		_, g, code := guestWithData(t, a)
		own := g.mustGetCode()
		res, body := g.post("/claim", "code", code)
		mustSee(t, res, body, 200, "This is an account switch", "stays reachable with its own recovery code", "Switch accounts")
		token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(body)[1]
		before := a.db.MustCount(t, "SELECT count(*) FROM lists WHERE name LIKE 'Guest%' AND owner_id IN (SELECT user_id FROM recovery_codes)")
		res, _ = g.post("/claim/confirm", "token", token)
		mustRedirect(t, res, "/account?done=switched")
		if n := a.db.MustCount(t, "SELECT count(*) FROM users"); n != 2 {
			t.Errorf("%d users after a switch, want both kept", n)
		}
		res, body = g.get("/")
		mustSee(t, res, body, 200, "Account list")
		if strings.Contains(body, "Guest two") {
			t.Errorf("switched browser still shows the other account's lists")
		}
		// The other account is still reachable with its own code.
		b3 := a.browser(t)
		res, _ = b3.post("/claim", "code", own)
		mustRedirect(t, res, "/account")
		res, body = b3.get("/")
		mustSee(t, res, body, 200, "Guest one")
		if n := a.db.MustCount(t, "SELECT count(*) FROM lists WHERE name LIKE 'Guest%'"); n != before {
			t.Errorf("lists moved in a switch")
		}
	})
	t.Run("the account's own code says already signed in", func(t *testing.T) {
		a := mustApp(t)
		b := a.browser(t)
		b.mustStartList("Mine")
		code := b.mustGetCode()
		before := a.snapshot(t)
		res, _ := b.post("/claim", "code", code)
		mustRedirect(t, res, "/account?done=already")
		_, body := b.get("/account?done=already")
		if !strings.Contains(body, "already signed in") {
			t.Errorf("no notice")
		}
		if a.snapshot(t) != before {
			t.Errorf("claiming one's own code changed something")
		}
	})
	t.Run("a guest with nothing left signs in directly and is removed", func(t *testing.T) {
		a := mustApp(t)
		acct, g := a.browser(t), a.browser(t)
		acct.mustStartList("Account list")
		code := acct.mustGetCode()
		g.mustStartList("Soon gone")
		a.db.MustExec(t, "DELETE FROM lists WHERE name = 'Soon gone'")
		res, _ := g.post("/claim", "code", code)
		mustRedirect(t, res, "/account?done=signed-in")
		if n := a.db.MustCount(t, "SELECT count(*) FROM users"); n != 1 {
			t.Errorf("%d users, want the empty guest deleted", n)
		}
		res, body := g.get("/")
		mustSee(t, res, body, 200, "Account list")
	})
}

func TestIdentityBadInput(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	b.mustStartList("Mine")
	code := b.mustGetCode()
	v := a.browser(t) // a visitor
	before := a.snapshot(t)

	claims := []struct {
		name, body string
		status     int
		want       string
	}{
		{"empty code", "code=", 422, "24 letters and digits"},
		{"too short", "code=ABCD-EFGH", 422, "24 letters and digits"},
		{"letter U", "code=" + url.QueryEscape("U"+code[1:]), 422, "24 letters and digits"},
		{"HTML", "code=" + url.QueryEscape("<script>alert(1)</script>"), 422, "&lt;script&gt;"},
		{"wrong code", "code=" + url.QueryEscape("0000-0000-0000-0000-0000-0000"), 422, "does not match any account"},
		// The lookup half right, the secret half wrong: found, then refused
		// by argon2id.
		{"right selector, wrong secret", "code=" + url.QueryEscape(code[:15]+"0000-0000-0000"), 422, "does not match any account"},
		{"invalid UTF-8", "code=%ff%fe", 422, "24 letters and digits"},
		{"invalid UTF-8 in another field", "code=ABCD&next=%ff", 400, "not text"},
		{"oversize body", "code=" + strings.Repeat("A", 70<<10), 413, "far larger"},
		{"unreadable body", "code=%zz", 400, "could not be read"},
	}
	for _, tt := range claims {
		t.Run("claim: "+tt.name, func(t *testing.T) {
			res, body := v.postRaw("/claim", tt.body)
			mustSee(t, res, body, tt.status, tt.want)
			if len(res.Header.Values("Set-Cookie")) > 0 {
				t.Errorf("set a cookie")
			}
		})
	}
	names := []struct {
		name, value string
		want        string
	}{
		{"empty", "", "Please enter a name"},
		{"spaces", "   ", "Please enter a name"},
		{"41 characters", strings.Repeat("é", 41), "at most 40"},
		{"control character", "Quiet\x07Otter", "control characters"},
		{"line break", "Quiet\nOtter", "control characters"},
	}
	for _, tt := range names {
		t.Run("display name: "+tt.name, func(t *testing.T) {
			res, body := b.post("/account/name", "display_name", tt.value)
			mustSee(t, res, body, 422, tt.want)
		})
	}
	lists := []struct{ name, value, want string }{
		{"empty", "", "Please enter a list name"},
		{"81 characters", strings.Repeat("x", 81), "at most 80"},
		{"tab inside", "a\tb", "control characters"},
	}
	for _, tt := range lists {
		t.Run("visitor's list: "+tt.name, func(t *testing.T) {
			res, body := v.post("/lists", "name", tt.value)
			mustSee(t, res, body, 422, tt.want)
			if len(res.Header.Values("Set-Cookie")) > 0 {
				t.Errorf("a refused contribution minted a session")
			}
		})
	}
	t.Run("someone else's or a made-up device is a 404", func(t *testing.T) {
		other := a.browser(t)
		other.mustStartList("Theirs")
		mid := a.snapshot(t)
		var theirs string
		a.db.Super(t).QueryRow(context.Background(), "SELECT id::text FROM devices ORDER BY created_at DESC LIMIT 1").Scan(&theirs)
		for _, id := range []string{theirs, uuid.NewString(), "not-a-uuid"} {
			res, body := b.post("/devices/" + id + "/signout")
			mustSee(t, res, body, 404, "Page not found")
		}
		if a.snapshot(t) != mid {
			t.Errorf("a refused sign-out changed something")
		}
		a.db.MustExec(t, "DELETE FROM lists WHERE name = 'Theirs'")
		a.db.MustExec(t, "DELETE FROM users WHERE id NOT IN (SELECT owner_id FROM lists)")
	})
	t.Run("a visitor cannot get a code, rename or sign out other devices", func(t *testing.T) {
		for _, path := range []string{"/account/recovery-code", "/account/name", "/devices/signout-others"} {
			res, body := v.post(path, "display_name", "X")
			mustSee(t, res, body, 401, "no account yet")
		}
	})
	if a.snapshot(t) != before {
		t.Errorf("bad input changed something:\n%s\n%s", before, a.snapshot(t))
	}
	t.Run("HTML in a name is shown as text", func(t *testing.T) {
		res, _ := b.post("/account/name", "display_name", "<b>Otter</b>")
		mustRedirect(t, res, "/account")
		_, body := b.get("/account")
		if strings.Contains(body, "<b>Otter</b>") || !strings.Contains(body, "&lt;b&gt;Otter&lt;/b&gt;") {
			t.Errorf("name not escaped")
		}
	})
}

func TestRateLimits(t *testing.T) {
	a := mustAppWith(t, identity.Config{MintsPerMinute: 2, ClaimsPerMinute: 2})
	for i := range 3 {
		res, body := a.browser(t).post("/lists", "name", "Spam")
		if i < 2 {
			mustRedirect(t, res, "/l/")
			continue
		}
		mustSee(t, res, body, 429, "wait a minute")
	}
	if n := a.db.MustCount(t, "SELECT count(*) FROM users"); n != 2 {
		t.Errorf("%d users minted past the limit", n)
	}
	v := a.browser(t)
	for i := range 3 {
		res, body := v.post("/claim", "code", "0000-0000-0000-0000-0000-0000")
		want := 422
		if i == 2 {
			want = 429
		}
		mustSee(t, res, body, want)
	}
	_, metrics := a.do(t, "GET", "/metrics", nil)
	for _, want := range []string{`moviedice_rate_limited_total{limit="mint"} 1`, `moviedice_rate_limited_total{limit="claim"} 1`, `moviedice_users_minted_total 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestSignOut(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	b.mustStartList("Mine")
	code := b.mustGetCode()
	phone, tablet := a.browser(t), a.browser(t)
	for _, other := range []*browser{phone, tablet} {
		res, _ := other.post("/claim", "code", code)
		mustRedirect(t, res, "/account")
	}
	res, _ := b.post("/devices/signout-others")
	mustRedirect(t, res, "/account?done=others-out")
	for _, other := range []*browser{phone, tablet} {
		_, body := other.get("/account")
		if !strings.Contains(body, "No account on this browser yet") {
			t.Errorf("another device is still signed in")
		}
	}
	res, _ = b.post("/signout")
	mustRedirect(t, res, "/")
	_, body := b.get("/account")
	if !strings.Contains(body, "No account on this browser yet") {
		t.Errorf("signed out browser is still signed in")
	}
	if n := a.db.MustCount(t, "SELECT count(*) FROM devices"); n != 0 {
		t.Errorf("%d devices left", n)
	}
	if n := a.db.MustCount(t, "SELECT count(*) FROM lists"); n != 1 {
		t.Errorf("signing out lost data")
	}
}

// A browser that is the only way into what its user made (no recovery
// code) is not signed out by one click: it asks, and offers a code first.
func TestSignOutAsksBeforeStrandingData(t *testing.T) {
	a := mustAppWith(t, unlimited)
	guest := a.browser(t)
	guest.mustStartList("Only here")
	guest.post("/l/"+strings.TrimPrefix(guest.mustStartList("Second"), "/l/")+"/movies", "title", "Alien")
	_, body := guest.get("/account")
	device := regexp.MustCompile(`/devices/([0-9a-f-]{36})/signout`).FindStringSubmatch(body)[1]

	for _, path := range []string{"/signout", "/devices/" + device + "/signout"} {
		t.Run("without confirming, "+path+" asks and changes nothing", func(t *testing.T) {
			before := a.snapshot(t)
			res, body := guest.post(path)
			mustSee(t, res, body, 200, "Sign out of this browser?", "your 2 lists and 1 film",
				`action="/account/recovery-code"`, `name="confirm" value="yes"`)
			if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
				t.Errorf("cookie changed: %v", c)
			}
			if a.snapshot(t) != before {
				t.Errorf("asking changed something")
			}
			if res, _ := guest.get("/account"); res.StatusCode != 200 {
				t.Errorf("no longer signed in: %d", res.StatusCode)
			}
		})
	}
	t.Run("confirmed, it signs out and keeps the data", func(t *testing.T) {
		res, _ := guest.post("/signout", "confirm", "yes")
		mustRedirect(t, res, "/")
		if _, body := guest.get("/account"); !strings.Contains(body, "No account on this browser yet") {
			t.Errorf("still signed in")
		}
		if n := a.db.MustCount(t, "SELECT count(*) FROM lists WHERE name IN ('Only here', 'Second')"); n != 2 {
			t.Errorf("%d of the 2 lists left", n)
		}
	})
	t.Run("with a recovery code, or nothing made or joined, it signs out at once", func(t *testing.T) {
		secured := a.browser(t)
		secured.mustStartList("Kept by a code")
		secured.mustGetCode()
		emptyHanded := a.browser(t)
		list := secured.mustStartList("Join me")
		var token string
		a.db.Super(t).QueryRow(context.Background(), "SELECT invite_token FROM lists WHERE id = $1", strings.TrimPrefix(list, "/l/")).Scan(&token)
		emptyHanded.post("/join/" + token)
		emptyHanded.post(list + "/leave")
		for name, b := range map[string]*browser{"secured": secured, "nothing made": emptyHanded} {
			res, body := b.post("/signout")
			if res.StatusCode != http.StatusSeeOther {
				t.Errorf("%s: status %d\n%s", name, res.StatusCode, body)
			}
		}
	})
}

// newestDeviceGone deletes the device that signed in last (the phone's).
const newestDeviceGone = "DELETE FROM devices WHERE id = (SELECT id FROM devices ORDER BY created_at DESC LIMIT 1)"

// Sessions are cached for a few seconds (identity's sessionCache); a
// sign-out must still take effect at once everywhere.
func TestSignOutReachesEveryInstance(t *testing.T) {
	one := mustApp(t)
	two := one.secondInstance(t)
	b := one.browser(t)
	b.mustStartList("Mine")
	code := b.mustGetCode()
	phone := one.browser(t)
	res, _ := phone.post("/claim", "code", code)
	mustRedirect(t, res, "/account")
	phoneOnTwo := &browser{t: t, app: two, client: phone.client} // the same cookie, the other instance
	signedIn := func(p *browser) bool {
		_, body := p.get("/account")
		return !strings.Contains(body, "No account on this browser yet")
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within a second", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for range 3 { // loaded, and cached, on both instances
		if !signedIn(phone) || !signedIn(phoneOnTwo) {
			t.Fatal("the phone is not signed in")
		}
	}

	t.Run("signed out through one instance, refused by the other", func(t *testing.T) {
		res, _ := b.post("/devices/signout-others")
		mustRedirect(t, res, "/account?done=others-out")
		if signedIn(phone) {
			t.Error("the instance that signed it out still lets it in")
		}
		eventually("the other instance refuses it", func() bool { return !signedIn(phoneOnTwo) })
	})
	t.Run("a device deleted in the database is refused by every instance", func(t *testing.T) {
		res, _ := phone.post("/claim", "code", code)
		mustRedirect(t, res, "/account")
		for range 3 {
			if !signedIn(phone) || !signedIn(phoneOnTwo) {
				t.Fatal("the phone is not signed in again")
			}
		}
		one.db.MustExec(t, newestDeviceGone) // as an operator, or the reaper, would
		eventually("instance one refuses it", func() bool { return !signedIn(phone) })
		eventually("instance two refuses it", func() bool { return !signedIn(phoneOnTwo) })
	})
}

// A request the browser sent with its old cookie just before a claim gave
// it a new device (still in flight, or reaching an instance that had the
// old session cached) is refused with a message, makes no guest, and
// leaves the cookie alone: clearing it would log out the browser that
// just claimed.
func TestRequestsInFlightAcrossAClaim(t *testing.T) {
	a := mustAppWith(t, unlimited)
	two := a.secondInstance(t)
	_, g, code := guestWithData(t, a)
	stale, staleTwo := withOldCookieOf(t, a, g), withOldCookieOf(t, two, g)
	staleTwo.get("/account") // instance two now has the old session cached

	res, body := g.post("/claim", "code", code)
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(body)[1]
	res, _ = g.post("/claim/confirm", "token", token)
	mustRedirect(t, res, "/account")
	var guestOne string
	a.db.Super(t).QueryRow(context.Background(), "SELECT id::text FROM lists WHERE name = 'Guest one'").Scan(&guestOne)
	before := a.snapshot(t)

	for name, try := range map[string]func() (*http.Response, string){
		"adding a film, the old session gone":         func() (*http.Response, string) { return stale.post("/l/"+guestOne+"/movies", "title", "In flight") },
		"starting a list, the old session gone":       func() (*http.Response, string) { return stale.post("/lists", "name", "In flight") },
		"adding a film, the old session still cached": func() (*http.Response, string) { return staleTwo.post("/l/"+guestOne+"/movies", "title", "In flight") },
		"starting a list, the old session cached":     func() (*http.Response, string) { return staleTwo.post("/lists", "name", "In flight") },
	} {
		t.Run(name, func(t *testing.T) {
			res, body := try()
			mustSee(t, res, body, http.StatusConflict, "just signed in to another account, so that was not saved")
			if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
				t.Errorf("cookie changed: %v", c)
			}
			if a.snapshot(t) != before {
				t.Errorf("something changed")
			}
		})
	}
	for name, b := range map[string]*browser{"the old session gone": stale, "the old session cached": staleTwo} {
		t.Run("a second click on the confirmation goes to the account, "+name, func(t *testing.T) {
			res, _ := b.post("/claim/confirm", "token", token)
			mustRedirect(t, res, "/account")
			if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
				t.Errorf("cookie changed: %v", c)
			}
			if a.snapshot(t) != before {
				t.Errorf("something changed")
			}
		})
	}
	t.Run("a page view is a visitor's and keeps the cookie", func(t *testing.T) {
		res, body := stale.get("/account")
		mustSee(t, res, body, 200, "No account on this browser yet")
		if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("cookie changed: %v", c)
		}
	})
	t.Run("the browser that claimed is signed in to the account", func(t *testing.T) {
		res, body := g.get("/")
		mustSee(t, res, body, 200, "Account list", "Guest one")
	})
	t.Run("a device signed out, not replaced, is still cleared", func(t *testing.T) {
		other := a.browser(t)
		other.mustStartList("Mine")
		other.mustGetCode()
		gone := withOldCookieOf(t, a, other)
		other.post("/signout")
		res, _ := gone.get("/")
		if c := res.Header.Get("Set-Cookie"); !strings.Contains(c, "Max-Age=0") {
			t.Errorf("stale cookie not cleared: %q", c)
		}
	})
}

// withOldCookieOf is a browser of a holding b's cookies as they are now
// (cookies do not tell ports apart: any instance here gets them).
func withOldCookieOf(t *testing.T, a *testApp, b *browser) *browser {
	c := a.browser(t)
	u, _ := url.Parse(a.URL)
	c.client.Jar.SetCookies(u, b.client.Jar.Cookies(u))
	return c
}
