// Package translate holds the machine-translation providers subtitles can be translated with:
// Apertium APy (self-hosted, Debian's apertium-apy), LibreTranslate (its HTTP API), or none.
package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ErrUnsupported means the provider cannot translate between the two languages.
var ErrUnsupported = errors.New("translate: language pair not available")

// Provider translates texts from one BCP 47 language to another, keeping their order.
type Provider interface {
	Name() string
	Supports(ctx context.Context, from, to string) (bool, error)
	Translate(ctx context.Context, from, to string, texts []string) ([]string, error)
}

// Config selects and configures a provider.
type Config struct {
	Provider    string // none, apertium, libretranslate
	URL         string
	APIKey      string
	Timeout     time.Duration
	Concurrency int
	// MaxBatchChars bounds one request's text (LibreTranslate's default limit is 5000 characters).
	MaxBatchChars int
}

// WithDefaults returns the config with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Provider == "" {
		c.Provider = "none"
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.MaxBatchChars == 0 {
		c.MaxBatchChars = 4000
	}
	return c
}

func (c Config) validate() error {
	if c.Timeout <= 0 || c.Concurrency <= 0 || c.MaxBatchChars <= 0 {
		return errors.New("translate: timeout, concurrency and batch size must be positive")
	}
	return nil
}

// New returns the configured provider, or nil for "none".
func New(cfg Config) (Provider, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: cfg.Timeout}
	base := strings.TrimRight(cfg.URL, "/")
	switch cfg.Provider {
	case "", "none":
		return nil, nil
	case "apertium":
		return &Apertium{base: base, client: client, concurrency: cfg.Concurrency}, nil
	case "libretranslate":
		return &LibreTranslate{base: base, key: cfg.APIKey, client: client, maxChars: cfg.MaxBatchChars}, nil
	}
	return nil, fmt.Errorf("translate: unknown provider %q (none, apertium, libretranslate)", cfg.Provider)
}

// TransientError is a failure worth retrying (network, timeout, 5xx, 429).
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return "translate: " + e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// roundTrip sends req and decodes a 200 answer's JSON into out; a network failure, 5xx or 429 is
// a TransientError.
func roundTrip(client *http.Client, provider string, req *http.Request, out any) error {
	res, err := client.Do(req)
	if err != nil {
		return &TransientError{Err: err}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if res.StatusCode != http.StatusOK {
		return statusErr(provider, res.StatusCode, string(body))
	}
	return json.Unmarshal(body, out)
}

func statusErr(provider string, code int, body string) error {
	err := fmt.Errorf("%s answered %d: %s", provider, code, strings.TrimSpace(body))
	if code >= 500 || code == http.StatusTooManyRequests {
		return &TransientError{Err: err}
	}
	return err
}

// iso3 maps BCP 47 languages to the ISO 639-3 codes Apertium uses.
var iso3 = map[string]string{
	"en": "eng", "es": "spa", "fr": "fra", "de": "deu", "it": "ita", "pt": "por", "ca": "cat", "bn": "ben",
	"hi": "hin", "ru": "rus", "nl": "nld", "sv": "swe", "da": "dan", "no": "nob", "nb": "nob", "nn": "nno",
	"ro": "ron", "pl": "pol", "uk": "ukr", "ar": "ara", "eu": "eus", "gl": "glg", "oc": "oci", "eo": "epo",
}
