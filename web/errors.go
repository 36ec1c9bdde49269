package web

import (
	"net/http"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/views"
	"github.com/moviedice/moviedice/web/identity"
)

// errorView is the user-facing text for each status this app answers with.
var errorView = map[int]views.ErrorPage{
	http.StatusNotFound:              {Heading: "Page not found", Message: "There is nothing here. The link may be old, or the list may have been deleted."},
	http.StatusMethodNotAllowed:      {Heading: "Not allowed", Message: "This address does not take that kind of request."},
	http.StatusForbidden:             {Heading: "Request refused", Message: "This form was sent from another site, so it was not accepted. Go back to MovieDice and try again there."},
	http.StatusInternalServerError:   {Heading: "Something went wrong", Message: "We could not finish that request. Nothing you made is lost; please try again in a moment."},
	http.StatusUnauthorized:          {Heading: "Not signed in", Message: "This browser has no account yet. Start a list, or paste a recovery code, first."},
	http.StatusTooManyRequests:       {Heading: "Slow down", Message: "Too many requests from your network just now. Please wait a minute and try again."},
	http.StatusRequestEntityTooLarge: {Heading: "Too much text", Message: "That form was far larger than anything MovieDice needs. Nothing was saved."},
	http.StatusBadRequest:            {Heading: "Something is off with that form", Message: "It could not be read, so nothing was changed."},
	http.StatusUnsupportedMediaType:  {Heading: "Something is off with that form", Message: "It was not sent as a web form, so nothing was changed."},
	http.StatusUnprocessableEntity:   {Heading: "Please check that", Message: "Something in that form needs fixing. Nothing was saved."},
	http.StatusConflict:              {Heading: "That clashes", Message: "That clashes with something that already exists. Nothing was saved."},
	http.StatusUpgradeRequired:       {Heading: "Not a page", Message: "This address is for the page's script, not for reading."},
	http.StatusServiceUnavailable:    {Heading: "Back in a moment", Message: "MovieDice cannot reach its database just now. Nothing you made is lost; please try again in a moment."},
}

// signedOutView is the 404 and 401 page for a browser whose session cookie
// named a session that is gone (signed out, perhaps from another device):
// "nothing here" would mislead it. It depends on the request's cookie
// alone, never on what was asked for, so it tells nothing about whether a
// list exists.
var signedOutView = views.ErrorPage{Heading: "Signed out",
	Message: "This browser was signed out, so it cannot see this page.", SignedOut: true}

// renderError writes the styled page for status.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int) {
	s.renderErrorMessage(w, r, status, "")
}

// renderErrorMessage writes the styled page for status with message (or
// the status's standard text when message is empty).
func (s *Server) renderErrorMessage(w http.ResponseWriter, r *http.Request, status int, message string) {
	e := errorView[status]
	if (status == http.StatusNotFound || status == http.StatusUnauthorized) && identity.Ended(r.Context()) {
		e, message = signedOutView, ""
	}
	e.Status = status
	e.RequestID = requestID(r.Context())
	if e.Heading == "" {
		e.Heading, e.Message = http.StatusText(status), "That request could not be handled."
	}
	if message != "" {
		e.Message = message
	}
	switch status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "60") // the limits count per minute
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
	}
	s.render(w, r, status, views.ErrorView(s.page(r, e.Heading), e))
}

// statusOf maps the error vocabulary to HTTP, in this one place.
var statusOf = map[string]int{
	queries.ENOTFOUND:     http.StatusNotFound,
	queries.EINVALID:      http.StatusUnprocessableEntity,
	queries.ECONFLICT:     http.StatusConflict,
	queries.EUNAUTHORIZED: http.StatusUnauthorized,
	queries.ETOOMANY:      http.StatusTooManyRequests,
	queries.EINTERNAL:     http.StatusInternalServerError,
}

// fail answers a request that ended in err: internal errors are logged and
// shown as a safe 500; the vocabulary's errors show their own message
// (ENOTFOUND always the same 404, so ids cannot be probed).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := queries.ErrorCode(err)
	switch code {
	case queries.EINTERNAL:
		s.serverError(w, r, err)
	case queries.ENOTFOUND:
		s.renderError(w, r, http.StatusNotFound)
	default:
		s.renderErrorMessage(w, r, statusOf[code], queries.ErrorMessage(err))
	}
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
			defer notePattern(r) // the mux sets r.Pattern as it routes
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
