package queries

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The app's error vocabulary. Packages return *Error with one of these codes;
// web maps each code to an HTTP status in one place.
const (
	ENOTFOUND     = "not_found"    // no such thing, or not yours: always a 404
	EINVALID      = "invalid"      // bad input; Message says what to fix
	ECONFLICT     = "conflict"     // clashes with what exists
	EUNAUTHORIZED = "unauthorized" // needs a session the request does not have
	ETOOMANY      = "rate_limited" // slow down
	EINTERNAL     = "internal"     // our fault; details only in the log
)

// Error is an error a user may see: Message is safe to show, Field names
// the form field it is about, if any.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error about one form field.
func FieldError(field, message string) *Error {
	return &Error{Code: EINVALID, Field: field, Message: message}
}

// ErrorCode returns err's code, EINTERNAL for errors outside the vocabulary.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message a user may see for err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on our side. Nothing you made is lost; please try again."
}

// Translate turns driver errors into the vocabulary: no rows (or a
// function's no_data_found) is ENOTFOUND, a unique violation ECONFLICT.
// Anything else passes through unchanged.
func Translate(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return &Error{Code: ENOTFOUND, Message: "Not found."}
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return &Error{Code: ECONFLICT, Message: "That already exists."}
	}
	if errors.As(err, &pg) && pg.Code == "P0002" { // no_data_found, raised by a function (join_by_invite)
		return &Error{Code: ENOTFOUND, Message: "Not found."}
	}
	return err
}

// IsForeignKeyViolation reports whether err is PostgreSQL's 23503: a row
// referred to a row that is gone (or going).
func IsForeignKeyViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23503"
}

// IsTransient reports whether err is PostgreSQL's 40001 or 40P01: the
// transaction lost a serialization or deadlock race, and run again it
// will most likely go through. (A hand-over racing a leave can deadlock:
// each waits at commit for a row the other holds.)
func IsTransient(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40001" || pg.Code == "40P01")
}
