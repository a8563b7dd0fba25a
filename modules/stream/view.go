package stream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"vod/app/vodtype"
)

// Video is the API's Video.
type Video struct {
	ID              string   `json:"id"`
	Title           string   `json:"title"`
	Description     string   `json:"description"`
	Visibility      string   `json:"visibility"`
	Owner           Owner    `json:"owner"`
	Status          string   `json:"status"`
	Stage           string   `json:"stage"`
	Progress        int      `json:"progress"`
	Error           *string  `json:"error"`
	Notes           []string `json:"notes"`
	DurationSeconds float64  `json:"duration_seconds"`
	// AvailableSeconds is how far the video can be watched: while it processes, the end of what is
	// encoded so far (playback is set from the first seconds on); its duration once ready.
	AvailableSeconds float64 `json:"available_seconds"`
	// QueuePosition is how many videos uploaded before this one are still being processed (the
	// queue works on older videos first): it only counts down while the video waits. Null once it
	// is ready or failed, and in lists, which do not count.
	QueuePosition *int `json:"queue_position"`
	// Views counts viewers (each once a day, after a few seconds of playback).
	Views      int64       `json:"views"`
	Width      int         `json:"width"`
	Height     int         `json:"height"`
	CreatedAt  time.Time   `json:"created_at"`
	ReadyAt    *time.Time  `json:"ready_at"`
	Renditions []Rendition `json:"renditions"`
	// AudioTracks: every audio language, the default first.
	AudioTracks []AudioTrack `json:"audio_tracks"`
	Subtitles   []Subtitle   `json:"subtitles"`
	Thumbnails  Thumbnails   `json:"thumbnails"`
	Playback    Playback     `json:"playback"`
	// Protection: "clearkey" when the segments are encrypted (the player gets the key from
	// playback.license), else "none".
	Protection string `json:"protection"`
}

type Owner struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}

type Rendition struct {
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	Bandwidth int    `json:"bandwidth"`
	Codecs    string `json:"codecs"`
}

type AudioTrack struct {
	Lang    string `json:"lang"`
	Label   string `json:"label"`
	Default bool   `json:"default"`
	// Channels: 2, or 6 (5.1) and 8 (7.1) for a multichannel rendition of a track.
	Channels int `json:"channels"`
}

type Subtitle struct {
	Lang   string `json:"lang"`
	Label  string `json:"label"`
	Source string `json:"source"`
	URL    string `json:"url"`
}

type Thumbnails struct {
	Poster     *string `json:"poster"`
	Storyboard *string `json:"storyboard"`
}

type Playback struct {
	DASH *string `json:"dash"`
	// HLS is null for protected videos: their segments use 'cenc' (AES-CTR), which Safari's HLS
	// does not play (it needs FairPlay with 'cbcs').
	HLS *string `json:"hls"`
	// MP4 is the progressive download; of a protected video, only for its owner and admins.
	MP4 *string `json:"mp4"`
	// License is the W3C ClearKey licence URL of a protected video (with a signed token when the
	// video is private, so that the URL alone lets an embed play it); null otherwise.
	License *string `json:"license"`
}

// mediaBase returns the URL prefix under which a video's keys are served: the CDN for public and
// unlisted media when one is configured, else /media, with a signed path segment for private media.
func (s *Catalog) mediaBase(r *videoRow) string {
	if r.Visibility == vodtype.Private {
		return "/media/s/" + s.playbackToken(r.ID) + "/"
	}
	if s.cfg.PublicBaseURL != "" {
		return s.cfg.PublicBaseURL + "/"
	}
	return "/media/"
}

// sign makes the path token "EXP.SIG" that grants access to every key under videos/{id}/ until EXP.
// It lives in the path so that relative segment URLs inside manifests inherit it.
func (s *Catalog) sign(videoID string, exp int64) string {
	e := strconv.FormatInt(exp, 10)
	m := hmac.New(sha256.New, s.cfg.SigningKey)
	m.Write([]byte(vodtype.VideoPrefix(videoID) + "|" + e))
	return e + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func (s *Catalog) verify(token, key string) bool { return s.tokenFor(token, vodtype.VideoIDOf(key)) }

// playbackToken signs a video's playback for PrivateURLTTL, rounded up to the hour so that the
// URLs (and what caches keep of them) stay the same for an hour.
func (s *Catalog) playbackToken(videoID string) string {
	return s.sign(videoID, time.Now().Add(s.cfg.PrivateURLTTL).Truncate(time.Hour).Add(time.Hour).Unix())
}

func ptr(s string) *string { return &s }

// view renders a row; asOwner adds what only the owner and admins see (the download of a protected
// video).
func (s *Catalog) view(r *videoRow, subs []subtitleRow, asOwner bool) Video {
	v := Video{Protection: r.protection(),
		ID: r.ID, Title: r.Title, Description: r.Description, Visibility: r.Visibility,
		Owner: Owner{ID: r.OwnerID, Username: r.OwnerUsername}, Status: r.Status, Stage: r.Stage, Progress: r.Progress,
		Notes: r.notes(), DurationSeconds: r.DurationSeconds, Views: r.Views, Width: r.Width, Height: r.Height,
		CreatedAt: r.CreatedAt.UTC(), Renditions: []Rendition{}, AudioTracks: []AudioTrack{}, Subtitles: []Subtitle{},
	}
	if r.Error != "" {
		v.Error = ptr(r.Error)
	}
	if r.ReadyAt != nil {
		t := r.ReadyAt.UTC()
		v.ReadyAt = &t
	}
	for _, t := range r.tracks() {
		if t.Kind == "video" {
			v.Renditions = append(v.Renditions, Rendition{Width: t.Width, Height: t.Height, Bandwidth: t.Peak, Codecs: t.Codecs})
		} else if t.Kind == "audio" {
			lang, label := t.Lang, t.Label
			if lang == "" {
				lang, label = "und", "Audio"
			}
			v.AudioTracks = append(v.AudioTracks, AudioTrack{Lang: lang, Label: label, Default: len(v.AudioTracks) == 0, Channels: max(t.Channels, 2)})
		}
	}
	if r.Status == vodtype.StatusProcessing && r.AvailableSeconds > 0 {
		// Watchable while processing: the manifests of the generation being made, which the
		// server renders from what exists (never the CDN's copy) and which turn into the final
		// ones at the same address.
		v.AvailableSeconds = r.available()
		base := "/media/"
		if r.Visibility == vodtype.Private {
			base = s.mediaBase(r)
		}
		prefix := vodtype.GenerationPrefix(r.ID, r.Generation)
		v.Playback.DASH = ptr(base + prefix + "manifest.mpd")
		v.Playback.HLS = ptr(base + prefix + "master.m3u8")
		s.protectPlayback(r, &v)
		if r.CustomPosterKey != "" {
			v.Thumbnails.Poster = ptr(base + r.CustomPosterKey)
		}
		return v
	}
	if r.Status != vodtype.StatusReady {
		return v
	}
	v.AvailableSeconds = r.available()
	base := s.mediaBase(r)
	v.Playback.DASH = ptr(base + r.MediaPrefix + "manifest.mpd")
	v.Playback.HLS = ptr(base + r.MediaPrefix + "master.m3u8")
	if r.MP4Key != "" && (asOwner || r.protection() == vodtype.ProtectionNone) {
		v.Playback.MP4 = ptr(base + r.MP4Key)
	}
	s.protectPlayback(r, &v)
	if r.CustomPosterKey != "" {
		v.Thumbnails.Poster = ptr(base + r.CustomPosterKey)
	} else if r.PosterKey != "" {
		v.Thumbnails.Poster = ptr(base + r.PosterKey)
	}
	if r.StoryboardKey != "" {
		v.Thumbnails.Storyboard = ptr(base + r.StoryboardKey)
	}
	for _, sub := range subs {
		v.Subtitles = append(v.Subtitles, Subtitle{Lang: sub.Lang, Label: sub.Label, Source: sub.Source, URL: base + sub.ObjectKey})
	}
	return v
}

// protectPlayback sets a protected video's licence URL and takes away its HLS (see Playback).
func (s *Catalog) protectPlayback(r *videoRow, v *Video) {
	if r.protection() != vodtype.ProtectionClearKey {
		return
	}
	v.Playback.HLS = nil
	u := "/api/v1/videos/" + r.ID + "/license"
	if r.Visibility == vodtype.Private {
		u += "?token=" + s.playbackToken(r.ID)
	}
	v.Playback.License = &u
}

// tokenFor reports whether tok is a valid, unexpired playback token of the video: whoever holds a
// private video's playback URLs (an embed) may read it and get its key.
func (s *Catalog) tokenFor(tok, videoID string) bool {
	e, _, ok := strings.Cut(tok, ".")
	exp, err := strconv.ParseInt(e, 10, 64)
	if !ok || err != nil || videoID == "" || time.Now().Unix() > exp {
		return false
	}
	return hmac.Equal([]byte(s.sign(videoID, exp)), []byte(tok))
}
