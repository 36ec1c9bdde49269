package web

import (
	"net/http"
	"strings"

	"github.com/moviedice/moviedice/web/identity"
)

// routes is the one route table. The middleware chain, outermost first, is
// at the end.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		s.patterns = append(s.patterns, pattern) // tests sweep every route
		if strings.HasPrefix(pattern, "POST ") {
			h = s.postsForm(h)
		}
		mux.Handle(pattern, h)
	}

	handle("GET /{$}", s.home)
	handle("POST /lists", s.createList)
	handle("GET /l/{id}", s.showList)
	handle("GET /l/{id}/live", s.liveList)
	handle("POST /l/{id}/movies", s.addMovie)
	handle("POST /l/{id}/movies/{movieID}/delete", s.deleteMovie)
	handle("POST /l/{id}/movies/{movieID}/watched", s.setWatched)
	handle("POST /l/{id}/roll", s.roll)
	handle("POST /l/{id}/rename", s.renameList)
	handle("POST /l/{id}/delete", s.deleteList)
	handle("POST /l/{id}/invite/rotate", s.rotateInvite)
	handle("POST /l/{id}/members/{userID}/remove", s.removeMember)
	handle("POST /l/{id}/members/{userID}/owner", s.handOver)
	handle("POST /l/{id}/leave", s.leave)
	handle("GET /join/{token}", s.invitation)
	handle("POST /join/{token}", s.join)

	handle("GET /account", s.account)
	handle("POST /account/name", s.renameAccount)
	handle("POST /account/recovery-code", s.newRecoveryCode)
	handle("GET /claim", s.claimForm)
	handle("POST /claim", s.claim)
	handle("POST /claim/confirm", s.confirmClaim)
	handle("POST /devices/{id}/signout", s.signOutDevice)
	handle("POST /devices/signout-others", s.signOutOthers)
	handle("POST /signout", s.signOut)

	handle("GET /static/{path...}", s.static)
	handle("GET /healthz", s.healthz)
	handle("GET /readyz", s.readyz)
	handle("GET /metrics", s.metricsHandler().ServeHTTP)

	return s.chain(s.errorPages(mux))
}

// chain wraps h in the middleware every request passes through, outermost
// first: request id + access log + metrics, panic recovery, security
// headers, cross-origin form protection, and the session.
func (s *Server) chain(h http.Handler) http.Handler {
	h = s.sessions(h)
	h = s.crossOriginProtection(h)
	h = securityHeaders(s.baseURL.Scheme == "https", h)
	h = s.recoverPanics(h)
	return s.observe(h)
}

// sessions loads the request's session, except for the machine endpoints
// and static files, which do not need to know who is asking.
func (s *Server) sessions(next http.Handler) http.Handler {
	withSession := s.id.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !identity.Replaced(r.Context()) || r.Method == http.MethodGet || r.Method == http.MethodHead:
		case r.URL.Path == "/claim/confirm":
			seeOther(w, r, "/account") // a second click on a confirmation that went through
			return
		default:
			s.fail(w, r, identity.ErrReplaced) // not a visitor's first contribution: the browser has an account
			return
		}
		next.ServeHTTP(w, r)
	}), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusServiceUnavailable)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/static/"), p == "/healthz", p == "/readyz", p == "/metrics":
			next.ServeHTTP(w, r)
		default:
			withSession.ServeHTTP(w, r)
		}
	})
}
