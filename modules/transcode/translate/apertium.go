package translate

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"vod/app/vodtype"
)

// Apertium talks to an Apertium APy server: GET /listPairs and GET /translate?langpair=eng|spa&q=.
type Apertium struct {
	base        string
	client      *http.Client
	concurrency int

	mu      sync.Mutex
	pairs   map[string]bool
	pairsAt time.Time
}

func (a *Apertium) Name() string { return "apertium" }

func (a *Apertium) get(ctx context.Context, path string, q url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	return roundTrip(a.client, "apertium", req, out)
}

// Supports reads the installed pairs (cached for a minute).
func (a *Apertium) Supports(ctx context.Context, from, to string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pairs == nil || time.Since(a.pairsAt) > time.Minute {
		var out struct {
			ResponseData []struct {
				SourceLanguage string `json:"sourceLanguage"`
				TargetLanguage string `json:"targetLanguage"`
			} `json:"responseData"`
		}
		if err := a.get(ctx, "/listPairs", url.Values{}, &out); err != nil {
			return false, err
		}
		a.pairs = map[string]bool{}
		for _, p := range out.ResponseData {
			a.pairs[p.SourceLanguage+"|"+p.TargetLanguage] = true
		}
		a.pairsAt = time.Now()
	}
	return a.pairs[a.pair(from, to)], nil
}

func (a *Apertium) pair(from, to string) string {
	f, t := iso3[vodtype.BaseLanguage(from)], iso3[vodtype.BaseLanguage(to)]
	if f == "" {
		f = vodtype.BaseLanguage(from)
	}
	if t == "" {
		t = vodtype.BaseLanguage(to)
	}
	return f + "|" + t
}

// Translate sends one request per text (APy translates one text a request), a few at a time.
func (a *Apertium) Translate(ctx context.Context, from, to string, texts []string) ([]string, error) {
	ok, err := a.Supports(ctx, from, to)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrUnsupported
	}
	out := make([]string, len(texts))
	errs := make([]error, len(texts))
	sem := make(chan struct{}, a.concurrency)
	var wg sync.WaitGroup
	for i, t := range texts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var res struct {
				ResponseData struct {
					TranslatedText string `json:"translatedText"`
				} `json:"responseData"`
			}
			if err := a.get(ctx, "/translate", url.Values{"langpair": {a.pair(from, to)}, "q": {t}, "markUnknown": {"no"}}, &res); err != nil {
				errs[i] = err
				return
			}
			out[i] = res.ResponseData.TranslatedText
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("apertium: %w", err)
		}
	}
	return out, nil
}
