package web

import "net/http"

// routes is the one route table. The middleware chain, outermost first, is
// at the end.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()

	mux.HandleFunc("GET /{$}", s.home)
	mux.Handle("GET /static/{path...}", s.assets)

	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metricsHandler())

	return s.chain(s.errorPages(mux))
}

// chain wraps h in the middleware every request passes through. observe must
// stay outermost and nothing inside may replace the *http.Request (it reads
// the route pattern the mux writes into it).
func (s *Server) chain(h http.Handler) http.Handler {
	h = s.crossOriginProtection(h)
	h = securityHeaders(s.baseURL.Scheme == "https", h)
	h = s.recoverPanics(h)
	return s.observe(h)
}
