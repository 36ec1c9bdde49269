package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/queries"
)

func TestRowLevelSecurityNet(t *testing.T) {
	a := mustAppWith(t, unlimited)
	w := a.mustSweepWorld(t) // O and M on L; Z on ZL; X on its own list
	w.o.post("/l/" + w.list + "/roll")
	w.z.post("/l/" + w.zList + "/roll")
	ctx := context.Background()
	var oID uuid.UUID
	a.db.Super(t).QueryRow(ctx, "SELECT owner_id FROM lists WHERE id = $1", w.list).Scan(&oID)

	// What O may see, counted past row-level security.
	visible := map[string]int64{}
	for table, sql := range map[string]string{
		"lists":        "SELECT count(*) FROM lists l WHERE EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = l.id AND m.user_id = $1)",
		"list_members": "SELECT count(*) FROM list_members x WHERE EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = x.list_id AND m.user_id = $1)",
		"movies":       "SELECT count(*) FROM movies x WHERE EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = x.list_id AND m.user_id = $1)",
		"rolls":        "SELECT count(*) FROM rolls x WHERE EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = x.list_id AND m.user_id = $1)",
	} {
		visible[table] = a.db.MustCount(t, sql, oID)
		if total := a.db.MustCount(t, "SELECT count(*) FROM "+table); total <= visible[table] {
			t.Fatalf("fixture too small to show anything: %s has %d rows, %d visible", table, total, visible[table])
		}
	}

	pool := a.srv.pool
	for table, want := range visible {
		t.Run("an unfiltered SELECT on "+table+" returns only the user's lists' rows", func(t *testing.T) {
			var got int64
			// A transaction acting as the user the way every request's does
			// (ActAsUser), with a raw query that forgot its filter.
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			q := queries.New(tx)
			if err := q.ActAsUser(ctx, oID.String()); err != nil {
				t.Fatal(err)
			}
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("saw %d rows, want %d", got, want)
			}
		})
	}
	t.Run("with no acting user nothing is visible", func(t *testing.T) {
		for table := range visible {
			var got int64
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&got); err != nil || got != 0 {
				t.Errorf("%s: %d rows (%v)", table, got, err)
			}
		}
	})
	t.Run("writing into a foreign list is refused even without a filter", func(t *testing.T) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		queries.New(tx).ActAsUser(ctx, oID.String())
		_, err = tx.Exec(ctx, "INSERT INTO movies (list_id, added_by, title) VALUES ($1, $2, 'Sneaky')", w.zList, oID)
		if err == nil || !strings.Contains(err.Error(), "row-level security") {
			t.Errorf("insert into a foreign list: %v", err)
		}
	})
	// member_lists() answers from a per-statement cache (migrations/00004):
	// each statement must still see the memberships of its own snapshot.
	t.Run("after leaving a list, the next statement in the same transaction sees none of its rows", func(t *testing.T) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		mID := uuid.MustParse(w.mID)
		queries.New(tx).ActAsUser(ctx, w.mID)
		count := func() (n int64) {
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM movies WHERE list_id = $1", w.list).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n == 0 {
			t.Fatal("a member sees no films on the list")
		}
		if _, err := tx.Exec(ctx, "DELETE FROM list_members WHERE list_id = $1 AND user_id = $2", w.list, mID); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 0 {
			t.Errorf("after leaving, %d films still visible", n)
		}
	})
	t.Run("after leaving a list, the next statement of the same query string sees none of its rows", func(t *testing.T) {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		// One simple-protocol message: its statements share one
		// statement_timestamp(), the key of member_lists()'s cache.
		count := fmt.Sprintf("SELECT count(*) FROM movies WHERE list_id = '%s'", w.list)
		results, err := conn.Conn().PgConn().Exec(ctx, fmt.Sprintf(`BEGIN;
			SELECT set_config('app.user_id', '%[1]s', true);
			%[2]s;
			DELETE FROM list_members WHERE list_id = '%[3]s' AND user_id = '%[1]s';
			%[2]s;
			ROLLBACK`, w.mID, count, w.list)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		before, after := string(results[2].Rows[0][0]), string(results[4].Rows[0][0])
		if before == "0" || after != "0" {
			t.Errorf("films visible before leaving %s, after %s (want some, then 0)", before, after)
		}
	})
	t.Run("acting as another user in the same transaction does not reuse the first user's lists", func(t *testing.T) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		var asO, asZ int64
		err = tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM movies) FROM (SELECT set_config('app.user_id', $1, true)) s`, oID.String()).Scan(&asO)
		if err != nil {
			t.Fatal(err)
		}
		queries.New(tx).ActAsUser(ctx, w.zID)
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM movies WHERE list_id = $1", w.list).Scan(&asZ); err != nil {
			t.Fatal(err)
		}
		if asO == 0 || asZ != 0 {
			t.Errorf("O saw %d films, then Z saw %d of O's list", asO, asZ)
		}
	})
	// The net holds each role on a list to what that role may do there: a
	// member cannot do the owner's work, or undo other members' films,
	// even with a statement that forgot its filter.
	res, _ := w.o.post("/l/"+w.list+"/movies", "title", "The owner's film")
	mustRedirect(t, res, "/l/"+w.list)
	var oFilm string
	a.db.Super(t).QueryRow(ctx, "SELECT id::text FROM movies WHERE list_id = $1 AND added_by = $2", w.list, oID).Scan(&oFilm)
	actAs := func(t *testing.T, user string, sql string, args ...any) (int64, error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if err := queries.New(tx).ActAsUser(ctx, user); err != nil {
			t.Fatal(err)
		}
		tag, err := tx.Exec(ctx, sql, args...) // and rolled back
		return tag.RowsAffected(), err
	}
	for _, c := range []struct{ name, sql string }{
		{"take the list over", "UPDATE lists SET owner_id = $2 WHERE id = $1"},
		{"rename it", "UPDATE lists SET name = 'Mine now' WHERE id = $1 AND $2::uuid IS NOT NULL"},
		{"set its invitation", "UPDATE lists SET invite_token = 'chosen-by-a-member-00000' WHERE id = $1 AND $2::uuid IS NOT NULL"},
		{"remove the owner", "DELETE FROM list_members WHERE list_id = $1 AND user_id <> $2"},
		{"remove the owner's film", "DELETE FROM movies WHERE list_id = $1 AND added_by <> $2"},
		{"add a film in the owner's name", "INSERT INTO movies (list_id, added_by, title) SELECT $1, owner_id, 'Forged' FROM lists WHERE id = $1 AND $2::uuid IS NOT NULL"},
		{"roll in the owner's name", "INSERT INTO rolls (list_id, movie_id, rolled_by, title) SELECT $1, f.id, l.owner_id, f.title FROM movies f JOIN lists l ON l.id = f.list_id WHERE f.list_id = $1 AND $2::uuid IS NOT NULL"},
		{"rewrite a roll", "UPDATE rolls SET rolled_by = $2 WHERE list_id = $1"},
		{"delete a roll", "DELETE FROM rolls WHERE list_id = $1 AND $2::uuid IS NOT NULL"},
		{"retitle a film", "UPDATE movies SET title = 'Retitled' WHERE list_id = $1 AND $2::uuid IS NOT NULL"},
		{"delete another user", "DELETE FROM users WHERE id <> $2 AND $1::uuid IS NOT NULL"},
		{"delete recovery codes", "DELETE FROM recovery_codes WHERE user_id <> $2 AND $1::uuid IS NOT NULL"},
		{"delete the merge records", "DELETE FROM merges WHERE into_user <> $2 AND $1::uuid IS NOT NULL"},
	} {
		t.Run("a member cannot "+c.name, func(t *testing.T) {
			if n, err := actAs(t, w.mID, c.sql, w.list, w.mID); err == nil && n != 0 {
				t.Errorf("%d rows changed", n)
			}
		})
	}
	t.Run("a member still removes their own film, marks any watched and leaves", func(t *testing.T) {
		for _, sql := range []string{
			"UPDATE movies SET watched_at = now() WHERE list_id = $1 AND added_by <> $2",
			"DELETE FROM movies WHERE list_id = $1 AND added_by = $2",
			"DELETE FROM list_members WHERE list_id = $1 AND user_id = $2",
		} {
			if n, err := actAs(t, w.mID, sql, w.list, w.mID); err != nil || n != 1 {
				t.Errorf("%s: %d rows, %v", sql, n, err)
			}
		}
	})
	t.Run("the owner still removes any film and any member", func(t *testing.T) {
		for _, sql := range []string{
			"DELETE FROM movies WHERE list_id = $1 AND added_by = $2",
			"DELETE FROM list_members WHERE list_id = $1 AND user_id = $2",
		} {
			if n, err := actAs(t, oID.String(), sql, w.list, w.mID); err != nil || n != 1 {
				t.Errorf("%s: %d rows, %v", sql, n, err)
			}
		}
	})
	if t.Failed() {
		return
	}
	t.Run("joining a list by id, without its token, is refused", func(t *testing.T) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		queries.New(tx).ActAsUser(ctx, oID.String())
		_, err = tx.Exec(ctx, "INSERT INTO list_members (list_id, user_id) VALUES ($1, $2)", w.zList, oID)
		if err == nil {
			t.Errorf("joined a foreign list without its invitation")
		}
	})
}

func TestRollFairness(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	list := b.mustStartList("Fair")
	for _, title := range []string{"A", "B", "C", "D", "Watched"} {
		res, _ := b.post(list+"/movies", "title", title)
		mustRedirect(t, res, list)
	}
	a.db.MustExec(t, "UPDATE movies SET watched_at = now() WHERE title = 'Watched'")
	ctx := context.Background()
	var listID, userID uuid.UUID
	a.db.Super(t).QueryRow(ctx, "SELECT id, owner_id FROM lists").Scan(&listID, &userID)

	const rolls = 10_000
	err := queries.InTxAsUser(ctx, a.srv.pool, userID, func(q *queries.Queries) error {
		for range rolls {
			if _, err := rollDie(ctx, q, listID, userID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := a.db.Super(t).Query(ctx, "SELECT f.title, count(r.id) FROM movies f LEFT JOIN rolls r ON r.movie_id = f.id GROUP BY f.title")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int64{}
	for rows.Next() {
		var title string
		var n int64
		rows.Scan(&title, &n)
		got[title] = n
	}
	for _, title := range []string{"A", "B", "C", "D"} {
		if n := got[title]; n < 2250 || n > 2750 {
			t.Errorf("%s picked %d times of %d, want 2500 ± 250", title, n, rolls)
		}
	}
	if got["Watched"] != 0 {
		t.Errorf("a watched film was picked %d times", got["Watched"])
	}
}

func TestRollMessages(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	list := b.mustStartList("Empty")
	res, _ := b.post(list + "/roll")
	loc := mustRedirect(t, res, list+"?done=nothing-to-roll")
	_, body := b.get(loc)
	mustSee(t, res, body, http.StatusSeeOther, "nothing to roll yet")
	b.post(list+"/movies", "title", "Only one")
	a.db.MustExec(t, "UPDATE movies SET watched_at = now()")
	res, _ = b.post(list + "/roll")
	loc = mustRedirect(t, res, list+"?done=all-watched")
	_, body = b.get(loc)
	if !strings.Contains(body, "Every film here is watched") {
		t.Errorf("no all-watched message")
	}
	if n := a.db.MustCount(t, "SELECT count(*) FROM rolls"); n != 0 {
		t.Errorf("%d rolls recorded with nothing to roll", n)
	}
	a.db.MustExec(t, "UPDATE movies SET watched_at = NULL")
	res, _ = b.post(list + "/roll")
	loc = mustRedirect(t, res, list+"?rolled=")
	_, body = b.get(loc)
	if !strings.Contains(body, "just-rolled") || !strings.Contains(body, "Tonight&#39;s film") && !strings.Contains(body, "Tonight's film") {
		t.Errorf("the roll is not shown prominently")
	}
}

// A roll is history: removing its film keeps it, with the title it
// picked, and an older roll does not come back as tonight's film.
func TestRollsOutliveTheirFilm(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	list := b.mustStartList("History")
	roll := func(title string) {
		t.Helper()
		res, _ := b.post(list+"/movies", "title", title, "year", "1979")
		mustRedirect(t, res, list)
		a.db.MustExec(t, "UPDATE movies SET watched_at = now() WHERE title <> $1", title)
		res, _ = b.post(list + "/roll")
		mustRedirect(t, res, list+"?rolled=")
	}
	roll("Alien")
	roll("Stalker")
	var stalker string
	a.db.Super(t).QueryRow(context.Background(), "SELECT id::text FROM movies WHERE title = 'Stalker'").Scan(&stalker)
	res, _ := b.post(list + "/movies/" + stalker + "/delete")
	mustRedirect(t, res, list)

	if n := a.db.MustCount(t, "SELECT count(*) FROM rolls WHERE title = 'Stalker' AND year = 1979 AND movie_id IS NULL"); n != 1 {
		t.Errorf("the removed film's roll is gone or still linked: %d", n)
	}
	if n := a.db.MustCount(t, "SELECT count(*) FROM rolls WHERE title = 'Alien' AND movie_id IS NOT NULL"); n != 1 {
		t.Errorf("the other roll changed: %d", n)
	}
	_, body := b.get(list)
	tonight := between(body, `class="roll-title">`, "</p>")
	if !strings.Contains(tonight, "Stalker") {
		t.Errorf("tonight's film is %q, want the last roll's, Stalker", tonight)
	}
	if !strings.Contains(body, "Alien") {
		t.Errorf("the earlier roll is not listed")
	}
}

func TestInvitations(t *testing.T) {
	a := mustAppWith(t, unlimited)
	o, friend, late := a.browser(t), a.browser(t), a.browser(t)
	list := o.mustStartList("Movie club")
	_, body := o.get(list)
	link := between(body, `id="invite-link" readonly value="`, `"`)
	if !strings.HasPrefix(link, a.srv.baseURL.String()+"/join/") {
		t.Fatalf("invitation link %q is not on the base URL", link)
	}
	u := strings.TrimPrefix(link, a.srv.baseURL.String())
	token := strings.TrimPrefix(u, "/join/")
	if len(token) < 22 {
		t.Fatalf("invite token %q is under 128 bits", token)
	}

	before := a.snapshot(t)
	res, body := friend.get(u)
	mustSee(t, res, body, 200, "Movie club", "1 member", "Join the list")
	if len(res.Header.Values("Set-Cookie")) > 0 || a.snapshot(t) != before {
		t.Errorf("viewing an invitation created something")
	}
	res, _ = friend.post(u)
	mustRedirect(t, res, list)
	res, _ = friend.post(u) // twice: a no-op
	mustRedirect(t, res, list)
	if n := a.db.MustCount(t, "SELECT count(*) FROM list_members"); n != 2 {
		t.Errorf("%d memberships after joining twice", n)
	}
	_, body = friend.get(u)
	if !strings.Contains(body, "already on this list") {
		t.Errorf("a member is offered to join again")
	}

	t.Run("rotating the link kills the old one", func(t *testing.T) {
		res, _ := o.post(list + "/invite/rotate")
		mustRedirect(t, res, list)
		for _, method := range []string{"GET", "POST"} {
			var res *http.Response
			if method == "GET" {
				res, _ = late.get(u)
			} else {
				res, _ = late.post(u)
			}
			if res.StatusCode != 404 {
				t.Errorf("%s old link: %d", method, res.StatusCode)
			}
		}
		if n := a.db.MustCount(t, "SELECT count(*) FROM users"); n != 2 {
			t.Errorf("a dead link minted a user")
		}
		_, body := o.get(list)
		if fresh := between(body, `id="invite-link" readonly value="`, `"`); fresh == link || fresh == "" {
			t.Errorf("link did not change")
		}
	})
	t.Run("malformed tokens are a 404 without touching anything", func(t *testing.T) {
		for _, bad := range []string{"short", strings.Repeat("A", 40), "%3Cscript%3E"} {
			if res, _ := late.get("/join/" + bad); res.StatusCode != 404 {
				t.Errorf("%q: %d", bad, res.StatusCode)
			}
		}
	})
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}

func TestMembership(t *testing.T) {
	a := mustAppWith(t, unlimited)
	w := a.mustSweepWorld(t)
	list := "/l/" + w.list

	t.Run("only the owner is asked to confirm deleting the list", func(t *testing.T) {
		res, body := w.o.post(list + "/delete")
		mustSee(t, res, body, 200, "Delete")
		before := a.snapshot(t)
		res, body = w.m.post(list + "/delete")
		mustSee(t, res, body, http.StatusNotFound, "Page not found")
		if a.snapshot(t) != before {
			t.Errorf("a member's delete request changed the database")
		}
	})
	t.Run("the owner cannot leave", func(t *testing.T) {
		res, body := w.o.post(list + "/leave")
		mustSee(t, res, body, http.StatusConflict, "Make another member its owner first")
	})
	t.Run("hand-over makes a member the owner, who can then rename", func(t *testing.T) {
		res, _ := w.o.post(list + "/members/" + w.mID + "/owner")
		mustRedirect(t, res, list)
		res, _ = w.m.post(list+"/rename", "name", "M's now")
		mustRedirect(t, res, list)
		if res, _ := w.o.post(list+"/rename", "name", "Not mine"); res.StatusCode != 404 {
			t.Errorf("the old owner could still rename: %d", res.StatusCode)
		}
		// and the old owner may now leave
		res, _ = w.o.post(list + "/leave")
		mustRedirect(t, res, "/?done=left")
		if res, _ := w.o.get(list); res.StatusCode != 404 {
			t.Errorf("left, yet the list still shows: %d", res.StatusCode)
		}
	})
	t.Run("hand-over only to a member", func(t *testing.T) {
		var xID string
		a.db.Super(t).QueryRow(context.Background(), "SELECT owner_id::text FROM lists WHERE name = 'X''s own'").Scan(&xID)
		if res, _ := w.m.post(list + "/members/" + xID + "/owner"); res.StatusCode != 404 {
			t.Errorf("handed over to a non-member: %d", res.StatusCode)
		}
	})
	t.Run("the owner removes a member, who then cannot see the list, nor join again with the link they had", func(t *testing.T) {
		res, _ := w.x.post("/join/" + w.token)
		mustRedirect(t, res, list)
		var xID string
		a.db.Super(t).QueryRow(context.Background(), "SELECT owner_id::text FROM lists WHERE name = 'X''s own'").Scan(&xID)
		res, _ = w.m.post(list + "/members/" + xID + "/remove")
		mustRedirect(t, res, list+"?done=removed")
		if res, _ := w.x.get(list); res.StatusCode != 404 {
			t.Errorf("removed member still sees the list: %d", res.StatusCode)
		}
		before := a.snapshot(t)
		if res, _ := w.x.get("/join/" + w.token); res.StatusCode != 404 {
			t.Errorf("the old invitation link still shows the list: %d", res.StatusCode)
		}
		if res, _ := w.x.post("/join/" + w.token); res.StatusCode != 404 {
			t.Errorf("the removed member joined again with the old link: %d", res.StatusCode)
		}
		if a.snapshot(t) != before {
			t.Error("the old link changed something")
		}
		res, body := w.m.get(list + "?done=removed")
		mustSee(t, res, body, 200, "the old one, which they had, no longer works")
		var token string
		a.db.Super(t).QueryRow(context.Background(), "SELECT invite_token FROM lists WHERE id = $1", w.list).Scan(&token)
		if token == w.token || !strings.Contains(body, "/join/"+token) {
			t.Errorf("the owner's page does not show a new link (%s, was %s)", token, w.token)
		}
	})
	t.Run("deleting asks first, then deletes for everyone", func(t *testing.T) {
		res, body := w.m.post(list + "/delete")
		mustSee(t, res, body, 200, "Delete “M&#39;s now”?", "cannot be undone", `name="confirm" value="yes"`)
		if n := a.db.MustCount(t, "SELECT count(*) FROM lists WHERE id = $1", w.list); n != 1 {
			t.Fatalf("deleted without confirmation")
		}
		res, _ = w.m.post(list+"/delete", "confirm", "yes")
		mustRedirect(t, res, "/?done=deleted")
		if n := a.db.MustCount(t, "SELECT (SELECT count(*) FROM lists WHERE id = $1) + (SELECT count(*) FROM movies WHERE list_id = $1)", w.list); n != 0 {
			t.Errorf("list or films left after delete")
		}
	})
}

// A hand-over racing the new owner's leaving, or the owner's removing
// them, must not leave a list owned by someone not on it: exactly one of
// the two happens, and the other is refused as it would be afterwards.
func TestHandOverRaces(t *testing.T) {
	a := mustAppWith(t, unlimited)
	o, m := a.browser(t), a.browser(t)
	super := a.db.Super(t)
	ctx := context.Background()
	send := func(b *browser, path string) (int, string) {
		req, _ := http.NewRequest("POST", a.URL+path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := b.client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Location")
	}
	for round := range 30 {
		list := o.mustStartList(fmt.Sprint("Race ", round))
		var token, oID, mID string
		super.QueryRow(ctx, "SELECT invite_token, owner_id::text FROM lists WHERE id = $1", strings.TrimPrefix(list, "/l/")).Scan(&token, &oID)
		res, _ := m.post("/join/" + token)
		mustRedirect(t, res, list)
		super.QueryRow(ctx, "SELECT user_id::text FROM list_members WHERE list_id = $1 AND user_id <> $2", strings.TrimPrefix(list, "/l/"), oID).Scan(&mID)

		// Even rounds: the member leaves; odd: the owner removes them.
		other, otherPath, otherDone := m, list+"/leave", "/?done=left"
		if round%2 == 1 {
			other, otherPath, otherDone = o, list+"/members/"+mID+"/remove", list+"?done=removed"
		}
		var handOver, gone [2]string
		var wg sync.WaitGroup
		wg.Go(func() {
			code, loc := send(o, list+"/members/"+mID+"/owner")
			handOver = [2]string{fmt.Sprint(code), loc}
		})
		wg.Go(func() {
			code, loc := send(other, otherPath)
			gone = [2]string{fmt.Sprint(code), loc}
		})
		wg.Wait()

		var owner string
		super.QueryRow(ctx, "SELECT owner_id::text FROM lists WHERE id = $1", strings.TrimPrefix(list, "/l/")).Scan(&owner)
		mIsMember := a.db.MustCount(t, "SELECT count(*) FROM list_members WHERE list_id = $1 AND user_id = $2", strings.TrimPrefix(list, "/l/"), mID) == 1
		switch {
		case owner == mID && mIsMember:
			if handOver != [2]string{"303", list + "?done=handed-over"} || gone[0] == "303" {
				t.Errorf("round %d: handed over, yet hand-over answered %v and the other %v", round, handOver, gone)
			}
		case owner == oID && !mIsMember:
			if gone != [2]string{"303", otherDone} || handOver[0] != "404" {
				t.Errorf("round %d: member gone, yet that answered %v and hand-over %v", round, gone, handOver)
			}
		default:
			t.Fatalf("round %d: owner %s (O %s, M %s), M a member: %v; answers %v, %v", round, owner, oID, mID, mIsMember, handOver, gone)
		}
	}
	if n := a.db.MustCount(t, "SELECT count(*) FROM lists l WHERE NOT EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = l.id AND m.user_id = l.owner_id)"); n != 0 {
		t.Errorf("%d lists owned by someone not on them", n)
	}
}

// A member who, with the link they had, joins again while the owner's
// removal of them is being written (a removal rotates the link) is not
// back on the list: their join waits for the removal, then finds the link
// changed, and undoes itself. The database holds to that by itself too,
// for a caller that does not look at what joining answered.
func TestRejoinRacingRemoval(t *testing.T) {
	a := mustApp(t)
	o, m := a.browser(t), a.browser(t)
	super := a.db.Super(t)
	ctx := context.Background()
	for _, via := range []string{"http", "sql"} {
		list := o.mustStartList("Movie club")
		listID := uuid.MustParse(strings.TrimPrefix(list, "/l/"))
		var token string
		var ownerID uuid.UUID
		super.QueryRow(ctx, "SELECT invite_token, owner_id FROM lists WHERE id = $1", listID).Scan(&token, &ownerID)
		res, _ := m.post("/join/" + token)
		mustRedirect(t, res, list)
		var memberID uuid.UUID
		super.QueryRow(ctx, "SELECT user_id FROM list_members WHERE list_id = $1 AND user_id <> $2", listID, ownerID).Scan(&memberID)

		// The owner's removal, as removeMember writes it, held before commit.
		removed, release, ownerDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			ownerDone <- queries.InTxAsUser(ctx, a.db.Pool(t), ownerID, func(q *queries.Queries) error {
				if _, err := q.RemoveMemberForOwner(ctx, queries.RemoveMemberForOwnerParams{ListID: listID, OwnerID: ownerID, MemberID: memberID}); err != nil {
					return err
				}
				if _, err := q.RotateInviteForOwner(ctx, queries.RotateInviteForOwnerParams{ID: listID, OwnerID: ownerID, InviteToken: "rotated-while-joining-" + via}); err != nil {
					return err
				}
				close(removed)
				<-release
				return nil
			})
		}()
		<-removed
		joined := make(chan string, 1)
		go func() {
			if via == "http" {
				res, _ := m.post("/join/" + token)
				joined <- fmt.Sprint(res.StatusCode)
				return
			}
			err := queries.InTxAsUser(ctx, a.db.Pool(t), memberID, func(q *queries.Queries) error {
				_, err := q.JoinByInvite(ctx, token)
				return err
			})
			joined <- fmt.Sprint(queries.ErrorCode(queries.Translate(err)))
		}()
		waiting := func() bool {
			return a.db.MustCount(t, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%join_by_invite%'") > 0
		}
		for deadline := time.Now().Add(10 * time.Second); !waiting(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				close(release)
				t.Fatalf("%s: the join never waited for the removal", via)
			}
		}
		close(release)
		if err := <-ownerDone; err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"http": "404", "sql": queries.ENOTFOUND}[via]
		if got := <-joined; got != want {
			t.Errorf("%s: the join answered %s, want %s", via, got, want)
		}
		if n := a.db.MustCount(t, "SELECT count(*) FROM list_members WHERE list_id = $1 AND user_id = $2", listID, memberID); n != 0 {
			t.Errorf("%s: the removed member is back on the list with the old link", via)
		}
	}
}

func TestFilmsAndValidation(t *testing.T) {
	a := mustAppWith(t, unlimited)
	w := a.mustSweepWorld(t)
	list := "/l/" + w.list
	res, _ := w.o.post(list+"/movies", "title", "Alien", "year", "1979")
	mustRedirect(t, res, list)

	next := strconv.Itoa(time.Now().Year() + 1)
	cases := []struct {
		name, title, year string
		status            int
		want              string
	}{
		{"empty title", "", "", 422, "Please enter a title"},
		{"blank title", "   ", "", 422, "Please enter a title"},
		{"201 characters", strings.Repeat("x", 201), "", 422, "at most 200"},
		{"control character", "Alien\x00", "", 422, "control characters"},
		{"year not a number", "Heat", "abcd", 422, "four digits"},
		{"two-digit year", "Heat", "95", 422, "four digits"},
		{"year before film", "Heat", "1869", 422, "between 1870 and " + next},
		{"year after next", "Heat", strconv.Itoa(time.Now().Year() + 2), 422, "between 1870 and " + next},
		{"duplicate, any case and spacing", "  aLIEN  ", "1979", 409, "“Alien” (1979) is already on this list, added by"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			before := a.snapshot(t)
			res, body := w.m.post(list+"/movies", "title", tt.title, "year", tt.year)
			mustSee(t, res, body, tt.status, tt.want)
			if tt.year != "" && !strings.Contains(body, `value="`+tt.year+`"`) {
				t.Errorf("the form lost the year typed")
			}
			if a.snapshot(t) != before {
				t.Errorf("refused input changed the database")
			}
		})
	}
	t.Run("the first and last years allowed are taken", func(t *testing.T) {
		for _, year := range []string{"1870", next} {
			res, _ := w.m.post(list+"/movies", "title", "Edge of years", "year", year)
			mustRedirect(t, res, list)
			if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE list_id = $1 AND title = 'Edge of years' AND year = $2", w.list, year); n != 1 {
				t.Errorf("year %s: %d films stored", year, n)
			}
		}
	})
	t.Run("same title, other year, is another film", func(t *testing.T) {
		res, _ := w.m.post(list+"/movies", "title", "Alien", "year", "1980")
		mustRedirect(t, res, list)
	})
	t.Run("HTML in a title is text", func(t *testing.T) {
		w.m.post(list+"/movies", "title", `<img src=x onerror=alert(1)>`)
		_, body := w.o.get(list)
		if strings.Contains(body, "<img src=x") || !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("title not escaped")
		}
	})
	t.Run("who may remove and mark films", func(t *testing.T) {
		var alien string
		a.db.Super(t).QueryRow(context.Background(), "SELECT id::text FROM movies WHERE title = 'Alien' AND year = 1979").Scan(&alien)
		_, body := w.m.get(list)
		if strings.Contains(body, "/movies/"+alien+"/delete") {
			t.Errorf("a member who did not add a film is offered to remove it")
		}
		if res, _ := w.m.post(list + "/movies/" + alien + "/delete"); res.StatusCode != 404 {
			t.Errorf("a member removed someone else's film: %d", res.StatusCode)
		}
		res, _ := w.m.post(list+"/movies/"+alien+"/watched", "watched", "true")
		mustRedirect(t, res, list)
		if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE id = $1 AND watched_at IS NOT NULL", alien); n != 1 {
			t.Errorf("not marked watched")
		}
		w.m.post(list+"/movies/"+alien+"/watched", "watched", "false")
		if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE id = $1 AND watched_at IS NULL", alien); n != 1 {
			t.Errorf("not marked unwatched")
		}
		res, _ = w.o.post(list + "/movies/" + alien + "/delete")
		mustRedirect(t, res, list)
	})
	t.Run("rename validation", func(t *testing.T) {
		for _, name := range []string{"", strings.Repeat("n", 81), "a\nb"} {
			before := a.snapshot(t)
			res, body := w.o.post(list+"/rename", "name", name)
			mustSee(t, res, body, 422, "list name")
			if a.snapshot(t) != before {
				t.Errorf("refused rename changed the database")
			}
		}
	})
	t.Run("a list holds at most 1,000 films, and says so", func(t *testing.T) {
		a.db.MustExec(t, `INSERT INTO movies (list_id, added_by, title)
			SELECT $1, owner_id, 'Filler ' || g FROM lists, generate_series(1, $2::int - (SELECT count(*) FROM movies WHERE list_id = $1)::int - 1) g
			WHERE id = $1`, w.list, maxFilmsPerList)
		res, _ := w.m.post(list+"/movies", "title", "The thousandth")
		mustRedirect(t, res, list)
		before := a.snapshot(t)
		res, body := w.m.post(list+"/movies", "title", "One too many", "year", "2001")
		mustSee(t, res, body, http.StatusConflict, "This list has 1,000 films, as many as a list can hold", `value="One too many"`, `value="2001"`)
		if a.snapshot(t) != before {
			t.Error("the refused film changed the database")
		}
		if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE list_id = $1", w.list); n != maxFilmsPerList {
			t.Errorf("%d films on the list", n)
		}
		a.db.MustExec(t, "DELETE FROM movies WHERE title LIKE 'Filler %' OR title = 'The thousandth'")
	})
	t.Run("adds at once do not overfill a list", func(t *testing.T) {
		a.db.MustExec(t, `INSERT INTO movies (list_id, added_by, title)
			SELECT $1, owner_id, 'Filler ' || g FROM lists, generate_series(1, $2::int - (SELECT count(*) FROM movies WHERE list_id = $1)::int - 5) g
			WHERE id = $1`, w.list, maxFilmsPerList)
		var wg sync.WaitGroup
		statuses := make(chan int, 20)
		for i := range 20 {
			wg.Go(func() {
				res, _ := w.m.post(list+"/movies", "title", fmt.Sprint("At once ", i))
				statuses <- res.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		got := map[int]int{}
		for s := range statuses {
			got[s]++
		}
		if got[http.StatusSeeOther] != 5 || got[http.StatusConflict] != 15 {
			t.Errorf("answers %v, want 5 added (303) and 15 refused (409)", got)
		}
		if n := a.db.MustCount(t, "SELECT count(*) FROM movies WHERE list_id = $1", w.list); n != maxFilmsPerList {
			t.Errorf("%d films on the list", n)
		}
		a.db.MustExec(t, "DELETE FROM movies WHERE title LIKE 'Filler %' OR title LIKE 'At once %'")
	})
	t.Run("films show who added them and when", func(t *testing.T) {
		var adder string
		var added time.Time
		if err := a.db.Super(t).QueryRow(context.Background(),
			"SELECT u.display_name, m.created_at FROM movies m JOIN users u ON u.id = m.added_by WHERE m.list_id = $1 AND m.title = 'Alien'",
			w.list).Scan(&adder, &added); err != nil {
			t.Fatal(err)
		}
		_, body := w.o.get(list)
		row := between(body, ">Alien<", "</li>")
		want := "added by " + html.EscapeString(adder) + ", " + added.UTC().Format("2 Jan 2006, 15:04 UTC")
		if !strings.Contains(row, want) {
			t.Errorf("the film's row does not say %q:\n%s", want, row)
		}
	})
}

// follower is a browser that follows redirects like one with JavaScript off.
func (a *testApp) follower(t *testing.T) *browser {
	b := a.browser(t)
	jar, _ := cookiejar.New(nil)
	b.client = &http.Client{Jar: jar}
	return b
}

func TestWithoutJavaScript(t *testing.T) {
	a := mustAppWith(t, unlimited)
	host, guest := a.follower(t), a.follower(t)
	step := func(b *browser, path string, form []string, wantPath string, wants ...string) string {
		t.Helper()
		res, body := b.post(path, form...)
		mustSee(t, res, body, 200, wants...)
		if !strings.HasPrefix(res.Request.URL.Path, wantPath) {
			t.Fatalf("landed on %s, want %s", res.Request.URL.Path, wantPath)
		}
		return body
	}
	body := step(host, "/lists", []string{"name", "Saturday"}, "/l/", "Saturday", "No films yet")
	list := "/l/" + between(body, `action="/l/`, `/roll"`)
	step(host, list+"/movies", []string{"title", "Paddington 2", "year", "2017"}, list, "Paddington 2")
	step(host, list+"/movies", []string{"title", "Arrival", "year", "2016"}, list, "Arrival")
	step(host, list+"/roll", nil, list, "Tonight")
	join := strings.TrimPrefix(between(step(host, list+"/invite/rotate", nil, list), `readonly value="`, `"`), a.srv.baseURL.String())
	step(guest, join, nil, list, "Welcome to the list", "Saturday")
	step(guest, list+"/movies", []string{"title", "Heat"}, list, "Heat")
	step(guest, list+"/roll", nil, list, "rolled by")

	// The host's code, pasted by a guest with a list of its own, merges it.
	code := between(step(host, "/account/recovery-code", nil, "/account/recovery-code"), `id="recovery-code">`, "<")
	other := a.follower(t)
	step(other, "/lists", []string{"name", "Guest picks"}, "/l/", "Guest picks")
	body = step(other, "/claim", []string{"code", code}, "/claim", "1 list", "Merge and sign in")
	step(other, "/claim/confirm", []string{"token", between(body, `name="token" value="`, `"`)}, "/account", "Your guest lists and films are now in this account")
	res, body := other.get("/")
	mustSee(t, res, body, 200, "Saturday", "Guest picks")

	body = step(host, list+"/delete", nil, list, "cannot be undone")
	step(host, list+"/delete", []string{"confirm", "yes"}, "/", "The list is deleted")
	if !strings.Contains(body, "Delete") {
		t.Errorf("no confirmation page")
	}
}

func TestBoostedFormsKeepTheAddressOnErrors(t *testing.T) {
	a := mustApp(t)
	b := a.browser(t)
	list := b.mustStartList("Boosted")
	req, _ := http.NewRequest("POST", a.URL+list+"/movies", strings.NewReader("title="))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	res, body := b.do(req)
	mustSee(t, res, body, 422, "Please enter a title")
	if got := res.Header.Get("HX-Push-Url"); got != "false" {
		t.Errorf("HX-Push-Url %q: a refused form sent by htmx would put the form's address in the history", got)
	}
	res, _ = b.get(list)
	if res.Header.Get("HX-Push-Url") != "" {
		t.Errorf("a page view carries HX-Push-Url")
	}
}

func TestUUIDStringsFormatAsString(t *testing.T) {
	ids := []uuid.UUID{uuid.New(), {}, uuid.Max, uuid.MustParse("6f1e2d3c-2222-4aaa-8bbb-2c3d4e5f6a7b")}
	got := uuidStrings(ids)
	for i, id := range ids {
		if got(i) != id.String() {
			t.Errorf("id %d: %q, want %q", i, got(i), id.String())
		}
	}
}
