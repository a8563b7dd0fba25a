package app

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"vod/app/httpx"
	"vod/app/ratelimit"
	"vod/app/vodtype"
	"vod/modules/auth"
	"vod/modules/search"
	"vod/modules/stream"
	"vod/modules/transcode"
	"vod/modules/transcode/translate"
	"vod/modules/upload"
)

// Config is every setting of the process, read once at start from defaults, config.yaml, the
// environment (VOD_ + key with dots as underscores) and flags, in increasing precedence.
type Config struct {
	Role    string `mapstructure:"role"`
	DataDir string `mapstructure:"data_dir"`
	Log     struct {
		Format string `mapstructure:"format"`
		Level  string `mapstructure:"level"`
	} `mapstructure:"log"`
	HTTP struct {
		Addr            string        `mapstructure:"addr"`
		AddrFile        string        `mapstructure:"addr_file"`
		PublicURL       string        `mapstructure:"public_url"`
		TrustedProxies  []string      `mapstructure:"trusted_proxies"`
		BodyLimit       int64         `mapstructure:"body_limit"`
		ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
		HeaderTimeout   time.Duration `mapstructure:"read_header_timeout"`
		IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
		MinBodyRate     int64         `mapstructure:"min_body_rate"`
		BodyRateWindow  time.Duration `mapstructure:"body_rate_window"`
	} `mapstructure:"http"`
	Metrics struct {
		Addr  string `mapstructure:"addr"`
		Token string `mapstructure:"token"`
	} `mapstructure:"metrics"`
	Database struct {
		URL          string `mapstructure:"url"`
		MaxOpenConns int    `mapstructure:"max_open_conns"`
	} `mapstructure:"database"`
	Storage struct {
		Backend  string `mapstructure:"backend"`
		LocalDir string `mapstructure:"local_dir"`
	} `mapstructure:"storage"`
	S3 struct {
		Endpoint  string `mapstructure:"endpoint"`
		Bucket    string `mapstructure:"bucket"`
		AccessKey string `mapstructure:"access_key"`
		SecretKey string `mapstructure:"secret_key"`
		UseSSL    bool   `mapstructure:"use_ssl"`
		Region    string `mapstructure:"region"`
	} `mapstructure:"s3"`
	Media struct {
		PublicBaseURL     string        `mapstructure:"public_base_url"`
		SigningKey        string        `mapstructure:"signing_key"`
		PrivateURLTTL     time.Duration `mapstructure:"private_url_ttl"`
		RedirectToStorage bool          `mapstructure:"redirect_to_storage"`
		CacheBytes        string        `mapstructure:"cache_bytes"`
	} `mapstructure:"media"`
	Translate struct {
		Provider    string        `mapstructure:"provider"`
		URL         string        `mapstructure:"url"`
		APIKey      string        `mapstructure:"api_key"`
		Targets     []string      `mapstructure:"targets"`
		Timeout     time.Duration `mapstructure:"timeout"`
		Concurrency int           `mapstructure:"concurrency"`
	} `mapstructure:"translate"`
	Notify struct {
		WebhookURLs   []string `mapstructure:"webhook_urls"`
		WebhookSecret string   `mapstructure:"webhook_secret"`
		SMTPAddr      string   `mapstructure:"smtp_addr"`
		SMTPFrom      string   `mapstructure:"smtp_from"`
		SMTPUsername  string   `mapstructure:"smtp_username"`
		SMTPPassword  string   `mapstructure:"smtp_password"`
	} `mapstructure:"notify"`
	RateLimit struct {
		Upload   string `mapstructure:"upload"`
		Metadata string `mapstructure:"metadata"`
		Search   string `mapstructure:"search"`
		API      string `mapstructure:"api"`
	} `mapstructure:"ratelimit"`
	Runtime struct {
		GCPercent   int    `mapstructure:"gc_percent"`
		MemoryLimit string `mapstructure:"memory_limit"`
	} `mapstructure:"runtime"`
	Search struct {
		Path       string        `mapstructure:"path"`
		ApplyEvery time.Duration `mapstructure:"apply_every"`
	} `mapstructure:"search"`
	Transcode struct {
		Ladder         string        `mapstructure:"ladder"`
		SegmentSeconds int           `mapstructure:"segment_seconds"`
		ChunkSeconds   int           `mapstructure:"chunk_seconds"`
		Preset         string        `mapstructure:"preset"`
		CRF            int           `mapstructure:"crf"`
		MaxDimension   int           `mapstructure:"max_dimension"`
		MaxPixels      int           `mapstructure:"max_pixels"`
		MaxMemory      string        `mapstructure:"max_memory"`
		CPUPerSecond   float64       `mapstructure:"cpu_per_second"`
		EncodeJobs     int           `mapstructure:"encode_jobs"`
		EncoderThreads int           `mapstructure:"encoder_threads"`
		MaxAudio       int           `mapstructure:"max_audio_tracks"`
		MaxStreams     int           `mapstructure:"max_streams"`
		WorkDir        string        `mapstructure:"work_dir"`
		TimeoutMin     time.Duration `mapstructure:"timeout_min"`
		TimeoutFactor  float64       `mapstructure:"timeout_factor"`
		Protection     string        `mapstructure:"protection"`
		KEK            string        `mapstructure:"key_encryption_key"`
	} `mapstructure:"transcode"`
	FFmpeg struct {
		Path string `mapstructure:"path"`
	} `mapstructure:"ffmpeg"`
	FFprobe struct {
		Path string `mapstructure:"path"`
	} `mapstructure:"ffprobe"`
	Queue struct {
		Workers      int           `mapstructure:"workers"`
		PollInterval time.Duration `mapstructure:"poll_interval"`
		RescueAfter  time.Duration `mapstructure:"rescue_after"`
	} `mapstructure:"queue"`
	Auth struct {
		Issuer          string        `mapstructure:"issuer"`
		Audience        string        `mapstructure:"audience"`
		AccessTTL       time.Duration `mapstructure:"access_ttl"`
		RefreshTTL      time.Duration `mapstructure:"refresh_ttl"`
		KeyFiles        []string      `mapstructure:"key_files"`
		HashConcurrency int           `mapstructure:"hash_concurrency"`
		Argon2Memory    uint32        `mapstructure:"argon2_memory_kib"`
		Argon2Time      uint32        `mapstructure:"argon2_iterations"`
		LoginMaxFails   int           `mapstructure:"login_max_failures"`
		LoginWindow     time.Duration `mapstructure:"login_window"`
		ClockSkew       time.Duration `mapstructure:"clock_skew"`
		RefreshGrace    time.Duration `mapstructure:"refresh_grace"`
		AccountCacheTTL time.Duration `mapstructure:"account_cache_ttl"`
	} `mapstructure:"auth"`
	Upload struct {
		MaxBytes        int64         `mapstructure:"max_bytes"`
		MaxDuration     time.Duration `mapstructure:"max_duration"`
		DirectUploadTTL time.Duration `mapstructure:"direct_upload_ttl"`
		ResumableTTL    time.Duration `mapstructure:"resumable_ttl"`
	} `mapstructure:"upload"`
}

// defaults lists every key with its default; config.yaml documents the same keys (a test checks
// both ways). A key must be here for its environment variable to be read. Where a module owns a
// setting, its default is the module Config's own (WithDefaults): this map only names the key.
func defaults() map[string]any {
	au := auth.Config{}.WithDefaults()
	tc := transcode.Config{}.WithDefaults()
	up := upload.Config{}.WithDefaults()
	st := stream.Config{}.WithDefaults()
	se := search.Config{}.WithDefaults()
	tr := translate.Config{}.WithDefaults()
	return map[string]any{
		"role":                         "all",
		"data_dir":                     "./data",
		"log.format":                   "auto",
		"log.level":                    "info",
		"http.addr":                    ":8080",
		"http.addr_file":               "",
		"http.public_url":              "",
		"http.trusted_proxies":         []string{},
		"http.body_limit":              int64(httpx.MaxJSONBody),
		"http.shutdown_timeout":        20 * time.Second,
		"http.read_header_timeout":     10 * time.Second,
		"http.idle_timeout":            2 * time.Minute,
		"http.min_body_rate":           int64(1024),
		"http.body_rate_window":        20 * time.Second,
		"metrics.addr":                 "",
		"metrics.token":                "",
		"database.url":                 "",
		"database.max_open_conns":      20,
		"storage.backend":              "local",
		"storage.local_dir":            "",
		"s3.endpoint":                  "",
		"s3.bucket":                    "vod",
		"s3.access_key":                "",
		"s3.secret_key":                "",
		"s3.use_ssl":                   false,
		"s3.region":                    "",
		"media.public_base_url":        "",
		"media.signing_key":            "",
		"media.private_url_ttl":        st.PrivateURLTTL,
		"media.redirect_to_storage":    false,
		"media.cache_bytes":            formatSize(uint64(st.CacheBytes)),
		"transcode.ladder":             tc.Ladder,
		"transcode.segment_seconds":    tc.SegmentSeconds,
		"transcode.chunk_seconds":      tc.ChunkSeconds,
		"transcode.preset":             tc.Preset,
		"transcode.crf":                tc.CRF,
		"transcode.max_dimension":      tc.Limits.MaxDimension,
		"transcode.max_pixels":         tc.Limits.MaxPixels,
		"transcode.max_memory":         formatSize(tc.Limits.MaxMemory),
		"transcode.cpu_per_second":     tc.Limits.CPUPerSecond,
		"transcode.encode_jobs":        0,
		"transcode.encoder_threads":    0,
		"transcode.max_audio_tracks":   tc.Limits.MaxAudioTracks,
		"transcode.max_streams":        tc.Limits.MaxStreams,
		"transcode.timeout_min":        tc.TimeoutMin,
		"transcode.timeout_factor":     tc.TimeoutFactor,
		"transcode.work_dir":           "",
		"transcode.protection":         vodtype.ProtectionNone,
		"transcode.key_encryption_key": "",
		"notify.webhook_urls":          []string{},
		"notify.webhook_secret":        "",
		"notify.smtp_addr":             "",
		"notify.smtp_from":             "vod@localhost",
		"notify.smtp_username":         "",
		"notify.smtp_password":         "",
		"translate.provider":           tr.Provider,
		"translate.url":                "",
		"translate.api_key":            "",
		"translate.targets":            []string{"bn", "hi", "fr", "es"},
		"translate.timeout":            tr.Timeout,
		"translate.concurrency":        tr.Concurrency,
		"ratelimit.upload":             "30/1h",
		"ratelimit.metadata":           "120/1m",
		"ratelimit.search":             "300/1m",
		"ratelimit.api":                "1200/1m",
		"runtime.gc_percent":           400,
		"runtime.memory_limit":         "160MiB",
		"search.path":                  "",
		"search.apply_every":           se.ApplyEvery,
		"ffmpeg.path":                  tc.FFmpeg,
		"ffprobe.path":                 tc.FFprobe,
		"queue.workers":                4,
		"queue.poll_interval":          time.Second,
		"queue.rescue_after":           time.Hour,
		"auth.issuer":                  au.Issuer,
		"auth.audience":                au.Audience,
		"auth.access_ttl":              au.AccessTTL,
		"auth.refresh_ttl":             au.RefreshTTL,
		"auth.key_files":               []string{},
		"auth.hash_concurrency":        au.HashConcurrency,
		"auth.argon2_memory_kib":       au.Argon2.MemoryKiB,
		"auth.argon2_iterations":       au.Argon2.Iterations,
		"auth.login_max_failures":      au.LoginMaxFails,
		"auth.login_window":            au.LoginWindow,
		"auth.clock_skew":              au.ClockSkew,
		"auth.refresh_grace":           au.RefreshGrace,
		"auth.account_cache_ttl":       au.AccountCacheTTL,
		"upload.max_bytes":             up.MaxBytes,
		"upload.max_duration":          tc.Limits.MaxDuration,
		"upload.direct_upload_ttl":     up.DirectTTL,
		"upload.resumable_ttl":         up.ResumableTTL,
	}
}

// flagKeys maps command-line flags to config keys.
var flagKeys = map[string]string{
	"http-addr":       "http.addr",
	"data-dir":        "data_dir",
	"database-url":    "database.url",
	"storage-backend": "storage.backend",
	"role":            "role",
	"log-format":      "log.format",
}

// addConfigFlags registers the flags every command shares.
func addConfigFlags(fs *pflag.FlagSet) {
	fs.StringP("config", "c", "", "path to config.yaml (default: ./config.yaml when present; env VOD_CONFIG)")
	fs.String("http-addr", "", "listen address (http.addr)")
	fs.String("data-dir", "", "data directory (data_dir)")
	fs.String("database-url", "", "database URL: postgres://... or a SQLite file path (database.url)")
	fs.String("storage-backend", "", "local or s3 (storage.backend)")
	fs.String("role", "", "all, api or worker (role)")
	fs.String("log-format", "", "auto, json or text (log.format)")
}

// loadConfig builds the Config from defaults, file, environment and flags.
func loadConfig(fs *pflag.FlagSet, getenv func(string) string) (*Config, error) {
	v := viper.New()
	defs := defaults()
	for k, d := range defs {
		v.SetDefault(k, d)
	}
	path, _ := fs.GetString("config")
	if path == "" {
		path = getenv("VOD_CONFIG")
	}
	explicit := path != ""
	if !explicit {
		path = "config.yaml"
	}
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		var nf viper.ConfigFileNotFoundError
		if explicit || !(errors.As(err, &nf) || errors.Is(err, os.ErrNotExist)) {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	for k := range defs {
		env := "VOD_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		val := getenv(env)
		if val == "" {
			continue
		}
		if _, isList := defs[k].([]string); isList {
			v.Set(k, splitList(val))
		} else {
			v.Set(k, val)
		}
	}
	for flag, key := range flagKeys {
		if f := fs.Lookup(flag); f != nil && f.Changed {
			v.Set(key, f.Value.String())
		}
	}
	var cfg Config
	if err := v.Unmarshal(&cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validate fills derived defaults and rejects bad values, naming the key at fault.
func (c *Config) validate() error {
	bad := func(key, why string) error { return fmt.Errorf("config: %s: %s", key, why) }
	switch c.Role {
	case "all", "api", "worker":
	default:
		return bad("role", fmt.Sprintf("%q is not one of all, api, worker", c.Role))
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		return bad("log.format", fmt.Sprintf("%q is not one of auto, json, text", c.Log.Format))
	}
	if c.DataDir == "" {
		return bad("data_dir", "must not be empty")
	}
	if n, err := parseSize(c.Runtime.MemoryLimit); err != nil || (n != 0 && n < 64<<20) {
		return bad("runtime.memory_limit", fmt.Sprintf("%q: a size such as 160MiB, at least 64MiB, or 0 for none", c.Runtime.MemoryLimit))
	}
	if _, err := parseSize(c.Media.CacheBytes); err != nil {
		return bad("media.cache_bytes", fmt.Sprintf("%q: a size such as 32MiB, or 0 for none", c.Media.CacheBytes))
	}
	if c.Runtime.GCPercent != -1 && c.Runtime.GCPercent < 25 {
		return bad("runtime.gc_percent", fmt.Sprintf("%d: use -1 (no collection below GOMEMLIMIT) or at least 25", c.Runtime.GCPercent))
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		return bad("http.addr", fmt.Sprintf("%q is not host:port", c.HTTP.Addr))
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			return bad("http.trusted_proxies", fmt.Sprintf("%q is not an IP or CIDR", p))
		}
	}
	if c.HTTP.HeaderTimeout <= 0 || c.HTTP.IdleTimeout <= 0 {
		return bad("http.read_header_timeout", "header and idle timeouts must be positive")
	}
	if c.HTTP.MinBodyRate < 0 || c.HTTP.BodyRateWindow < time.Second {
		return bad("http.min_body_rate", "must be 0 (off) or positive, with http.body_rate_window of at least 1s")
	}
	if c.Metrics.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Addr); err != nil {
			return bad("metrics.addr", fmt.Sprintf("%q is not host:port", c.Metrics.Addr))
		}
	}
	if c.HTTP.BodyLimit <= 0 {
		return bad("http.body_limit", "must be positive")
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		return bad("http.shutdown_timeout", "must be positive")
	}
	if c.Database.URL == "" {
		c.Database.URL = filepath.Join(c.DataDir, "vod.db")
	} else if strings.Contains(c.Database.URL, "://") && !isPostgresURL(c.Database.URL) && !strings.HasPrefix(c.Database.URL, "file:") {
		return bad("database.url", "must be postgres://... or a SQLite file path")
	}
	if c.Database.MaxOpenConns <= 0 {
		return bad("database.max_open_conns", "must be positive")
	}
	switch c.Storage.Backend {
	case "local":
		if c.Storage.LocalDir == "" {
			c.Storage.LocalDir = filepath.Join(c.DataDir, "media")
		}
	case "s3":
		if c.S3.Endpoint == "" {
			return bad("s3.endpoint", "required when storage.backend is s3")
		}
		if strings.Contains(c.S3.Endpoint, "/") {
			return bad("s3.endpoint", "must be host[:port] without scheme or path (use s3.use_ssl for https)")
		}
		if c.S3.Bucket == "" {
			return bad("s3.bucket", "required when storage.backend is s3")
		}
	default:
		return bad("storage.backend", fmt.Sprintf("%q is not one of local, s3", c.Storage.Backend))
	}
	if u := c.Media.PublicBaseURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return bad("media.public_base_url", fmt.Sprintf("%q is not an absolute http(s) URL", u))
		}
		c.Media.PublicBaseURL = strings.TrimRight(u, "/")
	}
	if c.Media.PrivateURLTTL < time.Minute {
		return bad("media.private_url_ttl", "must be at least 1m")
	}
	if c.Media.RedirectToStorage && c.Storage.Backend != "s3" {
		return bad("media.redirect_to_storage", "needs storage.backend s3")
	}
	if _, err := transcode.ParseLadder(c.Transcode.Ladder); err != nil {
		return bad("transcode.ladder", err.Error())
	}
	if c.Transcode.ChunkSeconds < c.Transcode.SegmentSeconds || c.Transcode.ChunkSeconds%c.Transcode.SegmentSeconds != 0 {
		return bad("transcode.chunk_seconds", "must be a multiple of transcode.segment_seconds")
	}
	if c.Transcode.SegmentSeconds < 1 || c.Transcode.SegmentSeconds > 30 {
		return bad("transcode.segment_seconds", "must be 1 to 30")
	}
	switch c.Transcode.Preset {
	case "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow":
	default:
		return bad("transcode.preset", fmt.Sprintf("%q is not an x264 preset", c.Transcode.Preset))
	}
	if c.Transcode.CRF < 1 || c.Transcode.CRF > 51 {
		return bad("transcode.crf", "must be 1 to 51")
	}
	if c.Transcode.MaxDimension < 16 || c.Transcode.MaxStreams < 1 || c.Transcode.MaxPixels < 256 {
		return bad("transcode.max_dimension", "limits must be positive")
	}
	if n, err := parseSize(c.Transcode.MaxMemory); err != nil || n < 64<<20 {
		return bad("transcode.max_memory", "must be a size of at least 64MiB, such as 4GiB or 512MiB")
	}
	if c.Transcode.MaxAudio < 1 || c.Transcode.MaxAudio > 32 {
		return bad("transcode.max_audio_tracks", "must be 1 to 32")
	}
	if c.Transcode.EncodeJobs < 0 || c.Transcode.EncodeJobs > 256 || c.Transcode.EncoderThreads < 0 || c.Transcode.EncoderThreads > 64 {
		return bad("transcode.encode_jobs", "encode_jobs 0 to 256 and encoder_threads 0 to 64 (0: from the cores)")
	}
	if !vodtype.ValidProtection(c.Transcode.Protection) {
		return bad("transcode.protection", vodtype.ProtectionMessage)
	}
	if c.Transcode.KEK != "" && len(c.Transcode.KEK) < 16 {
		return bad("transcode.key_encryption_key", "must be at least 16 characters (or empty: generated in data_dir/keys)")
	}
	if c.Transcode.CPUPerSecond <= 0 {
		return bad("transcode.cpu_per_second", "must be positive")
	}
	if c.Transcode.TimeoutMin < time.Second || c.Transcode.TimeoutFactor <= 0 {
		return bad("transcode.timeout_min", "timeout_min must be at least 1s and timeout_factor positive")
	}
	if c.Queue.RescueAfter < c.Transcode.TimeoutMin {
		// River rescues a job only after both its timeout and rescue_after have passed.
		c.Queue.RescueAfter = c.Transcode.TimeoutMin
	}
	for key, v := range map[string]string{"ratelimit.upload": c.RateLimit.Upload, "ratelimit.metadata": c.RateLimit.Metadata,
		"ratelimit.search": c.RateLimit.Search, "ratelimit.api": c.RateLimit.API} {
		if _, _, err := ratelimit.ParseRule(v); err != nil {
			return bad(key, err.Error())
		}
	}
	for _, u := range c.Notify.WebhookURLs {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return bad("notify.webhook_urls", fmt.Sprintf("%q is not an http(s) URL", u))
		}
	}
	if len(c.Notify.WebhookURLs) > 0 && len(c.Notify.WebhookSecret) < 16 {
		return bad("notify.webhook_secret", "at least 16 characters are needed to sign webhooks")
	}
	switch c.Translate.Provider {
	case "none":
	case "apertium", "libretranslate":
		if u, err := url.Parse(c.Translate.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return bad("translate.url", "an http(s) URL is required for provider "+c.Translate.Provider)
		}
	default:
		return bad("translate.provider", fmt.Sprintf("%q is not one of none, apertium, libretranslate", c.Translate.Provider))
	}
	if c.Translate.Timeout <= 0 || c.Translate.Concurrency <= 0 {
		return bad("translate.timeout", "timeout and concurrency must be positive")
	}
	if c.Search.Path == "" {
		c.Search.Path = filepath.Join(c.DataDir, "search")
	}
	if c.Search.ApplyEvery < 10*time.Millisecond {
		return bad("search.apply_every", "must be at least 10ms")
	}
	if c.Transcode.WorkDir == "" {
		c.Transcode.WorkDir = filepath.Join(c.DataDir, "work")
	}
	if c.FFmpeg.Path == "" {
		return bad("ffmpeg.path", "must not be empty")
	}
	if c.FFprobe.Path == "" {
		return bad("ffprobe.path", "must not be empty")
	}
	if c.Queue.Workers <= 0 {
		return bad("queue.workers", "must be positive")
	}
	if c.Queue.PollInterval <= 0 {
		return bad("queue.poll_interval", "must be positive")
	}
	if c.Queue.RescueAfter <= 0 {
		return bad("queue.rescue_after", "must be positive")
	}
	if c.Auth.AccessTTL < time.Minute || c.Auth.AccessTTL > 24*time.Hour {
		return bad("auth.access_ttl", "must be between 1m and 24h")
	}
	if c.Auth.RefreshTTL < c.Auth.AccessTTL {
		return bad("auth.refresh_ttl", "must be at least auth.access_ttl")
	}
	if c.Auth.Issuer == "" || c.Auth.Audience == "" {
		return bad("auth.issuer", "issuer and audience must not be empty")
	}
	if c.Auth.HashConcurrency <= 0 {
		return bad("auth.hash_concurrency", "must be positive")
	}
	if c.Auth.Argon2Memory < 19456 {
		return bad("auth.argon2_memory_kib", "must be at least 19456 (OWASP minimum)")
	}
	if c.Auth.Argon2Time < 2 {
		return bad("auth.argon2_iterations", "must be at least 2 (OWASP minimum)")
	}
	if c.Auth.LoginMaxFails <= 0 || c.Auth.LoginWindow <= 0 {
		return bad("auth.login_max_failures", "throttle limits must be positive")
	}
	if c.Upload.MaxBytes <= 0 {
		return bad("upload.max_bytes", "must be positive")
	}
	if c.Upload.MaxDuration <= 0 {
		return bad("upload.max_duration", "must be positive")
	}
	if c.Upload.DirectUploadTTL < time.Minute {
		return bad("upload.direct_upload_ttl", "must be at least 1m")
	}
	if c.Upload.ResumableTTL < time.Minute {
		return bad("upload.resumable_ttl", "must be at least 1m")
	}
	return nil
}

func isPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// formatSize writes a size as parseSize reads it, in the largest unit that divides it.
func formatSize(n uint64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return strconv.FormatUint(n, 10)
}

// parseSize reads a size in bytes: a number, optionally followed by KiB, MiB or GiB (or K, M, G,
// which mean the same here).
func parseSize(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	return n * mult, nil
}
