package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// With JavaScript on, forms are sent by htmx and the answer swapped into
// the page: the page must then be what a reload would show (whose controls
// are whose), keep the reader's place on a phone, and leave history as a
// reload-free site would.
func TestBoostedPagesStayTrue(t *testing.T) {
	b := startBrowser(t)
	app := startApp(t)
	ann := b.open(t, "ann", true)
	ann.do(t, "make the screen a phone's", chromedp.EmulateViewport(360, 640))

	step(t, "a visitor starts a list and adds a film, without a reload", func(t *testing.T) {
		ann.visit(t, app, "/")
		ann.do(t, "mark the page", chromedp.Evaluate[chromedp.Void](`window.e2eNotReloaded = true`))
		ann.typeInto(t, "#list-name", "Phone films")
		ann.press(t, "Start the list")
		ann.waitLive(t)
		ann.typeInto(t, "#movie-title", "Arrival")
		ann.press(t, "Add film")
		if !get(t, ann, "read the mark", chromedp.Evaluate[bool](`window.e2eNotReloaded === true`)) {
			ann.fail(t, "the page was reloaded")
		}
	})

	t.Run("the one who became a user sees the controls that are theirs", func(t *testing.T) {
		// The page was first loaded by a visitor: only a reload would
		// have told the script who the viewer is, had it kept reading
		// <body>'s attribute, which a boosted swap leaves alone.
		ann.waitFor(t, "Remove shown for Ann's own film", liveWithin,
			`document.querySelector('button[aria-label="Remove Arrival"]')?.offsetParent != null`)
		ann.waitFor(t, "(you) shown next to Ann", liveWithin,
			`Array.from(document.querySelectorAll("[data-you-for]")).some(el => el.offsetParent !== null)`)
	})

	step(t, "more films, so that the list is longer than the screen", func(t *testing.T) {
		for _, title := range []string{"Heat", "Paddington 2", "Spirited Away", "The Thing", "Alien", "Tenet"} {
			ann.waitLive(t)
			ann.typeInto(t, "#movie-title", title)
			ann.press(t, "Add film")
		}
	})

	t.Run("a refused film keeps the reader's place and focuses the field", func(t *testing.T) {
		ann.waitLive(t)
		ann.do(t, "scroll to the form", chromedp.Evaluate[chromedp.Void](
			`document.getElementById("movie-title").scrollIntoView({block: "center"})`))
		before := get(t, ann, "read the scroll position", chromedp.Evaluate[float64](`window.scrollY`))
		if before < 100 {
			ann.fail(t, "the form is at %v, too near the top to tell a jump", before)
		}
		ann.typeInto(t, "#movie-title", "tenet")
		if status := ann.send(t, "add a duplicate", chromedp.Click(button("Add film"))); status != 409 {
			ann.fail(t, "a duplicate: status %d, want 409", status)
		}
		ann.waitFor(t, "the title field focused", liveWithin, `document.activeElement?.id === "movie-title"`)
		after := get(t, ann, "read the scroll position", chromedp.Evaluate[float64](`window.scrollY`))
		if after < before-200 {
			ann.fail(t, "scrolled from %v to %v", before, after)
		}
		visible := get(t, ann, "see the message", chromedp.Evaluate[bool](`(() => {
			const r = document.getElementById("movie-title-error").getBoundingClientRect();
			return r.top >= 0 && r.bottom <= window.innerHeight; })()`))
		if !visible {
			ann.fail(t, "the message is off the screen")
		}
	})

	t.Run("forms on the list page do not pile up history entries", func(t *testing.T) {
		start := get(t, ann, "read the history", chromedp.Evaluate[int](`history.length`))
		for _, title := range []string{"Solaris", "Stalker"} {
			ann.waitLive(t)
			ann.typeInto(t, "#movie-title", title)
			ann.press(t, "Add film")
		}
		ann.waitLive(t)
		ann.load(t, "roll", chromedp.Click(chromedp.CSS(".roll-button")))
		if got := get(t, ann, "read the history", chromedp.Evaluate[int](`history.length`)); got != start {
			ann.fail(t, "history grew from %d to %d entries", start, got)
		}
	})

	t.Run("a one-time notice is not in the address to come back on reload", func(t *testing.T) {
		ann.waitLive(t)
		ann.do(t, "clear the name", chromedp.Clear(chromedp.CSS("#list-rename")))
		ann.typeInto(t, "#list-rename", "Phone films, renamed")
		ann.press(t, "Rename")
		if got := ann.text(t, "#main .notice"); got == "" {
			ann.fail(t, "no notice after a rename")
		}
		if search := get(t, ann, "read the query", chromedp.Evaluate[string](`location.search`)); search != "" {
			ann.fail(t, "the address keeps %q", search)
		}
	})

	t.Run("a form sent while the server cannot be reached says so", func(t *testing.T) {
		ann.waitLive(t)
		offline := func(on bool) chromedp.Action[chromedp.Void] {
			return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				rules := []*network.Conditions{}
				if on {
					rules = append(rules, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
				}
				_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules})
				return err
			})
		}
		ann.do(t, "enable the network domain", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
			return err
		}))
		ann.do(t, "cut the network", offline(true))
		ann.typeInto(t, "#movie-title", "Never sent")
		ann.do(t, "press Add film", chromedp.Click(button("Add film")))
		ann.waitFor(t, "a message that nothing was sent", pageTimeout,
			`document.getElementById("send-error")?.textContent.includes("could not be reached")`)
		ann.do(t, "restore the network", offline(false))
		wantCounts(t, app, map[string]int64{"SELECT count(*) FROM movies WHERE title = 'Never sent'": 0})
	})

	t.Run("a page that answers a form reloads as the page the form was on", func(t *testing.T) {
		// The form's own address takes only POSTs: Reload there was a 405.
		ann.visit(t, app, "/account")
		ann.press(t, "Get a recovery code")
		if code := ann.text(t, "#recovery-code"); len(code) != 29 {
			ann.fail(t, "recovery code %q", code)
		}
		if got := ann.path(t); got != "/account" {
			ann.fail(t, "the recovery code shows at %s, want /account", got)
		}
		ann.navigate(t, "reload", chromedp.Reload())
		if got := ann.text(t, "h1"); got != "Your account" {
			ann.fail(t, "after a reload: %q", got)
		}
	})
}

// A member who leaves a list page for another site or page drops out of
// "looking at this list now" at once, even when the browser keeps the
// page in its back/forward cache; coming back shows the list afresh.
func TestLeavingAListPageEndsItsPresence(t *testing.T) {
	b := startBrowser(t)
	app := startApp(t)
	alice := b.open(t, "alice", true)
	carol := b.open(t, "carol", true)
	var list string

	step(t, "Alice and Carol look at one list", func(t *testing.T) {
		alice.visit(t, app, "/")
		alice.typeInto(t, "#list-name", "Presence")
		alice.press(t, "Start the list")
		list = alice.path(t)
		invite := get(t, alice, "read the invitation link", chromedp.Value(chromedp.CSS("input#invite-link")))
		setName(t, alice, app, "Alice")
		alice.visit(t, app, list)
		carol.visit(t, app, invite)
		carol.press(t, "Join the list")
		setName(t, carol, app, "Carol")
		carol.visit(t, app, list)
		alice.waitLive(t)
		carol.waitLive(t)
		alice.waitFor(t, "Carol among who is here", liveWithin, presenceIs("Alice,Carol"))
	})

	step(t, "Carol goes to another page by its address", func(t *testing.T) {
		carol.do(t, "mark the list page", chromedp.Evaluate[chromedp.Void](`window.e2eLeft = true`))
		carol.visit(t, app, "/claim")
		alice.waitFor(t, "Carol gone from who is here", liveWithin+3*time.Second, presenceIs("Alice"))
	})

	t.Run("coming back, Carol's page is live and current", func(t *testing.T) {
		alice.typeInto(t, "#movie-title", "Added while Carol was away")
		alice.press(t, "Add film")
		carol.do(t, "go back", chromedp.Evaluate[chromedp.Void](`history.back()`))
		carol.waitAcrossLoads(t, "Carol's list page again, loaded afresh", pageTimeout,
			`location.pathname === `+fmt.Sprintf("%q", list)+` && document.readyState === "complete" && window.e2eLeft === undefined`)
		carol.waitLive(t)
		carol.waitFor(t, "the film added while away", liveWithin, movieIs("Added while Carol was away", "li.movie"))
		alice.waitFor(t, "Carol back among who is here", liveWithin, presenceIs("Alice,Carol"))
	})

	t.Run("a hand-over tells both pages they are out of date", func(t *testing.T) {
		alice.waitLive(t)
		alice.load(t, "make Carol the owner", chromedp.Click(chromedp.Search(`//ul[@id="members"]/li[contains(., "Carol")]//button[normalize-space()="Make owner"]`)))
		carol.waitFor(t, "Carol told she owns the list now", liveWithin,
			`document.getElementById("live-status").textContent.includes("You now own this list")`)
	})
}

// presenceIs is a JavaScript condition: the names in "looking at this list
// now", sorted and joined with commas, are names.
func presenceIs(names string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll("#presence li"), li => li.textContent.trim()).sort().join() === %q`, names)
}

// waitAcrossLoads is waitFor for a condition that holds only once the tab
// has loaded a page or two (going back, then a reload): each try that
// finds no page to ask, between loads, counts as not yet.
func (p *tab) waitAcrossLoads(t *testing.T, what string, d time.Duration, cond string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(p.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.fail(t, "%s: not within %v", what, d)
}
