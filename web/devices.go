package web

import (
	"net/http"

	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
)

// signOutDevice signs one of the viewer's devices out; any other id is 404.
func (s *Server) signOutDevice(w http.ResponseWriter, r *http.Request) {
	sess := identity.FromContext(r.Context())
	id, err := pathID(r, "id")
	if err != nil || sess == nil {
		s.renderError(w, r, http.StatusNotFound)
		return
	}
	if id == sess.DeviceID {
		s.signOut(w, r)
		return
	}
	if err := s.id.SignOutDevice(r.Context(), sess, id); err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/account?done=device-out")
}

// signOutOthers signs out every device of the viewer's but this one. A
// visitor has no devices: it is told so, as by the account page's other
// forms.
func (s *Server) signOutOthers(w http.ResponseWriter, r *http.Request) {
	sess := identity.FromContext(r.Context())
	if sess == nil {
		s.renderError(w, r, http.StatusUnauthorized)
		return
	}
	if _, err := s.id.SignOutOthers(r.Context(), sess); err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/account?done=others-out")
}

// signOut signs this browser out; it is a visitor afterwards. If this
// browser is the only way back to what its user made or joined, it asks
// first (confirm=yes signs out anyway) and offers a recovery code.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	stranded, err := s.id.SignOut(w, r, r.PostFormValue("confirm") == "yes")
	switch {
	case err != nil:
		s.fail(w, r, err)
	case stranded != nil:
		s.render(w, r, http.StatusOK, views.SignOutPage(s.page(r, "Sign out?"), views.SignOut(*stranded)))
	default:
		seeOther(w, r, "/")
	}
}
