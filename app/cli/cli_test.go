package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"vod/app/vodtype"
	"vod/modules/auth"
)

// bundle holds the fakes a command consumes and what it printed.
type bundle struct {
	users  *fakeUsers
	ingest *fakeIngest
	videos *fakeVideos
	queue  *fakeQueue
	out    *strings.Builder
	err    *strings.Builder
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return &bundle{
		users:  &fakeUsers{byName: map[string]*auth.User{"ann": {ID: "u1", Username: "ann", Role: auth.RoleUser}}},
		ingest: &fakeIngest{},
		videos: &fakeVideos{status: map[string][]string{}},
		queue:  &fakeQueue{},
		out:    &strings.Builder{},
		err:    &strings.Builder{},
	}
}

func (b *bundle) streams() Streams { return Streams{Out: b.out, Err: b.err} }

type fakeUsers struct {
	byName map[string]*auth.User
	signup *auth.SignupInput
	role   string
}

func (f *fakeUsers) UserByUsername(_ context.Context, name string) (*auth.User, error) {
	if u, ok := f.byName[name]; ok {
		return u, nil
	}
	return nil, auth.ErrNoUser
}

func (f *fakeUsers) Signup(_ context.Context, in auth.SignupInput, role string) (*auth.User, error) {
	f.signup, f.role = &in, role
	return &auth.User{ID: "u9", Username: in.Username, Role: role}, nil
}

type fakeIngest struct {
	calls []string
	fail  map[string]error
}

func (f *fakeIngest) Ingest(_ context.Context, ownerID, _, path, title, vis string, progress func(int64)) (string, error) {
	if err := f.fail[filepath.Base(path)]; err != nil {
		return "", err
	}
	fi, _ := os.Stat(path)
	progress(fi.Size())
	f.calls = append(f.calls, ownerID+"|"+title+"|"+vis)
	return "vid-" + filepath.Base(path), nil
}

// fakeVideos answers each video's statuses in turn, then the last one forever.
type fakeVideos struct{ status map[string][]string }

func (f *fakeVideos) PipelineVideo(_ context.Context, id string) (vodtype.PipelineVideo, error) {
	s := f.status[id]
	if len(s) == 0 {
		return vodtype.PipelineVideo{}, vodtype.ErrNoVideo
	}
	st := s[0]
	if len(s) > 1 {
		f.status[id] = s[1:]
	}
	return vodtype.PipelineVideo{ID: id, Status: st}, nil
}

type fakeQueue struct {
	params  *river.JobListParams
	rows    []*rivertype.JobRow
	retried []int64
	err     error
}

func (f *fakeQueue) List(_ context.Context, p *river.JobListParams) (*river.JobListResult, error) {
	f.params = p
	return &river.JobListResult{Jobs: f.rows}, nil
}
func (f *fakeQueue) Retry(_ context.Context, id int64) (*rivertype.JobRow, error) {
	f.retried = append(f.retried, id)
	return &rivertype.JobRow{ID: id}, f.err
}
func (f *fakeQueue) Cancel(_ context.Context, id int64) (*rivertype.JobRow, error) {
	return nil, f.err
}

func files(t *testing.T, names ...string) []string {
	dir := t.TempDir()
	var out []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte("0123456789"), 0o600))
		out = append(out, p)
	}
	return out
}

func TestIngestWaitsAndCountsFailures(t *testing.T) {
	b := setup(t)
	fs := files(t, "a.mp4", "b.mov", "c.mkv")
	b.ingest.fail = map[string]error{"c.mkv": errors.New("unreadable media")}
	b.videos.status["vid-a.mp4"] = []string{vodtype.StatusProcessing, vodtype.StatusReady}
	b.videos.status["vid-b.mov"] = []string{vodtype.StatusFailed}
	err := Ingest(context.Background(), b.streams(), b.users, b.ingest, b.videos,
		IngestOptions{Files: append(fs, "/nonexistent.mp4"), Owner: "ann", Title: "Batch", Visibility: "private", Wait: true, Poll: time.Millisecond})
	// c.mkv refused, the missing file, and b failing in processing: 3 of 4.
	require.EqualError(t, err, "ingest: 3 of 4 files failed")
	require.Equal(t, []string{"u1|Batch – a|private", "u1|Batch – b|private"}, b.ingest.calls, "several files get the file name appended")
	require.Contains(t, b.out.String(), "vid-a.mp4\tqueued\t")
	require.Contains(t, b.out.String(), "vid-a.mp4\tready\n")
	require.Contains(t, b.out.String(), "vid-b.mov\tfailed\n")
	require.Contains(t, b.err.String(), "100%", "a progress bar was drawn")
	require.Contains(t, b.err.String(), "unreadable media")
}

func TestIngestRefusals(t *testing.T) {
	b := setup(t)
	err := Ingest(context.Background(), b.streams(), b.users, b.ingest, b.videos, IngestOptions{Owner: "ann"})
	require.ErrorContains(t, err, "give at least one FILE")
	err = Ingest(context.Background(), b.streams(), b.users, b.ingest, b.videos, IngestOptions{Files: files(t, "a.mp4"), Owner: "nobody"})
	require.ErrorIs(t, err, auth.ErrNoUser)
	require.Empty(t, b.ingest.calls)
}

func TestIngestWaitHonoursContext(t *testing.T) {
	b := setup(t)
	b.videos.status["vid-a.mp4"] = []string{vodtype.StatusProcessing}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := Ingest(ctx, b.streams(), b.users, b.ingest, b.videos, IngestOptions{Files: files(t, "a.mp4"), Owner: "ann", Wait: true, Poll: time.Millisecond})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestJobs(t *testing.T) {
	b := setup(t)
	b.queue.rows = []*rivertype.JobRow{{ID: 7, Kind: "transcode.chunk", State: rivertype.JobStateRetryable, Attempt: 2, MaxAttempts: 5,
		EncodedArgs: []byte(`{"video_id":"v1"}`), Errors: []rivertype.AttemptError{{Error: strings.Repeat("é", 80)}}}}
	require.NoError(t, ListJobs(context.Background(), b.streams(), b.queue, JobsOptions{State: "retryable", Kind: "transcode.chunk", Limit: 5}))
	out := b.out.String()
	require.Contains(t, out, "transcode.chunk")
	require.Contains(t, out, "2/5")
	require.Contains(t, out, "v1")
	require.Contains(t, out, strings.Repeat("é", 59)+"…", "long errors are cut on a rune boundary")
	require.ErrorContains(t, ListJobs(context.Background(), b.streams(), b.queue, JobsOptions{State: "sleeping"}), "unknown state")

	require.NoError(t, JobAction(context.Background(), b.streams(), b.queue, "retry", 7))
	require.Equal(t, []int64{7}, b.queue.retried)
	require.Contains(t, b.out.String(), "job 7: retry requested")
	b.queue.err = errors.New("job not found")
	require.ErrorContains(t, JobAction(context.Background(), b.streams(), b.queue, "cancel", 8), "jobs cancel 8: job not found")
}

func TestCreateUser(t *testing.T) {
	b := setup(t)
	require.ErrorContains(t, CreateUser(context.Background(), b.streams(), b.users, UserOptions{Username: "root"}, ""), "no password")
	require.Nil(t, b.users.signup)
	require.NoError(t, CreateUser(context.Background(), b.streams(), b.users, UserOptions{Username: "root", Email: "r@x.org", Admin: true}, "s3cret-pass"))
	require.Equal(t, auth.RoleAdmin, b.users.role)
	require.Equal(t, "s3cret-pass", b.users.signup.PasswordConfirm)
	require.Contains(t, b.out.String(), "created admin root (u9)")
}
