package queries

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CleanLine trims one line of user text (a name, a title) and checks it:
// valid UTF-8, 1 to maxLen characters with at least one visible, no control
// characters, line breaks or text-direction controls. It drops invisible
// fillers and returns the text in NFC, so "Café" is stored and compared the
// same however it was typed, and maxLen counts what PostgreSQL's
// char_length will. what names the thing in messages ("list name"); field is
// the form field the error is about.
func CleanLine(field, input string, maxLen int, what string) (string, error) {
	if !utf8.ValidString(input) {
		return "", FieldError(field, "The "+what+" contains bytes that are not text.")
	}
	s := strings.TrimSpace(norm.NFC.String(strings.Map(dropFiller, input)))
	if utf8.RuneCountInString(s) > maxLen {
		return "", FieldError(field, "A "+what+" can be at most "+strconv.Itoa(maxLen)+" characters long.")
	}
	visible := false
	for _, r := range s {
		switch {
		case breaksLine(r):
			return "", FieldError(field, "A "+what+" cannot contain control characters or line breaks.")
		case unicode.Is(unicode.Bidi_Control, r):
			return "", FieldError(field, "A "+what+" cannot contain characters that change the direction of text.")
		}
		visible = visible || !invisible(r)
	}
	if !visible {
		return "", FieldError(field, "Please enter a "+what+".")
	}
	return s, nil
}

// ShowTyped returns input as it may be shown back in its field after
// CleanLine refused it: bytes that are not UTF-8, control characters, line
// breaks and text-direction controls each become U+FFFD, so the field shows
// where the problem is instead of hiding it (or turning the field's text
// around), and the page never carries them.
func ShowTyped(input string) string {
	return strings.Map(func(r rune) rune { // it maps each invalid byte to U+FFFD itself
		if breaksLine(r) || unicode.Is(unicode.Bidi_Control, r) {
			return utf8.RuneError
		}
		return r
	}, input)
}

// breaksLine reports whether r is a control character or a line break,
// which a one-line name or title never holds.
func breaksLine(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

// dropFiller removes zero-width space, word joiner, BOM and soft hyphen.
// They show nothing (at most a line-break hint), so keeping them would only
// make "Ali\u200Ben" a different film from "Alien" and let a name look blank.
// ZWJ and ZWNJ stay: emoji sequences and Persian or Indic words need them.
func dropFiller(r rune) rune {
	switch r {
	case '\u200B', '\u2060', '\uFEFF', '\u00AD':
		return -1
	}
	return r
}

// invisible reports whether r shows nothing on its own: white space, a
// format character (ZWJ, ZWNJ, ...), a combining mark, another
// default-ignorable such as the Hangul filler, or the empty Braille cell
// (a symbol, drawn blank).
func invisible(r rune) bool {
	return unicode.IsSpace(r) || r == '\u2800' || unicode.In(r, unicode.Cf, unicode.M, unicode.Other_Default_Ignorable_Code_Point)
}
