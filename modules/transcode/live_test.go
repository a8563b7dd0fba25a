package transcode

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/db"
	"vod/app/testenv"
)

func seg(n int, d uint64) segInfo { return segInfo{Number: n, Duration: d, Size: 1000} }

// chunkResult is a chunk's record: two rungs at 1000 ticks per second, 2-second segments.
func chunkResult(first, count int) string {
	var tr []trackResult
	for id := range 2 {
		t := trackResult{ID: string(rune('0' + id)), Timescale: 1000, Codecs: "avc1.64001f"}
		for k := range count {
			t.Segments = append(t.Segments, seg(first+k, 2000))
		}
		tr = append(tr, t)
	}
	b, _ := json.Marshal(partResult{Tracks: tr})
	return string(b)
}

func audioResult(count int) string {
	t := trackResult{ID: "2", Timescale: 48000, Codecs: "mp4a.40.2"}
	for k := range count {
		t.Segments = append(t.Segments, seg(k+1, 96000))
	}
	b, _ := json.Marshal(partResult{Tracks: []trackResult{t}})
	return string(b)
}

// TestLiveManifests: a processing video's manifests list only the segments of the chunks finished
// from the start and the audio stored up to there, grow as parts finish, and become complete
// (ENDLIST, a duration) when every part is done; the catalog hears how far it is playable.
func TestLiveManifests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	s := b.svc
	s.db = testenv.ModuleDB(t, "transcode", Migrations())
	rends, _ := json.Marshal([]Rendition{{Width: 640, Height: 360, Kbps: 800}, {Width: 426, Height: 240, Kbps: 400}})
	run := runRow{VideoID: "v", Generation: 1, Parts: 4, Pending: 4, CreatedAt: time.Now().UTC(), Renditions: string(rends), Duration: 10}
	require.NoError(t, s.db.Gorm.Create(&run).Error)
	for _, p := range []string{"c0", "c1", "c2", partAudio} {
		require.NoError(t, s.db.Gorm.Create(&partRow{VideoID: "v", Generation: 1, Part: p, Result: "{}"}).Error)
	}
	finish := func(part, result string, done bool) {
		t.Helper()
		require.NoError(t, s.db.WithTx(ctx, func(tx *db.Tx) error {
			if err := tx.G.Model(&partRow{}).Where("video_id = 'v' AND part = ?", part).Updates(map[string]any{"done": done, "result": result}).Error; err != nil {
				return err
			}
			r, err := s.lockRun(ctx, tx, "v", 1)
			if err != nil {
				return err
			}
			return s.availableTx(ctx, tx, r)
		}))
		s.live.m = nil // the cache keeps a view for a second
	}
	_, err := s.LiveManifest(ctx, "v", 1, "manifest.mpd")
	require.True(t, errors.Is(err, ErrNotLive), "nothing is playable yet")
	watched, err := s.liveWatched(ctx, "v", 1)
	require.NoError(t, err)
	require.False(t, watched, "asking for lists with nothing in them does not hold the publication")

	finish("c1", chunkResult(2, 2), true) // a later chunk alone is not playable: there is a gap
	finish("c0", chunkResult(1, 1), true)
	_, err = s.LiveManifest(ctx, "v", 1, "media_0.m3u8")
	require.True(t, errors.Is(err, ErrNotLive), "no audio yet")
	finish(partAudio, audioResult(2), false) // 4 s of audio stored
	require.Equal(t, []float64{4}, b.catalog.available["v"], "c0+c1 = 6 s of video, 4 s of audio")

	pl, err := s.LiveManifest(ctx, "v", 1, "media_0.m3u8")
	require.NoError(t, err)
	watched, err = s.liveWatched(ctx, "v", 1)
	require.NoError(t, err)
	require.True(t, watched, "a player loads the lists: publishing waits for it to see the complete ones")
	require.NoError(t, s.db.Gorm.Model(&runRow{}).Where("video_id = 'v'").Update("live_served_at", time.Now().UTC().Add(-s.liveUpdate()-3*time.Second)).Error)
	watched, err = s.liveWatched(ctx, "v", 1)
	require.NoError(t, err)
	require.False(t, watched, "a player that stopped reloading a while ago holds nothing")
	require.Contains(t, string(pl), "#EXT-X-PLAYLIST-TYPE:EVENT")
	require.NotContains(t, string(pl), "#EXT-X-ENDLIST")
	require.Equal(t, 3, strings.Count(string(pl), "seg-0-"), "the video lists what exists")
	apl, err := s.LiveManifest(ctx, "v", 1, "media_2.m3u8")
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(apl), "seg-2-"))
	mpd, err := s.LiveManifest(ctx, "v", 1, "manifest.mpd")
	require.NoError(t, err)
	require.Contains(t, string(mpd), `type="dynamic"`)
	require.Contains(t, string(mpd), `minimumUpdatePeriod="PT2S"`)
	require.NotContains(t, string(mpd), "mediaPresentationDuration")
	require.Contains(t, string(mpd), `<S t="0" d="2000" r="2"/>`)
	master, err := s.LiveManifest(ctx, "v", 1, "master.m3u8")
	require.NoError(t, err)
	require.Contains(t, string(master), "RESOLUTION=640x360")
	require.Contains(t, string(master), `AUDIO="aud"`)

	finish(partAudio, audioResult(5), true)
	finish("c2", chunkResult(4, 2), true)
	require.Equal(t, []float64{4, 6, 10}, b.catalog.available["v"])
	pl, err = s.LiveManifest(ctx, "v", 1, "media_1.m3u8")
	require.NoError(t, err)
	require.Contains(t, string(pl), "#EXT-X-ENDLIST", "complete: players play to the end")
	require.Equal(t, 5, strings.Count(string(pl), "seg-1-"))
	mpd, err = s.LiveManifest(ctx, "v", 1, "manifest.mpd")
	require.NoError(t, err)
	require.Contains(t, string(mpd), `mediaPresentationDuration="PT10.000S"`)

	_, ok, err := s.LiveManifestAt(ctx, "videos/v/g1/manifest.mpd")
	require.True(t, ok && err == nil)
	for _, k := range []string{"videos/v/g1/../g1/manifest.mpd", "videos/v/g1/poster.jpg", "videos/v/g2/manifest.mpd", "videos/v/manifest.mpd"} {
		_, ok, err := s.LiveManifestAt(ctx, k)
		require.False(t, ok, k)
		require.NoError(t, err)
	}
}
