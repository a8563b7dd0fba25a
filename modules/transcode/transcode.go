// Package transcode turns an uploaded source into adaptive DASH + HLS with River jobs run in
// sequence: probe → encode (one ffmpeg: every rung, subtitles, poster, storyboard) → store →
// publish. Each stage records its result and inserts the next stage in one transaction.
package transcode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"vod/app/db"
	"vod/app/queue"
	"vod/app/storage"
	"vod/app/vodtype"
)

// Catalog is what the pipeline reads and writes about videos (implemented by stream's catalog).
type Catalog interface {
	PipelineVideo(ctx context.Context, id string) (vodtype.PipelineVideo, error)
	SetProgress(ctx context.Context, id, stage string, progress int) error
	RecordProbeTx(ctx context.Context, tx *db.Tx, id string, p vodtype.ProbeInfo) error
	// Publish writes the manifests, then commits the video's ready state together with within(tx).
	Publish(ctx context.Context, id string, p vodtype.Publication, within func(tx *db.Tx) error) error
	Fail(ctx context.Context, id, reason string) error
	// SetAvailableTx records how far a generation still processing can be watched; the first time
	// it is playable at all, the catalog says so (video.playable).
	SetAvailableTx(ctx context.Context, tx *db.Tx, id string, generation int, seconds float64) error
	// BeginReprocessTx starts a new generation inside tx (ErrBusy while processing).
	BeginReprocessTx(ctx context.Context, tx *db.Tx, id string) (int, error)
	// View renders the video as its owner sees it.
	View(ctx context.Context, id string) (any, error)

	// Translation's needs.
	SubtitleFiles(ctx context.Context, videoID string) ([]vodtype.SubtitleFile, error)
	AddSubtitleFile(ctx context.Context, videoID, lang, label, source string, vtt []byte) error
	AddNote(ctx context.Context, id, note string) error
}

// Config is the module's part of the configuration.
type Config struct {
	FFmpeg, FFprobe string
	WorkDir         string
	// Ladder is the bitrate ladder, "short side:kbps" rungs separated by commas.
	Ladder         string
	SegmentSeconds int
	// ChunkSeconds is the length of the chunks a video's encode is cut into, a multiple of
	// SegmentSeconds: each chunk is one job, on any worker.
	ChunkSeconds int
	Preset       string
	// CRF is x264's constant rate factor: every rung is encoded at this quality, its kbps being a
	// cap (maxrate) rather than a target. Constant quality needs no rate-control state carried from
	// one chunk to the next, so chunks join without a seam (docs/PIPELINE.md).
	CRF            int
	Limits         Limits
	UploadParallel int
	// TimeoutMin and TimeoutFactor size a stage's timeout: at least TimeoutMin, or TimeoutFactor
	// seconds per second of video.
	TimeoutMin    time.Duration
	TimeoutFactor float64
	// EncodeJobs is how many video encodes (chunks, assets) one process runs at once: the slots of
	// the EncodeQueue. EncoderThreads is each x264 encoder's threads. Jobs x threads stays within
	// the cores, so that a busy machine queues work instead of slowing every encode at once (four
	// whole-video encodes at once on 2 cores once ran past their timeouts and were retried). 0:
	// a job a core, one thread each: an encoder's thread and its ffmpeg's decode and scaling
	// (serial in ffmpeg 5.1) use a core best side by side with the next chunk's (60 s of 1080p
	// ready in 41 s instead of 48 s on 2 cores, the first chunk 1.5 s later; docs/BENCHMARKS.md).
	EncodeJobs     int
	EncoderThreads int
	// OnEncoded is told the speed of each finished encode, in seconds of video per second.
	OnEncoded func(speed float64)
	// OnEncodeRun is told the CPU seconds of every ffmpeg encode run; OnVideoEncoded the sum for a
	// finished video, the largest resident set of its ffmpeg runs (bytes) and its number of chunks.
	OnEncodeRun    func(cpu float64)
	OnVideoEncoded func(cpu float64, peakRSS uint64, chunks int)
	// ProgressEvery throttles progress writes.
	ProgressEvery time.Duration
	// KeyEncryptionKey wraps the content keys of protected videos at rest (at least 16 bytes; the
	// composition root generates one into the data directory when none is configured).
	KeyEncryptionKey []byte
	// Translation selects the provider and the languages every published video gets.
	Translation TranslationConfig
}

// WithDefaults returns the config with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	if c.FFprobe == "" {
		c.FFprobe = "ffprobe"
	}
	if c.Ladder == "" {
		c.Ladder = "360:800,480:1200,720:2400,1080:4800"
	}
	if c.SegmentSeconds == 0 {
		c.SegmentSeconds = 4
	}
	if c.ChunkSeconds == 0 {
		c.ChunkSeconds = 5 * c.SegmentSeconds
	}
	if c.Preset == "" {
		c.Preset = "veryfast"
	}
	if c.CRF == 0 {
		c.CRF = 23
	}
	if c.Limits.MaxDuration == 0 {
		c.Limits.MaxDuration = 6 * time.Hour
	}
	if c.Limits.MaxDimension == 0 {
		c.Limits.MaxDimension = 8192
	}
	if c.Limits.MaxMemory == 0 {
		// A 1080p ladder's ffmpeg peaks at about 1.1 GB of address space (0.5 GB resident).
		c.Limits.MaxMemory = 4 << 30
	}
	if c.Limits.CPUPerSecond == 0 {
		// The 1080p ladder costs about 1.5 CPU seconds per second of video here.
		c.Limits.CPUPerSecond = 20
	}
	if c.Limits.MaxAudioTracks == 0 {
		c.Limits.MaxAudioTracks = 8
	}
	if c.Limits.MaxPixels == 0 {
		c.Limits.MaxPixels = 7680 * 4320
	}
	if c.Limits.MaxStreams == 0 {
		c.Limits.MaxStreams = 16
	}
	if c.UploadParallel == 0 {
		c.UploadParallel = 6
	}
	if c.TimeoutMin == 0 {
		c.TimeoutMin = 10 * time.Minute
	}
	if c.EncodeJobs == 0 {
		c.EncodeJobs = runtime.NumCPU()
	}
	if c.EncoderThreads == 0 {
		c.EncoderThreads = max(1, runtime.NumCPU()/c.EncodeJobs)
	}
	if c.TimeoutFactor == 0 {
		c.TimeoutFactor = 4
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = time.Second
	}
	if c.OnEncoded == nil {
		c.OnEncoded = func(float64) {}
	}
	if c.OnEncodeRun == nil {
		c.OnEncodeRun = func(float64) {}
	}
	if c.OnVideoEncoded == nil {
		c.OnVideoEncoded = func(float64, uint64, int) {}
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.WorkDir == "":
		return errors.New("transcode: work directory must be set")
	case c.SegmentSeconds < 1 || c.SegmentSeconds > 30:
		return fmt.Errorf("transcode: segment length %ds is not 1 to 30", c.SegmentSeconds)
	case c.ChunkSeconds < c.SegmentSeconds || c.ChunkSeconds%c.SegmentSeconds != 0:
		return fmt.Errorf("transcode: chunk length %ds is not a multiple of the segment length %ds", c.ChunkSeconds, c.SegmentSeconds)
	case c.Limits.MaxDimension < 16 || c.Limits.MaxStreams < 1 || c.Limits.MaxDuration <= 0:
		return errors.New("transcode: limits must be positive")
	case c.TimeoutMin < time.Second || c.TimeoutFactor <= 0:
		return errors.New("transcode: timeout_min must be at least 1s and timeout_factor positive")
	case len(c.KeyEncryptionKey) < 16:
		return errors.New("transcode: key_encryption_key must be at least 16 bytes")
	case c.CRF < 1 || c.CRF > 51:
		return fmt.Errorf("transcode: crf %d is not 1 to 51", c.CRF)
	case c.UploadParallel < 1 || c.ProgressEvery <= 0:
		return errors.New("transcode: upload parallelism and progress interval must be positive")
	}
	switch c.Preset {
	case "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow":
	default:
		return fmt.Errorf("transcode: %q is not an x264 preset", c.Preset)
	}
	return nil
}

// EncodeQueue is the River queue of the video encodes (chunks, assets), sized by
// Config.EncodeJobs; the light parts (probe, audio, finish, publish) use the default queue.
const EncodeQueue = "encode"

// Service is the transcode module.
type Service struct {
	cfg     Config
	rungs   []Rung
	db      *db.DB
	store   storage.Storage
	queue   *queue.Queue
	catalog Catalog
	log     *slog.Logger
	live    liveCache
	// workDirs serialises making and removing the per-video work directories: a job that ends
	// removes its video's directory when empty, which must not fall between another job's
	// making that directory and making its own in it.
	workDirs sync.Mutex
}

// New builds the service and registers its workers on q.
func New(d *db.DB, store storage.Storage, q *queue.Queue, catalog Catalog, cfg Config, log *slog.Logger) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rungs, err := ParseLadder(cfg.Ladder)
	if err != nil {
		return nil, fmt.Errorf("transcode: ladder: %w", err)
	}
	s := &Service{cfg: cfg, rungs: rungs, db: d, store: store, queue: q, catalog: catalog, log: log}
	river.AddWorker(q.Workers, &probeWorker{s: s})
	river.AddWorker(q.Workers, &chunkWorker{s: s})
	river.AddWorker(q.Workers, &audioWorker{s: s})
	river.AddWorker(q.Workers, &assetsWorker{s: s})
	river.AddWorker(q.Workers, &finishWorker{s: s})
	river.AddWorker(q.Workers, &sweepWorker{s: s})
	q.AddPeriodic(river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return sweepArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
	river.AddWorker(q.Workers, &publishWorker{s: s})
	river.AddWorker(q.Workers, &planWorker{s: s})
	river.AddWorker(q.Workers, &legacyWorker[legacyEncodeArgs]{s: s})
	river.AddWorker(q.Workers, &legacyWorker[legacyStoreArgs]{s: s})
	river.AddWorker(q.Workers, &translateWorker{s: s})
	return s, nil
}

// EnqueueTx starts the pipeline for one generation of a video inside tx. probe is what
// ValidateSource returned for the same source (the pipeline then does not probe it again), or nil.
func (s *Service) EnqueueTx(ctx context.Context, tx *db.Tx, videoID string, generation int, probe []byte) error {
	_, err := s.queue.InsertTx(ctx, tx, probeArgs{VideoID: videoID, Generation: generation, Probe: probe}, nil)
	return err
}

// Domain errors; the handlers map them to HTTP (http.go).
var (
	ErrNoVideo       = vodtype.ErrNoVideo
	ErrForbidden     = errors.New("transcode: only the owner or an admin may do this")
	ErrSourceMissing = vodtype.ErrSourceMissing
	ErrNoProvider    = errors.New("transcode: no translation provider is configured")
	ErrNoTrack       = errors.New("transcode: no such subtitle track")
	// ErrBusy is the catalog's: the video is still being processed.
	ErrBusy = vodtype.ErrVideoBusy
)

// Reprocess encodes a finished video again from its kept source, as a new generation: what is
// playing stays untouched until the new one publishes. The catalog says ErrBusy while the video is
// still being processed.
func (s *Service) Reprocess(ctx context.Context, v vodtype.PipelineVideo) (any, error) {
	err := s.db.WithTx(ctx, func(tx *db.Tx) error { return s.ReprocessTx(ctx, tx, v) })
	if err != nil {
		return nil, err
	}
	return s.catalog.View(ctx, v.ID)
}

// ReprocessTx starts the video's next generation inside tx (the catalog's edit of a video's
// protection calls it in the transaction that changes it): ErrSourceMissing when the source is
// gone, ErrBusy while processing.
func (s *Service) ReprocessTx(ctx context.Context, tx *db.Tx, v vodtype.PipelineVideo) error {
	if _, err := s.store.Stat(ctx, v.SourceKey); err != nil {
		return ErrSourceMissing
	}
	gen, err := s.catalog.BeginReprocessTx(ctx, tx, v.ID)
	if err != nil {
		return err
	}
	return s.EnqueueTx(ctx, tx, v.ID, gen, nil)
}

// ValidateSource checks a source before anything is accepted: ffprobe must find a usable video
// stream, and its first frame must decode (usually seen by the same ffprobe run). reason is set for
// unacceptable media; probe is what was found, for EnqueueTx, which spares the pipeline probing the
// same source again.
func (s *Service) ValidateSource(ctx context.Context, input string) (reason string, probe []byte, err error) {
	p, err := ProbeFile(ctx, s.cfg.FFprobe, input, s.cfg.Limits)
	if err != nil {
		var me *MediaError
		if errors.As(err, &me) {
			return me.Reason, nil, nil
		}
		return "", nil, err
	}
	if !p.decoded {
		if reason, err := s.decodeFirstFrame(ctx, input); reason != "" || err != nil {
			return reason, nil, err
		}
	}
	probe, err = json.Marshal(p)
	return "", probe, err
}

// decodeFirstFrame is the decode check for a source none of whose first packets ffprobe decoded to
// a video frame (damaged, or interleaved with a long run of other streams first): ffmpeg reads
// until the first one decodes, or fails. reason is set when it does not decode.
func (s *Service) decodeFirstFrame(ctx context.Context, input string) (reason string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := execCommand(ctx, s.cfg.FFmpeg, "-hide_banner", "-nostdin", "-v", "error",
		"-protocol_whitelist", protocolsFor(input), "-format_whitelist", formatWhitelist,
		"-i", input, "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-")
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("decode check timed out: %w", ctx.Err())
		}
		return "the video stream could not be decoded: the file may be damaged", nil
	}
	return "", nil
}
