package web

import (
	"net/http"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
)

// notices are the results shown on the account page after a redirect.
var notices = map[string]string{
	"renamed":       "Your name is saved.",
	"device-out":    "That device is signed out.",
	"others-out":    "Every other device is signed out.",
	"merged":        "Welcome back. Your guest lists and films are now in this account.",
	"merge-pending": "Welcome back. Moving your guest lists and films is taking a moment; it finishes on its own and nothing is lost.",
	"switched":      "You switched accounts. Your other account stays reachable with its own recovery code.",
	"signed-in":     "Welcome back: this browser is signed in to your account.",
	"already":       "This browser is already signed in to that account.",
}

// account renders the account page: name, recovery code status, devices.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	sess := identity.FromContext(r.Context())
	if sess == nil {
		s.render(w, r, http.StatusOK, views.VisitorAccountPage(s.page(r, "Account")))
		return
	}
	s.renderAccount(w, r, sess, http.StatusOK, views.TextForm{Value: sess.DisplayName})
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, sess *identity.Session, status int, name views.TextForm) {
	account, err := s.id.Account(r.Context(), sess)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	a := views.Account{Name: name, Notice: notices[r.URL.Query().Get("done")],
		PendingMerges: account.PendingMerges, FailedMerges: account.FailedMerges}
	if sess.SecuredAt != nil {
		a.SecuredAt = *sess.SecuredAt
	}
	for _, d := range account.Devices {
		a.Devices = append(a.Devices, views.Device{ID: d.ID.String(), Browser: d.Browser, Created: d.CreatedAt, LastSeen: d.LastSeenAt, Current: d.Current})
	}
	s.render(w, r, status, views.AccountPage(s.page(r, "Account"), a))
}

// renameAccount changes the viewer's display name.
func (s *Server) renameAccount(w http.ResponseWriter, r *http.Request) {
	sess := identity.FromContext(r.Context())
	if sess == nil {
		s.renderError(w, r, http.StatusUnauthorized)
		return
	}
	if !s.parseForm(w, r, "display_name") {
		return
	}
	input := r.PostFormValue("display_name")
	userID, err := s.id.Rename(r, input)
	if err != nil {
		if queries.ErrorCode(err) == queries.EINVALID {
			s.renderAccount(w, r, sess, http.StatusUnprocessableEntity, views.TextForm{Value: input, Error: queries.ErrorMessage(err)})
			return
		}
		s.fail(w, r, err)
		return
	}
	if err := s.hub.Renamed(r.Context(), userID); err != nil {
		s.log.WarnContext(r.Context(), "live: announce rename", "err", err, "request_id", requestID(r.Context()))
	}
	seeOther(w, r, "/account?done=renamed")
}

// newRecoveryCode creates or replaces the viewer's recovery code and shows
// it, once. The response must not be cached anywhere.
func (s *Server) newRecoveryCode(w http.ResponseWriter, r *http.Request) {
	sess := identity.FromContext(r.Context())
	if sess == nil {
		s.renderError(w, r, http.StatusUnauthorized)
		return
	}
	if !s.parseForm(w, r) {
		return
	}
	code, err := s.id.NewRecoveryCode(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, views.RecoveryCodePage(s.page(r, "Your recovery code"), views.RecoveryCode{Code: code}))
}
