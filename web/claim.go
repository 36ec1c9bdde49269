package web

import (
	"errors"
	"net/http"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
)

// claimForm renders the form to paste a recovery code.
func (s *Server) claimForm(w http.ResponseWriter, r *http.Request) {
	s.renderClaim(w, r, http.StatusOK, views.Claim{})
}

func (s *Server) renderClaim(w http.ResponseWriter, r *http.Request, status int, c views.Claim) {
	if sess := identity.FromContext(r.Context()); sess != nil {
		c.SignedInAs = sess.DisplayName
	}
	s.render(w, r, status, views.ClaimPage(s.page(r, "Use your account here"), c))
}

// claim checks a pasted code, then signs in, says "already signed in", or
// shows what confirming would move.
func (s *Server) claim(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, "code") {
		return
	}
	input := r.PostFormValue("code")
	res, err := s.id.Claim(w, r, input)
	if err != nil {
		switch code := queries.ErrorCode(err); code {
		case queries.EINVALID, queries.ETOOMANY:
			s.renderClaim(w, r, statusOf[code], views.Claim{Form: views.TextForm{Value: input, Error: queries.ErrorMessage(err)}})
		default:
			s.fail(w, r, err)
		}
		return
	}
	switch res.Outcome {
	case identity.AlreadySignedIn:
		seeOther(w, r, "/account?done=already")
	case identity.NeedsConfirmation:
		s.renderPreview(w, r, http.StatusOK, res, false)
	default:
		seeOther(w, r, "/account?done=signed-in")
	}
}

// renderPreview shows what confirming the claim res would do; changed
// says it is shown again because the guest's data changed since.
func (s *Server) renderPreview(w http.ResponseWriter, r *http.Request, status int, res *identity.ClaimResult, changed bool) {
	w.Header().Set("Cache-Control", "no-store")
	p := res.Preview
	s.render(w, r, status, views.ClaimPreviewPage(s.page(r, "Before you continue"), views.ClaimPreview{
		IntoName: p.IntoName, Lists: p.Lists, Memberships: p.Memberships, Movies: p.Movies, Rolls: p.Rolls, Switch: p.Switch,
		Token: res.Token, Changed: changed,
	}))
}

// confirmClaim carries out a previewed claim: merge, or account switch.
func (s *Server) confirmClaim(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	outcome, err := s.id.ConfirmClaim(w, r, r.PostFormValue("token"))
	var changed *identity.PreviewChanged
	if errors.As(err, &changed) {
		s.renderPreview(w, r, http.StatusConflict, &changed.Result, true)
		return
	}
	if err != nil {
		if queries.ErrorCode(err) == queries.EINVALID {
			s.renderClaim(w, r, http.StatusBadRequest, views.Claim{Notice: queries.ErrorMessage(err)})
			return
		}
		s.fail(w, r, err)
		return
	}
	done := map[identity.ConfirmOutcome]string{identity.Merged: "?done=merged", identity.MergePending: "?done=merge-pending",
		identity.Switched: "?done=switched", identity.AlreadyConfirmed: ""}
	seeOther(w, r, "/account"+done[outcome])
}
