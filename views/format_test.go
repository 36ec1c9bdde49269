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
	for _, s := range []string{"Heat", `<script>alert("x")</script> & 'friends'`, "", "Amélie ⚄", "&", `"<>'&&`, "a\xffb<"} {
		if got, want := string(appendText([]byte("before "), s)), "before "+templ.EscapeString(s); got != want {
			t.Errorf("appendText(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestFilmRowPiecesWriteWhatTheyShow(t *testing.T) {
	at := time.Date(2026, 11, 4, 7, 6, 0, 0, time.UTC)
	for _, tt := range []struct{ got, want string }{
		{string(appendByLine(nil, "Quiet Otter", at)), "added by Quiet Otter, 4 Nov 2026, 07:06 UTC"},
		{string(appendByLine(nil, `<b>"Bold" & co</b>`, at)), "added by " + templ.EscapeString(`<b>"Bold" & co</b>`) + ", 4 Nov 2026, 07:06 UTC"},
		{render(t, filmYear(1979)), " (1979)"},
		{render(t, filmYear(0)), ""},
	} {
		if tt.got != tt.want {
			t.Errorf("wrote %q, want %q", tt.got, tt.want)
		}
	}
}

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
