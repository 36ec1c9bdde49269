package web

import (
	"context"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/web/identity"
)

// sweepWorld is a list L with its owner O and a member M, a film FM that M
// added, an outsider X with nothing on L, and a list ZL of a fifth user Z
// (with film ZF) that none of them is on. V is a visitor.
type sweepWorld struct {
	o, m, x, z, v *browser
	list, zList   string // ids
	film, zFilm   string
	token, zToken string
	mID, zID      string // user ids
	devices       map[*browser]string
	zDevice       string
}

func (a *testApp) mustSweepWorld(t *testing.T) *sweepWorld {
	t.Helper()
	w := &sweepWorld{o: a.browser(t), m: a.browser(t), x: a.browser(t), z: a.browser(t), v: a.browser(t), devices: map[*browser]string{}}
	w.list = strings.TrimPrefix(w.o.mustStartList("L"), "/l/")
	w.zList = strings.TrimPrefix(w.z.mustStartList("ZL"), "/l/")
	w.x.mustStartList("X's own")
	ctx := context.Background()
	db := a.db.Super(t)
	db.QueryRow(ctx, "SELECT invite_token FROM lists WHERE id = $1", w.list).Scan(&w.token)
	db.QueryRow(ctx, "SELECT invite_token FROM lists WHERE id = $1", w.zList).Scan(&w.zToken)
	res, _ := w.m.post("/join/" + w.token)
	mustRedirect(t, res, "/l/"+w.list)
	for _, add := range []struct {
		b    *browser
		list string
	}{{w.m, w.list}, {w.z, w.zList}} {
		res, _ := add.b.post("/l/"+add.list+"/movies", "title", "Film on "+add.list)
		mustRedirect(t, res, "/l/")
	}
	db.QueryRow(ctx, "SELECT id::text FROM movies WHERE list_id = $1", w.list).Scan(&w.film)
	db.QueryRow(ctx, "SELECT id::text FROM movies WHERE list_id = $1", w.zList).Scan(&w.zFilm)
	db.QueryRow(ctx, "SELECT added_by::text FROM movies WHERE list_id = $1", w.list).Scan(&w.mID)
	db.QueryRow(ctx, "SELECT owner_id::text FROM lists WHERE id = $1", w.zList).Scan(&w.zID)
	for _, b := range []*browser{w.o, w.m, w.x, w.z} {
		_, body := b.get("/account")
		w.devices[b] = regexp.MustCompile(`/devices/([0-9a-f-]{36})/signout`).FindStringSubmatch(body)[1]
	}
	w.zDevice = w.devices[w.z]
	return w
}

type idKind int

const (
	ownIDs     idKind = iota // L's ids (for /devices: the actor's own device)
	foreignIDs               // ZL's ids, or Z's device: nobody here is on it
	mixedIDs                 // L's list id with a film or user of ZL
	randomIDs
)

var idKinds = map[idKind]string{ownIDs: "own ids", foreignIDs: "foreign ids", mixedIDs: "mixed ids", randomIDs: "random ids"}

// sweepRoute says how to call one route, and what each actor must get with
// its own ids; foreign, mixed and random ids must always get 404.
type sweepRoute struct {
	// path is the request path for actor with ids of kind k; "" skips k.
	path func(w *sweepWorld, actor *browser, k idKind) string
	form []string
	// want: status for owner, member, non-member, visitor, with own ids.
	want [4]int
	// noIDs: the route takes no ids, so only own ids are tried.
	noIDs bool
}

func listPath(suffix string) func(*sweepWorld, *browser, idKind) string {
	return func(w *sweepWorld, _ *browser, k idKind) string {
		switch k {
		case ownIDs:
			return "/l/" + w.list + suffix
		case mixedIDs:
			return "" // one id: nothing to mix
		case foreignIDs:
			return "/l/" + w.zList + suffix
		}
		return "/l/" + uuid.NewString() + suffix
	}
}

func filmPath(action string) func(*sweepWorld, *browser, idKind) string {
	return func(w *sweepWorld, _ *browser, k idKind) string {
		switch k {
		case ownIDs:
			return "/l/" + w.list + "/movies/" + w.film + action
		case mixedIDs:
			return "/l/" + w.list + "/movies/" + w.zFilm + action
		case foreignIDs:
			return "/l/" + w.zList + "/movies/" + w.zFilm + action
		}
		return "/l/" + uuid.NewString() + "/movies/" + uuid.NewString() + action
	}
}

func memberPath(action string) func(*sweepWorld, *browser, idKind) string {
	return func(w *sweepWorld, _ *browser, k idKind) string {
		switch k {
		case ownIDs:
			return "/l/" + w.list + "/members/" + w.mID + action
		case mixedIDs:
			return "/l/" + w.list + "/members/" + w.zID + action
		case foreignIDs:
			return "/l/" + w.zList + "/members/" + w.zID + action
		}
		return "/l/" + uuid.NewString() + "/members/" + uuid.NewString() + action
	}
}

func fixed(path string) func(*sweepWorld, *browser, idKind) string {
	return func(*sweepWorld, *browser, idKind) string { return path }
}

const (
	ok   = http.StatusOK
	seen = http.StatusSeeOther
	nf   = http.StatusNotFound
)

// sweepTable is every route of the URL contract. A route added to the
// route table but not here fails TestIDORSweep.
func (a *testApp) sweepTable() map[string]sweepRoute {
	static := a.srv.assets.url("css/app.css")
	return map[string]sweepRoute{
		"GET /{$}":                              {path: fixed("/"), want: [4]int{ok, ok, ok, ok}, noIDs: true},
		"POST /lists":                           {path: fixed("/lists"), form: []string{"name", "New"}, want: [4]int{seen, seen, seen, seen}, noIDs: true},
		"GET /l/{id}":                           {path: listPath(""), want: [4]int{ok, ok, nf, nf}},
		"GET /l/{id}/live":                      {path: listPath("/live"), want: [4]int{http.StatusUpgradeRequired, http.StatusUpgradeRequired, nf, nf}},
		"POST /l/{id}/movies":                   {path: listPath("/movies"), form: []string{"title", "Brand new"}, want: [4]int{seen, seen, nf, nf}},
		"POST /l/{id}/movies/{movieID}/delete":  {path: filmPath("/delete"), want: [4]int{seen, seen, nf, nf}},
		"POST /l/{id}/movies/{movieID}/watched": {path: filmPath("/watched"), form: []string{"watched", "true"}, want: [4]int{seen, seen, nf, nf}},
		"POST /l/{id}/roll":                     {path: listPath("/roll"), want: [4]int{seen, seen, nf, nf}},
		"POST /l/{id}/rename":                   {path: listPath("/rename"), form: []string{"name", "Renamed"}, want: [4]int{seen, nf, nf, nf}},
		"POST /l/{id}/delete":                   {path: listPath("/delete"), form: []string{"confirm", "yes"}, want: [4]int{seen, nf, nf, nf}},
		"POST /l/{id}/invite/rotate":            {path: listPath("/invite/rotate"), want: [4]int{seen, nf, nf, nf}},
		"POST /l/{id}/members/{userID}/remove":  {path: memberPath("/remove"), want: [4]int{seen, nf, nf, nf}},
		"POST /l/{id}/members/{userID}/owner":   {path: memberPath("/owner"), want: [4]int{seen, nf, nf, nf}},
		"POST /l/{id}/leave":                    {path: listPath("/leave"), want: [4]int{http.StatusConflict, seen, nf, nf}},
		"GET /join/{token}":                     {path: joinPath, want: [4]int{ok, ok, ok, ok}},
		"POST /join/{token}":                    {path: joinPath, want: [4]int{seen, seen, seen, seen}},
		"GET /account":                          {path: fixed("/account"), want: [4]int{ok, ok, ok, ok}, noIDs: true},
		"POST /account/name":                    {path: fixed("/account/name"), form: []string{"display_name", "Renamed"}, want: [4]int{seen, seen, seen, http.StatusUnauthorized}, noIDs: true},
		"POST /account/recovery-code":           {path: fixed("/account/recovery-code"), want: [4]int{ok, ok, ok, http.StatusUnauthorized}, noIDs: true},
		"GET /claim":                            {path: fixed("/claim"), want: [4]int{ok, ok, ok, ok}, noIDs: true},
		"POST /claim":                           {path: fixed("/claim"), form: []string{"code", "0000-0000-0000-0000-0000-0000"}, want: [4]int{422, 422, 422, 422}, noIDs: true},
		"POST /claim/confirm":                   {path: fixed("/claim/confirm"), form: []string{"token", "forged"}, want: [4]int{400, 400, 400, 400}, noIDs: true},
		"POST /devices/{id}/signout":            {path: devicePath, form: []string{"confirm", "yes"}, want: [4]int{seen, seen, seen, nf}},
		"POST /devices/signout-others":          {path: fixed("/devices/signout-others"), want: [4]int{seen, seen, seen, http.StatusUnauthorized}, noIDs: true},
		"POST /signout":                         {path: fixed("/signout"), form: []string{"confirm", "yes"}, want: [4]int{seen, seen, seen, seen}, noIDs: true},
		"GET /static/{path...}":                 {path: fixed(static), want: [4]int{ok, ok, ok, ok}, noIDs: true},
		"GET /healthz":                          {path: fixed("/healthz"), want: [4]int{ok, ok, ok, ok}, noIDs: true},
		"GET /readyz":                           {path: fixed("/readyz"), want: [4]int{ok, ok, ok, ok}, noIDs: true},
		"GET /metrics":                          {path: fixed("/metrics"), want: [4]int{ok, ok, ok, ok}, noIDs: true},
	}
}

// joinPath: an invitation token is a credential, not an id. Holding L's
// token lets anyone in; ZL's token is not "foreign" in that sense, so
// foreign and mixed try a rotated-away token, random a random one.
func joinPath(w *sweepWorld, _ *browser, k idKind) string {
	switch k {
	case ownIDs:
		return "/join/" + w.token
	case randomIDs:
		return "/join/" + newInviteToken()
	case mixedIDs:
		return ""
	}
	return "/join/AAAAAAAAAAAAAAAAAAAAAA" // well-formed, never issued
}

func devicePath(w *sweepWorld, actor *browser, k idKind) string {
	switch k {
	case ownIDs:
		if id, ok := w.devices[actor]; ok {
			return "/devices/" + id + "/signout"
		}
		return "/devices/" + w.zDevice + "/signout" // the visitor has none
	case randomIDs:
		return "/devices/" + uuid.NewString() + "/signout"
	case mixedIDs:
		return ""
	}
	return "/devices/" + w.zDevice + "/signout"
}

// unlimited lifts the rate limits for tests that make many identities.
var unlimited = identity.Config{MintsPerMinute: 1_000_000, ClaimsPerMinute: 1_000_000, ClaimsPerSecond: 1_000_000}

func TestIDORSweep(t *testing.T) {
	a := mustAppWith(t, unlimited)
	a.sweep(t)
}

// The SQL filters alone must hold: the same sweep on a database whose list
// tables have row-level security turned off, so that a query missing its
// owner or membership filter is caught here rather than hidden by the
// policies behind it.
func TestIDORSweepWithoutRowLevelSecurity(t *testing.T) {
	a := mustAppWith(t, unlimited)
	a.db.WithoutListPolicies(t)
	a.sweep(t)
}

// sweep runs every route of the table for every actor and kind of id.
func (a *testApp) sweep(t *testing.T) {
	table := a.sweepTable()

	t.Run("the sweep covers exactly the route table", func(t *testing.T) {
		var missing, stale []string
		for _, p := range a.srv.patterns {
			if _, ok := table[p]; !ok {
				missing = append(missing, p)
			}
		}
		for p := range table {
			if !contains(a.srv.patterns, p) {
				stale = append(stale, p)
			}
		}
		if len(missing)+len(stale) > 0 {
			t.Fatalf("routes missing from the sweep: %v; sweep entries without a route: %v", missing, stale)
		}
	})

	patterns := make([]string, 0, len(table))
	for p := range table {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	actors := []string{"owner", "member", "non-member", "visitor"}
	for _, pattern := range patterns {
		route := table[pattern]
		method, _, _ := strings.Cut(pattern, " ")
		for ai, actorName := range actors {
			t.Run(pattern+"/"+actorName, func(t *testing.T) {
				w := a.mustSweepWorld(t)
				actor := []*browser{w.o, w.m, w.x, w.v}[ai]
				kinds := []idKind{randomIDs, foreignIDs, mixedIDs, ownIDs} // own last: it may change things
				if route.noIDs {
					kinds = []idKind{ownIDs}
				}
				for _, k := range kinds {
					path := route.path(w, actor, k)
					if path == "" {
						continue
					}
					want := nf
					if k == ownIDs {
						want = route.want[ai]
					}
					before := a.snapshot(t)
					var res *http.Response
					if method == "GET" {
						res, _ = actor.get(path)
					} else {
						res, _ = actor.post(path, route.form...)
					}
					if res.StatusCode != want {
						t.Errorf("%s with %s (%s): %d, want %d", actorName, idKinds[k], path, res.StatusCode, want)
					}
					refused := res.StatusCode >= 400 || method == "GET"
					if refused && a.snapshot(t) != before {
						t.Errorf("%s with %s (%s) was refused (%d) but changed the database", actorName, idKinds[k], path, res.StatusCode)
					}
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A 404 for someone else's list must be indistinguishable from one for a
// list that does not exist.
func TestNotFoundLooksTheSame(t *testing.T) {
	a := mustApp(t)
	w := a.mustSweepWorld(t)
	clean := func(body string) string {
		return regexp.MustCompile(`Request id: [0-9a-f]+`).ReplaceAllString(body, "")
	}
	_, foreign := w.o.get("/l/" + w.zList)
	_, missing := w.o.get("/l/" + uuid.NewString())
	_, malformed := w.o.get("/l/not-a-uuid")
	if clean(foreign) != clean(missing) || clean(missing) != clean(malformed) {
		t.Errorf("404 pages differ between a foreign, a missing and a malformed id")
	}
}
