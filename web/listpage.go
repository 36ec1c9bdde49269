package web

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
)

// listNotices are results shown on a list page after a redirect.
var listNotices = map[string]string{
	"renamed":         "The list is renamed.",
	"invite-rotated":  "Here is a new invitation link. The old one no longer works.",
	"handed-over":     "The list has a new owner.",
	"removed":         "The member is off the list.",
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
	err := s.inTx(r, func(q *queries.Queries, sess *identity.Session) error {
		var err error
		page, err = s.loadList(r.Context(), q, sess, id)
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

// loadList reads everything a list page shows, each query filtered to the
// viewer's membership.
func (s *Server) loadList(ctx context.Context, q *queries.Queries, sess *identity.Session, id uuid.UUID) (*views.ListPage, error) {
	l, err := q.GetListForMember(ctx, queries.GetListForMemberParams{ID: id, UserID: sess.UserID})
	if err != nil {
		return nil, queries.Translate(err)
	}
	members, err := q.ListMembersForMember(ctx, queries.ListMembersForMemberParams{ListID: id, UserID: sess.UserID})
	if err != nil {
		return nil, err
	}
	movies, err := q.ListMoviesForMember(ctx, queries.ListMoviesForMemberParams{ListID: id, UserID: sess.UserID})
	if err != nil {
		return nil, err
	}
	rolls, err := q.ListRecentRollsForMember(ctx, queries.ListRecentRollsForMemberParams{ListID: id, UserID: sess.UserID})
	if err != nil {
		return nil, err
	}
	owner := l.OwnerID == sess.UserID
	page := &views.ListPage{
		ID: l.ID.String(), Name: l.Name, OwnerName: l.OwnerName, Created: l.CreatedAt, Owner: owner,
		Rename: views.TextForm{Value: l.Name},
	}
	if owner {
		page.InviteURL = s.baseURL.JoinPath("join", l.InviteToken).String()
	}
	for _, m := range members {
		page.Members = append(page.Members, views.Member{ID: m.ID.String(), Name: m.DisplayName, Owner: m.IsOwner, You: m.ID == sess.UserID})
	}
	for _, m := range movies {
		page.Movies = append(page.Movies, views.Movie{
			ID: m.ID.String(), Title: m.Title, Year: deref(m.Year), Watched: m.WatchedAt != nil,
			AddedBy: m.AddedByName, AddedAt: m.CreatedAt, CanRemove: owner || m.AddedBy == sess.UserID,
		})
	}
	for _, r := range rolls {
		page.Rolls = append(page.Rolls, views.Roll{ID: r.ID.String(), Title: r.Title, Year: deref(r.Year), By: r.RolledByName, At: r.CreatedAt})
	}
	return page, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
