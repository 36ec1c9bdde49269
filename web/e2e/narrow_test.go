package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestLongNamesFitANarrowPhone: names and titles as long as the forms
// allow, without a space to break at, wrap on a 360 px wide screen instead
// of making every page scroll sideways.
func TestLongNamesFitANarrowPhone(t *testing.T) {
	b := startBrowser(t)
	app := startApp(t)
	owner := b.open(t, "owner", true)
	friend := b.open(t, "friend", true)
	for _, p := range []*tab{owner, friend} {
		p.do(t, "make the screen a narrow phone's", chromedp.EmulateViewport(360, 740))
	}
	listName := strings.Repeat("Supercalifragilistic", 4) // 80 letters, the most a list name may have
	title := strings.Repeat("Longfilm", 25)               // 200, the most a title may have
	var list, invite string

	step(t, "a list, a film and names as long as allowed, and two rolls", func(t *testing.T) {
		owner.visit(t, app, "/")
		owner.typeInto(t, "#list-name", listName)
		owner.press(t, "Start the list")
		list = owner.path(t)
		invite = get(t, owner, "read the invitation link", chromedp.Value(chromedp.CSS("input#invite-link")))
		postName(t, owner, strings.Repeat("Wolfgang", 5)) // 40, the most a name may have
		owner.visit(t, app, list)
		owner.waitLive(t)
		owner.typeInto(t, "#movie-title", title)
		owner.typeInto(t, "#movie-year", "1999")
		owner.press(t, "Add film")
		for range 2 { // the second roll puts the first under "Earlier rolls"
			owner.waitLive(t)
			owner.load(t, "roll", chromedp.Click(chromedp.CSS(".roll-button")))
		}
		wantCounts(t, app, map[string]int64{
			"SELECT count(*) FROM rolls":                                 2,
			"SELECT count(*) FROM movies WHERE length(title) = 200":      1,
			"SELECT count(*) FROM lists WHERE length(name) = 80":         1,
			"SELECT count(*) FROM users WHERE length(display_name) = 40": 1,
		})
	})

	t.Run("the invitation page, to a visitor", func(t *testing.T) {
		friend.visit(t, app, invite)
		noSidewaysScroll(t, friend)
	})

	step(t, "a friend with a long name joins", func(t *testing.T) {
		friend.press(t, "Join the list")
		postName(t, friend, strings.Repeat("Brunhild", 5))
	})

	t.Run("the list page", func(t *testing.T) {
		owner.visit(t, app, list)
		owner.waitLive(t)
		noSidewaysScroll(t, owner)
		friend.visit(t, app, list)
		friend.waitLive(t)
		noSidewaysScroll(t, friend)
	})

	t.Run("the home page", func(t *testing.T) {
		owner.visit(t, app, "/")
		noSidewaysScroll(t, owner)
	})

	t.Run("the invitation page, to a member", func(t *testing.T) {
		owner.visit(t, app, invite)
		noSidewaysScroll(t, owner)
	})

	t.Run("the delete confirmation page", func(t *testing.T) {
		owner.visit(t, app, list)
		// A live message may come before the swap, which load would take
		// for the result: wait for the page itself.
		owner.do(t, "press Delete this list…", chromedp.Click(button("Delete this list…")))
		owner.waitFor(t, "the confirmation", pageTimeout, `document.querySelector("h1")?.textContent.startsWith("Delete “")`)
		noSidewaysScroll(t, owner)
	})
}

// postName sets p's display name with a POST to /account/name from p's
// page, as the account page's form does.
func postName(t *testing.T, p *tab, name string) {
	t.Helper()
	status := get(t, p, "post the name", chromedp.Evaluate[int](fmt.Sprintf(
		`fetch("/account/name", {method: "POST", body: new URLSearchParams({display_name: %q})}).then(r => r.status)`, name),
		chromedp.EvalAwaitPromise))
	if status != 200 {
		p.fail(t, "renaming to %q: status %d after redirects", name, status)
	}
}

// noSidewaysScroll fails t if p's page is wider than its window, naming
// the elements that reach past the window's right edge or whose text
// spills out of them.
func noSidewaysScroll(t *testing.T, p *tab) {
	t.Helper()
	type width struct {
		Scroll, Window int
		Wide           []string
	}
	w := get(t, p, "measure the page", chromedp.Evaluate[width](`(() => {
		const wide = Array.from(document.querySelectorAll("body *")).filter(e => e.getClientRects().length > 0 &&
			(e.getBoundingClientRect().right > window.innerWidth + 0.5 ||
				e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === "visible" && !e.matches("input, textarea")));
		return {
			Scroll: document.documentElement.scrollWidth,
			Window: window.innerWidth,
			// The innermost: their parents are only wide because of them.
			Wide: wide.filter(e => !wide.some(d => d !== e && e.contains(d))).map(e =>
				e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (typeof e.className === "string" && e.className.trim() ? "." + e.className.trim().split(/\s+/).join(".") : "")),
		};
	})()`))
	if w.Scroll > w.Window {
		p.fail(t, "%s scrolls sideways: %d px wide in a %d px window; past the edge: %s",
			p.path(t), w.Scroll, w.Window, strings.Join(w.Wide, ", "))
	}
}
