package transcode

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"vod/app/vodtype"
)

// A video is watchable while it processes (docs/PIPELINE.md, "Watch while processing"): its
// segments are stored under their final names as ffmpeg finishes them, so its manifests only
// have to list the ones that exist. They are rendered here, from the run's rows, on request.

// liveView is what a run has stored that a player can use: every rung's segments of the finished
// chunks from the start, and each audio track stored so far, up to the same point.
type liveView struct {
	video     []*trackResult
	audio     []*trackResult
	available float64 // seconds from the start
	complete  bool    // every segment of every track is listed
}

// joinLive reads a run's part rows into what is playable.
func joinLive(rows []partRow, rungs int) liveView {
	by := map[string]partRow{}
	chunks, audios := 0, 0
	for _, r := range rows {
		by[r.Part] = r
		if strings.HasPrefix(r.Part, "c") {
			chunks++
		}
		if isAudioPart(r.Part) {
			audios++
		}
	}
	var lv liveView
	lv.video = make([]*trackResult, rungs)
	video, n := 0.0, 0
	for ; n < chunks; n++ {
		r, ok := by[chunkPart(n)]
		var res partResult
		if !ok || !r.Done || json.Unmarshal([]byte(r.Result), &res) != nil || len(res.Tracks) != rungs {
			break
		}
		for i, t := range res.Tracks {
			if lv.video[i] == nil {
				lv.video[i] = &trackResult{ID: t.ID, Timescale: t.Timescale}
			}
			if t.Codecs != "" {
				lv.video[i].Codecs = t.Codecs
			}
			lv.video[i].Segments = append(lv.video[i].Segments, t.Segments...)
		}
		video += trackSeconds(&res.Tracks[0])
	}
	if n == 0 || rungs == 0 {
		return liveView{}
	}
	lv.available, lv.complete = video, n == chunks
	// Every audio track covers what it has stored; until it is done it caps what is playable.
	var partial []*trackResult
	for k := range audios {
		a := by[audioPart(k)]
		var res partResult
		if json.Unmarshal([]byte(a.Result), &res) != nil || len(res.Tracks) == 0 || len(res.Tracks[0].Segments) == 0 {
			return liveView{}
		}
		at := res.Tracks[0]
		lv.audio = append(lv.audio, &at)
		if !a.Done {
			lv.available = math.Min(lv.available, trackSeconds(&at))
			lv.complete = false
			partial = append(partial, &at)
		}
	}
	// A track still encoding may have stored past the others: list each up to the same point.
	for _, at := range partial {
		var keep []segInfo
		var end uint64
		for _, s := range at.Segments {
			if float64(end)/float64(at.Timescale) >= lv.available-1e-3 {
				break
			}
			keep = append(keep, s)
			end += s.Duration
		}
		at.Segments = keep
	}
	if lv.available <= 0 {
		return liveView{}
	}
	return lv
}

// liveUpdate is how often players reload the manifests of a processing video: half a segment at
// most, so a new chunk is seen soon, and never long enough for a cache to keep a stale list.
func (s *Service) liveUpdate() time.Duration {
	return max(time.Second, time.Duration(s.cfg.SegmentSeconds)*time.Second/2)
}

// liveWatched says whether a player may hold the manifests of the processing run: some process
// rendered them within a reload period and the second of cache (and a second for clocks) of now. A
// player still reloading them would have asked since; one that asks later is served a fresh,
// complete view or, once published, the stored manifests.
func (s *Service) liveWatched(ctx context.Context, videoID string, generation int) (bool, error) {
	var run runRow
	err := s.db.Gorm.WithContext(ctx).Select("live_served_at").Where("video_id = ? AND generation = ?", videoID, generation).Take(&run).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	if err != nil || run.LiveServedAt == nil {
		return false, err
	}
	return time.Since(*run.LiveServedAt) < s.liveUpdate()+2*time.Second, nil
}

type liveEntry struct {
	at    time.Time
	run   *runRow
	view  liveView
	rends []Rendition
	// tracks are measured from the segments stored so far (what a player needs to pick a rung),
	// once per entry, not per request.
	tracks    []vodtype.Track
	bandwidth map[string]int
}

// liveCache keeps each run's view for a second: every player of a processing video reloads its
// manifests every few seconds.
type liveCache struct {
	mu sync.Mutex
	m  map[string]liveEntry
}

var mediaPlaylistRe = regexp.MustCompile(`^media_(\d+)\.m3u8$`)

// ErrNotLive says a manifest is not one of a processing video: it is served from storage.
var ErrNotLive = errors.New("transcode: not a manifest of a video being processed")

// LiveManifest renders a manifest (manifest.mpd, master.m3u8 or media_N.m3u8) of a generation that
// is still processing and already playable; ErrNotLive otherwise.
func (s *Service) LiveManifest(ctx context.Context, videoID string, generation int, name string) ([]byte, error) {
	if name != "manifest.mpd" && name != "master.m3u8" && !mediaPlaylistRe.MatchString(name) {
		return nil, ErrNotLive
	}
	e, err := s.liveRun(ctx, videoID, generation)
	if err != nil {
		return nil, err
	}
	lv := e.view
	switch name {
	case "manifest.mpd":
		d := mpdDoc{video: lv.video, audio: lv.audio, rends: e.rends, segSec: s.cfg.SegmentSeconds, bandwidth: e.bandwidth, kid: e.run.KID,
			dynamic: true, now: time.Now(), updateEvery: s.liveUpdate(),
			// Every listed segment is available by the clock: the start is set back by the whole
			// duration, so players go by the timeline, which lists only what exists.
			ast: e.run.CreatedAt.Add(-time.Duration(e.run.Duration+60) * time.Second).Truncate(time.Second)}
		if lv.complete {
			d.duration = trackSeconds(lv.video[0])
		}
		return d.render(), nil
	case "master.m3u8":
		return vodtype.HLSMaster(e.tracks, nil), nil
	}
	id := mediaPlaylistRe.FindStringSubmatch(name)[1]
	for _, t := range append(append([]*trackResult{}, lv.video...), lv.audio...) {
		if t.ID == id {
			return mediaPlaylist(t, true, lv.complete), nil
		}
	}
	return nil, ErrNotLive
}

// liveRun returns a run's playable view, from a cache of a second.
func (s *Service) liveRun(ctx context.Context, videoID string, generation int) (liveEntry, error) {
	key := videoID + "/" + strconv.Itoa(generation)
	s.live.mu.Lock()
	e, ok := s.live.m[key]
	s.live.mu.Unlock()
	if !ok || time.Since(e.at) > time.Second {
		e = liveEntry{at: time.Now()}
		var run runRow
		err := s.db.Gorm.WithContext(ctx).Where("video_id = ? AND generation = ?", videoID, generation).Take(&run).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return liveEntry{}, err
		}
		if err == nil && run.Available > 0 {
			var rows []partRow
			if err := s.db.Gorm.WithContext(ctx).Where("video_id = ? AND generation = ?", videoID, generation).Find(&rows).Error; err != nil {
				return liveEntry{}, err
			}
			e.run, e.rends = &run, run.renditions()
			e.view = joinLive(rows, len(e.rends))
			// Recorded once per entry (a second), so that publishing knows whether a player is
			// reloading these lists (see liveWatched).
			if e.view.available > 0 {
				if err := s.db.Gorm.WithContext(ctx).Model(&runRow{}).Where("video_id = ? AND generation = ?", videoID, generation).
					Update("live_served_at", e.at.UTC()).Error; err != nil {
					return liveEntry{}, err
				}
			}
			if e.view.available > 0 {
				e.tracks = measureAll(e.view.video, e.view.audio, e.rends, 0)
				e.bandwidth = map[string]int{}
				for _, t := range e.tracks {
					e.bandwidth[t.ID] = t.Average
				}
			}
		}
		s.live.mu.Lock()
		if s.live.m == nil || len(s.live.m) > 10000 {
			s.live.m = map[string]liveEntry{}
		}
		s.live.m[key] = e
		s.live.mu.Unlock()
	}
	if e.run == nil || e.view.available <= 0 {
		return liveEntry{}, ErrNotLive
	}
	return e, nil
}

// liveName splits a manifest key videos/{id}/g{n}/{name}.
func liveName(key string) (videoID string, generation int, name string, ok bool) {
	p := strings.Split(key, "/")
	if len(p) != 4 || p[0] != "videos" || !strings.HasPrefix(p[2], "g") {
		return "", 0, "", false
	}
	g, err := strconv.Atoi(p[2][1:])
	if err != nil {
		return "", 0, "", false
	}
	return p[1], g, p[3], true
}

// LiveManifestAt is LiveManifest for a storage key; ok is false when the key is not a manifest of
// a processing video, which is then served from storage.
func (s *Service) LiveManifestAt(ctx context.Context, key string) ([]byte, bool, error) {
	id, g, name, ok := liveName(key)
	if !ok || key != vodtype.GenerationPrefix(id, g)+name {
		return nil, false, nil
	}
	b, err := s.LiveManifest(ctx, id, g, name)
	if errors.Is(err, ErrNotLive) {
		return nil, false, nil
	}
	return b, err == nil, err
}
