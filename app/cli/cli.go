// Package cli holds the operator commands of the vod binary that act on a configured installation
// (ingest, jobs, user create). Each command takes the narrow services it uses, so it can be tested
// with fakes; app parses the flags, builds the installation once and passes it in.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"vod/app/jobs"
	"vod/app/vodtype"
	"vod/modules/auth"
)

// Streams are a command's outputs: results on Out (for scripts), progress and complaints on Err.
type Streams struct {
	Out, Err io.Writer
}

// Users is what the commands need of accounts.
type Users interface {
	UserByUsername(ctx context.Context, username string) (*auth.User, error)
	Signup(ctx context.Context, in auth.SignupInput, role string) (*auth.User, error)
}

// Ingester stores a local file as a new video and queues it.
type Ingester interface {
	Ingest(ctx context.Context, ownerID, ownerUsername, path, title, visibility string, progress func(n int64)) (string, error)
}

// Videos reads a video's pipeline state.
type Videos interface {
	PipelineVideo(ctx context.Context, id string) (vodtype.PipelineVideo, error)
}

// Queue lists and acts on jobs.
type Queue interface {
	List(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	Retry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	Cancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// IngestOptions are the flags of vod ingest.
type IngestOptions struct {
	Files      []string
	Owner      string
	Title      string
	Visibility string
	Wait       bool
	// Poll is how often --wait looks at the videos (default 500 ms).
	Poll time.Duration
}

// Ingest imports files for a user, one line "ID\tqueued\tFILE" each, and with Wait one line
// "ID\tready|failed" once each is settled. It fails when any file did.
func Ingest(ctx context.Context, s Streams, users Users, in Ingester, videos Videos, o IngestOptions) error {
	if len(o.Files) == 0 || o.Owner == "" {
		return errors.New("ingest: give at least one FILE and --owner")
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	u, err := users.UserByUsername(ctx, o.Owner)
	if err != nil {
		return fmt.Errorf("ingest: owner %q: %w", o.Owner, err)
	}
	var ids []string
	failed := 0
	for _, f := range o.Files {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(s.Err, "%s: %v\n", f, err)
			failed++
			continue
		}
		t := o.Title
		if t != "" && len(o.Files) > 1 {
			t = o.Title + " – " + strings.TrimSuffix(fi.Name(), fileExt(fi.Name()))
		}
		id, err := in.Ingest(ctx, u.ID, u.Username, f, t, o.Visibility, ProgressBar(s.Err, fi.Name(), fi.Size()))
		fmt.Fprintln(s.Err)
		if err != nil {
			fmt.Fprintf(s.Err, "%s: %v\n", f, err)
			failed++
			continue
		}
		ids = append(ids, id)
		fmt.Fprintf(s.Out, "%s\tqueued\t%s\n", id, f)
	}
	if o.Wait {
		for _, id := range ids {
			st, err := waitSettled(ctx, videos, id, o.Poll)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s\t%s\n", id, st)
			if st == vodtype.StatusFailed {
				failed++
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("ingest: %d of %d files failed", failed, len(o.Files))
	}
	return nil
}

func waitSettled(ctx context.Context, videos Videos, id string, poll time.Duration) (string, error) {
	for {
		v, err := videos.PipelineVideo(ctx, id)
		if err != nil {
			return "", err
		}
		if v.Status == vodtype.StatusReady || v.Status == vodtype.StatusFailed {
			return v.Status, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(poll):
		}
	}
}

func fileExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// ProgressBar draws "name [#####.....] 42% 12.0/28.5 MiB" on w, redrawn in place at most ten times a
// second and always at the end.
func ProgressBar(w io.Writer, name string, total int64) func(int64) {
	last := time.Time{}
	return func(n int64) {
		if time.Since(last) < 100*time.Millisecond && n < total {
			return
		}
		last = time.Now()
		pct := 100.0
		if total > 0 {
			pct = min(100, float64(n)*100/float64(total))
		}
		filled := int(pct / 5)
		fmt.Fprintf(w, "\r%-24.24s [%s%s] %3.0f%% %.1f/%.1f MiB", name, strings.Repeat("#", filled), strings.Repeat(".", 20-filled),
			pct, float64(n)/(1<<20), float64(total)/(1<<20))
	}
}

// JobsOptions are the flags of vod jobs list.
type JobsOptions struct {
	State, Kind string
	Limit       int
}

// ListJobs prints jobs newest first as a table.
func ListJobs(ctx context.Context, s Streams, q Queue, o JobsOptions) error {
	params := river.NewJobListParams().First(max(1, min(o.Limit, 10000))).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if o.State != "" {
		st, ok := jobs.States[o.State]
		if !ok {
			return fmt.Errorf("jobs list: unknown state %q", o.State)
		}
		params = params.States(st)
	}
	if o.Kind != "" {
		params = params.Kinds(o.Kind)
	}
	res, err := q.List(ctx, params)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(s.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tATTEMPT\tVIDEO\tLAST ERROR")
	for _, r := range res.Jobs {
		j := jobs.View(r)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, j.Kind, j.State, j.Attempt, j.MaxAttempts, j.VideoID, truncate(j.LastError, 60))
	}
	return tw.Flush()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// JobAction is "retry" or "cancel".
func JobAction(ctx context.Context, s Streams, q Queue, action string, id int64) error {
	var err error
	switch action {
	case "retry":
		_, err = q.Retry(ctx, id)
	case "cancel":
		_, err = q.Cancel(ctx, id)
	default:
		return fmt.Errorf("jobs: unknown action %q", action)
	}
	if err != nil {
		return fmt.Errorf("jobs %s %d: %w", action, id, err)
	}
	fmt.Fprintf(s.Out, "job %d: %s requested\n", id, action)
	return nil
}

// UserOptions are the flags of vod user create.
type UserOptions struct {
	Username, Email, FirstName, LastName string
	Admin                                bool
}

// CreateUser makes an account with the given password.
func CreateUser(ctx context.Context, s Streams, users Users, o UserOptions, password string) error {
	if password == "" {
		return errors.New("no password: set VOD_USER_PASSWORD or pipe it on standard input")
	}
	role := auth.RoleUser
	if o.Admin {
		role = auth.RoleAdmin
	}
	u, err := users.Signup(ctx, auth.SignupInput{Username: o.Username, Email: o.Email, Password: password,
		PasswordConfirm: password, FirstName: o.FirstName, LastName: o.LastName}, role)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "created %s %s (%s)\n", u.Role, u.Username, u.ID)
	return nil
}
