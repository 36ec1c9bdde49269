package views

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
)

func TestWhenWritesWhatFormatWould(t *testing.T) {
	for _, tm := range []time.Time{time.Date(2026, 11, 24, 7, 6, 0, 0, time.UTC), time.Date(999, 1, 2, 23, 59, 59, 0, time.FixedZone("x", 3600)), time.Date(12026, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(7, 3, 9, 10, 5, 0, 0, time.UTC)} {
		if got, want := when(tm), tm.UTC().Format("2 Jan 2006, 15:04 UTC"); got != want {
			t.Errorf("when(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestTextIsEscapedLikeTempl(t *testing.T) {
	for _, s := range []string{"Heat", `<script>alert("x")</script> & 'friends'`, "", "Amélie ⚄"} {
		var got strings.Builder
		if err := text(s).Render(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		if want := templ.EscapeString(s); got.String() != want {
			t.Errorf("text(%q) wrote %q, want %q", s, got.String(), want)
		}
	}
}
