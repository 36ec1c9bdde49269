package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
)

// maxListName is the longest list name, in characters.
const maxListName = 80

// home renders the viewer's lists, or the landing page for a visitor.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.renderHome(w, r, http.StatusOK, views.TextForm{})
}

func (s *Server) renderHome(w http.ResponseWriter, r *http.Request, status int, form views.TextForm) {
	ctx := r.Context()
	h := views.Home{Form: form}
	if sess := identity.FromContext(ctx); sess != nil {
		rows, err := s.q.ListListsForMember(ctx, sess.UserID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		h.SignedIn = true
		for _, l := range rows {
			h.Lists = append(h.Lists, views.ListSummary{ID: l.ID.String(), Name: l.Name, Movies: l.Movies, Owner: l.OwnerID == sess.UserID})
		}
	} else {
		stats, err := s.q.CountSiteStats(ctx)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		h.Stats = views.Stats{Lists: stats.Lists, Movies: stats.Movies, Rolls: stats.Rolls}
	}
	s.render(w, r, status, views.HomePage(s.page(r, ""), h))
}

// createList starts a list owned by the viewer, who becomes its first
// member. For a visitor this is the first contribution: it mints the user.
func (s *Server) createList(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	input := r.PostFormValue("name")
	name, err := queries.CleanLine("name", input, maxListName, "list name")
	if err != nil {
		s.renderHome(w, r, http.StatusUnprocessableEntity, views.TextForm{Value: input, Error: queries.ErrorMessage(err)})
		return
	}
	var listID uuid.UUID
	_, err = s.id.Contribute(w, r, func(ctx context.Context, q *queries.Queries, userID uuid.UUID) error {
		var err error
		listID, err = q.CreateList(ctx, queries.CreateListParams{OwnerID: userID, Name: name, InviteToken: newInviteToken()})
		if err != nil {
			return err
		}
		return q.AddListMember(ctx, queries.AddListMemberParams{ListID: listID, UserID: userID})
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/l/"+listID.String())
}

// newInviteToken returns 128 random bits, URL-safe.
func newInviteToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// showList renders a list for its members; anyone else gets the 404 a
// missing list gets.
func (s *Server) showList(w http.ResponseWriter, r *http.Request) {
	sess := identity.FromContext(r.Context())
	id, err := pathID(r, "id")
	if err != nil || sess == nil {
		s.renderError(w, r, http.StatusNotFound)
		return
	}
	l, err := s.q.GetListForMember(r.Context(), queries.GetListForMemberParams{ID: id, UserID: sess.UserID})
	if err != nil {
		s.fail(w, r, queries.Translate(err))
		return
	}
	s.render(w, r, http.StatusOK, views.ListPageView(s.page(r, l.Name), views.ListPage{
		ID: l.ID.String(), Name: l.Name, Members: l.Members, Owner: l.OwnerID == sess.UserID, Created: l.CreatedAt,
	}))
}
