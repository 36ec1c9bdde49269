package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/moviedice/moviedice/web/identity"
)

// An id has one spelling in URLs: the braced, URN and upper-case forms a
// uuid parser accepts are 404s, like ids that do not exist.
func TestIDsHaveOneSpelling(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	list := b.mustStartList("Canonical")
	id := strings.TrimPrefix(list, "/l/")
	if res, _ := b.get(list); res.StatusCode != 200 {
		t.Fatalf("canonical id: %d", res.StatusCode)
	}
	for _, spelling := range []string{strings.ToUpper(id), "{" + id + "}", "urn:uuid:" + id, strings.ReplaceAll(id, "-", "")} {
		res, body := b.get("/l/" + spelling)
		mustSee(t, res, body, 404, "Page not found")
		before := a.snapshot(t)
		res, body = b.post("/l/"+spelling+"/movies", "title", "Alien")
		mustSee(t, res, body, 404, "Page not found")
		if a.snapshot(t) != before {
			t.Errorf("%s: a refused post changed something", spelling)
		}
	}
}

func TestUnknownStaticFileIsTheStyledPage(t *testing.T) {
	a := mustApp(t)
	res, body := a.do(t, "GET", "/static/css/nope.0123456789ab.css", nil)
	mustSee(t, res, body, 404, "Page not found", "<!doctype html>")
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("content type %q", ct)
	}
}

func TestTooManySaysWhenToComeBack(t *testing.T) {
	a := mustAppWith(t, identity.Config{MintsPerMinute: 1, ClaimsPerMinute: 10})
	a.browser(t).mustStartList("First")
	res, body := a.browser(t).post("/lists", "name", "Second")
	mustSee(t, res, body, http.StatusTooManyRequests)
	if got := res.Header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After %q", got)
	}
}

func TestInvitationTokensStayOutOfTheLog(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	list := b.mustStartList("Secret link")
	var token string
	a.db.Super(t).QueryRow(context.Background(), "SELECT invite_token FROM lists WHERE id = $1", strings.TrimPrefix(list, "/l/")).Scan(&token)
	for _, path := range []string{"/join/" + token, "/join/" + token + "/", "/join/" + token + "/extra"} {
		b.get(path)
	}
	b.post("/join/" + token + "/")
	if logs := a.logs.String(); strings.Contains(logs, token) {
		t.Errorf("the log holds the token:\n%s", logs)
	}
}
