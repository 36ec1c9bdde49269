package web

import (
	"context"
	"net/http"
	"time"

	"github.com/moviedice/moviedice/migrations"
)

// healthz answers while the process is up; it touches nothing else.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz answers 200 only when the database is reachable and every embedded
// migration is applied, so a load balancer keeps traffic away otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.pool.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready: database unreachable", "err", err)
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	current, err := migrations.Current(ctx, s.migrations)
	if err != nil || !current {
		s.log.WarnContext(ctx, "not ready: migrations", "current", current, "err", err)
		http.Error(w, "migrations not current", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}
