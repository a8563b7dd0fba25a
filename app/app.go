// Package app is the composition root: it reads the configuration, opens the database, the storage
// and the queue, builds every module, wires them through the narrow interfaces they declare, and runs
// the commands of the vod binary. Nothing imports it but main.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"

	"vod/app/cli"
)

// Run is the whole program: args are os.Args, getenv reads the environment. It returns when the
// command is done or, for serve, when ctx ends and everything has shut down.
func Run(ctx context.Context, args []string, getenv func(string) string) error {
	return RunIO(ctx, args, getenv, os.Stdin, os.Stdout, os.Stderr)
}

// RunIO is Run with explicit streams.
func RunIO(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args[1:]
	if len(rest) > 0 && (rest[0] == "--help" || rest[0] == "-h") {
		usage(stdout)
		return nil
	}
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		cmd, rest = rest[0], rest[1:]
	}
	c, ok := commands()[cmd]
	if !ok {
		if cmd == "help" {
			usage(stdout)
			return nil
		}
		usage(stderr)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if c.sub != nil {
		sub := ""
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			sub, rest = rest[0], rest[1:]
		}
		sc, ok := c.sub[sub]
		if !ok {
			usage(stderr)
			return fmt.Errorf("%s: unknown subcommand %q", cmd, sub)
		}
		c, cmd = sc, cmd+" "+sub
	}
	fs := pflag.NewFlagSet("vod "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	addConfigFlags(fs)
	if c.flags != nil {
		c.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vod %s %s\n\n%s\n\nflags:\n%s", cmd, c.args, c.help, fs.FlagUsages())
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := loadConfig(fs, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	// Search walks long postings lists and allocates per match while the live heap stays small (the
	// index is memory-mapped), so Go's default of collecting at every 100% of growth spends a third
	// of a query in the collector. An explicit GOGC wins.
	if getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.Runtime.GCPercent)
	}
	// A soft limit on the Go heap: with collections that far apart, garbage from busy uploads and
	// media relaying would otherwise take the server to several hundred MB. An explicit GOMEMLIMIT
	// wins.
	if n, _ := parseSize(cfg.Runtime.MemoryLimit); n > 0 && getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(n))
	}
	return c.run(ctx, &env{cfg: cfg, log: log, fs: fs, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv})
}

// env is what a command gets.
type env struct {
	cfg            *Config
	log            *slog.Logger
	fs             *pflag.FlagSet
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func (e *env) streams() cli.Streams { return cli.Streams{Out: e.stdout, Err: e.stderr} }

// withApp builds the installation without serving (no HTTP, no workers), runs fn and closes it.
func (e *env) withApp(ctx context.Context, fn func(*App) error) error {
	a, err := build(ctx, e.cfg, e.log, false)
	if err != nil {
		return err
	}
	defer a.close()
	return fn(a)
}

type command struct {
	args  string
	help  string
	flags func(*pflag.FlagSet)
	run   func(context.Context, *env) error
	sub   map[string]command
}

func commands() map[string]command {
	return map[string]command{
		"serve":   {help: "Start the server (the default command): HTTP API, web app and, by role, the job workers.", run: cmdServe},
		"migrate": {help: "Apply pending database migrations and exit.", run: cmdMigrate},
		"user":    {sub: map[string]command{"create": userCreateCommand()}},
		"search":  {sub: map[string]command{"reindex": {help: "Rebuild the search index from the database and the stored subtitle files.\nStop the server first: it holds the index.", run: cmdReindex}}},
		"ingest":  ingestCommand(),
		"jobs":    {sub: jobsCommand()},
		"openapi": openAPICommand(),
		"remote":  {sub: remoteCommands()},
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `vod: self-hosted video on demand in one binary.

usage: vod [command] [flags]

commands:
  serve                 start the server (default)
  migrate               apply database migrations and exit
  user create           create a user (--admin for an administrator)
  search reindex        rebuild the search index
  ingest FILE...        import video files for a user (--owner, --title, --visibility, --wait)
  jobs list             list jobs (--state, --kind, --limit)
  jobs retry ID         retry a job
  jobs cancel ID        cancel a job
  openapi               print the OpenAPI document (--output FILE)
  remote login          log in to a running server (--server URL, --username; password on stdin)
  remote upload FILE... upload over tus, resumable (--title, --visibility, --wait, --json)
  remote ls             list your videos on the server (--json)
  remote status ID      show one video (--json)
  remote rm ID          delete one video
  help                  show this help

Run "vod COMMAND --help" for the flags of a command. Every flag can also be set in config.yaml or
as an environment variable VOD_<KEY> (see config.yaml).
`)
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Log.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func cmdMigrate(ctx context.Context, e *env) error {
	d, err := openDB(ctx, e.cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := migrateAll(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "migrations applied: %d\n", n)
	return nil
}

func cmdServe(ctx context.Context, e *env) error {
	a, err := build(ctx, e.cfg, e.log, true)
	if err == nil {
		defer a.close()
		err = a.serve(ctx)
	}
	if err != nil && ctx.Err() != nil {
		// Asked to stop, possibly before start-up finished: what failed was cut short, not broken.
		e.log.Info("stopped during start-up", "err", err)
		return nil
	}
	return err
}

// listen opens the HTTP listener.
func listen(cfg *Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.HTTP.Addr, err)
	}
	return ln, nil
}

// writeAddrFile records the bound address when asked to (port 0), once everything has started, so
// that whoever waits for the file finds a process it can talk to and stop.
func writeAddrFile(cfg *Config, ln net.Listener) {
	if cfg.HTTP.AddrFile != "" {
		if err := os.WriteFile(cfg.HTTP.AddrFile+".tmp", []byte(ln.Addr().String()), 0o644); err == nil {
			_ = os.Rename(cfg.HTTP.AddrFile+".tmp", cfg.HTTP.AddrFile)
		}
	}
}

func cmdReindex(ctx context.Context, e *env) error {
	return e.withApp(ctx, func(a *App) error {
		defer a.search.Close()
		if err := a.search.Reindex(ctx); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "search index rebuilt")
		return nil
	})
}
