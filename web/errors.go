package web

import (
	"net/http"

	"github.com/moviedice/moviedice/views"
)

// errorView is the user-facing text for each status this app answers with.
var errorView = map[int]views.ErrorPage{
	http.StatusNotFound:            {Heading: "Page not found", Message: "There is nothing here. The link may be old, or the list may have been deleted."},
	http.StatusMethodNotAllowed:    {Heading: "Not allowed", Message: "This address does not take that kind of request."},
	http.StatusForbidden:           {Heading: "Request refused", Message: "This form was sent from another site, so it was not accepted. Go back to MovieDice and try again there."},
	http.StatusInternalServerError: {Heading: "Something went wrong", Message: "We could not finish that request. Nothing you made is lost; please try again in a moment."},
}

// renderError writes the styled page for status.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int) {
	e := errorView[status]
	e.Status = status
	e.RequestID = requestID(r.Context())
	if e.Heading == "" {
		e.Heading, e.Message = http.StatusText(status), "That request could not be handled."
	}
	s.render(w, r, status, views.ErrorView(s.page(e.Heading), e))
}

// serverError logs err with the request id and shows a safe 500 page.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "internal error", "err", err, "request_id", requestID(r.Context()), "route", r.Pattern)
	s.renderError(w, r, http.StatusInternalServerError)
}

// errorPages answers requests the mux has no route for with styled 404 and
// 405 pages (keeping the mux's Allow header) instead of its plain text.
func (s *Server) errorPages(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(&errorPageWriter{ResponseWriter: w, s: s, r: r}, r)
	})
}

// errorPageWriter swaps the mux's plain-text 404/405 body for the styled page.
type errorPageWriter struct {
	http.ResponseWriter
	s        *Server
	r        *http.Request
	replaced bool
}

func (w *errorPageWriter) WriteHeader(status int) {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.replaced = true
	w.s.renderError(w.ResponseWriter, w.r, status)
}

func (w *errorPageWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
