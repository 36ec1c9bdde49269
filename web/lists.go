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
	"github.com/moviedice/moviedice/web/live"
)

// maxListName is the longest list name, in characters.
const maxListName = 80

// homeNotices are results shown on the start page after a redirect.
var homeNotices = map[string]string{
	"deleted": "The list is deleted.",
	"left":    "You left the list.",
}

// home renders the viewer's lists, or the landing page for a visitor.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.renderHome(w, r, http.StatusOK, views.TextForm{})
}

func (s *Server) renderHome(w http.ResponseWriter, r *http.Request, status int, form views.TextForm) {
	ctx := r.Context()
	h := views.Home{Form: form, Notice: homeNotices[r.URL.Query().Get("done")]}
	var err error
	if sess := identity.FromContext(ctx); sess != nil {
		h.SignedIn = true
		err = queries.ReadAsUser(ctx, s.pool, sess.UserID, func(q *queries.Queries) error {
			rows, err := q.ListListsForMember(ctx, sess.UserID)
			for _, l := range rows {
				h.Lists = append(h.Lists, views.ListSummary{ID: l.ID.String(), Name: l.Name, Movies: l.Movies,
					Members: l.Members, Owner: l.OwnerID == sess.UserID, LastActivity: l.LastActivity})
			}
			return err
		})
	} else {
		// Server-wide counts cross every user's lists: the system path.
		err = queries.InSystemTx(ctx, s.pool, func(q *queries.Queries) error {
			stats, err := q.CountSiteStats(ctx)
			h.Stats = views.Stats{Lists: stats.Lists, Movies: stats.Movies, Rolls: stats.Rolls}
			return err
		})
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, status, views.HomePage(s.page(r, ""), h))
}

// read runs a request's read (one query) acting for the signed-in user:
// row-level security applies. A visitor gets ENOTFOUND: there is nothing
// of theirs to reach.
func (s *Server) read(r *http.Request, fn func(q *queries.Queries, sess *identity.Session) error) error {
	sess := identity.FromContext(r.Context())
	if sess == nil {
		return errNotFound
	}
	return queries.ReadAsUser(r.Context(), s.pool, sess.UserID, func(q *queries.Queries) error { return fn(q, sess) })
}

// write runs a request's writes in its one transaction, as the user the
// device belongs to at that moment (identity.ActAs: safe against a merge
// of that user running at the same time). A visitor gets ENOTFOUND.
func (s *Server) write(r *http.Request, fn func(q *queries.Queries, userID uuid.UUID) error) error {
	_, err := s.id.ActAs(r, func(_ context.Context, q *queries.Queries, userID uuid.UUID) error { return fn(q, userID) })
	return err
}

var errNotFound = queries.Errorf(queries.ENOTFOUND, "Not found.")

// notFoundUnless turns "no row changed" into the 404 a missing id gets.
func notFoundUnless(n int64, err error) error {
	if err == nil && n == 0 {
		return errNotFound
	}
	return err
}

// createList starts a list owned by the viewer, who becomes its first
// member. For a visitor this is the first contribution: it mints the user.
func (s *Server) createList(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, "name") {
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
		if listID, err = q.CreateList(ctx, queries.CreateListParams{OwnerID: userID, Name: name, InviteToken: newInviteToken()}); err != nil {
			return err
		}
		return q.AddOwnerMembership(ctx, queries.AddOwnerMembershipParams{ListID: listID, OwnerID: userID})
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

// renameList renames a list; only its owner may.
func (s *Server) renameList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil || !s.parseForm(w, r, "name") {
		s.failUnlessAnswered(w, r, err)
		return
	}
	input := r.PostFormValue("name")
	name, verr := queries.CleanLine("name", input, maxListName, "list name")
	err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
		if verr != nil {
			return verr
		}
		return notFoundUnless(q.RenameListForOwner(r.Context(), queries.RenameListForOwnerParams{ID: id, Name: name, OwnerID: userID}))
	})
	if queries.ErrorCode(err) == queries.EINVALID {
		s.renderList(w, r, id, http.StatusUnprocessableEntity, func(l *views.ListPage) {
			l.Rename = views.TextForm{Value: input, Error: queries.ErrorMessage(err)}
		})
		return
	}
	s.done(w, r, err, "/l/"+id.String()+"?done=renamed")
}

// deleteList deletes a list after the owner confirms; without confirm=yes
// it shows what would be lost.
func (s *Server) deleteList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil || !s.parseForm(w, r) {
		s.failUnlessAnswered(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		var d views.DeleteList
		err := s.read(r, func(q *queries.Queries, sess *identity.Session) error {
			page, err := s.loadList(r.Context(), q, sess.UserID, id, live.AllParts)
			if err == nil && !page.Owner {
				err = errNotFound
			}
			if err == nil {
				d = views.DeleteList{ID: page.ID, Name: page.Name, Movies: len(page.Movies), Others: len(page.Members) - 1}
			}
			return err
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, http.StatusOK, views.DeleteListPage(s.page(r, "Delete "+d.Name), d))
		return
	}
	err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
		return notFoundUnless(q.DeleteListForOwner(r.Context(), queries.DeleteListForOwnerParams{ID: id, OwnerID: userID}))
	})
	s.done(w, r, err, "/?done=deleted")
}

// rotateInvite gives a list a new invitation token; the old link dies.
func (s *Server) rotateInvite(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
			return notFoundUnless(q.RotateInviteForOwner(r.Context(), queries.RotateInviteForOwnerParams{ID: id, InviteToken: newInviteToken(), OwnerID: userID}))
		})
	}
	s.done(w, r, err, "/l/"+id.String()+"?done=invite-rotated#invite-link")
}

// done finishes a form post: a 303 to next, or the error's page.
func (s *Server) done(w http.ResponseWriter, r *http.Request, err error, next string) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, next)
}

// failUnlessAnswered answers err, unless parseForm already answered.
func (s *Server) failUnlessAnswered(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.fail(w, r, err)
	}
}
