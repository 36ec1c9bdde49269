package web

import (
	"context"
	"strings"
	"testing"
)

// Names and titles that would look blank or turn the page around are
// refused next to the field they were typed in, and a film typed two ways is
// one film.
func TestTextInputInvisibleAndDirectionCharacters(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	list := b.mustStartList("Films")
	listID := strings.TrimPrefix(list, "/l/")
	ctx := context.Background()

	t.Run("a title of only a zero-width space adds no film", func(t *testing.T) {
		before := a.snapshot(t)
		res, body := b.post(list+"/movies", "title", "\u200b")
		mustSee(t, res, body, 422, `id="movie-title-error" role="alert">Please enter a title.<`)
		if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE list_id = $1", listID); n != 0 {
			t.Errorf("%d films on the list, want none", n)
		}
		if a.snapshot(t) != before {
			t.Errorf("a refused title changed the database")
		}
	})
	t.Run("a direction override in a new list's name is refused", func(t *testing.T) {
		before := a.snapshot(t)
		res, body := b.post("/lists", "name", "Mine\u202e2 days ago")
		mustSee(t, res, body, 422, `id="list-name-error" role="alert">A list name cannot contain characters that change the direction of text.<`)
		if n := a.db.MustCount(t, "SELECT count(*) FROM lists WHERE strpos(name, U&'\\202E') > 0"); n != 0 {
			t.Errorf("%d lists with an override in the name", n)
		}
		if a.snapshot(t) != before {
			t.Errorf("a refused list changed the database")
		}
	})
	t.Run("a direction isolate in a rename is refused", func(t *testing.T) {
		res, body := b.post(list+"/rename", "name", "\u2067Films")
		mustSee(t, res, body, 422, `id="list-rename-error" role="alert">A list name cannot contain characters that change the direction of text.<`)
		var name string
		a.db.Super(t).QueryRow(ctx, "SELECT name FROM lists WHERE id = $1", listID).Scan(&name)
		if name != "Films" {
			t.Errorf("the list is called %+q after a refused rename", name)
		}
	})
	t.Run("a display name of word joiners and soft hyphens is refused", func(t *testing.T) {
		before := a.snapshot(t)
		res, body := b.post("/account/name", "display_name", "\u2060\u00ad\u2060")
		mustSee(t, res, body, 422, `id="display-name-error" role="alert">Please enter a name.<`)
		if a.snapshot(t) != before {
			t.Errorf("a refused name changed the database")
		}
	})
	t.Run("Café typed with a combining accent is the Café already there", func(t *testing.T) {
		res, _ := b.post(list+"/movies", "title", "Caf\u00e9")
		mustRedirect(t, res, list)
		before := a.snapshot(t)
		res, body := b.post(list+"/movies", "title", "Cafe\u0301")
		mustSee(t, res, body, 409, `id="movie-title-error" role="alert">“Caf`+"\u00e9"+`” is already on this list, added by `)
		if a.snapshot(t) != before {
			t.Errorf("a refused duplicate changed the database")
		}
		if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE list_id = $1", listID); n != 1 {
			t.Errorf("%d films on the list, want 1", n)
		}
	})
	t.Run("a title typed decomposed is stored composed", func(t *testing.T) {
		res, _ := b.post(list+"/movies", "title", "Ame\u0301lie", "year", "2001")
		mustRedirect(t, res, list)
		if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE list_id = $1 AND title = 'Am\u00e9lie' AND title IS NFC NORMALIZED", listID); n != 1 {
			t.Errorf("Amélie is not stored in NFC")
		}
	})
	t.Run("an emoji family and a Persian word with a ZWNJ are kept as typed", func(t *testing.T) {
		for _, title := range []string{"👨\u200d👩\u200d👧\u200d👦", "می\u200cخواهم"} {
			res, _ := b.post(list+"/movies", "title", title)
			mustRedirect(t, res, list)
			if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE list_id = $1 AND title = $2", listID, title); n != 1 {
				t.Errorf("%+q is not stored as typed", title)
			}
		}
	})
}
