package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// when formats a time for people: "24 Nov 2026, 07:16 UTC".
func when(t time.Time) string {
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
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

// movieURL is the address of an action on a film.
func movieURL(listID, movieID, action string) string {
	return "/l/" + listID + "/movies/" + movieID + action
}
