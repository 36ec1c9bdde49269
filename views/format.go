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
func when(t time.Time) string {
	var b strings.Builder
	b.Grow(len("24 Nov 2026, 07:16 UTC"))
	writeWhen(&b, t)
	return b.String()
}

// writeWhen writes t as when formats it, from ready-made strings: a list
// page has one per film, and this allocates nothing.
func writeWhen(w io.Writer, t time.Time) error {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, _ := t.Clock()
	dayText := digits[day]
	if day < 10 {
		dayText = dayText[1:]
	}
	if err := writeStrings(w, dayText, " ", month.String()[:3], " "); err != nil {
		return err
	}
	if err := writeYear(w, year); err != nil {
		return err
	}
	return writeStrings(w, ", ", digits[hour], ":", digits[minute], " UTC")
}

// writeYear writes year with at least four digits, as t.Format's 2006 does.
func writeYear(w io.Writer, year int) error {
	if year < 0 || year > 9999 {
		return writeStrings(w, strconv.Itoa(year))
	}
	return writeStrings(w, digits[year/100], digits[year%100])
}

func writeStrings(w io.Writer, ss ...string) error {
	for _, s := range ss {
		if _, err := io.WriteString(w, s); err != nil {
			return err
		}
	}
	return nil
}

// digits are "00" to "99".
var digits = func() (d [100]string) {
	for i := range d {
		d[i] = string([]byte{byte('0' + i/10), byte('0' + i%10)})
	}
	return d
}()

// byLine is a film's "added by Quiet Otter, 24 Nov 2026, 07:16 UTC", the
// name escaped. Use it as @byLine{name, at}.
type byLine struct {
	name string
	at   time.Time
}

// Render writes b.
func (b byLine) Render(ctx context.Context, w io.Writer) error {
	if err := writeStrings(w, "added by "); err != nil {
		return err
	}
	if err := text(b.name).Render(ctx, w); err != nil {
		return err
	}
	if err := writeStrings(w, ", "); err != nil {
		return err
	}
	return writeWhen(w, b.at)
}

// filmYear is a film's year as " (1979)", or nothing for an unknown year.
// Use it as @filmYear(y).
type filmYear int32

// Render writes y.
func (y filmYear) Render(_ context.Context, w io.Writer) error {
	if y == 0 {
		return nil
	}
	if err := writeStrings(w, " ("); err != nil {
		return err
	}
	if err := writeYear(w, int(y)); err != nil {
		return err
	}
	return writeStrings(w, ")")
}

// text is a string written HTML-escaped, as templ writes { s } in text or
// in a quoted attribute value, for the many strings of a film list
// (movieItem, byLine): templ copies every { s } through fmt.Sprint, and
// escapes even text with nothing to escape (a list page has hundreds).
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

// filmID is the HTML id of a film's element on a list page (movieItem
// writes it too).
func filmID(id string) string { return "film-" + id }
