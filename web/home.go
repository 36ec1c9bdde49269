package web

import (
	"net/http"

	"github.com/moviedice/moviedice/views"
)

// home renders the landing page with counts read from the database.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	stats, err := s.q.CountSiteStats(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.HomePage(s.page(""), views.Home{Lists: stats.Lists, Movies: stats.Movies, Rolls: stats.Rolls}))
}
