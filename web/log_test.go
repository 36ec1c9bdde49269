package web

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoggerBatchesRecordsAndWritesWarningsAtOnce(t *testing.T) {
	out := &syncBuffer{}
	log, flush := newLogger(out, slog.LevelInfo, time.Hour) // nothing goes out by itself
	log.Debug("below the level")
	for i := range 100 {
		log.Info("http", "n", i)
	}
	if s := out.String(); s != "" {
		t.Fatalf("info records written before their delay: %q", s)
	}
	log.With("request_id", "abc").Warn("not ready", "err", "database unreachable")
	got := out.String()
	if n := strings.Count(got, "msg=http"); n != 100 {
		t.Errorf("a warning wrote out %d of the 100 waiting records", n)
	}
	if !strings.HasSuffix(got, `level=WARN msg="not ready" request_id=abc err="database unreachable"`+"\n") {
		t.Errorf("the warning is not last, whole: %q", got[max(0, len(got)-200):])
	}
	if strings.Contains(got, "below the level") {
		t.Error("a debug record was written at level info")
	}
	if out.writes != 1 {
		t.Errorf("101 records took %d writes, want 1", out.writes)
	}

	log.Info("last")
	flush()
	if !strings.HasSuffix(out.String(), "msg=last\n") {
		t.Error("flush did not write the waiting record")
	}
}

func TestLoggerWritesOutAfterItsDelay(t *testing.T) {
	out := &syncBuffer{}
	log, _ := NewLogger(out, nil)
	log.Info("later")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "msg=later") {
		if time.Now().After(deadline) {
			t.Fatal("an info record never went out by itself")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLoggerKeepsEveryRecordUnderConcurrencyAndOverflow(t *testing.T) {
	out := &syncBuffer{}
	log, flush := newLogger(out, nil, time.Hour)
	big := strings.Repeat("x", 2*logBufferSize) // one record larger than the buffer
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				log.Info("http", "g", g, "i", i)
			}
		})
	}
	wg.Go(func() { log.Info("big", "v", big) })
	wg.Wait()
	flush()
	got := out.String()
	if n := strings.Count(got, "msg=http"); n != 8*2000 {
		t.Errorf("%d of %d records written", n, 8*2000)
	}
	if !strings.Contains(got, "msg=big v="+big+"\n") {
		t.Error("the record larger than the buffer is not written whole")
	}
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if !strings.HasPrefix(line, "time=") {
			t.Fatalf("records interleaved: %.120q", line)
		}
	}
	if out.writes > 8*2000/10 {
		t.Errorf("%d writes for %d records: not batched", out.writes, 8*2000)
	}
}

// BenchmarkAccessLog logs an access-log record to a file as the server
// does: NewLogger's batches against slog writing each record.
func BenchmarkAccessLog(b *testing.B) {
	for _, tc := range []struct {
		name string
		open func(f *os.File) (*slog.Logger, func())
	}{
		{"a write per record", func(f *os.File) (*slog.Logger, func()) { return slog.New(slog.NewTextHandler(f, nil)), func() {} }},
		{"batched", func(f *os.File) (*slog.Logger, func()) { return NewLogger(f, nil) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			log, flush := tc.open(f)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				log.LogAttrs(b.Context(), slog.LevelInfo, "http", slog.String("request_id", "0123456789abcdef"),
					slog.String("method", "GET"), slog.String("path", fmt.Sprint("/l/", i)), slog.String("route", "GET /l/{id}"),
					slog.Int("status", 200), slog.Int("bytes", 37628), slog.Duration("took", time.Millisecond), slog.String("remote", "127.0.0.1:40000"))
			}
			flush()
		})
	}
}
