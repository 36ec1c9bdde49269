package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// htmx swaps a page in without a reload and records it in the browser's
// history as the response's headers say. A page that answers a form
// itself must keep the address of the page the form was on: the form's
// own address takes only POSTs, so Reload or Back there would be a 405.
func TestPagesAnsweringAFormKeepThePagesAddress(t *testing.T) {
	a := mustAppWith(t, unlimited)
	owner, guest := a.browser(t), a.browser(t)
	list := owner.mustStartList("Answered")
	owner.mustGetCode()
	guest.mustStartList("Only in this browser") // signing out asks first: no code
	boosted := func(b *browser, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", a.URL+path, strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Current-URL", a.URL+"/account")
		return b.do(req)
	}
	for _, tc := range []struct {
		name, path string
		b          *browser
		want       string
	}{
		{"the recovery code page", "/account/recovery-code", owner, "only time it is shown"},
		{"the delete confirmation", list + "/delete", owner, "cannot be undone"},
		{"the sign-out confirmation", "/signout", guest, "Sign out anyway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := boosted(tc.b, tc.path)
			mustSee(t, res, body, 200, tc.want)
			if got := res.Header.Get("HX-Push-Url"); got != "false" {
				t.Errorf("HX-Push-Url %q, want false: the address bar would show %s, which takes only POSTs", got, tc.path)
			}
		})
	}
	t.Run("a form's redirect says nothing of history: the page it leads to does", func(t *testing.T) {
		res, _ := owner.post(list+"/movies", "title", "Alien")
		mustRedirect(t, res, list)
		if h := res.Header; h.Get("HX-Push-Url") != "" || h.Get("HX-Replace-Url") != "" {
			t.Errorf("a 303 carries history headers: %v", h)
		}
	})
}

// A refused request keeps the page's address, whatever asked for it.
func TestRefusedRequestKeepsThePagesAddress(t *testing.T) {
	a := mustAppWith(t, unlimited)
	owner := a.browser(t)
	list := owner.mustStartList("Refused")
	res, body := owner.do(mustRequest(t, "GET", a.URL+"/l/"+uuid.NewString(), "HX-Request", "true", "HX-Current-URL", a.URL+list))
	mustSee(t, res, body, 404)
	if got := res.Header.Get("HX-Push-Url"); got != "false" {
		t.Errorf("HX-Push-Url %q, want false", got)
	}
}

// mustRequest builds a request with headers (alternating name, value).
func mustRequest(t *testing.T, method, url string, header ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}
