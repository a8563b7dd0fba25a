package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// verifyStandardWebhook checks a delivery the way the Standard Webhooks specification tells a
// receiver to: HMAC-SHA256 over "id.timestamp.body" with the secret, base64, "v1," prefix, and a
// timestamp within five minutes.
func verifyStandardWebhook(secret string, h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" {
		return fmt.Errorf("missing headers")
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp too far")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("bad signature")
}

type smtpSink struct {
	mu   sync.Mutex
	msgs []string
}

type smtpSession struct{ sink *smtpSink }

func (s *smtpSession) Reset()                               {}
func (s *smtpSession) Logout() error                        { return nil }
func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, string(b))
	s.sink.mu.Unlock()
	return err
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	const secret = "a-webhook-secret-of-some-length"
	var calls atomic.Int32
	var mu sync.Mutex
	var delivered []map[string]any
	down := atomic.Bool{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := calls.Add(1)
		if n == 1 || down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable) // the first delivery fails: it must be retried
			return
		}
		if err := verifyStandardWebhook(secret, r.Header, body); err != nil {
			t.Errorf("signature: %v", err)
			w.WriteHeader(400)
			return
		}
		var ev map[string]any
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		delivered = append(delivered, ev)
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer recv.Close()

	sink := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{sink: sink}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	a := setup(t, map[string]string{"VOD_NOTIFY_WEBHOOK_URLS": recv.URL, "VOD_NOTIFY_WEBHOOK_SECRET": secret,
		"VOD_NOTIFY_SMTP_ADDR": ln.Addr().String(), "VOD_NOTIFY_SMTP_FROM": "vod@example.com", "VOD_HTTP_PUBLIC_URL": "https://videos.example.com"})
	tok := a.token("notified")
	v := a.uploadReady(tok, clip(t, "noaudio"), map[string]string{"title": "Ping me"})
	a.eventually(30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == 2
	}, "webhooks delivered, one after a retry")
	mu.Lock()
	byType := map[string]map[string]any{}
	for _, ev := range delivered {
		byType[str(ev["type"])] = ev["data"].(map[string]any)
	}
	require.Equal(t, v.Id, byType["video.ready"]["video_id"])
	// Playable while processing (issue 14): said once, with how far it can be watched.
	require.Equal(t, v.Id, byType["video.playable"]["video_id"])
	require.Equal(t, "processing", byType["video.playable"]["status"])
	require.Greater(t, byType["video.playable"]["available_seconds"], 0.0)
	mu.Unlock()
	require.GreaterOrEqual(t, calls.Load(), int32(2))
	a.eventually(10*time.Second, func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.msgs) == 1
	}, "email received")
	sink.mu.Lock()
	require.Contains(t, sink.msgs[0], "To: notified@example.com")
	require.Contains(t, sink.msgs[0], `Subject: Your video "Ping me" is ready`)
	require.Contains(t, sink.msgs[0], "https://videos.example.com/watch/"+v.Id)
	sink.mu.Unlock()

	// A delivery pending across a restart is not lost.
	down.Store(true)
	r := a.upload(tok, clip(t, "noaudio"), map[string]string{"title": "Second"})
	require.Equal(t, 202, r.Status)
	id2 := str(r.JSON(t)["video"].(map[string]any)["id"])
	a.waitFor(id2, tok, time.Minute)
	before := calls.Load()
	a.eventually(20*time.Second, func() bool { return calls.Load() > before }, "a failing attempt")
	a = a.restart()
	down.Store(false)
	a.eventually(60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == 4
	}, "delivered after the restart")
}
