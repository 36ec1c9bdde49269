package web

import (
	"strings"
	"testing"
)

// TestPageCopy: the invitation and delete-confirmation pages read as
// sentences, whatever the counts, and tell only a visitor that joining
// makes the browser an account.
func TestPageCopy(t *testing.T) {
	a := mustApp(t)
	owner, friend, other, visitor := a.browser(t), a.browser(t), a.browser(t), a.browser(t)
	list := owner.mustStartList("Film club")
	other.mustStartList("Elsewhere")
	_, body := owner.get(list)
	invite := strings.TrimPrefix(between(body, `id="invite-link" readonly value="`, `"`), a.srv.baseURL.String())
	const visitorLine = "No signup: joining makes this browser your account."

	t.Run("a visitor is told joining makes an account, and one member picks", func(t *testing.T) {
		res, body := visitor.get(invite)
		mustSee(t, res, body, 200, "<p>1 member picks films together here.</p>", "Join the list", visitorLine)
	})
	t.Run("someone signed in who is not a member is not told so", func(t *testing.T) {
		res, body := other.get(invite)
		mustSee(t, res, body, 200, "Join the list")
		if strings.Contains(body, visitorLine) {
			t.Errorf("a signed-in viewer is told joining makes this browser an account")
		}
	})
	t.Run("two members pick", func(t *testing.T) {
		res, _ := friend.post(invite)
		mustRedirect(t, res, list)
		res, body := other.get(invite)
		mustSee(t, res, body, 200, "<p>2 members pick films together here.</p>")
	})
	t.Run("deleting a list without films mentions no films", func(t *testing.T) {
		res, body := owner.post(list + "/delete")
		mustSee(t, res, body, 200, "<p>The list will be gone for everyone, including 1 other member. This cannot be undone.</p>")
		mustRead(t, body)
	})
	t.Run("deleting a list with a film counts it", func(t *testing.T) {
		res, _ := friend.post(list+"/movies", "title", "Arrival", "year", "2016")
		mustRedirect(t, res, list)
		res, body := owner.post(list + "/delete")
		mustSee(t, res, body, 200, "<p>The list, its 1 film and its rolls will be gone for everyone, including 1 other member. This cannot be undone.</p>")
		mustRead(t, body)
	})
	t.Run("deleting a list no one else is on", func(t *testing.T) {
		res, _ := friend.post(list + "/leave")
		mustRedirect(t, res, "/")
		res, body := owner.post(list + "/delete")
		mustSee(t, res, body, 200, "<p>The list, its 1 film and its rolls will be gone for everyone. This cannot be undone.</p>")
		mustRead(t, body)
	})
}

// mustRead fails t if body has a space before a full stop or comma, or
// counts zero of something.
func mustRead(t *testing.T, body string) {
	t.Helper()
	for _, bad := range []string{" .", " ,", " 0 "} {
		if i := strings.Index(body, bad); i >= 0 {
			t.Errorf("page has %q: …%s…", bad, body[max(0, i-60):min(len(body), i+20)])
		}
	}
}
