// Package web is MovieDice's HTTP side: one route table, the middleware
// around it, and thin handlers that parse, call and render.
package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/moviedice/moviedice/migrations"
	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/static"
	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
	"github.com/moviedice/moviedice/web/live"
	"github.com/moviedice/moviedice/web/rawwrite"
)

// Config is what the server needs from its caller.
type Config struct {
	// BaseURL is the public URL: it decides the cookie Secure flag and is a
	// trusted origin for forms.
	BaseURL *url.URL
	Pool    *pgxpool.Pool
	Log     *slog.Logger
	// Identity knows who each request is from.
	Identity *identity.Service
	// LiveDatabaseURL is for the live hub's own LISTEN connection.
	LiveDatabaseURL string
	// LiveMaxConns and LivePerDevice cap this instance's live connections,
	// in all and per device (0: the defaults).
	LiveMaxConns  int
	LivePerDevice int
	// Registry receives the server's metrics and is what /metrics serves.
	Registry *prometheus.Registry
}

// Server holds the dependencies every handler shares.
type Server struct {
	baseURL    *url.URL
	pool       *pgxpool.Pool
	q          *queries.Queries
	id         *identity.Service
	log        *slog.Logger
	assets     *assets
	registry   *prometheus.Registry
	metrics    *httpMetrics
	migrations *goose.Provider
	hub        *live.Hub
	handler    http.Handler
	// patterns are the route table's patterns, in order.
	patterns []string
}

// New builds a server and its route table.
func New(cfg Config) (*Server, error) {
	a, err := newAssets(static.FS)
	if err != nil {
		return nil, err
	}
	mig, err := migrations.NewProvider(stdlib.OpenDBFromPool(cfg.Pool))
	if err != nil {
		return nil, err
	}
	s := &Server{
		baseURL:    cfg.BaseURL,
		pool:       cfg.Pool,
		q:          queries.New(cfg.Pool),
		id:         cfg.Identity,
		log:        cfg.Log,
		assets:     a,
		registry:   cfg.Registry,
		migrations: mig,
	}
	if s.metrics, err = newHTTPMetrics(cfg.Registry, cfg.Pool); err != nil {
		return nil, err
	}
	s.hub = live.New(live.Config{DatabaseURL: cfg.LiveDatabaseURL, Render: s.renderLive, RenderPresence: s.renderPresence,
		Notify: s.notify, Log: cfg.Log, MaxConns: cfg.LiveMaxConns, MaxPerDevice: cfg.LivePerDevice,
		// The feed's device announcements keep identity's session cache
		// honest across instances; without them it is not used.
		DeviceChanged: cfg.Identity.ForgetDevice, FeedUp: cfg.Identity.CacheSessions})
	s.handler = s.routes()
	return s, nil
}

// Hub is the server's live hub; run it with Hub().Run.
func (s *Server) Hub() *live.Hub { return s.hub }

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// page returns the layout data every page shares.
func (s *Server) page(r *http.Request, title string) views.Page {
	p := views.Page{Title: title, CSSURL: s.assets.url("css/app.css"), IconURL: s.assets.url("icons/die.svg"), JSURL: s.assets.url("js/app.js"),
		HtmxURL: s.assets.url("vendor/htmx-2.0.11.min.js"), WsURL: s.assets.url("vendor/htmx-ext-ws-2.0.4.min.js")}
	if sess := identity.FromContext(r.Context()); sess != nil {
		p.Viewer, p.ViewerID = sess.DisplayName, sess.UserID.String()
	}
	return p
}

// render writes a templ component as an HTML page with the given status.
// The page is rendered into a buffer first: one write with a
// Content-Length, and a clean 500 instead of half a page if rendering fails.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	buf := renderBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 {
			renderBuffers.Put(buf)
		}
	}()
	if err := c.Render(r.Context(), buf); err != nil {
		s.log.ErrorContext(r.Context(), "render", "err", err, "request_id", requestID(r.Context()))
		setHistory(w.Header(), r, http.StatusInternalServerError)
		http.Error(w, "Something went wrong; please try again.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if h.Get("Cache-Control") == "" {
		// Pages are someone's (their lists, a list's invitation link): no
		// shared cache keeps them, and the browser asks again each time.
		h.Set("Cache-Control", "private, no-cache")
	}
	setHistory(h, r, status)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// setHistory tells htmx (a boosted form or link) what to do with the
// browser's history for a page it swaps in. A page that answers a form
// itself (a recovery code, a confirmation) or refuses a request stays at
// the address of the page the form was on: the form's own address takes
// only POSTs, so Reload or Back there would be a 405. (That a page an
// action leads back to replaces its history entry, rather than adding one
// per film added, is the page's script's doing: static/js/app.js.)
func setHistory(h http.Header, r *http.Request, status int) {
	if status >= 400 || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		h.Set("HX-Push-Url", "false")
	}
}

var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// gcHeadroom is how far past what it must trace the heap may grow before
// a collection, once the heap is large.
const gcHeadroom = 64 << 20

// TuneGC, unless GOGC is set, adjusts the collector to the heap, every
// quarter second until ctx is done. A server's heap is small while it serves
// pages, and collecting every time it doubles cost about a tenth of a page
// view's CPU, so a small heap may grow 5× (GOGC=400). A heap made large by
// thousands of idle live connections, which allocate nothing, may grow by
// gcHeadroom only, down to 1.5× (GOGC=50): at GOGC=400 it would hold four
// times their memory again in garbage.
func TuneGC(ctx context.Context) {
	if os.Getenv("GOGC") != "" {
		return
	}
	current := gcPercent(0)
	debug.SetGCPercent(current)
	go func() {
		// What the collector traces: the pacer's base for GOGC.
		samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
		tick := time.NewTicker(time.Second / 4) // quick enough for thousands of connections arriving at once
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			metrics.Read(samples)
			var scan uint64
			for _, s := range samples {
				if s.Value.Kind() == metrics.KindUint64 {
					scan += s.Value.Uint64()
				}
			}
			if p := gcPercent(scan); p != current {
				debug.SetGCPercent(p)
				current = p
			}
		}
	}()
}

// gcPercent is the GOGC that lets a heap tracing scan bytes grow by
// gcHeadroom, within 50 and 400, in steps of 10.
func gcPercent(scan uint64) int {
	if scan == 0 {
		return 400
	}
	p := int(min(400, max(50, gcHeadroom*100/scan)))
	return p / 10 * 10
}

// Serve answers HTTP on l until ctx is done, then stops taking new
// connections and lets in-flight requests finish (up to drain).
func Serve(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger, drain time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	// Responses leave without the scheduler's system call hand-over (see
	// rawwrite).
	go func() { errc <- srv.Serve(rawwrite.Listener(l)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", drain)
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running (a slow upload, say) are cut off: the
		// stop was asked for, and is not an error of the server's.
		log.Warn("requests still in flight after the drain timeout: closing them", "timeout", drain)
		srv.Close()
		return nil
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}
