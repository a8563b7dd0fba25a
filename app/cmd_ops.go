package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/riverqueue/river"
	"github.com/spf13/pflag"

	"vod/app/jobs"
	"vod/app/vodtype"
)

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
		run: cmdIngest,
	}
}

func cmdIngest(ctx context.Context, e *env) error {
	files := e.fs.Args()
	owner, _ := e.fs.GetString("owner")
	title, _ := e.fs.GetString("title")
	vis, _ := e.fs.GetString("visibility")
	wait, _ := e.fs.GetBool("wait")
	if len(files) == 0 || owner == "" {
		return errors.New("ingest: give at least one FILE and --owner")
	}
	a, err := build(ctx, e.cfg, e.log, false)
	if err != nil {
		return err
	}
	defer a.close()
	u, err := a.auth.UserByUsername(ctx, owner)
	if err != nil {
		return err
	}
	var ids []string
	failed := 0
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", f, err)
			failed++
			continue
		}
		t := title
		if t != "" && len(files) > 1 {
			t = title + " – " + strings.TrimSuffix(fi.Name(), fileExt(fi.Name()))
		}
		bar := progressBar(e, fi.Name(), fi.Size())
		id, err := a.upload.Ingest(ctx, u.ID, u.Username, f, t, vis, bar)
		fmt.Fprintln(e.stderr)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", f, err)
			failed++
			continue
		}
		ids = append(ids, id)
		fmt.Fprintf(e.stdout, "%s\tqueued\t%s\n", id, f)
	}
	if wait {
		for _, id := range ids {
			for {
				v, err := a.catalog.PipelineVideo(ctx, id)
				if err != nil {
					return err
				}
				if v.Status == vodtype.StatusReady || v.Status == vodtype.StatusFailed {
					fmt.Fprintf(e.stdout, "%s\t%s\n", id, v.Status)
					if v.Status == vodtype.StatusFailed {
						failed++
					}
					break
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(500 * time.Millisecond):
				}
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("ingest: %d of %d files failed", failed, len(files))
	}
	return nil
}

func fileExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// progressBar draws "name [#####.....] 42% 12.0/28.5 MiB" on stderr, redrawn in place.
func progressBar(e *env, name string, total int64) func(int64) {
	last := time.Time{}
	return func(n int64) {
		if time.Since(last) < 100*time.Millisecond && n < total {
			return
		}
		last = time.Now()
		pct := 100.0
		if total > 0 {
			pct = float64(n) * 100 / float64(total)
		}
		filled := int(pct / 5)
		fmt.Fprintf(e.stderr, "\r%-24.24s [%s%s] %3.0f%% %.1f/%.1f MiB", name, strings.Repeat("#", filled), strings.Repeat(".", 20-filled),
			pct, float64(n)/(1<<20), float64(total)/(1<<20))
	}
}

func jobsCommand() map[string]command {
	return map[string]command{
		"list": {args: "[--state S] [--kind K] [--limit N]", help: "List River jobs, newest first.", flags: func(fs *pflag.FlagSet) {
			fs.String("state", "", "available, running, retryable, scheduled, completed, cancelled, discarded")
			fs.String("kind", "", "job kind, e.g. transcode.encode")
			fs.Int("limit", 50, "how many")
		}, run: cmdJobsList},
		"retry":  {args: "JOB_ID", help: "Make a job available to run again.", run: cmdJobAction("retry")},
		"cancel": {args: "JOB_ID", help: "Cancel a job (a running one is told to stop).", run: cmdJobAction("cancel")},
	}
}

func cmdJobsList(ctx context.Context, e *env) error {
	a, err := build(ctx, e.cfg, e.log, false)
	if err != nil {
		return err
	}
	defer a.close()
	limit, _ := e.fs.GetInt("limit")
	params := river.NewJobListParams().First(max(1, min(limit, 10000))).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if s, _ := e.fs.GetString("state"); s != "" {
		st, ok := jobs.States[s]
		if !ok {
			return fmt.Errorf("jobs list: unknown state %q", s)
		}
		params = params.States(st)
	}
	if k, _ := e.fs.GetString("kind"); k != "" {
		params = params.Kinds(k)
	}
	res, err := a.queue.List(ctx, params)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tATTEMPT\tVIDEO\tLAST ERROR")
	for _, r := range res.Jobs {
		j := jobs.View(r)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, j.Kind, j.State, j.Attempt, j.MaxAttempts, j.VideoID, truncate(j.LastError, 60))
	}
	return tw.Flush()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func cmdJobAction(action string) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		if e.fs.NArg() != 1 {
			return fmt.Errorf("jobs %s: give one JOB_ID", action)
		}
		id, err := strconv.ParseInt(e.fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("jobs %s: %q is not a job id", action, e.fs.Arg(0))
		}
		a, err := build(ctx, e.cfg, e.log, false)
		if err != nil {
			return err
		}
		defer a.close()
		if action == "retry" {
			_, err = a.queue.Retry(ctx, id)
		} else {
			_, err = a.queue.Cancel(ctx, id)
		}
		if err != nil {
			return fmt.Errorf("jobs %s %d: %w", action, id, err)
		}
		fmt.Fprintf(e.stdout, "job %d: %s requested\n", id, action)
		return nil
	}
}
