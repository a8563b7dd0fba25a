package vodtype

import (
	"strconv"
	"strings"
)

// The storage key layout, named here once and used by every module:
//
//	videos/{id}/source              the uploaded original
//	videos/{id}/g{generation}/...   one processing generation's output (segments, manifests, poster)
//	videos/{id}/subs/{lang}.vtt     subtitle tracks shared by every generation
//
// Everything a video owns lives under VideoPrefix, so deleting a video is one prefix delete and the
// orphan sweeper can tell a video's objects by their first two path elements.

// VideosRoot is the prefix every video's objects live under.
const VideosRoot = "videos/"

// VideoPrefix is the prefix of everything stored for a video.
func VideoPrefix(id string) string { return VideosRoot + id + "/" }

// SourceKey is where a video's uploaded original is kept.
func SourceKey(id string) string { return VideoPrefix(id) + "source" }

// IsSourceKey reports whether key names an uploaded original.
func IsSourceKey(key string) bool { return strings.HasSuffix(key, "/source") && VideoIDOf(key) != "" }

// GenerationPrefix is the prefix of one processing generation's output.
func GenerationPrefix(id string, generation int) string {
	return VideoPrefix(id) + "g" + strconv.Itoa(generation) + "/"
}

// SubtitleKey is where a video's WebVTT track for lang is kept.
func SubtitleKey(id, lang string) string { return VideoPrefix(id) + "subs/" + lang + ".vtt" }

// VideoIDOf returns the {id} of a key under videos/{id}/, or "" for any other key.
func VideoIDOf(key string) string {
	rest, ok := strings.CutPrefix(key, VideosRoot)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return id
}
