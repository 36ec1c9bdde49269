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
