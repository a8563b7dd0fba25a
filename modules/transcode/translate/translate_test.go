package translate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// libreServer speaks LibreTranslate's documented API: GET /languages, POST /translate with q as a
// string or an array, api_key when keys are required.
func libreServer(t *testing.T, key string, calls *atomic.Int32, delay time.Duration) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		switch r.URL.Path {
		case "/languages":
			_ = json.NewEncoder(w).Encode([]map[string]any{
				{"code": "en", "name": "English", "targets": []string{"es", "fr"}},
				{"code": "es", "name": "Spanish", "targets": []string{"en"}},
			})
		case "/translate":
			calls.Add(1)
			var in struct {
				Q      []string `json:"q"`
				Source string   `json:"source"`
				Target string   `json:"target"`
				APIKey string   `json:"api_key"`
			}
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				http.Error(w, `{"error":"bad request"}`, 400)
				return
			}
			if key != "" && in.APIKey != key {
				w.WriteHeader(403)
				_, _ = w.Write([]byte(`{"error":"Invalid API key"}`))
				return
			}
			out := make([]string, len(in.Q))
			for i, q := range in.Q {
				out[i] = "[" + in.Target + "] " + q
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"translatedText": out})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLibreTranslate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls atomic.Int32
	srv := libreServer(t, "secret", &calls, 0)
	p, err := New(Config{Provider: "libretranslate", URL: srv.URL, APIKey: "secret", MaxBatchChars: 30})
	require.NoError(t, err)
	texts := []string{"hello there", "second line", "third line of text", "four"}
	out, err := p.Translate(ctx, "en", "es", texts)
	require.NoError(t, err)
	require.Equal(t, []string{"[es] hello there", "[es] second line", "[es] third line of text", "[es] four"}, out, "order kept")
	require.Greater(t, calls.Load(), int32(1), "batches respect the character limit")

	ok, err := p.Supports(ctx, "en", "bn")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = p.Translate(ctx, "en", "bn", texts)
	require.ErrorIs(t, err, ErrUnsupported)

	bad, _ := New(Config{Provider: "libretranslate", URL: srv.URL, APIKey: "wrong"})
	_, err = bad.Translate(ctx, "en", "es", texts)
	require.Error(t, err)
	var te *TransientError
	require.False(t, errors.As(err, &te), "a refused key is permanent")

	slow := libreServer(t, "", &calls, 300*time.Millisecond)
	p, _ = New(Config{Provider: "libretranslate", URL: slow.URL, Timeout: 100 * time.Millisecond})
	_, err = p.Translate(ctx, "en", "es", texts)
	require.ErrorAs(t, err, &te, "a time-out is transient")
}

func TestApertiumErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/listPairs" {
			_, _ = w.Write([]byte(`{"responseData":[{"sourceLanguage":"eng","targetLanguage":"spa"}],"responseStatus":200}`))
			return
		}
		if fail {
			w.WriteHeader(503)
			return
		}
		_, _ = w.Write([]byte(`{"responseData":{"translatedText":"` + strings.ToUpper(r.URL.Query().Get("q")) + `"},"responseStatus":200}`))
	}))
	defer srv.Close()
	p, _ := New(Config{Provider: "apertium", URL: srv.URL})
	_, err := p.Translate(ctx, "en", "es", []string{"a"})
	var te *TransientError
	require.ErrorAs(t, err, &te, "5xx is retried")
	fail = false
	out, err := p.Translate(ctx, "en", "es", []string{"a", "b"})
	require.NoError(t, err)
	require.Equal(t, []string{"A", "B"}, out)
	_, err = p.Translate(ctx, "en", "bn", []string{"a"})
	require.ErrorIs(t, err, ErrUnsupported)
	dead, _ := New(Config{Provider: "apertium", URL: "http://127.0.0.1:1"})
	_, err = dead.Supports(ctx, "en", "es")
	require.ErrorAs(t, err, &te, "unreachable is transient")
	_, err = New(Config{Provider: "babelfish"})
	require.Error(t, err)
}
