package web

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/google/uuid"
)

// A browser signed out from another device is told so on its next
// action, where it would have been told the page does not exist, and
// offered its recovery code. What it is told depends on its cookie alone:
// an existing list and a random id read the same, so nothing is probed.
func TestSignedOutBrowserIsToldSo(t *testing.T) {
	a := mustAppWith(t, unlimited)
	laptop := a.browser(t)
	list := laptop.mustStartList("Left behind")
	code := laptop.mustGetCode()
	_, body := laptop.get("/account")
	laptopDevice := regexp.MustCompile(`/devices/([0-9a-f-]{36})/signout`).FindStringSubmatch(body)[1]
	phone := a.browser(t)
	res, _ := phone.post("/claim", "code", code)
	mustRedirect(t, res, "/account")
	// Each request of a signed-out browser clears its cookie: every try
	// below sends the cookie the laptop had.
	stale := func() *browser { return withOldCookieOf(t, a, laptop) }
	res, _ = phone.post("/devices/" + laptopDevice + "/signout")
	mustRedirect(t, res, "/account?done=device-out")

	clean := func(body string) string {
		return regexp.MustCompile(`Request id: [0-9a-f]+`).ReplaceAllString(body, "")
	}
	signedOut := []string{"Signed out", "This browser was signed out, so it cannot see this page.",
		`If you have a recovery code, <a href="/claim">use it to sign in again</a>.`}
	res, existing := stale().post(list+"/movies", "title", "Alien")
	mustSee(t, res, existing, http.StatusNotFound, signedOut...)
	if c := res.Header.Get("Set-Cookie"); !regexp.MustCompile(`Max-Age=0`).MatchString(c) {
		t.Errorf("the gone session's cookie is not cleared: %q", c)
	}
	res, random := stale().post("/l/"+uuid.NewString()+"/movies", "title", "Alien")
	mustSee(t, res, random, http.StatusNotFound, signedOut...)
	if clean(existing) != clean(random) {
		t.Errorf("an existing list and a random id read differently to a signed-out browser:\n%s\n---\n%s", existing, random)
	}
	res, body = stale().get(list)
	mustSee(t, res, body, http.StatusNotFound, signedOut...)
	res, body = stale().post("/account/name", "display_name", "Someone")
	mustSee(t, res, body, http.StatusUnauthorized, signedOut...)

	t.Run("a visitor without a cookie gets the plain 404", func(t *testing.T) {
		res, body := laptop.get(list) // once: its cookie is cleared
		mustSee(t, res, body, http.StatusNotFound, signedOut...)
		for _, b := range []*browser{a.browser(t), laptop} {
			res, body := b.post(list+"/movies", "title", "Alien")
			mustSee(t, res, body, http.StatusNotFound, "Page not found", "There is nothing here.")
			if regexp.MustCompile(`was signed out|sign in again`).MatchString(body) {
				t.Errorf("a visitor is told it was signed out:\n%s", body)
			}
		}
	})
	t.Run("a signed-in member is not told it was signed out", func(t *testing.T) {
		res, body := phone.get("/l/" + uuid.NewString())
		mustSee(t, res, body, http.StatusNotFound, "Page not found")
	})
}
