package views

import (
	"testing"
	"time"
)

func TestWhenWritesWhatFormatWould(t *testing.T) {
	for _, tm := range []time.Time{time.Date(2026, 11, 24, 7, 6, 0, 0, time.UTC), time.Date(999, 1, 2, 23, 59, 59, 0, time.FixedZone("x", 3600)), time.Date(12026, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(7, 3, 9, 10, 5, 0, 0, time.UTC)} {
		if got, want := when(tm), tm.UTC().Format("2 Jan 2006, 15:04 UTC"); got != want {
			t.Errorf("when(%v) = %q, want %q", tm, got, want)
		}
	}
}
