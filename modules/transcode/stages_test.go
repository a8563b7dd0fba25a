package transcode

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"vod/app/db"
	"vod/app/testenv"
	"vod/app/vodtype"
)

// fakeCatalog records what the stages tell the catalog.
type fakeCatalog struct {
	mu     sync.Mutex
	videos map[string]vodtype.PipelineVideo
	failed map[string]string
	// available: what SetAvailableTx was told, in order, per video.
	available map[string][]float64
}

func (f *fakeCatalog) SetAvailableTx(_ context.Context, _ *db.Tx, id string, _ int, seconds float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.available == nil {
		f.available = map[string][]float64{}
	}
	f.available[id] = append(f.available[id], seconds)
	return nil
}

func (f *fakeCatalog) PipelineVideo(_ context.Context, id string) (vodtype.PipelineVideo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.videos[id]
	if !ok {
		return v, vodtype.ErrNoVideo
	}
	return v, nil
}
func (f *fakeCatalog) SetProgress(context.Context, string, string, int) error { return nil }
func (f *fakeCatalog) RecordProbeTx(context.Context, *db.Tx, string, vodtype.ProbeInfo) error {
	return nil
}
func (f *fakeCatalog) Publish(context.Context, string, vodtype.Publication, func(*db.Tx) error) error {
	return nil
}
func (f *fakeCatalog) Fail(_ context.Context, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed[id] = reason
	return nil
}
func (f *fakeCatalog) BeginReprocessTx(context.Context, *db.Tx, string) (int, error) { return 0, nil }
func (f *fakeCatalog) View(context.Context, string) (any, error)                     { return nil, nil }
func (f *fakeCatalog) SubtitleFiles(context.Context, string) ([]vodtype.SubtitleFile, error) {
	return nil, nil
}
func (f *fakeCatalog) AddSubtitleFile(context.Context, string, string, string, string, []byte) error {
	return nil
}
func (f *fakeCatalog) AddNote(context.Context, string, string) error { return nil }

type stageBundle struct {
	svc     *Service
	catalog *fakeCatalog
}

// setup builds the service's stage logic on a fake catalog (no queue: the stages' outcome rules
// are what is tested here; the wired pipeline runs in the app's end-to-end tests).
func setup(t *testing.T) *stageBundle {
	t.Helper()
	c := &fakeCatalog{videos: map[string]vodtype.PipelineVideo{}, failed: map[string]string{}}
	cfg := Config{WorkDir: t.TempDir(), KeyEncryptionKey: []byte("test key encryption key")}.WithDefaults()
	require.NoError(t, cfg.validate())
	return &stageBundle{svc: &Service{cfg: cfg, catalog: c, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, catalog: c}
}

// Every stage ends through fail: these are the three outcomes each stage can have on error.
func TestStageFailureOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name          string
		err           error
		attempt, max  int
		wantFailed    string
		wantCancelled bool
	}{
		{"unreadable media fails the video at once", &MediaError{Reason: "no video stream"}, 1, 10, "no video stream", true},
		{"a transient error is retried", errors.New("storage timeout"), 1, 10, "", false},
		{"the last attempt fails the video", errors.New("storage timeout"), 10, 10, "processing failed after several attempts; try reprocessing the video", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			err := b.svc.fail(ctx, "v1", tc.attempt, tc.max, tc.err)
			require.Error(t, err, "the job itself never succeeds on a stage error")
			var cancel *river.JobCancelError
			require.Equal(t, tc.wantCancelled, errors.As(err, &cancel), "a permanent error cancels the job instead of retrying")
			require.Equal(t, tc.wantFailed, b.catalog.failed["v1"])
		})
	}
}

func TestStaleJobsCancelThemselves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.catalog.videos["cur"] = vodtype.PipelineVideo{ID: "cur", Generation: 2, Status: vodtype.StatusProcessing}
	b.catalog.videos["gone-bad"] = vodtype.PipelineVideo{ID: "gone-bad", Generation: 1, Status: vodtype.StatusFailed}
	var cancel *river.JobCancelError
	_, err := b.svc.stale(ctx, "deleted", 1)
	require.ErrorAs(t, err, &cancel, "a deleted video's job cancels")
	_, err = b.svc.stale(ctx, "cur", 1)
	require.ErrorAs(t, err, &cancel, "a superseded generation's job cancels")
	_, err = b.svc.stale(ctx, "gone-bad", 1)
	require.ErrorAs(t, err, &cancel, "a failed video's job cancels")
	v, err := b.svc.stale(ctx, "cur", 2)
	require.NoError(t, err)
	require.Equal(t, "cur", v.ID)
}

func TestConfigDefaultsValidate(t *testing.T) {
	t.Parallel()
	require.Error(t, Config{}.WithDefaults().validate(), "a work directory is required")
	require.Error(t, Config{WorkDir: "/tmp/x"}.WithDefaults().validate(), "a key encryption key is required")
	require.NoError(t, Config{WorkDir: "/tmp/x", KeyEncryptionKey: []byte("0123456789abcdef")}.WithDefaults().validate())
	require.Error(t, Config{WorkDir: "/tmp/x", Preset: "warp"}.WithDefaults().validate())
	_, err := New(nil, nil, nil, nil, Config{WorkDir: "/tmp/x", Ladder: "360:abc", KeyEncryptionKey: []byte("0123456789abcdef")}, nil)
	require.ErrorContains(t, err, "ladder")
}

// TestPlanChunks: chunks are whole segments, numbered on the video's timeline, short at first (a
// viewer starts after the first) and growing to the configured length, and a sliver at the end joins
// the last chunk instead of becoming an empty one.
func TestPlanChunks(t *testing.T) {
	starts := func(c []chunkPlan) (out []float64) {
		for _, x := range c {
			out = append(out, x.Start)
		}
		return out
	}
	// One slot: the ramp, then chunks of the configured length.
	c := planChunks(60.02, 20, 4, 1)
	require.Equal(t, []float64{0, 4, 8, 16, 28, 48}, starts(c))
	require.InDelta(t, 12.02, c[5].Duration, 1e-9, "a tail under half a segment joins the last chunk")
	require.Equal(t, []int{1, 2, 3, 5, 8, 13}, []int{c[0].FirstSegment, c[1].FirstSegment, c[2].FirstSegment, c[3].FirstSegment, c[4].FirstSegment, c[5].FirstSegment})
	c = planChunks(50, 20, 4, 1)
	require.Equal(t, []float64{0, 4, 8, 16, 28, 48}, starts(c))
	require.Equal(t, 2.0, c[5].Duration, "half a segment or more is a chunk of its own")
	require.Len(t, planChunks(3, 20, 4, 2), 1)
	c = planChunks(12, 4, 2, 1)
	require.Equal(t, []float64{0, 2, 4, 8}, starts(c), "the ramp stops at the configured length")

	// Two slots: after the ramp (4+8 s on one, 4+12 s on the other) each chunk is sized for the
	// slot that frees first, so both end at 28 s and the last segment runs on every core, instead
	// of a 20 s chunk ending 4 s after everything else.
	c = planChunks(60.02, 20, 4, 2)
	require.Equal(t, []float64{0, 4, 8, 16, 28, 44, 56}, starts(c))
	require.True(t, c[6].Last)
	require.InDelta(t, 4.02, c[6].Duration, 1e-9)
	// A long video: chunks of the configured length, shrinking only at the end.
	for _, slots := range []int{2, 3, 8} {
		c = planChunks(600, 20, 4, slots)
		sizes := map[float64]int{}
		end := 0.0
		for i, x := range c {
			require.InDelta(t, end, x.Start, 1e-9, "chunks follow each other")
			require.Zero(t, math.Mod(x.Duration, 4), "whole segments")
			require.LessOrEqual(t, x.Duration, 20.0)
			if i >= 4 && i < len(c)-2*slots {
				sizes[x.Duration]++
			}
			end = x.Start + x.Duration
		}
		require.Equal(t, 600.0, end)
		require.Equal(t, map[float64]int{20: len(c) - 4 - 2*slots}, sizes, "%d slots: full chunks until the end nears", slots)
		require.LessOrEqual(t, len(c), 4+29+2*slots, "a few more chunks than without balancing, no more")
	}
}

// TestSweepRuns: the rows of an encode whose video was deleted while its jobs waited (so none of
// them noticed) are swept; a running encode's are kept, and old ones of settled videos go.
func TestSweepRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.db = testenv.ModuleDB(t, "transcode", Migrations())
	now := time.Now().UTC()
	for _, r := range []runRow{
		{VideoID: "gone", Generation: 1, Parts: 2, Pending: 2, CreatedAt: now},
		{VideoID: "busy", Generation: 1, Parts: 2, Pending: 1, CreatedAt: now.Add(-48 * time.Hour)},
		{VideoID: "fresh", Generation: 1, Parts: 2, Pending: 1, CreatedAt: now},
		{VideoID: "stale", Generation: 1, Parts: 2, Pending: 1, CreatedAt: now.Add(-48 * time.Hour)},
	} {
		require.NoError(t, b.svc.db.Gorm.Create(&r).Error)
		require.NoError(t, b.svc.db.Gorm.Create(&partRow{VideoID: r.VideoID, Generation: 1, Part: "c0", Result: "{}"}).Error)
	}
	b.catalog.videos["busy"] = vodtype.PipelineVideo{ID: "busy", Status: vodtype.StatusProcessing}
	b.catalog.videos["fresh"] = vodtype.PipelineVideo{ID: "fresh", Status: vodtype.StatusReady}
	b.catalog.videos["stale"] = vodtype.PipelineVideo{ID: "stale", Status: vodtype.StatusFailed}
	n, err := b.svc.sweepRuns(ctx, now.Add(-24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	var left []string
	require.NoError(t, b.svc.db.Gorm.Model(&partRow{}).Order("video_id").Pluck("video_id", &left).Error)
	require.Equal(t, []string{"busy", "fresh"}, left)
}

// TestScratchSurvivesASiblingsCleanup: a job of a video that ends removes the video's work
// directory when it is empty, while another job of the video is making its own in it. That other
// job must not fail (it would be retried: an encode run twice, seen once under load in CI).
func TestScratchSurvivesASiblingsCleanup(t *testing.T) {
	t.Parallel()
	s := setup(t).svc
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				_, done, err := s.scratch("v", "c0")
				if err != nil {
					errs <- err
					return
				}
				done()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
