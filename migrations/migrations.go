// Package migrations holds the goose SQL migrations, embedded into the binary,
// and the one way the app applies and checks them.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// lockID is the advisory lock held while migrating, so instances that start
// together take turns instead of racing.
const lockID = 0x6d6f766965646963 // "moviedic"

// NewProvider returns a goose provider over the embedded migrations.
func NewProvider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("migrations: locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("migrations: provider: %w", err)
	}
	return p, nil
}

// Up applies every pending migration under the advisory lock and logs each one.
func Up(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	p, err := NewProvider(db)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: up: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// Current reports whether the database has every embedded migration applied.
func Current(ctx context.Context, p *goose.Provider) (bool, error) {
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return false, fmt.Errorf("migrations: versions: %w", err)
	}
	return current >= target, nil
}
