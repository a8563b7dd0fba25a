package stream

import (
	"encoding/json"
	"time"

	"vod/app/vodtype"
)

type videoRow struct {
	ID              string `gorm:"primaryKey"`
	OwnerID         string
	OwnerUsername   string
	Title           string
	Description     string
	Visibility      string
	Status          string
	Stage           string
	Progress        int
	Error           string
	Notes           string
	SourceKey       string
	SourceName      string
	SourceSize      int64
	Generation      int
	DurationSeconds float64
	Width           int
	Height          int
	FPS             float64 `gorm:"column:fps"`
	VideoCodec      string
	AudioCodec      string
	Rotation        int
	MediaPrefix     string
	BaseMPDKey      string `gorm:"column:base_mpd_key"`
	Tracks          string
	PosterKey       string
	StoryboardKey   string
	MP4Key          string `gorm:"column:mp4_key"`
	// AvailableSeconds: how far a processing video can be watched; its duration once ready.
	AvailableSeconds float64
	// Views counts viewers, each once per day.
	Views int64
	// CustomPosterKey is the owner's thumbnail, shown instead of the generated one.
	CustomPosterKey string
	// Protection: vodtype.ProtectionNone or ProtectionClearKey.
	Protection string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ReadyAt    *time.Time
}

func (videoRow) TableName() string { return "videos" }

func (r *videoRow) tracks() []vodtype.Track {
	var t []vodtype.Track
	_ = json.Unmarshal([]byte(r.Tracks), &t)
	return t
}

// protection is the row's protection (rows from before the column say none).
func (r *videoRow) protection() string {
	if r.Protection == "" {
		return vodtype.ProtectionNone
	}
	return r.Protection
}

// available is how far the video can be watched: its duration once ready (rows published before
// the column existed say 0), what the pipeline recorded while it processes.
func (r *videoRow) available() float64 {
	if r.Status == vodtype.StatusReady {
		return r.DurationSeconds
	}
	return r.AvailableSeconds
}

func (r *videoRow) notes() []string {
	n := []string{}
	_ = json.Unmarshal([]byte(r.Notes), &n)
	return n
}

type subtitleRow struct {
	VideoID   string `gorm:"primaryKey"`
	Lang      string `gorm:"primaryKey"`
	Label     string
	Source    string
	ObjectKey string
	CreatedAt time.Time
}

func (subtitleRow) TableName() string { return "subtitles" }

type viewRow struct {
	VideoID string `gorm:"primaryKey"`
	Day     string `gorm:"primaryKey"`
	Viewer  string `gorm:"primaryKey"`
}

func (viewRow) TableName() string { return "video_views" }

type saltRow struct {
	Day  string `gorm:"primaryKey"`
	Salt string
}

func (saltRow) TableName() string { return "view_salts" }
