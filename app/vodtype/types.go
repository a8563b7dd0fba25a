package vodtype

import "path"

var contentTypes = map[string]string{
	".mpd":  "application/dash+xml",
	".m3u8": "application/vnd.apple.mpegurl",
	".m4s":  "video/iso.segment",
	".mp4":  "video/mp4",
	".vtt":  "text/vtt; charset=utf-8",
	".jpg":  "image/jpeg",
}

// ContentType is the type a media key is served with.
func ContentType(key string) string {
	if ct, ok := contentTypes[path.Ext(key)]; ok {
		return ct
	}
	return "application/octet-stream"
}

// CacheControl is the caching policy of a media key: everything under a generation prefix never
// changes; manifests and subtitle files, which edits rewrite, are short-lived.
func CacheControl(key string) string {
	switch path.Ext(key) {
	case ".mpd", ".m3u8", ".vtt":
		return "public, max-age=10"
	}
	return "public, max-age=31536000, immutable"
}

// PageMeta is what link previews (OpenGraph, Twitter cards, oEmbed) show of a video: only public
// and unlisted ready videos have one.
type PageMeta struct {
	ID, Title, Description, Owner string
	// Poster is the poster's URL (relative to the server unless media is on a CDN).
	Poster          string
	Width, Height   int
	DurationSeconds float64
}
