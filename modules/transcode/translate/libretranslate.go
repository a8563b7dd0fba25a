package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"vod/app/vodtype"
)

// LibreTranslate talks to a LibreTranslate server: GET /languages and POST /translate with q as an
// array, batched under the server's character limit.
type LibreTranslate struct {
	base     string
	key      string
	client   *http.Client
	maxChars int

	mu      sync.Mutex
	targets map[string]map[string]bool
	at      time.Time
}

func (l *LibreTranslate) Name() string { return "libretranslate" }

func (l *LibreTranslate) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return roundTrip(l.client, "libretranslate", req, out)
}

func (l *LibreTranslate) Supports(ctx context.Context, from, to string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.targets == nil || time.Since(l.at) > time.Minute {
		var langs []struct {
			Code    string   `json:"code"`
			Targets []string `json:"targets"`
		}
		if err := l.do(ctx, http.MethodGet, "/languages", nil, &langs); err != nil {
			return false, err
		}
		l.targets = map[string]map[string]bool{}
		for _, lg := range langs {
			l.targets[lg.Code] = map[string]bool{}
			for _, t := range lg.Targets {
				l.targets[lg.Code][t] = true
			}
		}
		l.at = time.Now()
	}
	return l.targets[vodtype.BaseLanguage(from)][vodtype.BaseLanguage(to)], nil
}

func (l *LibreTranslate) Translate(ctx context.Context, from, to string, texts []string) ([]string, error) {
	ok, err := l.Supports(ctx, from, to)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrUnsupported
	}
	out := make([]string, 0, len(texts))
	for start := 0; start < len(texts); {
		end, chars := start, 0
		for end < len(texts) && (end == start || chars+len(texts[end]) <= l.maxChars) {
			chars += len(texts[end])
			end++
		}
		body := map[string]any{"q": texts[start:end], "source": vodtype.BaseLanguage(from), "target": vodtype.BaseLanguage(to), "format": "text"}
		if l.key != "" {
			body["api_key"] = l.key
		}
		var res struct {
			TranslatedText []string `json:"translatedText"`
		}
		if err := l.do(ctx, http.MethodPost, "/translate", body, &res); err != nil {
			return nil, err
		}
		if len(res.TranslatedText) != end-start {
			return nil, fmt.Errorf("libretranslate returned %d texts for %d", len(res.TranslatedText), end-start)
		}
		out = append(out, res.TranslatedText...)
		start = end
	}
	return out, nil
}
