package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestLiveListInTwoBrowsers: two people with JavaScript on look at one
// list; what one does shows on the other's page, which never reloads.
func TestLiveListInTwoBrowsers(t *testing.T) {
	b := startBrowser(t)
	app := startApp(t)
	alice := b.open(t, "alice", true)
	bob := b.open(t, "bob", true)
	var list string

	step(t, "one starts a list and the other joins it with the invitation link", func(t *testing.T) {
		alice.visit(t, app, "/")
		alice.typeInto(t, "#list-name", "Friday films")
		alice.press(t, "Start the list")
		list = alice.path(t)
		if !strings.HasPrefix(list, "/l/") {
			alice.fail(t, "starting a list led to %s", list)
		}
		invite := get(t, alice, "read the invitation link", chromedp.Value(chromedp.CSS("input#invite-link")))
		setName(t, alice, app, "Alice")
		alice.visit(t, app, list)

		bob.visit(t, app, invite)
		bob.press(t, "Join the list")
		if got := bob.path(t); got != list {
			bob.fail(t, "joining led to %s, want %s", got, list)
		}
		setName(t, bob, app, "Bob")
		bob.visit(t, app, list)
		wantCounts(t, app, map[string]int64{
			"SELECT count(*) FROM list_members":                                 2,
			"SELECT count(*) FROM users WHERE display_name IN ('Alice', 'Bob')": 2,
		})
	})

	step(t, "both pages connect live", func(t *testing.T) {
		alice.waitLive(t)
		bob.waitLive(t)
		// Gone after a reload: shows that Bob's page was never reloaded.
		bob.do(t, "mark Bob's page", chromedp.Evaluate[chromedp.Void](`window.e2eNotReloaded = true`))
	})

	t.Run("each sees both names among who is here", func(t *testing.T) {
		for _, p := range []*tab{alice, bob} {
			p.waitFor(t, "Alice and Bob in #presence", liveWithin,
				`Array.from(document.querySelectorAll("#presence li"), li => li.textContent.trim()).sort().join() === "Alice,Bob"`)
		}
	})

	t.Run("controls only the owner may use stay hidden from a member", func(t *testing.T) {
		bob.waitFor(t, "no visible owner controls on Bob's page", liveWithin,
			`Array.from(document.querySelectorAll(".member-actions")).every(el => el.offsetParent === null)`)
		alice.waitFor(t, "owner controls on Alice's page", liveWithin,
			`Array.from(document.querySelectorAll(".member-actions")).some(el => el.offsetParent !== null)`)
	})

	for _, film := range []struct{ title, year string }{{"Arrival", "2016"}, {"Heat", "1995"}, {"Paddington 2", "2017"}} {
		step(t, "a film added shows on the other page: "+film.title, func(t *testing.T) {
			alice.waitLive(t)
			alice.typeInto(t, "#movie-title", film.title)
			alice.typeInto(t, "#movie-year", film.year)
			alice.press(t, "Add film")
			if !slices.ContainsFunc(alice.texts(t, "li.movie .movie-title"), func(s string) bool { return s == film.title+" ("+film.year+")" }) {
				alice.fail(t, "own page lacks %s (%s)", film.title, film.year)
			}
			bob.waitFor(t, film.title+" on Bob's page", liveWithin, movieIs(film.title, "li.movie")+
				` && document.getElementById("no-films").offsetParent === null`)
		})
	}

	step(t, "a duplicate film is refused with a message, without a reload", func(t *testing.T) {
		alice.waitLive(t)
		alice.typeInto(t, "#movie-title", "  arrival ")
		alice.typeInto(t, "#movie-year", "2016")
		if status := alice.send(t, "add a duplicate", chromedp.Click(button("Add film"))); status != 409 {
			alice.fail(t, "a duplicate film: status %d, want 409", status)
		}
		alice.waitFor(t, "the duplicate message", liveWithin,
			`document.querySelector("#movie-title-error")?.textContent.includes("is already on this list")`)
		if got := alice.path(t); got != list {
			alice.fail(t, "after a refused form the address is %s, want %s", got, list)
		}
		wantCounts(t, app, map[string]int64{"SELECT count(*) FROM movies WHERE title_key = 'arrival'": 1})
	})

	step(t, "a film marked watched shows as watched on the other page", func(t *testing.T) {
		alice.waitLive(t)
		alice.load(t, "mark Arrival watched", chromedp.Click(movieButton("Arrival", "Mark watched")))
		bob.waitFor(t, "Arrival watched on Bob's page", liveWithin, movieIs("Arrival", "li.movie.watched"))
		// Watched films go last: Bob's page, updated film by film, keeps
		// the order Alice's, rendered whole, has.
		order, _ := json.Marshal(strings.Join(alice.texts(t, "li.movie .movie-title"), "|"))
		if want := `"Heat (1995)|Paddington 2 (2017)|Arrival (2016)"`; string(order) != want {
			alice.fail(t, "films in order %s, want %s", order, want)
		}
		bob.waitFor(t, "Bob's films in Alice's order", liveWithin,
			`Array.from(document.querySelectorAll("li.movie .movie-title"), e => e.textContent).join("|") === `+string(order))
	})

	step(t, "a film removed is gone from the other page", func(t *testing.T) {
		alice.waitLive(t)
		alice.load(t, "remove Heat", chromedp.Click(chromedp.CSS(`button[aria-label="Remove Heat"]`)))
		bob.waitFor(t, "Heat gone from Bob's page", liveWithin,
			`document.querySelectorAll("#movies li.movie").length === 2 && !`+movieIs("Heat", "li.movie"))
	})

	step(t, "a roll shows tonight's film on the other page", func(t *testing.T) {
		alice.waitLive(t)
		alice.load(t, "roll", chromedp.Click(chromedp.CSS(".roll-button")))
		// Paddington 2 is the only unwatched film left.
		if got := alice.text(t, "#roll .roll-title"); got != "Paddington 2 (2017)" {
			alice.fail(t, "rolled %q, want Paddington 2 (2017)", got)
		}
		bob.waitFor(t, "the roll on Bob's page", liveWithin,
			`(document.querySelector("#roll .roll-title")?.textContent ?? "").includes("Paddington 2")`)
	})

	t.Run("the other page never reloaded and logged no errors", func(t *testing.T) {
		if !get(t, bob, "read the mark", chromedp.Evaluate[bool](`window.e2eNotReloaded === true`)) {
			t.Errorf("Bob's page was reloaded")
		}
		for _, p := range []*tab{alice, bob} {
			if errs := p.consoleErrors(); len(errs) > 0 {
				t.Errorf("%s's console:\n%s", p.name, strings.Join(errs, "\n"))
			}
		}
	})

	t.Run("the database holds what the pages show", func(t *testing.T) {
		wantCounts(t, app, map[string]int64{
			"SELECT count(*) FROM movies":                              2,
			"SELECT count(*) FROM movies WHERE watched_at IS NOT NULL": 1,
			"SELECT count(*) FROM rolls":                               1,
			"SELECT count(*) FROM rolls JOIN movies m ON m.id = movie_id WHERE m.title = 'Paddington 2'": 1,
		})
	})
}

// TestWithoutJavaScript: the main flows work with plain forms, down to
// using a recovery code in a second browser that has a list of its own.
func TestWithoutJavaScript(t *testing.T) {
	b := startBrowser(t)
	app := startApp(t)
	carol := b.open(t, "carol", false)
	dave := b.open(t, "dave", false)
	var code string

	step(t, "start a list, add a film and roll", func(t *testing.T) {
		carol.visit(t, app, "/")
		carol.typeInto(t, "#list-name", "Sunday films")
		carol.press(t, "Start the list")
		if class := get(t, carol, "read html's class", chromedp.AttributeValue(chromedp.CSS("html"), "class")); strings.Contains(class.Value, "js") {
			carol.fail(t, "the page's script ran: html class %q", class.Value)
		}
		carol.typeInto(t, "#movie-title", "Arrival")
		carol.typeInto(t, "#movie-year", "2016")
		carol.press(t, "Add film")
		if got := carol.text(t, "li.movie .movie-title"); got != "Arrival (2016)" {
			carol.fail(t, "film %q, want Arrival (2016)", got)
		}
		carol.load(t, "roll", chromedp.Click(chromedp.CSS(".roll-button")))
		if got := carol.text(t, "#roll .roll-title"); got != "Arrival (2016)" {
			carol.fail(t, "rolled %q, want Arrival (2016)", got)
		}
		if got := carol.text(t, "#live-status"); got != "" {
			carol.fail(t, "live status %q without JavaScript", got)
		}
	})

	step(t, "get a recovery code", func(t *testing.T) {
		carol.visit(t, app, "/account")
		carol.press(t, "Get a recovery code")
		code = carol.text(t, "#recovery-code")
		if len(code) < 20 {
			carol.fail(t, "recovery code %q", code)
		}
		if n := app.db.MustCount(t, "SELECT count(*) FROM recovery_codes"); n != 1 {
			t.Errorf("%d recovery codes stored, want 1", n)
		}
	})

	step(t, "a guest with a list of its own merges into the account with the code", func(t *testing.T) {
		dave.visit(t, app, "/")
		dave.typeInto(t, "#list-name", "Dave's picks")
		dave.press(t, "Start the list")
		dave.visit(t, app, "/claim")
		dave.typeInto(t, "#code", code)
		dave.press(t, "Continue")
		if got := dave.text(t, "main"); !strings.Contains(got, "Before you continue") || !strings.Contains(got, "as a guest") {
			dave.fail(t, "after Continue: %q", got)
		}
		dave.press(t, "Merge and sign in")
		if got := dave.text(t, ".notice"); !strings.Contains(got, "now in this account") {
			dave.fail(t, "after merging: %q", got)
		}
		dave.visit(t, app, "/")
		lists := dave.texts(t, "ul.lists li a")
		slices.Sort(lists)
		if !slices.Equal(lists, []string{"Dave's picks", "Sunday films"}) {
			dave.fail(t, "home lists %q, want both", lists)
		}
		wantCounts(t, app, map[string]int64{
			"SELECT count(*) FROM users":                        1,
			"SELECT count(DISTINCT owner_id) FROM lists":        1,
			"SELECT count(*) FROM merges WHERE status = 'done'": 1,
		})
	})

	t.Run("no page logged errors", func(t *testing.T) {
		for _, p := range []*tab{carol, dave} {
			if errs := p.consoleErrors(); len(errs) > 0 {
				t.Errorf("%s's console:\n%s", p.name, strings.Join(errs, "\n"))
			}
		}
	})
}

// step runs a subtest that later ones build on: if it fails, so does t.
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

// setName sets the display name p's account shows others, on the account page.
func setName(t *testing.T, p *tab, app *app, name string) {
	t.Helper()
	p.visit(t, app, "/account")
	p.do(t, "clear the name", chromedp.Clear(chromedp.CSS("#display-name")))
	p.typeInto(t, "#display-name", name)
	p.press(t, "Save name")
	if got := p.text(t, "a.viewer"); got != name {
		p.fail(t, "named %q, want %q", got, name)
	}
}

// movieIs is a JavaScript condition: the film titled title is on the
// page, in an element sel matches.
func movieIs(title, sel string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll("#movies %s .movie-title")).filter(e => e.offsetParent !== null).map(e => e.firstChild.textContent.trim()).includes(%q)`, sel, title)
}

// movieButton selects the button labelled label of the film titled title.
func movieButton(title, label string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//li[contains(concat(" ", @class, " "), " movie ")][.//span[@class="movie-title"][starts-with(normalize-space(), %q)]]//button[normalize-space()=%q]`, title, label))
}

// wantCounts checks the count each query selects, in the app's database.
func wantCounts(t *testing.T, app *app, want map[string]int64) {
	t.Helper()
	for sql, n := range want {
		if got := app.db.MustCount(t, sql); got != n {
			t.Errorf("%s: %d, want %d", sql, got, n)
		}
	}
}
