package web

import (
	"errors"
	"net/http"
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
)

// parseForm reads a POSTed form, refusing oversize bodies and fields that
// are not valid UTF-8. On error it has answered the request.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.renderErrorMessage(w, r, http.StatusRequestEntityTooLarge, errFormTooLarge.Message)
		} else {
			s.renderErrorMessage(w, r, http.StatusBadRequest, errFormUnread.Message)
		}
		return false
	}
	for _, values := range r.PostForm {
		for _, v := range values {
			if !utf8.ValidString(v) {
				s.renderErrorMessage(w, r, http.StatusBadRequest, errFormNotText.Message)
				return false
			}
		}
	}
	return true
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
