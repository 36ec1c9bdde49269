package queries

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Beginner starts transactions: a *pgxpool.Pool, or one of its connections.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in one transaction: committed if fn returns nil, rolled back
// otherwise. It is the one place transactions begin and end.
func InTx(ctx context.Context, db Beginner, fn func(q *Queries) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(New(tx)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InUserTx runs fn in one transaction acting for userID: besides the
// filters in each query's own SQL, row-level security limits every row to
// the lists userID is on. Request handlers reach list data only this way.
func InUserTx(ctx context.Context, db Beginner, userID uuid.UUID, fn func(q *Queries) error) error {
	return InTx(ctx, db, func(q *Queries) error {
		if err := q.ActAsUser(ctx, userID.String()); err != nil {
			return fmt.Errorf("act as user: %w", err)
		}
		return fn(q)
	})
}

// InSystemTx runs fn in one transaction as moviedice_system, which row-level
// security lets see every list. It is for identity's work across users
// (merging a guest into an account, reaping, claim previews) and
// server-wide counts; never for a request's own reads and writes.
func InSystemTx(ctx context.Context, db Beginner, fn func(q *Queries) error) error {
	return InTx(ctx, db, func(q *Queries) error {
		if err := q.ActAsSystem(ctx); err != nil {
			return fmt.Errorf("act as system: %w", err)
		}
		return fn(q)
	})
}
