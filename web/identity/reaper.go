package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/moviedice/moviedice/queries"
)

const (
	// reaperLock is the advisory lock that keeps the reaper to one instance.
	reaperLock = 0x6d6f766965726561 // any constant unique to this job
	// reapBatchSize is the most users deleted in one transaction.
	reapBatchSize = 1000
)

// ReapResult is what a reaper run did.
type ReapResult struct {
	Deleted int
	// Skipped: another instance was reaping; this run did nothing.
	Skipped bool
	DryRun  bool
}

// Reap deletes users idle for longer than olderThan that have no recovery
// code and nothing made or joined, in batches of at most 1,000 per
// transaction. Only one instance reaps at a time. With dryRun it counts
// what it would delete and changes nothing.
func (s *Service) Reap(ctx context.Context, olderThan time.Duration, dryRun bool) (ReapResult, error) {
	res := ReapResult{DryRun: dryRun}
	cutoff := time.Now().Add(-olderThan)
	// batches deletes batches of idle users in one transaction, holding the
	// reaper's lock for it: one batch for real, or all of them for a dry
	// run, whose transaction then rolls back, so its count is exact.
	batches := func() (n int, locked bool, err error) {
		err = queries.InSystemTx(ctx, s.pool, func(q *queries.Queries) error {
			if locked, err = q.TryReaperLock(ctx, reaperLock); err != nil || !locked {
				return err
			}
			for {
				ids, err := q.ReapIdleUsers(ctx, queries.ReapIdleUsersParams{Cutoff: cutoff, Batch: reapBatchSize})
				n += len(ids)
				switch {
				case err != nil:
					return err
				case dryRun && len(ids) == reapBatchSize:
					continue
				case dryRun:
					return errNoChange
				}
				return nil
			}
		})
		if err == errNoChange {
			err = nil
		}
		return n, locked, err
	}
	for {
		n, locked, err := batches()
		if err != nil {
			s.metrics.reapRuns.WithLabelValues("error").Inc()
			return res, fmt.Errorf("reap: %w", err)
		}
		res.Skipped = !locked && res.Deleted == 0
		res.Deleted += n
		if !dryRun {
			s.metrics.reaped.Add(float64(n))
		}
		if !locked || dryRun || n < reapBatchSize {
			break
		}
	}
	if res.Skipped {
		s.metrics.reapRuns.WithLabelValues("skipped").Inc()
		return res, nil
	}
	s.metrics.reapRuns.WithLabelValues("done").Inc()
	s.log.InfoContext(ctx, "reaper finished", "deleted", res.Deleted, "dry_run", dryRun, "idle_since", cutoff.Format(time.RFC3339))
	return res, nil
}
