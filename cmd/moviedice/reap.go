package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/web/identity"
)

// reapFlags are `moviedice reap`'s own flags.
type reapFlags struct {
	olderThan time.Duration
	dryRun    bool
}

func (f *reapFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.olderThan, "older-than", defaultReapAge, "reap: delete guests idle for longer than this")
	fs.BoolVar(&f.dryRun, "dry-run", false, "reap: count what would be deleted, delete nothing")
}

// reapOnce is `moviedice reap`: one reaper run, then exit.
func reapOnce(ctx context.Context, cfg *config, log *slog.Logger, f reapFlags, stdout io.Writer) error {
	if f.olderThan < time.Hour {
		return fmt.Errorf("-older-than %v: want at least 1h", f.olderThan)
	}
	keys, err := cfg.loadSecrets()
	if err != nil {
		return err
	}
	db, err := migratedDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.stop()
	pool, err := queries.OpenPool(ctx, db.url)
	if err != nil {
		return err
	}
	defer pool.Close()
	id, err := identity.New(identity.Config{Pool: pool, Log: log, CookieKeys: keys.CookieKeys, Pepper: keys.RecoveryPepper})
	if err != nil {
		return err
	}
	res, err := id.Reap(ctx, f.olderThan, f.dryRun)
	if err != nil {
		return err
	}
	switch {
	case res.Skipped:
		fmt.Fprintln(stdout, "another instance is reaping right now; nothing done")
	case res.DryRun:
		fmt.Fprintf(stdout, "would delete %d idle guests (dry run: nothing deleted)\n", res.Deleted)
	default:
		fmt.Fprintf(stdout, "deleted %d idle guests\n", res.Deleted)
	}
	return nil
}
