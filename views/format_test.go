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

func TestFilmRowPiecesWriteWhatTheyShow(t *testing.T) {
	at := time.Date(2026, 11, 4, 7, 6, 0, 0, time.UTC)
	for _, tt := range []struct {
		c    templ.Component
		want string
	}{
		{byLine{"Quiet Otter", at}, "added by Quiet Otter, 4 Nov 2026, 07:06 UTC"},
		{byLine{`<b>"Bold" & co</b>`, at}, "added by " + templ.EscapeString(`<b>"Bold" & co</b>`) + ", 4 Nov 2026, 07:06 UTC"},
		{filmYear(1979), " (1979)"},
		{filmYear(0), ""},
	} {
		var got strings.Builder
		if err := tt.c.Render(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		if got.String() != tt.want {
			t.Errorf("wrote %q, want %q", got.String(), tt.want)
		}
	}
}
