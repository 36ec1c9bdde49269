package views

import (
	"net/url"
	"strconv"
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
