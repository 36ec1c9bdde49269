package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/moviedice/moviedice/queries"
)

// maxMergeAttempts is how often a merge fails before it is marked failed,
// for the account page and an operator to see, its data still intact. It
// is still tried, hourly: until it is done, the guest's data is out of
// everyone's reach.
const maxMergeAttempts = 8

// Moved is what a merge moved from the guest to the account.
type Moved struct {
	Lists                int64 `json:"lists"`
	Memberships          int64 `json:"memberships"`
	DuplicateMemberships int64 `json:"duplicate_memberships"`
	Movies               int64 `json:"movies"`
	Rolls                int64 `json:"rolls"`
	Devices              int64 `json:"devices"`
}

// errMergeBusy: another run of the merge (a retry, another instance's)
// holds it; it is not done yet, and not failed either.
var errMergeBusy = errors.New("merge under way elsewhere")

// runMerge performs merge id in one transaction: everything the guest
// made moves to the account and the guest is deleted, or, on any error,
// nothing changes. A failure is recorded on the merge row for a retry.
func (s *Service) runMerge(ctx context.Context, id int64) error {
	err := queries.InSystemTx(ctx, s.pool, func(q *queries.Queries) error { return s.merge(ctx, q, id) })
	if err == nil {
		s.metrics.merges.WithLabelValues("done").Inc()
		return nil
	}
	if err == errMergeBusy {
		return err
	}
	ferr := queries.InSystemTx(ctx, s.pool, func(q *queries.Queries) error {
		return q.FailMerge(ctx, queries.FailMergeParams{ID: id, Error: err.Error(), MaxAttempts: maxMergeAttempts})
	})
	if ferr != nil {
		return errors.Join(err, fmt.Errorf("record failure: %w", ferr))
	}
	s.metrics.merges.WithLabelValues("retry").Inc()
	return err
}

func (s *Service) merge(ctx context.Context, q *queries.Queries, id int64) error {
	m, err := q.LockPendingMerge(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		// Done already, or another run holds it (or failed it for good).
		switch status, err := q.GetMergeStatus(ctx, id); {
		case err != nil:
			return fmt.Errorf("merge %d: status: %w", id, err)
		case status != "done":
			return errMergeBusy
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("merge %d: lock: %w", id, err)
	}
	pair := queries.LockMergeUsersParams{FromUser: m.FromUser, IntoUser: m.IntoUser}
	locked, err := q.LockMergeUsers(ctx, pair)
	if err != nil {
		return fmt.Errorf("merge %d: lock users: %w", id, err)
	}
	if !slices.Contains(locked, m.IntoUser) {
		return fmt.Errorf("merge %d: account %s is gone", id, m.IntoUser)
	}
	var moved Moved
	if slices.Contains(locked, m.FromUser) {
		if moved, err = s.moveAll(ctx, q, m.FromUser, m.IntoUser); err != nil {
			return fmt.Errorf("merge %d: %w", id, err)
		}
	}
	b, _ := json.Marshal(moved)
	return q.FinishMerge(ctx, queries.FinishMergeParams{ID: id, Moved: b})
}

// moveAll moves every row of from's to into, then deletes from. Users rows
// RESTRICT deletion, so a table this forgets makes the merge fail instead
// of losing data.
func (s *Service) moveAll(ctx context.Context, q *queries.Queries, from, into uuid.UUID) (Moved, error) {
	var m Moved
	steps := []struct {
		name string
		run  func() (err error)
	}{
		{"memberships", func() (err error) {
			if m.DuplicateMemberships, err = q.DropDuplicateMemberships(ctx, queries.DropDuplicateMembershipsParams{FromUser: from, IntoUser: into}); err != nil {
				return err
			}
			m.Memberships, err = q.MoveMemberships(ctx, queries.MoveMembershipsParams{FromUser: from, IntoUser: into})
			return err
		}},
		{"lists", func() (err error) {
			m.Lists, err = q.MoveLists(ctx, queries.MoveListsParams{FromUser: from, IntoUser: into})
			return err
		}},
		{"movies", func() (err error) {
			m.Movies, err = q.MoveMovies(ctx, queries.MoveMoviesParams{FromUser: from, IntoUser: into})
			return err
		}},
		{"rolls", func() (err error) {
			m.Rolls, err = q.MoveRolls(ctx, queries.MoveRollsParams{FromUser: from, IntoUser: into})
			return err
		}},
		{"devices", func() (err error) {
			m.Devices, err = q.MoveDevices(ctx, queries.MoveDevicesParams{FromUser: from, IntoUser: into})
			return err
		}},
		{"delete guest", func() error {
			_, err := q.DeleteUser(ctx, from)
			return err
		}},
	}
	for _, st := range steps {
		if s.mergeStepHook != nil {
			if err := s.mergeStepHook(st.name); err != nil {
				return m, fmt.Errorf("%s: %w", st.name, err)
			}
		}
		if err := st.run(); err != nil {
			return m, fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return m, nil
}

// RetryMerges runs every merge whose retry is due and reports how many
// completed.
func (s *Service) RetryMerges(ctx context.Context) (int, error) {
	var ids []int64
	err := queries.InSystemTx(ctx, s.pool, func(q *queries.Queries) (err error) {
		ids, err = q.ListDueMerges(ctx, 20)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("retry merges: %w", err)
	}
	done := 0
	for _, id := range ids {
		if err := s.runMerge(ctx, id); err == errMergeBusy {
			continue
		} else if err != nil {
			s.log.WarnContext(ctx, "merge retry failed", "merge", id, "err", err)
			continue
		}
		done++
	}
	return done, nil
}
