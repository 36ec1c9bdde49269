package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestOwnActionsWhateverComesFirst: a member with JavaScript on rolls the
// die, marks a film watched or removes one. The live message their change
// causes replaces the section the form was in, before or after the form's
// own answer comes. Either way the roller hears the die's pick once, focus
// stays on the control they used (on the film next to one they removed),
// the page does not jump, and the address and history stay the list's.
func TestOwnActionsWhateverComesFirst(t *testing.T) {
	b := startBrowser(t)
	app := startApp(t)
	ann := b.open(t, "ann", true)
	ann.do(t, "make the screen a phone's", chromedp.EmulateViewport(360, 640))
	ann.hearAnnouncements(t)
	ann.orderAnswers(t)
	var list string

	step(t, "Ann starts a list of films longer than the screen", func(t *testing.T) {
		ann.visit(t, app, "/")
		ann.typeInto(t, "#list-name", "In any order")
		ann.press(t, "Start the list")
		list = ann.path(t)
		if _, err := app.db.Super(t).Exec(context.Background(), `INSERT INTO movies (list_id, added_by, title)
			SELECT l.id, l.owner_id, 'Film ' || g FROM lists l, generate_series(1, 20) g WHERE l.name = 'In any order'`); err != nil {
			t.Fatal(err)
		}
		ann.visit(t, app, list)
	})

	// Each action names the control to press, and the one focus should
	// end on, found again afterwards by what is noted of it before: the
	// die, the same film's watched button, the next film's.
	roll := ownAction{name: "roll", press: "#roll .roll-button",
		focus: `() => document.querySelector("#roll .roll-button")`}
	watched := ownAction{name: "mark watched", press: "#movies li.movie:not(.watched):nth-child(3) button[name=watched]",
		focus: `(id => () => document.querySelector("#" + id + " button[name=watched][aria-pressed=true]"))(
			document.querySelector("#movies li.movie:not(.watched):nth-child(3)").id)`}
	remove := ownAction{name: "remove", press: "#movies li.movie:not(.watched):nth-child(4) button.danger",
		focus: `(id => () => document.querySelector("#" + id + " button[name=watched]"))(
			document.querySelector("#movies li.movie:not(.watched):nth-child(4)").nextElementSibling.id)`}
	orders := []struct{ name, hook string }{
		{"as they come", ""},
		{"the live message first", "live first"},
		{"the answer first", "answer first"},
	}
	for _, order := range orders {
		for round := 1; round <= 2; round++ {
			for _, a := range []ownAction{roll, watched, remove} {
				t.Run(fmt.Sprintf("%s, %s, round %d", a.name, order.name, round), func(t *testing.T) {
					ann.doOwn(t, list, a, order.hook)
				})
			}
		}
	}

	t.Run("removing the last film focuses the one before it", func(t *testing.T) {
		ann.doOwn(t, list, ownAction{name: "remove the last film", press: "#movies li.movie:last-child button.danger",
			focus: `(id => () => document.querySelector("#" + id + " button[name=watched]"))(
				document.querySelector("#movies li.movie:last-child").previousElementSibling.id)`}, "")
	})

	t.Run("typing while an answer is on its way keeps focus and text", func(t *testing.T) {
		ann.waitLive(t)
		film := get(t, ann, "hold the next answer and press a film's Mark watched", chromedp.Evaluate[string](`(() => {
			window.e2eOrder = "hold";
			window.e2eRelease = false;
			window.e2eBoosted = 0;
			window.e2eSaid = [];
			const li = document.querySelector("#movies li.movie:not(.watched)");
			li.querySelector("button[name=watched]").click();
			return li.id.replace(/^film-/, "");
		})()`))
		watched := func() bool {
			var at *time.Time
			if err := app.db.Super(t).QueryRow(context.Background(), "SELECT watched_at FROM movies WHERE id = $1", film).Scan(&at); err != nil {
				t.Fatal(err)
			}
			return at != nil
		}
		for deadline := time.Now().Add(pageTimeout); !watched(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the film was not marked watched")
			}
		}
		ann.typeInto(t, "#movie-title", "The")
		ann.do(t, "let the answer in", chromedp.Evaluate[chromedp.Void](`window.e2eRelease = true`))
		ann.waitFor(t, "the answer swapped in", pageTimeout, `window.e2eBoosted > 0`)
		ann.waitLive(t)
		ann.do(t, "type on", chromedp.KeyEvent(" Matrix"))
		ann.waitFor(t, "focus and text kept in the title field", liveWithin,
			`document.activeElement.id === "movie-title" && document.activeElement.value === "The Matrix"`)
		if !watched() {
			t.Error("typing on pressed the film's button: it is no longer watched")
		}
		ann.do(t, "clear the field and stop holding answers", chromedp.Evaluate[chromedp.Void](
			`document.getElementById("movie-title").value = ""; document.activeElement.blur(); window.e2eOrder = ""`))
	})

	t.Run("no page logged errors", func(t *testing.T) {
		if errs := ann.consoleErrors(); len(errs) > 0 {
			t.Errorf("console:\n%s", strings.Join(errs, "\n"))
		}
	})
}

// TestOwnPlaceKeptWhenOthersChangeTheList: a live message that replaces
// the control a member is on (the die, a film's buttons), because someone
// else rolled or changed that film, leaves them on its successor, or on
// the next film if that one is gone; not at the top of the page.
func TestOwnPlaceKeptWhenOthersChangeTheList(t *testing.T) {
	b := startBrowser(t)
	app := startApp(t)
	ann := b.open(t, "ann", true)

	step(t, "Ann looks at a list of films", func(t *testing.T) {
		ann.visit(t, app, "/")
		ann.typeInto(t, "#list-name", "Changed elsewhere")
		ann.press(t, "Start the list")
		app.db.MustExec(t, `INSERT INTO movies (list_id, added_by, title) SELECT l.id, l.owner_id, 'Film ' || g FROM lists l, generate_series(1, 6) g`)
		ann.visit(t, app, ann.path(t))
	})

	// Each change is made in the database, as another member's form or
	// another instance would, while Ann is on the control it replaces;
	// {film} is the film that control is in.
	for _, c := range []struct{ name, on, sql, done, focus string }{
		{"a roll leaves the reader on the die", "#roll .roll-button",
			`INSERT INTO rolls (list_id, movie_id, rolled_by, title) SELECT list_id, id, added_by, title FROM movies WHERE title = 'Film 1'`,
			`document.querySelector("#roll [data-roll-id]") !== null`,
			`() => document.querySelector("#roll .roll-button")`},
		{"a film marked watched keeps the reader on its button", `#movies li.movie:nth-child(2) button[name=watched]`,
			`UPDATE movies SET watched_at = now() WHERE id = '{film}'`,
			`document.querySelectorAll("#movies li.movie.watched").length === 1`,
			`(id => () => document.querySelector("#" + id + " button[name=watched]"))(document.querySelector("#movies li.movie:nth-child(2)").id)`},
		{"a film marked watched keeps the reader on its Remove button", `#movies li.movie:nth-child(2) button.danger`,
			`UPDATE movies SET watched_at = now() WHERE id = '{film}'`,
			`document.querySelectorAll("#movies li.movie.watched").length === 2`,
			`(id => () => document.querySelector("#" + id + " button.danger"))(document.querySelector("#movies li.movie:nth-child(2)").id)`},
		{"a film removed moves the reader to the next one", `#movies li.movie:nth-child(3) button[name=watched]`,
			`DELETE FROM movies WHERE id = '{film}'`,
			`document.querySelectorAll("#movies li.movie").length === 5`,
			`(id => () => document.querySelector("#" + id + " button[name=watched]"))(document.querySelector("#movies li.movie:nth-child(3)").nextElementSibling.id)`},
		{"the last film removed moves the reader to the films' heading", `#movies li.movie button[name=watched]`,
			`DELETE FROM movies`,
			`document.querySelectorAll("#movies li.movie").length === 0`,
			`() => document.getElementById("films-heading")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ann.waitLive(t)
			film := get(t, ann, "focus "+c.on, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
				const on = document.querySelector(%q);
				on.focus();
				window.e2eFocus = %s;
				return on.closest("li.movie")?.id.replace(/^film-/, "") ?? "";
			})()`, c.on, c.focus)))
			app.db.MustExec(t, strings.ReplaceAll(c.sql, "{film}", film))
			ann.waitFor(t, "the change on the page", liveWithin, c.done)
			ann.waitLive(t)
			ann.waitFor(t, "focus where it belongs", liveWithin, `document.activeElement === window.e2eFocus()`)
		})
	}
	t.Run("the heading keeps no tabindex once left", func(t *testing.T) {
		if !get(t, ann, "leave the heading", chromedp.Evaluate[bool](`(() => {
			const h = document.getElementById("films-heading");
			h.blur();
			return !h.hasAttribute("tabindex");
		})()`)) {
			t.Error("the Films heading keeps its tabindex after losing focus")
		}
	})
}

// ownAction is a form on a list page that a member sends: the button
// pressed (CSS), and a JavaScript function, made before the press, that
// finds the control focus should be on after it.
type ownAction struct{ name, press, focus string }

// doOwn presses a's button on p's list page with answers and live
// messages in order (see orderAnswers), and checks what the member hears
// (a roll's pick, once; nothing else), where focus lands, that the page
// keeps its place, and that the address and history stay the list's.
func (p *tab) doOwn(t *testing.T, list string, a ownAction, order string) {
	t.Helper()
	p.waitLive(t)
	p.do(t, "bring the button into view and note where things are", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		scrollTo(0, document.querySelector(%q).getBoundingClientRect().top + scrollY - 100);
		window.e2eSaid = [];
		window.e2eWas = {y: scrollY, history: history.length, focus: %s};
		window.e2eOrder = %q;
	})()`, a.press, a.focus, order)))
	before := get(t, p, "read the scroll position", chromedp.Evaluate[float64](`window.e2eWas.y`))
	if before < 150 {
		p.fail(t, "the button is at %v, too near the top to tell a jump", before)
	}
	p.load(t, a.name, chromedp.Click(chromedp.CSS(a.press)))
	p.waitLive(t)
	if order != "" {
		if got := get(t, p, "read which came first", chromedp.Evaluate[bool](`window.e2eLiveFirst`)); got != (order == "live first") {
			p.fail(t, "%s: the live message came first: %v", order, got)
		}
	}
	if a.name == "roll" {
		p.wantSaid(t, "The die picked “"+p.text(t, "#roll .roll-title")+"”.")
	} else {
		p.wantSaid(t)
	}
	p.waitFor(t, "focus where it belongs", liveWithin, `document.activeElement === window.e2eWas.focus()`)
	if after := get(t, p, "read the scroll position", chromedp.Evaluate[float64](`scrollY`)); after < before-50 || after > before+50 {
		p.fail(t, "the page moved from %v to %v", before, after)
	}
	if got := get(t, p, "read the address", chromedp.Evaluate[string](`location.pathname + location.search`)); got != list {
		p.fail(t, "the address is %s, want %s", got, list)
	}
	if grew := get(t, p, "read the history", chromedp.Evaluate[bool](`history.length !== window.e2eWas.history`)); grew {
		p.fail(t, "history grew")
	}
}

// orderAnswers has every page the tab loads put a form's answer and the
// live messages in the order window.e2eOrder names: "live first" holds
// the answer until a live message has come (2 s at most), "answer first"
// holds live messages until the answer is swapped in, "hold" holds the
// answer, once it is all in (window.e2eAnswerHeld), until
// window.e2eRelease is set; empty, they come as they do.
// window.e2eLiveFirst then says whether a live message came between the
// form's request and its answer.
func (p *tab) orderAnswers(t *testing.T) {
	t.Helper()
	const script = `window.e2eOrder = "";
let e2eLiveAtRequest = 0, e2eHeld = null;
document.addEventListener("htmx:beforeRequest", () => {
	e2eLiveAtRequest = window.e2eLiveMessages;
	e2eHeld = window.e2eOrder === "answer first" ? [] : null;
});
document.addEventListener("htmx:beforeSend", e => {
	if (window.e2eOrder === "hold") {
		const xhr = e.detail.xhr, onload = xhr.onload;
		xhr.onload = function () {
			window.e2eAnswerHeld = true;
			const go = () => window.e2eRelease ? onload.call(xhr) : setTimeout(go, 5);
			go();
		};
		return;
	}
	if (window.e2eOrder !== "live first") return;
	const xhr = e.detail.xhr, onload = xhr.onload, until = performance.now() + 2000;
	xhr.onload = function () {
		const go = () => window.e2eLiveMessages > e2eLiveAtRequest || performance.now() > until ? onload.call(xhr) : setTimeout(go, 5);
		go();
	};
});
document.addEventListener("htmx:beforeSwap", e => {
	if (e.detail.boosted) window.e2eLiveFirst = window.e2eLiveMessages > e2eLiveAtRequest;
});
document.addEventListener("htmx:afterSwap", e => {
	if (e.target !== document.body || !e2eHeld) return;
	const held = e2eHeld;
	e2eHeld = null;
	held.forEach(f => f());
});
const e2eListen = WebSocket.prototype.addEventListener;
WebSocket.prototype.addEventListener = function (type, fn, opts) {
	if (type !== "message") return e2eListen.call(this, type, fn, opts);
	return e2eListen.call(this, type, function (ev) { e2eHeld ? e2eHeld.push(() => fn.call(this, ev)) : fn.call(this, ev); }, opts);
};`
	p.do(t, "order answers and live messages", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	}))
}
