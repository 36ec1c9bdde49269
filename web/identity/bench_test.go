package identity

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moviedice/moviedice/queries"
)

// BenchmarkClaim measures a whole claim (normalize, one indexed lookup,
// one argon2id verification, a new device) with n codes stored: the
// latency must not grow with n. Run with:
//
//	go test -run '^$' -bench Claim -benchtime 200x ./web/identity/
func BenchmarkClaim(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("codes=%d", n), func(b *testing.B) {
			f := mustFixture(b)
			// Bulk-seed n-1 other users with codes; their verifiers are
			// never reached, their selectors fill the index.
			f.db.MustExec(b, `WITH u AS (INSERT INTO users (display_name) SELECT 'Seed ' || g FROM generate_series(2, $1) g RETURNING id)
				INSERT INTO recovery_codes (user_id, selector, verifier) SELECT id, sha256(id::text::bytea), 'unused' FROM u`, n)
			_, code := f.mustAccount(b)
			// Settle the seeded tables so autovacuum does not compete with
			// argon2 for the cores while we measure, and warm the caches.
			f.db.MustExec(b, "VACUUM (FREEZE, ANALYZE) users, recovery_codes, devices")
			f.db.MustExec(b, "CHECKPOINT")
			for range 30 {
				if _, err := f.svc.Claim(httptest.NewRecorder(), request(nil), code); err != nil {
					b.Fatal(err)
				}
			}
			if got := f.count(b, "SELECT count(*) FROM recovery_codes"); got != int64(n) {
				b.Fatalf("%d codes stored, want %d", got, n)
			}
			sel := selector(f.svc.pepper, strings.ReplaceAll(code, "-", ""))
			took := make([]time.Duration, 0, b.N)
			lookups := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				res, err := f.svc.Claim(httptest.NewRecorder(), request(nil), code)
				took = append(took, time.Since(start))
				if err != nil || res.Outcome != SignedIn {
					b.Fatalf("claim: %v %v", res, err)
				}
				// The part that could grow with n: the selector lookup alone.
				start = time.Now()
				err = queries.InSystemTx(context.Background(), f.svc.pool, func(q *queries.Queries) error {
					_, err := q.GetRecoveryCodeBySelector(context.Background(), sel)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				lookups = append(lookups, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(percentile(took, 50), "p50-ms")
			b.ReportMetric(percentile(took, 99), "p99-ms")
			b.ReportMetric(percentile(lookups, 50), "lookup-p50-ms")
		})
	}
}

// percentile returns the p-th percentile of d, in milliseconds.
func percentile(d []time.Duration, p int) float64 {
	slices.Sort(d)
	return float64(d[len(d)*p/100].Microseconds()) / 1000
}
