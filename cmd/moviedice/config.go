package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// config is the configuration contract of DESIGN.md: each setting has an
// environment variable and a flag mirroring it; a flag wins.
type config struct {
	Addr            string
	MintsPerMinute  string
	ClaimsPerMinute string
	LiveMaxConns    string
	LivePerDevice   string
	Data            string
	DatabaseURL     string
	BaseURL         string
	CookieKeys      string
	RecoveryPepper  string
	LogLevel        string
}

type setting struct {
	flag, env, def, help string
	dst                  func(*config) *string
}

var settings = []setting{
	{"addr", "MOVIEDICE_ADDR", ":8080", "listen address", func(c *config) *string { return &c.Addr }},
	{"data", "MOVIEDICE_DATA", "./.moviedice", "folder for the embedded database and development secrets", func(c *config) *string { return &c.Data }},
	{"database-url", "DATABASE_URL", "", "use this PostgreSQL instead of the embedded one (production mode)", func(c *config) *string { return &c.DatabaseURL }},
	{"base-url", "MOVIEDICE_BASE_URL", "http://localhost:8080", "public URL (cookie Secure flag, origin checks, links)", func(c *config) *string { return &c.BaseURL }},
	{"cookie-keys", "MOVIEDICE_COOKIE_KEYS", "", "comma-separated base64 keys of 32+ bytes, newest first; older ones are still read (generated in dev)", func(c *config) *string { return &c.CookieKeys }},
	{"recovery-pepper", "MOVIEDICE_RECOVERY_PEPPER", "", "base64 HMAC key of 32+ bytes for recovery-code selectors (generated in dev)", func(c *config) *string { return &c.RecoveryPepper }},
	{"log-level", "MOVIEDICE_LOG_LEVEL", "info", "debug, info, warn or error", func(c *config) *string { return &c.LogLevel }},
	{"mints-per-minute", "MOVIEDICE_MINTS_PER_MINUTE", "20", "new identities one client address may create per minute", func(c *config) *string { return &c.MintsPerMinute }},
	{"claims-per-minute", "MOVIEDICE_CLAIMS_PER_MINUTE", "10", "recovery-code attempts one client address may make per minute", func(c *config) *string { return &c.ClaimsPerMinute }},
	{"live-max-conns", "MOVIEDICE_LIVE_MAX_CONNS", "15000", "live (websocket) connections this instance holds at most; keep it under the process's open-file limit", func(c *config) *string { return &c.LiveMaxConns }},
	{"live-per-device", "MOVIEDICE_LIVE_PER_DEVICE", "8", "live connections one device (browser) may hold on this instance", func(c *config) *string { return &c.LivePerDevice }},
}

const usageHeader = `MovieDice: a shared film list and a die to pick tonight's film.

Usage:
  moviedice [serve] [flags]   serve the web app (the default)
  moviedice migrate [flags]   apply database migrations, then exit
  moviedice reap [-older-than 720h] [-dry-run] [flags]
                              delete idle guests with no code and no data, then exit
  moviedice version           print the version

Without DATABASE_URL, serve starts a private PostgreSQL under MOVIEDICE_DATA
from the installed server binaries and generates development secrets there.
With DATABASE_URL (production mode), MOVIEDICE_COOKIE_KEYS and
MOVIEDICE_RECOVERY_PEPPER must be set.

Flags, each mirroring an environment variable (the flag wins):
`

// parseConfig reads the environment, then the flags in args; extra, when
// not nil, adds a command's own flags.
func parseConfig(name string, args []string, getenv func(string) string, out io.Writer, extra func(*flag.FlagSet)) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if extra != nil {
		extra(fs)
	}
	fs.SetOutput(out)
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		fs.StringVar(s.dst(cfg), s.flag, def, s.help)
	}
	fs.Usage = func() { printUsage(out) }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see moviedice -h)", fs.Arg(0))
	}
	return cfg, nil
}

func printUsage(out io.Writer) {
	fmt.Fprint(out, usageHeader)
	for _, s := range settings {
		def := ""
		if s.def != "" {
			def = fmt.Sprintf(" (default %q)", s.def)
		}
		fmt.Fprintf(out, "  -%-16s %-26s %s%s\n", s.flag, s.env, s.help, def)
	}
}

func (c *config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("MOVIEDICE_LOG_LEVEL: want debug, info, warn or error, got %q", c.LogLevel)
	}
	return l, nil
}

// wholeNumberSetting parses a whole-number setting: a rate limit or a cap.
func wholeNumberSetting(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100000 {
		return 0, fmt.Errorf("%s: want a whole number from 1 to 100000, got %q", name, v)
	}
	return n, nil
}

// baseURL parses MOVIEDICE_BASE_URL. Session cookies are Secure except on
// plain-http localhost, so any other http URL is refused: its cookies
// would never come back.
func (c *config) baseURL() (*url.URL, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("MOVIEDICE_BASE_URL: want an absolute http(s) URL such as https://dice.example.org, got %q", c.BaseURL)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("MOVIEDICE_BASE_URL: want the site's root, such as https://dice.example.org, without a path, query or user; got %q (MovieDice serves from / only)", c.BaseURL)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("MOVIEDICE_BASE_URL: %q is plain http on a host other than localhost; serve MovieDice over https (session cookies are Secure) and give its https URL", c.BaseURL)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// secrets are the keys the server signs and hashes with.
type secrets struct {
	// CookieKeys, newest first; each at least 32 bytes.
	CookieKeys [][]byte
	// RecoveryPepper keys the HMAC of recovery-code selectors.
	RecoveryPepper []byte
}

// devSecrets is the file that keeps generated development secrets.
type devSecrets struct {
	CookieKeys     string `json:"cookie_keys"`
	RecoveryPepper string `json:"recovery_pepper"`
}

// loadSecrets returns the configured secrets. In production mode a missing
// secret is an error naming it; in development missing ones are generated
// once and kept in the data folder.
func (c *config) loadSecrets() (*secrets, error) {
	keys, pepper := c.CookieKeys, c.RecoveryPepper
	if c.DatabaseURL != "" {
		var missing []string
		if keys == "" {
			missing = append(missing, "MOVIEDICE_COOKIE_KEYS")
		}
		if pepper == "" {
			missing = append(missing, "MOVIEDICE_RECOVERY_PEPPER")
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("production mode (DATABASE_URL is set) needs its secrets; missing: %s "+
				"(make each with `openssl rand -base64 32`)", strings.Join(missing, ", "))
		}
	} else if keys == "" || pepper == "" {
		dev, err := c.devSecrets()
		if err != nil {
			return nil, err
		}
		if keys == "" {
			keys = dev.CookieKeys
		}
		if pepper == "" {
			pepper = dev.RecoveryPepper
		}
	}
	s := &secrets{}
	for i, k := range strings.Split(keys, ",") {
		b, err := decodeKey(k)
		if err != nil {
			return nil, fmt.Errorf("MOVIEDICE_COOKIE_KEYS: key %d: %w", i+1, err)
		}
		s.CookieKeys = append(s.CookieKeys, b)
	}
	b, err := decodeKey(pepper)
	if err != nil {
		return nil, fmt.Errorf("MOVIEDICE_RECOVERY_PEPPER: %w", err)
	}
	s.RecoveryPepper = b
	return s, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < 32 {
				return nil, fmt.Errorf("too short: %d bytes, want at least 32", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// devSecrets reads the data folder's secrets file, creating it on first use.
func (c *config) devSecrets() (*devSecrets, error) {
	path := filepath.Join(c.Data, "secrets.json")
	if b, err := os.ReadFile(path); err == nil {
		var d devSecrets
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return &d, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	d := &devSecrets{CookieKeys: randomKey(), RecoveryPepper: randomKey()}
	b, _ := json.MarshalIndent(d, "", "  ")
	if err := ensureDataDir(c.Data); err != nil {
		return nil, err
	}
	// Written whole or not at all: a crash half way would leave a file
	// that stops the next start.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write development secrets: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("write development secrets: %w", err)
	}
	return d, nil
}

func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// ensureDataDir creates the data folder. It is traversable (not readable) by
// others so that the postgres system user can reach its cluster inside; a
// folder that exists already only gains that, nothing of it is taken away.
func ensureDataDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("data folder: %s is not a folder", dir)
		}
		if mode := fi.Mode().Perm(); mode&0o011 != 0o011 {
			return os.Chmod(dir, mode|0o011)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	return os.Chmod(dir, 0o711)
}
