package web

import (
	"errors"
	"mime"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/moviedice/moviedice/queries"
)

// maxFormBytes is far more than any MovieDice form needs.
const maxFormBytes = 64 << 10

var (
	errFormTooLarge = &queries.Error{Code: queries.EINVALID, Message: "That form was far larger than anything MovieDice needs. Nothing was saved."}
	errFormUnread   = &queries.Error{Code: queries.EINVALID, Message: "That form could not be read. Nothing was saved."}
	errFormNotText  = &queries.Error{Code: queries.EINVALID, Message: "That form contained bytes that are not text. Nothing was saved."}
	errFormRepeated = &queries.Error{Code: queries.EINVALID, Message: "That form sent one of its fields more than once. Nothing was saved."}
	errFormEncoding = &queries.Error{Code: queries.EINVALID, Message: "That form was not sent as a web form (application/x-www-form-urlencoded or multipart/form-data). Nothing was saved."}
)

// parseForm reads a POSTed form (readForm), refusing oversize bodies,
// bodies that are not a form (which Go would read as an empty one, and the
// handler would answer "please enter a title" to a title it never saw), a
// field sent twice, and fields that are not valid UTF-8. typed names the
// fields that hold what someone typed (a title, a name, a code): those may
// hold anything, as their own checks refuse bad text with a message next
// to the field, keeping the input. On error it has answered the request.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request, typed ...string) bool {
	if !s.readForm(w, r) {
		return false
	}
	for name, values := range r.PostForm {
		for _, v := range values {
			if !utf8.ValidString(name) || (!utf8.ValidString(v) && !slices.Contains(typed, name)) {
				s.renderErrorMessage(w, r, http.StatusBadRequest, errFormNotText.Message)
				return false
			}
		}
	}
	return true
}

// postsForm is h behind readForm: every POST route's body is a form
// (most have no fields, but the request must still be one), read before
// the handler runs.
func (s *Server) postsForm(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.readForm(w, r) {
			h(w, r)
		}
	}
}

// readForm reads a POSTed form once (called again, it does nothing),
// refusing oversize bodies, bodies that are not a form, and a field sent
// twice: no MovieDice form repeats one, and which of two titles was meant
// is anyone's guess. On error it has answered the request.
func (s *Server) readForm(w http.ResponseWriter, r *http.Request) bool {
	if r.PostForm != nil {
		return true
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	var err error
	switch mediaType(r) {
	case "application/x-www-form-urlencoded":
		err = r.ParseForm()
	case "multipart/form-data": // what a form with enctype="multipart/form-data" or curl -F sends
		err = r.ParseMultipartForm(maxFormBytes)
	case "":
		if r.ContentLength == 0 { // a form without fields, as from curl -X POST
			err = r.ParseForm()
			break
		}
		fallthrough
	default:
		s.renderErrorMessage(w, r, http.StatusUnsupportedMediaType, errFormEncoding.Message)
		return false
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.renderErrorMessage(w, r, http.StatusRequestEntityTooLarge, errFormTooLarge.Message)
		} else {
			s.renderErrorMessage(w, r, http.StatusBadRequest, errFormUnread.Message)
		}
		return false
	}
	for _, values := range r.PostForm {
		if len(values) > 1 {
			s.renderErrorMessage(w, r, http.StatusBadRequest, errFormRepeated.Message)
			return false
		}
	}
	return true
}

// mediaType is the request's Content-Type without its parameters, or ""
// when it has none (or one that does not parse).
func mediaType(r *http.Request) string {
	t, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return t
}

// pathID parses the {name} path segment as a uuid in its one canonical
// form (lower case, hyphenated, as every link has it); anything else,
// including the braced, URN and upper-case spellings uuid.Parse takes, is
// ENOTFOUND, exactly like an id that does not exist.
func pathID(r *http.Request, name string) (uuid.UUID, error) {
	v := r.PathValue(name)
	id, err := uuid.Parse(v)
	if err != nil || id.String() != v {
		return uuid.Nil, queries.Errorf(queries.ENOTFOUND, "Not found.")
	}
	return id, nil
}

// seeOther redirects a form post to the page that shows its result.
func seeOther(w http.ResponseWriter, r *http.Request, url string) {
	http.Redirect(w, r, url, http.StatusSeeOther)
}
