package views

import (
	"context"
	"html"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// when formats a time for people: "24 Nov 2026, 07:16 UTC".
// A list page shows one per film, so it is built by hand: about a fifth of
// the cost of t.Format.
func when(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, _ := t.Clock()
	b := make([]byte, 0, len("24 Nov 2026, 07:16 UTC"))
	b = strconv.AppendInt(b, int64(day), 10)
	b = append(b, ' ')
	b = append(b, month.String()[:3]...)
	b = append(b, ' ')
	for y := 1000; year < y && y > 1; y /= 10 { // four digits, as Format writes them
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(year), 10)
	b = append(b, ", "...)
	b = append(b, byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10))
	b = append(b, " UTC"...)
	return string(b)
}

// text is a string written as HTML-escaped text, as { s } would be, for
// the many strings of a film list: templ copies every { s } through
// fmt.Sprint, and escapes even text with nothing to escape (a list page
// has hundreds). Use it as @text(s).
type text string

// Render writes t escaped.
func (t text) Render(_ context.Context, w io.Writer) error {
	s := string(t)
	if strings.ContainsAny(s, `&'<>"`) { // what html.EscapeString replaces
		s = html.EscapeString(s)
	}
	_, err := io.WriteString(w, s)
	return err
}

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

// yearText is " (1979)", or nothing for an unknown year.
func yearText(year int32) string {
	if year == 0 {
		return ""
	}
	return " (" + strconv.Itoa(int(year)) + ")"
}

// filmID is the HTML id of a film's element on a list page.
func filmID(id string) string { return "film-" + id }

// movieURL is the address of an action on a film.
func movieURL(listID, movieID, action string) string {
	return "/l/" + listID + "/movies/" + movieID + action
}
