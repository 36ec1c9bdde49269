package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// A film's watched button says which state it wants, so sending it twice,
// or two members sending it at once, ends in that state.
func TestMarkWatched(t *testing.T) {
	a := mustAppWith(t, unlimited)
	w := a.mustSweepWorld(t)
	list := "/l/" + w.list
	path := list + "/movies/" + w.film + "/watched"

	// watchedAt is the film's watched_at, nil when unwatched.
	watchedAt := func(t *testing.T) *time.Time {
		t.Helper()
		var at *time.Time
		if err := a.db.Super(t).QueryRow(context.Background(), "SELECT watched_at FROM movies WHERE id = $1", w.film).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	mark := func(t *testing.T, b *browser, value string) {
		t.Helper()
		res, _ := b.post(path, "watched", value)
		mustRedirect(t, res, list)
	}

	t.Run("marking watched twice leaves it watched, at the first time", func(t *testing.T) {
		mark(t, w.m, "false")
		mark(t, w.m, "true")
		first := watchedAt(t)
		if first == nil {
			t.Fatal("not marked watched")
		}
		mark(t, w.o, "true")
		if again := watchedAt(t); again == nil || !again.Equal(*first) {
			t.Errorf("marked again: watched_at %v, want %v", again, *first)
		}
	})
	t.Run("marking unwatched twice leaves it unwatched", func(t *testing.T) {
		mark(t, w.m, "true")
		mark(t, w.m, "false")
		mark(t, w.o, "false")
		if at := watchedAt(t); at != nil {
			t.Errorf("watched at %v after two unwatched marks", *at)
		}
	})
	t.Run("two members marking it at once both leave it watched", func(t *testing.T) {
		for round := range 10 {
			mark(t, w.m, "false")
			statuses := make([]int, 2)
			errs := make([]error, 2)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, b := range []*browser{w.o, w.m} {
				wg.Go(func() {
					<-start
					statuses[i], errs[i] = postStatus(b, path, url.Values{"watched": {"true"}})
				})
			}
			close(start)
			wg.Wait()
			for i := range statuses {
				if errs[i] != nil || statuses[i] != http.StatusSeeOther {
					t.Fatalf("round %d, post %d: status %d, err %v", round, i, statuses[i], errs[i])
				}
			}
			if watchedAt(t) == nil {
				t.Fatalf("round %d: two watched marks at once left the film unwatched", round)
			}
		}
	})
	t.Run("a form that does not say which state changes nothing and says so", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			form []string
		}{
			{"no field", nil},
			{"empty", []string{"watched", ""}},
			{"yes", []string{"watched", "yes"}},
			{"a number", []string{"watched", "1"}},
			{"another case", []string{"watched", "TRUE"}},
			{"padded", []string{"watched", " true"}},
		} {
			for _, state := range []string{"true", "false"} {
				t.Run(tc.name+", when watched is "+state, func(t *testing.T) {
					mark(t, w.m, state)
					at, before := watchedAt(t), a.snapshot(t)
					res, body := w.m.post(path, tc.form...)
					mustSee(t, res, body, http.StatusBadRequest, "did not say whether to mark the film watched or unwatched", "nothing was changed")
					if after := watchedAt(t); (at == nil) != (after == nil) || (at != nil && !at.Equal(*after)) {
						t.Errorf("watched_at went from %v to %v", at, after)
					}
					if a.snapshot(t) != before {
						t.Errorf("a refused form changed the database")
					}
				})
			}
		}
	})
	t.Run("the page's button asks for the other state, and sending it gets it", func(t *testing.T) {
		button := regexp.MustCompile(`action="` + regexp.QuoteMeta(path) + `"><button name="(watched)" value="(true|false)" aria-pressed="(true|false)">`)
		mark(t, w.m, "false")
		for _, want := range []string{"true", "false", "true"} {
			_, body := w.m.get(list)
			got := button.FindStringSubmatch(body)
			if got == nil {
				t.Fatalf("no watched button for the film on the page")
			}
			if got[2] != want || got[3] == want {
				t.Fatalf("button sends watched=%s with aria-pressed=%s; want watched=%s", got[2], got[3], want)
			}
			mark(t, w.m, got[2])
			if (watchedAt(t) != nil) != (want == "true") {
				t.Errorf("after sending watched=%s the film is not in that state", want)
			}
		}
	})
}

// postStatus posts form as b and returns the status; unlike b.post it
// may run on any goroutine.
func postStatus(b *browser, path string, form url.Values) (int, error) {
	req, err := http.NewRequest("POST", b.app.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
