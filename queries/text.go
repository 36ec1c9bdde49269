package queries

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanLine trims one line of user text (a name, a title) and checks it:
// valid UTF-8, 1 to maxLen characters, no control characters or line
// breaks. what names the thing in messages ("list name"); field is the form
// field the error is about.
func CleanLine(field, input string, maxLen int, what string) (string, error) {
	if !utf8.ValidString(input) {
		return "", FieldError(field, "The "+what+" contains bytes that are not text.")
	}
	s := strings.TrimSpace(input)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", FieldError(field, "Please enter a "+what+".")
	case n > maxLen:
		return "", FieldError(field, "A "+what+" can be at most "+strconv.Itoa(maxLen)+" characters long.")
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", FieldError(field, "A "+what+" cannot contain control characters or line breaks.")
		}
	}
	return s, nil
}
