package transcode

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"

	"vod/app/vodtype"
)

// storyboardVTT maps time ranges to the thumbnails for scrub previews: each chunk's row of them is
// its own image, so a cue names its image and the tile's place in it.
func storyboardVTT(sb Storyboard, strips []stillsRow, duration float64) []byte {
	var b strings.Builder
	b.WriteString("WEBVTT\n\n")
	for _, st := range strips {
		for k := range st.Count {
			i := st.From + k
			start := float64(i) * sb.Interval
			if start >= duration {
				break
			}
			end := math.Min(start+sb.Interval, duration)
			fmt.Fprintf(&b, "%s --> %s\n%s#xywh=%d,0,%d,%d\n\n", vodtype.VTTTime(start), vodtype.VTTTime(end), st.Image, k*sb.Width, sb.Width, sb.Height)
		}
	}
	return []byte(b.String())
}

// buildBaseMPD writes the static MPD of a finished encode: one SegmentTemplate with a
// SegmentTimeline of the segments' real durations per representation, and a presentation duration
// rounded up, never down, so that players ask for the last segment. Bandwidths are placeholders
// the catalog replaces with measured ones when it publishes; subtitles are added there too.
func buildBaseMPD(video []*trackResult, audio []*trackResult, rends []Rendition, duration float64, segSec int, kid string) []byte {
	return mpdDoc{video: video, audio: audio, rends: rends, duration: duration, segSec: segSec, kid: kid}.render()
}

// mpdDoc is an MPD: static (a finished encode) or dynamic (a video being processed, whose
// timeline grows as its chunks finish).
type mpdDoc struct {
	video    []*trackResult
	audio    []*trackResult
	rends    []Rendition
	duration float64 // static, or dynamic once every segment is listed; else 0
	segSec   int
	// kid is the content key id (hex) of a protected video: every audio and video set announces
	// Common Encryption with it and the ClearKey system.
	kid string
	// bandwidth by representation id; "1" (a placeholder) when missing.
	bandwidth map[string]int
	// Dynamic only: the availability start (far enough in the past that every listed segment is
	// available by the clock), now, and how often players reload it.
	dynamic     bool
	ast, now    time.Time
	updateEvery time.Duration
}

func (d mpdDoc) render() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011"`)
	if d.kid != "" {
		b.WriteString(` xmlns:cenc="urn:mpeg:cenc:2013"`)
	}
	if d.dynamic {
		fmt.Fprintf(&b, ` type="dynamic" availabilityStartTime="%s" publishTime="%s" minimumUpdatePeriod="PT%gS"`,
			d.ast.UTC().Format(time.RFC3339), d.now.UTC().Format(time.RFC3339Nano), d.updateEvery.Seconds())
	} else {
		b.WriteString(` type="static"`)
	}
	if d.duration > 0 {
		fmt.Fprintf(&b, ` mediaPresentationDuration="PT%.3fS"`, math.Ceil(d.duration*1000)/1000)
	}
	fmt.Fprintf(&b, " minBufferTime=\"PT%dS\">\n\t<Period id=\"0\" start=\"PT0.0S\">\n", d.segSec)
	bw := func(id string) int {
		if v, ok := d.bandwidth[id]; ok && v > 0 {
			return v
		}
		return 1
	}
	maxW, maxH := 0, 0
	for _, r := range d.rends {
		maxW, maxH = max(maxW, r.Width), max(maxH, r.Height)
	}
	fmt.Fprintf(&b, "\t\t<AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"%d\" maxHeight=\"%d\">\n", maxW, maxH)
	d.protection(&b)
	for i, t := range d.video {
		fmt.Fprintf(&b, "\t\t\t<Representation id=\"%s\" bandwidth=\"%d\" codecs=\"%s\" width=\"%d\" height=\"%d\" sar=\"1:1\">\n", t.ID, bw(t.ID), t.Codecs, d.rends[i].Width, d.rends[i].Height)
		writeTemplate(&b, t)
		b.WriteString("\t\t\t</Representation>\n")
	}
	b.WriteString("\t\t</AdaptationSet>\n")
	// One adaptation set per audio rendition: its language, the name players show, and the
	// source's default as the main one. A multichannel rendition is a set of its own (a layout
	// players choose by capability, not a bitrate to switch to); selectionPriority makes dash.js,
	// which otherwise starts with the highest bitrate, start with the default in stereo.
	for k, a := range d.audio {
		channels, prio := 2, 2
		switch {
		case a.Channels > 2:
			channels, prio = a.Channels, 1
		case k == 0:
			prio = 3
		}
		fmt.Fprintf(&b, "\t\t<AdaptationSet id=\"%d\" contentType=\"audio\" mimeType=\"audio/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\" selectionPriority=\"%d\"", k+1, prio)
		if a.Lang != "" {
			fmt.Fprintf(&b, " lang=\"%s\"", html.EscapeString(a.Lang))
		}
		b.WriteString(">\n")
		if a.Label != "" {
			fmt.Fprintf(&b, "\t\t\t<Label>%s</Label>\n", html.EscapeString(a.Label))
		}
		role := "main"
		if k > 0 {
			role = "alternate"
		}
		fmt.Fprintf(&b, "\t\t\t<Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"%s\"/>\n", role)
		d.protection(&b)
		fmt.Fprintf(&b, "\t\t\t<Representation id=\"%s\" bandwidth=\"%d\" codecs=\"%s\" audioSamplingRate=\"48000\">\n", a.ID, bw(a.ID), a.Codecs)
		fmt.Fprintf(&b, "\t\t\t\t<AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"%d\"/>\n", channels)
		writeTemplate(&b, a)
		b.WriteString("\t\t\t</Representation>\n\t\t</AdaptationSet>\n")
	}
	b.WriteString("\t</Period>\n")
	if d.dynamic {
		// The server's clock, so that players need not fetch one.
		fmt.Fprintf(&b, "\t<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" value=\"%s\"/>\n", d.now.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	b.WriteString("</MPD>\n")
	return []byte(b.String())
}

// protection writes a protected set's ContentProtection elements: 'cenc' with the default key id
// (as a UUID), and the W3C ClearKey system, whose licence URL the player is given by the API.
func (d mpdDoc) protection(b *strings.Builder) {
	if len(d.kid) != 32 {
		return
	}
	k := d.kid
	fmt.Fprintf(b, "\t\t\t<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\" cenc:default_KID=\"%s-%s-%s-%s-%s\"/>\n", k[:8], k[8:12], k[12:16], k[16:20], k[20:])
	b.WriteString("\t\t\t<ContentProtection schemeIdUri=\"urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e\" value=\"ClearKey1.0\"/>\n")
}

func writeTemplate(b *strings.Builder, t *trackResult) {
	fmt.Fprintf(b, "\t\t\t\t<SegmentTemplate timescale=\"%d\" initialization=\"init-$RepresentationID$.m4s\" media=\"seg-$RepresentationID$-$Number%%05d$.m4s\" startNumber=\"1\">\n\t\t\t\t\t<SegmentTimeline>\n", t.Timescale)
	var at uint64
	for i := 0; i < len(t.Segments); {
		d := t.Segments[i].Duration
		r := 0
		for i+r+1 < len(t.Segments) && t.Segments[i+r+1].Duration == d {
			r++
		}
		if i == 0 {
			fmt.Fprintf(b, "\t\t\t\t\t\t<S t=\"%d\" d=\"%d\"", at, d)
		} else {
			fmt.Fprintf(b, "\t\t\t\t\t\t<S d=\"%d\"", d)
		}
		if r > 0 {
			fmt.Fprintf(b, " r=\"%d\"", r)
		}
		b.WriteString("/>\n")
		at += d * uint64(r+1)
		i += r + 1
	}
	b.WriteString("\t\t\t\t\t</SegmentTimeline>\n\t\t\t\t</SegmentTemplate>\n")
}

// buildMediaPlaylist writes a track's HLS media playlist from its segments' real durations.
func buildMediaPlaylist(t *trackResult) []byte { return mediaPlaylist(t, false, true) }

// mediaPlaylist writes a media playlist: VOD when final; EVENT while the video processes (players
// reload it and find the new segments), with EXT-X-ENDLIST once every segment is listed.
func mediaPlaylist(t *trackResult, live, complete bool) []byte {
	var b strings.Builder
	longest := 0.0
	for _, s := range t.Segments {
		longest = math.Max(longest, float64(s.Duration)/float64(t.Timescale))
	}
	kind := "VOD"
	if live {
		kind = "EVENT"
	}
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:%s\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init-%s.m4s\"\n",
		int(math.Round(longest+0.4999)), kind, t.ID)
	for _, s := range t.Segments {
		fmt.Fprintf(&b, "#EXTINF:%.6f,\nseg-%s-%05d.m4s\n", float64(s.Duration)/float64(t.Timescale), t.ID, s.Number)
	}
	if complete {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}
