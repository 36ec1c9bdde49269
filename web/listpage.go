package web

import (
	"context"
	"encoding/hex"
	"net/http"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
	"github.com/moviedice/moviedice/web/live"
)

// listNotices are results shown on a list page after a redirect.
var listNotices = map[string]string{
	"renamed":         "The list is renamed.",
	"invite-rotated":  "Here is a new invitation link. The old one no longer works.",
	"handed-over":     "The list has a new owner.",
	"removed":         "The member is off the list. Here is a new invitation link: the old one, which they had, no longer works.",
	"joined":          "Welcome to the list!",
	"nothing-to-roll": "There is nothing to roll yet: add a film first.",
	"all-watched":     "Every film here is watched. Add a new one, or mark one as not watched, and roll again.",
}

// showList renders a list for its members; anyone else gets the 404 a
// missing list gets.
func (s *Server) showList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderList(w, r, id, http.StatusOK, nil)
}

// renderList renders list id with status; adjust, if set, changes the page
// first (a form's input and messages).
func (s *Server) renderList(w http.ResponseWriter, r *http.Request, id uuid.UUID, status int, adjust func(*views.ListPage)) {
	var page *views.ListPage
	err := s.read(r, func(q *queries.Queries, sess *identity.Session) error {
		var err error
		page, err = s.loadList(r.Context(), q, sess.UserID, id, live.AllParts)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	query := r.URL.Query()
	page.Notice = listNotices[query.Get("done")]
	page.JustRolled = len(page.Rolls) > 0 && query.Get("rolled") == page.Rolls[0].ID
	if adjust != nil {
		adjust(page)
	}
	s.render(w, r, status, views.ListPageView(s.page(r, page.Name), *page))
}

// loadList reads what the given parts of a list page show (live.AllParts:
// everything) in one query, filtered to the viewer's membership.
func (s *Server) loadList(ctx context.Context, q *queries.Queries, viewer, id uuid.UUID, parts live.Parts) (*views.ListPage, error) {
	l, err := q.GetListPageForMember(ctx, queries.GetListPageForMemberParams{
		ID: id, UserID: viewer,
		WithMembers: parts&live.PartMembers != 0,
		WithMovies:  parts&(live.PartMovies|live.PartRoll|live.PartCount) != 0, // the roll section counts unwatched films
		WithRolls:   parts&(live.PartRoll|live.PartEarlierRolls) != 0,
	})
	if err != nil {
		return nil, queries.Translate(err)
	}
	owner := l.OwnerID == viewer
	page := &views.ListPage{
		Version: l.Version,
		ID:      l.ID.String(), Name: l.Name, OwnerName: l.OwnerName, Created: l.CreatedAt, Owner: owner, OwnerID: l.OwnerID.String(),
		Rename:  views.TextForm{Value: l.Name},
		Members: make([]views.Member, len(l.MemberIds)),
		Movies:  make([]views.Movie, len(l.MovieIds)),
		Rolls:   make([]views.Roll, len(l.RollIds)),
	}
	if owner {
		page.InviteURL = s.baseURL.JoinPath("join", l.InviteToken).String()
	}
	// A list's films are added by a few people: their ids are written out
	// once each, not once per film.
	userIDs := make(map[uuid.UUID]string, len(l.MemberIds))
	userID := func(id uuid.UUID) string {
		s, ok := userIDs[id]
		if !ok {
			s = id.String()
			userIDs[id] = s
		}
		return s
	}
	for i, id := range l.MemberIds {
		page.Members[i] = views.Member{ID: userID(id), Name: l.MemberNames[i], Owner: id == l.OwnerID, You: id == viewer}
	}
	movieIDs := uuidStrings(l.MovieIds)
	for i := range l.MovieIds {
		page.Movies[i] = views.Movie{
			ID: movieIDs(i), Title: l.MovieTitles[i], Year: l.MovieYears[i], Watched: l.MovieWatched[i],
			AddedBy: l.MovieAddedByNames[i], AddedByID: userID(l.MovieAddedBy[i]), AddedAt: l.MovieCreated[i],
			CanRemove: owner || l.MovieAddedBy[i] == viewer,
		}
		if !l.MovieWatched[i] {
			page.Unwatched++
		}
	}
	for i, id := range l.RollIds {
		page.Rolls[i] = views.Roll{ID: id.String(), Title: l.RollTitles[i], Year: l.RollYears[i], By: l.RollNames[i], ByID: userID(l.RollBy[i]), At: l.RollCreated[i]}
	}
	return page, nil
}

// uuidStrings formats ids as one string, in one allocation instead of one
// per id (a list page has one per film), and returns the i'th id's part.
func uuidStrings(ids []uuid.UUID) func(i int) string {
	const n = len("6f1e2d3c-2222-4aaa-8bbb-2c3d4e5f6a7b")
	b := make([]byte, n*len(ids))
	for i, id := range ids {
		d := b[i*n:]
		hex.Encode(d, id[:4])
		d[8] = '-'
		hex.Encode(d[9:], id[4:6])
		d[13] = '-'
		hex.Encode(d[14:], id[6:8])
		d[18] = '-'
		hex.Encode(d[19:], id[8:10])
		d[23] = '-'
		hex.Encode(d[24:], id[10:])
	}
	all := string(b)
	return func(i int) string { return all[i*n : i*n+n] }
}
