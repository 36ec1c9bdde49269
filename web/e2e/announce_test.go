package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/moviedice/moviedice/web/live"
)

// TestAnnounceOthersLiveChanges: what other members change, arriving
// live, is said to screen-reader users through the page's live region,
// once; their own changes (but for the die's pick, said to the roller
// once), who is here, and live messages that only repeat what the page
// shows are not.
func TestAnnounceOthersLiveChanges(t *testing.T) {
	b := startBrowser(t)
	app := startApp(t)
	ada := b.open(t, "ada", true)
	bea := b.open(t, "bea", true)
	ada.hearAnnouncements(t)
	bea.hearAnnouncements(t)
	var list string

	step(t, "Ada starts a list and Bea joins it", func(t *testing.T) {
		ada.visit(t, app, "/")
		ada.typeInto(t, "#list-name", "Said aloud")
		ada.press(t, "Start the list")
		list = ada.path(t)
		invite := get(t, ada, "read the invitation link", chromedp.Value(chromedp.CSS("input#invite-link")))
		setName(t, ada, app, "Ada")
		bea.visit(t, app, invite)
		bea.press(t, "Join the list")
		setName(t, bea, app, "Bea")
	})

	t.Run("a page load and someone arriving say nothing", func(t *testing.T) {
		ada.visit(t, app, list)
		ada.waitLive(t)
		bea.visit(t, app, list)
		bea.waitLive(t)
		ada.waitFor(t, "Bea among who is here", liveWithin, presenceIs("Ada,Bea"))
		ada.wantSaid(t)
		bea.wantSaid(t)
	})

	t.Run("a film someone else adds is said; the adder hears nothing of it", func(t *testing.T) {
		bea.waitLive(t)
		bea.typeInto(t, "#movie-title", "Arrival")
		bea.typeInto(t, "#movie-year", "2016")
		bea.press(t, "Add film")
		ada.wantSaid(t, "Bea added “Arrival (2016)”.")
		bea.wantSaid(t)
	})

	t.Run("a roll someone else makes is said; the roller hears the pick once", func(t *testing.T) {
		bea.waitLive(t)
		bea.load(t, "roll", chromedp.Click(chromedp.CSS(".roll-button")))
		ada.wantSaid(t, "Bea added “Arrival (2016)”.", "Bea rolled the die: “Arrival (2016)”.")
		bea.wantSaid(t, "The die picked “Arrival (2016)”.")
	})

	t.Run("each way round", func(t *testing.T) {
		ada.waitLive(t)
		ada.typeInto(t, "#movie-title", "Heat")
		ada.typeInto(t, "#movie-year", "1995")
		ada.press(t, "Add film")
		bea.wantSaid(t, "The die picked “Arrival (2016)”.", "Ada added “Heat (1995)”.")
		ada.wantSaid(t, "Bea added “Arrival (2016)”.", "Bea rolled the die: “Arrival (2016)”.")
	})

	t.Run("a film marked watched or removed by someone else is said", func(t *testing.T) {
		bea.waitLive(t)
		bea.load(t, "mark Heat watched", chromedp.Click(movieButton("Heat", "Mark watched")))
		ada.wantSaid(t, "Bea added “Arrival (2016)”.", "Bea rolled the die: “Arrival (2016)”.", "“Heat (1995)” marked watched.")
		ada.waitLive(t)
		ada.load(t, "remove Heat", chromedp.Click(chromedp.CSS(`button[aria-label="Remove Heat"]`)))
		bea.wantSaid(t, "The die picked “Arrival (2016)”.", "Ada added “Heat (1995)”.", "“Heat (1995)” removed.")
		ada.wantSaid(t, "Bea added “Arrival (2016)”.", "Bea rolled the die: “Arrival (2016)”.", "“Heat (1995)” marked watched.")
	})

	t.Run("a resync that changes nothing says nothing", func(t *testing.T) {
		heard := map[*tab]int{}
		for _, p := range []*tab{ada, bea} {
			heard[p] = get(t, p, "count live messages", chromedp.Evaluate[int](`window.e2eLiveMessages`))
		}
		app.db.WhileListenerDown(t, live.ListenerName, "")
		for _, p := range []*tab{ada, bea} {
			p.waitFor(t, "the whole list sent again", liveWithin, fmt.Sprintf("window.e2eLiveMessages > %d", heard[p]))
		}
		ada.wantSaid(t, "Bea added “Arrival (2016)”.", "Bea rolled the die: “Arrival (2016)”.", "“Heat (1995)” marked watched.")
		bea.wantSaid(t, "The die picked “Arrival (2016)”.", "Ada added “Heat (1995)”.", "“Heat (1995)” removed.")
	})

	t.Run("a film missed while the feed was down is said with the resync", func(t *testing.T) {
		app.db.WhileListenerDown(t, live.ListenerName, `INSERT INTO movies (list_id, added_by, title) SELECT l.id, u.id, 'Missed while away'
			FROM lists l, users u WHERE l.name = 'Said aloud' AND u.display_name = 'Bea'`)
		ada.wantSaid(t, "Bea added “Arrival (2016)”.", "Bea rolled the die: “Arrival (2016)”.", "“Heat (1995)” marked watched.",
			"Bea added “Missed while away”.")
		bea.waitFor(t, "the missed film on Bea's page", liveWithin, movieIs("Missed while away", "li.movie"))
		bea.wantSaid(t, "The die picked “Arrival (2016)”.", "Ada added “Heat (1995)”.", "“Heat (1995)” removed.")
	})

	t.Run("no page logged errors", func(t *testing.T) {
		for _, p := range []*tab{ada, bea} {
			if errs := p.consoleErrors(); len(errs) > 0 {
				t.Errorf("%s's console:\n%s", p.name, strings.Join(errs, "\n"))
			}
		}
	})
}

// hearAnnouncements has every page the tab loads keep what its live
// region says, in order, in window.e2eSaid: each text written to
// #announcer (the region is emptied before each, and is kept across
// boosted swaps).
func (p *tab) hearAnnouncements(t *testing.T) {
	t.Helper()
	const script = `window.e2eSaid = [];
document.addEventListener("DOMContentLoaded", () => {
	const region = document.getElementById("announcer");
	new MutationObserver(() => { if (region.textContent) window.e2eSaid.push(region.textContent); })
		.observe(region, { childList: true, characterData: true, subtree: true });
});`
	p.do(t, "hear announcements", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	}))
}

// wantSaid waits until the tab's page has said all of want, then, once its
// live connection has been quiet for a moment, checks that it said
// exactly want since it loaded: nothing more, nothing twice.
func (p *tab) wantSaid(t *testing.T, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	js, _ := json.Marshal(want)
	p.waitFor(t, fmt.Sprintf("%s said", js), liveWithin,
		fmt.Sprintf(`((said, want) => want.every(w => said.includes(w)))(window.e2eSaid, %s)`, js))
	p.waitLive(t)
	if got := get(t, p, "read what was said", chromedp.Evaluate[[]string](`window.e2eSaid`)); !slices.Equal(got, want) {
		p.fail(t, "said %q, want %q", got, want)
	}
}

// TestAnnouncedOnceWhatTheAnswerMissed: a form's answer is made before
// changes of others that come live to the page it replaces, while the
// answer is on its way. What was said of them is not said again when the
// answer's own connection brings them; and the roller, whose pick comes
// after another member's later roll was said, hears that roll again after
// it, so that the last thing said is tonight's film.
func TestAnnouncedOnceWhatTheAnswerMissed(t *testing.T) {
	b := startBrowser(t)
	app := startApp(t)
	ada := b.open(t, "ada", true)
	bea := b.open(t, "bea", true)
	ada.hearAnnouncements(t)
	ada.orderAnswers(t)
	db := app.db.Super(t)

	step(t, "Ada starts a list with two films and Bea joins it", func(t *testing.T) {
		ada.visit(t, app, "/")
		ada.typeInto(t, "#list-name", "Missed by the answer")
		ada.press(t, "Start the list")
		list := ada.path(t)
		app.db.MustExec(t, `INSERT INTO movies (list_id, added_by, title) SELECT l.id, l.owner_id, f FROM lists l, unnest(ARRAY['Alien', 'Brazil']) f`)
		invite := get(t, ada, "read the invitation link", chromedp.Value(chromedp.CSS("input#invite-link")))
		setName(t, ada, app, "Ada")
		bea.visit(t, app, invite)
		bea.press(t, "Join the list")
		setName(t, bea, app, "Bea")
		ada.visit(t, app, list)
	})

	// hold presses a button (press) with the answer held; it returns once
	// the answer is all in, and the page still the one it replaces.
	hold := func(t *testing.T, what string, press chromedp.Action[chromedp.Void]) {
		t.Helper()
		ada.waitLive(t)
		ada.do(t, what, chromedp.Evaluate[chromedp.Void](`window.e2eOrder = "hold"; window.e2eRelease = false;
			window.e2eAnswerHeld = false; window.e2eBoosted = 0; window.e2eSaid = [];`), press)
		ada.waitFor(t, "the answer held", pageTimeout, `window.e2eAnswerHeld`)
	}
	// release lets the answer in, and returns the value of the JavaScript
	// expression seen, taken as it is swapped in, before any live message.
	release := func(t *testing.T, seen string) string {
		t.Helper()
		ada.do(t, "let the answer in", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.e2eSeen = null;
			document.addEventListener("htmx:afterSwap", function see(e) {
				if (!e.detail.boosted) return;
				window.e2eSeen = String(%s);
				document.removeEventListener("htmx:afterSwap", see);
			});
			window.e2eRelease = true;`, seen)))
		ada.waitFor(t, "the answer swapped in", pageTimeout, `window.e2eBoosted > 0`)
		ada.do(t, "stop holding answers", chromedp.Evaluate[chromedp.Void](`window.e2eOrder = ""`))
		return get(t, ada, "read what the answer showed", chromedp.Evaluate[string](`window.e2eSeen`))
	}

	t.Run("a film added meanwhile is said once", func(t *testing.T) {
		hold(t, "mark Brazil watched", chromedp.Click(movieButton("Brazil", "Mark watched")))
		app.db.MustExec(t, `INSERT INTO movies (list_id, added_by, title) SELECT l.id, u.id, 'Casablanca' FROM lists l, users u WHERE u.display_name = 'Bea'`)
		ada.waitFor(t, "Casablanca said", liveWithin, `window.e2eSaid.includes("Bea added “Casablanca”.")`)
		if had := release(t, `document.getElementById("movies").textContent.includes("Casablanca")`); had != "false" {
			t.Fatalf("the answer was made after Casablanca came (it shows it: %s): this tests nothing", had)
		}
		ada.waitFor(t, "Casablanca on the page", liveWithin, movieIs("Casablanca", "li.movie"))
		ada.wantSaid(t, "Bea added “Casablanca”.")
	})

	t.Run("a roll made meanwhile is said again after the pick", func(t *testing.T) {
		hold(t, "roll the die", chromedp.Click(chromedp.CSS(".roll-button")))
		var picked string
		if err := db.QueryRow(context.Background(), `SELECT m.title FROM rolls r JOIN movies m ON m.id = r.movie_id
			JOIN users u ON u.id = r.rolled_by WHERE u.display_name = 'Ada'`).Scan(&picked); err != nil {
			t.Fatal(err)
		}
		if picked == "Brazil" {
			t.Fatal("the die picked a watched film")
		}
		app.db.MustExec(t, `INSERT INTO rolls (list_id, movie_id, rolled_by, title) SELECT m.list_id, m.id, u.id, m.title FROM movies m, users u
			WHERE m.title = 'Brazil' AND u.display_name = 'Bea'`)
		beas := "Bea rolled the die: “Brazil”."
		ada.waitFor(t, "Bea's roll said", liveWithin, fmt.Sprintf(`window.e2eSaid.includes(%q)`, beas))
		if shown := release(t, `document.querySelector("#roll .roll-title").textContent.trim()`); shown != picked {
			t.Fatalf("the answer shows %q tonight, not Ada's pick %q: this tests nothing", shown, picked)
		}
		ada.waitFor(t, "Bea's roll tonight's film again", liveWithin, `document.querySelector("#roll .roll-title").textContent.trim() === "Brazil"`)
		ada.wantSaid(t, beas, "The die picked “"+picked+"”. Since then: "+beas)
	})

	t.Run("no page logged errors", func(t *testing.T) {
		if errs := ada.consoleErrors(); len(errs) > 0 {
			t.Errorf("console:\n%s", strings.Join(errs, "\n"))
		}
	})
}
