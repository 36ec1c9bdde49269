package views

import (
	"context"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// when formats a time for people: "24 Nov 2026, 07:16 UTC".
func when(t time.Time) string {
	return string(appendWhen(make([]byte, 0, len("24 Nov 2026, 07:16 UTC")), t))
}

// appendWhen appends t as when formats it, from ready-made strings: a list
// page has one per film, and this allocates nothing.
func appendWhen(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, _ := t.Clock()
	dayText := digits[day]
	if day < 10 {
		dayText = dayText[1:]
	}
	b = append(append(append(append(b, dayText...), ' '), month.String()[:3]...), ' ')
	b = appendYear(b, year)
	return append(append(append(append(append(b, ", "...), digits[hour]...), ':'), digits[minute]...), " UTC"...)
}

// appendYear appends year with at least four digits, as t.Format's 2006
// does.
func appendYear(b []byte, year int) []byte {
	if year < 0 || year > 9999 {
		return strconv.AppendInt(b, int64(year), 10)
	}
	return append(append(b, digits[year/100]...), digits[year%100]...)
}

// writeAppended writes to w what fill appends to an empty buffer, one
// write for many small pieces. The buffer is reused.
func writeAppended(w io.Writer, fill func([]byte) []byte) error {
	b := scratch.Get().(*[]byte)
	defer scratch.Put(b)
	*b = fill((*b)[:0])
	_, err := w.Write(*b)
	return err
}

var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// digits are "00" to "99".
var digits = func() (d [100]string) {
	for i := range d {
		d[i] = string([]byte{byte('0' + i/10), byte('0' + i%10)})
	}
	return d
}()

// appendByLine appends a film's "added by Quiet Otter, 24 Nov 2026, 07:16
// UTC", the name escaped.
func appendByLine(b []byte, name string, at time.Time) []byte {
	return appendWhen(append(appendText(append(b, "added by "...), name), ", "...), at)
}

// filmYear is a film's year as " (1979)", or nothing for an unknown year.
// Use it as @filmYear(y).
type filmYear int32

// Render writes y.
func (y filmYear) Render(_ context.Context, w io.Writer) error {
	return writeAppended(w, y.append)
}

func (y filmYear) append(b []byte) []byte {
	if y == 0 {
		return b
	}
	return append(appendYear(append(b, " ("...), int(y)), ')')
}

// appendText appends s HTML-escaped, for text or a quoted attribute value,
// exactly as templ escapes { s } (html.EscapeString), for the many strings
// of a film list: templ copies every { s } through fmt.Sprint first.
func appendText(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		if !mustEscape[s[i]] {
			continue
		}
		b = append(b, s[last:i]...)
		switch s[i] {
		case '&':
			b = append(b, "&amp;"...)
		case '\'':
			b = append(b, "&#39;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&#34;"...)
		}
		last = i + 1
	}
	return append(b, s[last:]...)
}

// mustEscape marks the bytes appendText replaces.
var mustEscape = [256]bool{'&': true, '\'': true, '<': true, '>': true, '"': true}

// count formats n with its noun: "1 film", "3 films".
func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// downloadText is a recovery code as the body of a downloadable text file,
// escaped for a data: URL.
func downloadText(code string) string {
	return url.PathEscape("MovieDice recovery code\n\n" + code + "\n\nPaste it at /claim on another device to use your account there.\n")
}

// guestData says what a guest has, naming only what there is:
// "2 lists, 1 joined list and 7 films".
func guestData(c ClaimPreview) string {
	var parts []string
	for _, p := range []struct {
		n         int64
		one, many string
	}{{c.Lists, "list", "lists"}, {c.Memberships, "joined list", "joined lists"}, {c.Movies, "film", "films"}, {c.Rolls, "roll", "rolls"}} {
		if p.n > 0 {
			parts = append(parts, count(p.n, p.one, p.many))
		}
	}
	switch len(parts) {
	case 0:
		return "nothing"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// filmID is the HTML id of a film's element on a list page (movieItem
// writes it too).
func filmID(id string) string { return "film-" + id }
