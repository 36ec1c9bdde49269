// Command moviedice serves MovieDice: a shared film list and a die to pick
// tonight's film. See `moviedice -h`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/moviedice/moviedice/web"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	// SIGHUP too: a closed terminal ends the server as gracefully as
	// Ctrl-C. Once one has come, the signals are let go of, so a second
	// Ctrl-C ends the process at once, whatever is still draining.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "moviedice:", err)
		os.Exit(1)
	}
}

// run is main without the process globals, so tests can drive it. listening,
// when not nil, is told the address the server bound.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, listening func(addr string)) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var reap reapFlags
	var extra func(*flag.FlagSet)
	switch cmd {
	case "serve", "migrate":
	case "reap":
		extra = reap.register
	case "version":
		fmt.Fprintln(stdout, "moviedice", versionString())
		return nil
	case "help":
		printUsage(stdout)
		return nil
	default:
		printUsage(stderr)
		return fmt.Errorf("unknown command %q", cmd)
	}
	cfg, err := parseConfig("moviedice "+cmd, args, getenv, stderr, extra)
	if err != nil {
		return err
	}
	level, err := cfg.logLevel()
	if err != nil {
		return err
	}
	log, flush := web.NewLogger(stderr, level)
	defer flush()
	switch cmd {
	case "migrate":
		return migrateOnly(ctx, cfg, log)
	case "reap":
		return reapOnce(ctx, cfg, log, reap, stdout)
	}
	return serve(ctx, cfg, log, listening)
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		v += " (" + bi.GoVersion + ")"
	}
	return v
}
