package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/pflag"

	"vod/app/cli"
)

// The operator commands: app parses their flags and builds the installation; app/cli does the work.

func ingestCommand() command {
	return command{
		args: "FILE... --owner USERNAME [--title T] [--visibility V] [--wait]",
		help: "Import video files for a user: each is stored, validated and queued as if uploaded. A running vod server\n(or worker) processes them; --wait waits until every one is ready or failed.",
		flags: func(fs *pflag.FlagSet) {
			fs.String("owner", "", "username of the owner (required)")
			fs.String("title", "", "title (default: the file name; with several files, the file name is appended)")
			fs.String("visibility", "public", "public, unlisted or private")
			fs.Bool("wait", false, "wait until the videos are ready or failed")
		},
		run: func(ctx context.Context, e *env) error {
			o := cli.IngestOptions{Files: e.fs.Args()}
			o.Owner, _ = e.fs.GetString("owner")
			o.Title, _ = e.fs.GetString("title")
			o.Visibility, _ = e.fs.GetString("visibility")
			o.Wait, _ = e.fs.GetBool("wait")
			return e.withApp(ctx, func(a *App) error {
				return cli.Ingest(ctx, e.streams(), a.auth, a.upload, a.catalog, o)
			})
		},
	}
}

func jobsCommand() map[string]command {
	return map[string]command{
		"list": {args: "[--state S] [--kind K] [--limit N]", help: "List River jobs, newest first.", flags: func(fs *pflag.FlagSet) {
			fs.String("state", "", "available, running, retryable, scheduled, completed, cancelled, discarded")
			fs.String("kind", "", "job kind, e.g. transcode.chunk")
			fs.Int("limit", 50, "how many")
		}, run: func(ctx context.Context, e *env) error {
			var o cli.JobsOptions
			o.State, _ = e.fs.GetString("state")
			o.Kind, _ = e.fs.GetString("kind")
			o.Limit, _ = e.fs.GetInt("limit")
			return e.withApp(ctx, func(a *App) error { return cli.ListJobs(ctx, e.streams(), a.queue, o) })
		}},
		"retry":  {args: "JOB_ID", help: "Make a job available to run again.", run: jobAction("retry")},
		"cancel": {args: "JOB_ID", help: "Cancel a job (a running one is told to stop).", run: jobAction("cancel")},
	}
}

func jobAction(action string) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		if e.fs.NArg() != 1 {
			return fmt.Errorf("jobs %s: give one JOB_ID", action)
		}
		id, err := strconv.ParseInt(e.fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("jobs %s: %q is not a job id", action, e.fs.Arg(0))
		}
		return e.withApp(ctx, func(a *App) error { return cli.JobAction(ctx, e.streams(), a.queue, action, id) })
	}
}

// openAPICommand prints the OpenAPI document without touching the installation: the routes are
// built on a throwaway SQLite database and directory (go generate in app/apiclient runs it).
func openAPICommand() command {
	return command{help: "Print the OpenAPI document of this build (what /openapi.json serves).",
		flags: func(fs *pflag.FlagSet) { fs.String("output", "", "write to this file instead of standard output") },
		run: func(ctx context.Context, e *env) error {
			tmp, err := os.MkdirTemp("", "vod-openapi-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			cfg := *e.cfg
			cfg.Role = "api"
			cfg.DataDir = tmp
			cfg.Database.URL = filepath.Join(tmp, "vod.db")
			cfg.Storage.Backend, cfg.Storage.LocalDir = "local", filepath.Join(tmp, "media")
			cfg.Search.Path = filepath.Join(tmp, "search")
			cfg.Transcode.WorkDir = filepath.Join(tmp, "work")
			cfg.Media.SigningKey, cfg.Auth.KeyFiles = "", nil
			a, err := build(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
			if err != nil {
				return err
			}
			doc := openAPIDocument(a.router.Routes())
			a.close()
			out, _ := e.fs.GetString("output")
			if out == "" {
				_, err = e.stdout.Write(append(doc, '\n'))
				return err
			}
			return os.WriteFile(out, append(doc, '\n'), 0o644)
		}}
}
