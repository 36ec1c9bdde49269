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
	// reapBatch is the most users deleted in one transaction.
	reapBatch = 1000
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
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("reap: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", int64(reaperLock)).Scan(&locked); err != nil {
		return res, fmt.Errorf("reap: lock: %w", err)
	}
	if !locked {
		s.metrics.reapRuns.WithLabelValues("skipped").Inc()
		res.Skipped = true
		return res, nil
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(reaperLock))

	cutoff := time.Now().Add(-olderThan)
	if dryRun {
		// The same deletes, rolled back: the count is exact.
		err = queries.InSystemTx(ctx, conn, func(q *queries.Queries) error {
			for {
				ids, err := q.ReapIdleUsers(ctx, queries.ReapIdleUsersParams{Cutoff: cutoff, Batch: reapBatch})
				res.Deleted += len(ids)
				if err != nil || len(ids) < reapBatch {
					return rollback(err)
				}
			}
		})
	} else {
		for {
			var n int
			err = queries.InSystemTx(ctx, conn, func(q *queries.Queries) error {
				ids, err := q.ReapIdleUsers(ctx, queries.ReapIdleUsersParams{Cutoff: cutoff, Batch: reapBatch})
				n = len(ids)
				return err
			})
			if err != nil {
				break
			}
			res.Deleted += n
			s.metrics.reaped.Add(float64(n))
			if n < reapBatch {
				break
			}
		}
	}
	if err == errNoChange {
		err = nil
	}
	if err != nil {
		s.metrics.reapRuns.WithLabelValues("error").Inc()
		return res, fmt.Errorf("reap: %w", err)
	}
	s.metrics.reapRuns.WithLabelValues("done").Inc()
	s.log.InfoContext(ctx, "reaper finished", "deleted", res.Deleted, "dry_run", dryRun, "idle_since", cutoff.Format(time.RFC3339))
	return res, nil
}

// rollback turns success into errNoChange, so InTx rolls back.
func rollback(err error) error {
	if err == nil {
		return errNoChange
	}
	return err
}
