package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for goose

	"github.com/moviedice/moviedice/migrations"
	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/web"
	"github.com/moviedice/moviedice/web/identity"
	"github.com/moviedice/moviedice/web/pgdev"
)

// errDBExited ends serving when the embedded PostgreSQL dies under us.
var errDBExited = errors.New("embedded PostgreSQL exited unexpectedly; see postgres.log under MOVIEDICE_DATA")

const (
	// drainTimeout bounds how long shutdown waits for in-flight requests.
	drainTimeout = 15 * time.Second
	// liveDrainTimeout bounds how long shutdown waits for live connections
	// to finish closing (their close frames out, their peers gone).
	liveDrainTimeout = 2 * time.Second
	// mergeRetryEvery is how often failed guest merges are looked at again.
	mergeRetryEvery = 30 * time.Second
	// reapEvery is how often the reaper runs in serve.
	reapEvery = time.Hour
	// defaultReapAge is how long a guest with nothing must be idle to go.
	defaultReapAge = 30 * 24 * time.Hour
)

// serve runs the web app until ctx is done: database, migrations, HTTP.
func serve(ctx context.Context, cfg *config, log *slog.Logger, listening func(string)) error {
	base, err := cfg.baseURL()
	if err != nil {
		return err
	}
	mints, err := wholeNumberSetting("MOVIEDICE_MINTS_PER_MINUTE", cfg.MintsPerMinute)
	if err != nil {
		return err
	}
	claims, err := wholeNumberSetting("MOVIEDICE_CLAIMS_PER_MINUTE", cfg.ClaimsPerMinute)
	if err != nil {
		return err
	}
	liveMax, err := wholeNumberSetting("MOVIEDICE_LIVE_MAX_CONNS", cfg.LiveMaxConns)
	if err != nil {
		return err
	}
	livePerDevice, err := wholeNumberSetting("MOVIEDICE_LIVE_PER_DEVICE", cfg.LivePerDevice)
	if err != nil {
		return err
	}
	// The address is taken first, so that a port in use is said at once,
	// not after the database has started and the migrations have run, and
	// before anything is written to the data folder.
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer l.Close()
	keys, err := cfg.loadSecrets() // after every check: it may write the data folder
	if err != nil {
		return err
	}
	db, err := migratedDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.stop()
	// An embedded server that dies under us ends serving, with that as the cause.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-db.exited:
			cancel(errDBExited)
		case <-ctx.Done():
		}
	}()
	pool, err := queries.OpenPool(ctx, db.serveURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	web.TuneGC(ctx)
	registry := web.NewRegistry()
	id, err := identity.New(identity.Config{
		Pool: pool, Log: log, CookieKeys: keys.CookieKeys, Pepper: keys.RecoveryPepper,
		SecureCookies: base.Scheme == "https", MintsPerMinute: mints, ClaimsPerMinute: claims, Registerer: registry,
	})
	if err != nil {
		return err
	}
	srv, err := web.New(web.Config{BaseURL: base, Pool: pool, Log: log, Registry: registry, Identity: id, LiveDatabaseURL: db.serveURL, LiveMaxConns: liveMax, LivePerDevice: livePerDevice})
	if err != nil {
		return err
	}
	go srv.Hub().Run(ctx)
	hubClosed := make(chan struct{})
	go func() {
		defer close(hubClosed)
		<-ctx.Done()
		srv.Hub().Shutdown() // websockets are hijacked: graceful shutdown does not wait for them
		drain, cancel := context.WithTimeout(context.Background(), liveDrainTimeout)
		defer cancel()
		if err := srv.Hub().Drained(drain); err != nil {
			log.Warn("live connections still closing at exit", "conns", srv.Hub().Conns())
		}
	}()
	go identity.RunEvery(ctx, log, "merge retry", mergeRetryEvery, func(ctx context.Context) error {
		_, err := id.RetryMerges(ctx)
		return err
	})
	go identity.RunEvery(ctx, log, "reaper", reapEvery, func(ctx context.Context) error {
		_, err := id.Reap(ctx, defaultReapAge, false)
		return err
	})
	log.Info("serving MovieDice", "addr", l.Addr().String(), "base_url", base.String(), "version", version)
	if listening != nil {
		listening(l.Addr().String())
	}
	if err := web.Serve(ctx, l, srv, log, drainTimeout); err != nil {
		return err
	}
	if ctx.Err() != nil {
		<-hubClosed // the browsers told to reconnect, not left to find out
	}
	if errors.Is(context.Cause(ctx), errDBExited) {
		return errDBExited
	}
	return nil
}

// webRole is the embedded cluster's login role for serving: a member of
// the app's and the system's roles, and nothing else (see
// pgdev.EnsureLoginRole).
const webRole = "moviedice_web"

// dbHandle is the database serve uses, and how to let go of it.
type dbHandle struct {
	url string // the migrating role's: the tables' owner
	// serveURL is what serving connects with. In the embedded cluster a
	// login role of its own (webRole), which cannot become the owner, so a
	// pooled connection that leaves its role can neither change the schema
	// nor lift row-level security; with DATABASE_URL, that address.
	serveURL string
	cluster  *pgdev.Cluster // the embedded cluster, or nil
	stop     func()
	exited   <-chan struct{} // closed if an embedded server exits; nil otherwise
}

// database returns DATABASE_URL, or else starts the embedded cluster and
// returns its database.
func database(ctx context.Context, cfg *config, log *slog.Logger) (*dbHandle, error) {
	if cfg.DatabaseURL != "" {
		return &dbHandle{url: cfg.DatabaseURL, serveURL: cfg.DatabaseURL, stop: func() {}}, nil
	}
	data, err := filepath.Abs(cfg.Data)
	if err != nil {
		return nil, err
	}
	if err := ensureDataDir(data); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(data, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	log.Info("starting embedded PostgreSQL", "dir", filepath.Join(data, "pg"), "log", logFile.Name())
	cluster, err := pgdev.Start(ctx, pgdev.Options{Dir: filepath.Join(data, "pg"), Log: logFile})
	if err != nil {
		logFile.Close()
		return nil, err
	}
	stop := func() {
		log.Info("stopping embedded PostgreSQL")
		if err := cluster.Stop(); err != nil {
			log.Error("stop embedded PostgreSQL", "err", err)
		}
		logFile.Close()
	}
	url, err := cluster.EnsureDatabase(ctx, "moviedice", "moviedice")
	if err != nil {
		stop()
		return nil, err
	}
	return &dbHandle{url: url, cluster: cluster, stop: stop, exited: cluster.Exited()}, nil
}

// migratedDatabase is database with every pending migration applied, as the
// connecting (owning) role, and in the embedded cluster the login role
// for serving in place (the roles it joins are the migrations').
func migratedDatabase(ctx context.Context, cfg *config, log *slog.Logger) (*dbHandle, error) {
	h, err := database(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("pgx", h.url)
	if err == nil {
		err = migrations.Up(ctx, db, log)
		db.Close()
	}
	if err != nil {
		h.stop()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if h.cluster != nil {
		if h.serveURL, err = h.cluster.EnsureLoginRole(ctx, webRole, "moviedice", queries.AppRole, queries.SystemRole); err != nil {
			h.stop()
			return nil, err
		}
	}
	return h, nil
}

// migrateOnly is `moviedice migrate`.
func migrateOnly(ctx context.Context, cfg *config, log *slog.Logger) error {
	db, err := migratedDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	db.stop()
	log.Info("migrations are current")
	return nil
}
