package web

import (
	"context"
	"encoding/base64"
	"net/http"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
)

// inviteToken reads {token}; anything that is not 16 bytes of URL-safe
// base64 cannot be a token and is a 404 without a database round trip.
func inviteToken(r *http.Request) (string, error) {
	t := r.PathValue("token")
	if b, err := base64.RawURLEncoding.DecodeString(t); err != nil || len(b) != 16 {
		return "", errNotFound
	}
	return t, nil
}

// invitation shows a list's invitation: name, size, and a Join button. It
// creates nothing.
func (s *Server) invitation(w http.ResponseWriter, r *http.Request) {
	token, err := inviteToken(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	inv, err := s.q.GetInvite(ctx, token)
	if err != nil {
		s.fail(w, r, queries.Translate(err))
		return
	}
	page := views.Invite{Token: token, Name: inv.Name, Members: inv.Members, ListID: inv.ID.String()}
	if sess := identity.FromContext(ctx); sess != nil {
		err := s.read(r, func(q *queries.Queries, sess *identity.Session) error {
			var err error
			page.AlreadyMember, err = q.IsListMember(ctx, queries.IsListMemberParams{ListID: inv.ID, UserID: sess.UserID})
			return err
		})
		if err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, views.InvitePage(s.page(r, "Join "+inv.Name), page))
}

// join adds the viewer to the token's list (minting a visitor's identity);
// joining twice changes nothing.
func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	token, err := inviteToken(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.q.GetInvite(r.Context(), token); err != nil {
		s.fail(w, r, queries.Translate(err)) // a dead link mints nobody
		return
	}
	var listID uuid.UUID
	_, err = s.id.Contribute(w, r, func(ctx context.Context, q *queries.Queries, userID uuid.UUID) error {
		var err error
		listID, err = q.JoinByInvite(ctx, token)
		if err != nil {
			return queries.Translate(err) // rotated while joining: not found, the join undone
		}
		if listID == uuid.Nil {
			return errNotFound // rotated meanwhile: the join function found no list
		}
		return nil
	})
	s.done(w, r, err, "/l/"+listID.String()+"?done=joined")
}

// leave takes the viewer off a list. The owner cannot leave: hand the list
// over or delete it first.
func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
			l, err := q.GetListForMember(r.Context(), queries.GetListForMemberParams{ID: id, UserID: userID})
			if err != nil {
				return queries.Translate(err)
			}
			if l.OwnerID == userID {
				return errOwnerCannotLeave
			}
			return notFoundUnless(q.LeaveListForMember(r.Context(), queries.LeaveListForMemberParams{ListID: id, UserID: userID}))
		})
	}
	s.done(w, r, err, "/?done=left")
}

var errOwnerCannotLeave = &queries.Error{Code: queries.ECONFLICT,
	Message: "You own this list, so you cannot leave it. Make another member its owner first, or delete the list."}

// memberAction reads the list and member ids of an owner's action on a member.
func memberAction(r *http.Request) (list, member uuid.UUID, err error) {
	if list, err = pathID(r, "id"); err == nil {
		member, err = pathID(r, "userID")
	}
	return list, member, err
}

// removeMember takes someone off a list; only the owner may. The
// invitation link changes with it, in the same transaction: the one
// removed has the old link, as every member has, and would otherwise join
// again at once.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	list, member, err := memberAction(r)
	if err == nil {
		err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
			err := notFoundUnless(q.RemoveMemberForOwner(r.Context(), queries.RemoveMemberForOwnerParams{ListID: list, OwnerID: userID, MemberID: member}))
			if err != nil {
				return err
			}
			return notFoundUnless(q.RotateInviteForOwner(r.Context(), queries.RotateInviteForOwnerParams{ID: list, InviteToken: newInviteToken(), OwnerID: userID}))
		})
	}
	s.done(w, r, err, "/l/"+list.String()+"?done=removed")
}

// handOver makes another member the list's owner; only the owner may.
func (s *Server) handOver(w http.ResponseWriter, r *http.Request) {
	list, member, err := memberAction(r)
	if err == nil {
		err = s.write(r, func(q *queries.Queries, userID uuid.UUID) error {
			return notFoundUnless(q.HandOverListForOwner(r.Context(), queries.HandOverListForOwnerParams{ID: list, OwnerID: userID, NewOwnerID: member}))
		})
	}
	s.done(w, r, err, "/l/"+list.String()+"?done=handed-over")
}
