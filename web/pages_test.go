package web

import (
	"regexp"
	"strings"
	"testing"
)

// Someone signed in, whose header shows only their name, finds the way to
// use a recovery code from another browser on the account page, and is
// told what it does.
func TestAccountPageLeadsToClaim(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	b.mustStartList("Mine")
	res, body := b.get("/account")
	mustSee(t, res, body, 200, `Have a recovery code from another browser? <a href="/claim">Use it here</a>`,
		"What this browser made moves into it, after a preview")
	mustRead(t, body)
	res, body = b.get("/claim")
	mustSee(t, res, body, 200, "This browser is signed in as")
}

// The earlier rolls' section, on the page and in live updates, names its
// heading only when it has one (two rolls or more): every
// aria-labelledby points at an element on the page.
func TestEarlierRollsNameOnlyAHeadingTheyHave(t *testing.T) {
	a := mustAppWith(t, unlimited)
	b := a.browser(t)
	list := b.mustStartList("Rolls")
	res, _ := b.post(list+"/movies", "title", "Alien")
	mustRedirect(t, res, list)
	for rolls := range 3 {
		if rolls > 0 {
			res, _ := b.post(list + "/roll")
			mustRedirect(t, res, list)
		}
		_, page := b.get(list)
		c := b.mustDialLive(list)
		fragment := c.next()
		c.conn.CloseNow()
		for what, body := range map[string]string{"page": page, "live update": fragment} {
			section := regexp.MustCompile(`<section id="earlier-rolls"[^>]*>`).FindString(body)
			if labelled := strings.Contains(section, `aria-labelledby="rolls-heading"`); labelled != (rolls > 1) {
				t.Errorf("%d rolls, %s: %s", rolls, what, section)
			}
			mustLabelWithIDs(t, body)
		}
	}
}

// mustLabelWithIDs fails t if an aria-labelledby or aria-describedby in
// body names an id nothing in body has.
func mustLabelWithIDs(t *testing.T, body string) {
	t.Helper()
	for _, ref := range regexp.MustCompile(`aria-(?:labelledby|describedby)="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		for _, id := range strings.Fields(ref[1]) {
			if !strings.Contains(body, `id="`+id+`"`) {
				t.Errorf("%s names %q, which is not there", ref[0], id)
			}
		}
	}
}
