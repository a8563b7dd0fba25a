// Package notify tells the outside world when a video is ready or failed: signed webhooks in the
// style of the Standard Webhooks specification (webhook-id, webhook-timestamp, webhook-signature =
// v1,base64(HMAC-SHA256(secret, id.timestamp.body))) and an email to the uploader over SMTP. Each
// delivery is a River job inserted in the transaction that changes the video, retried with backoff
// and logged, so a restart never loses one.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"vod/app/db"
	"vod/app/queue"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's versioned SQL files.
func Migrations() embed.FS { return migrations }

// Endpoint is one webhook receiver.
type Endpoint struct {
	URL    string
	Secret string
}

// SMTP configures email; an empty Addr disables it.
type SMTP struct {
	Addr, From, Username, Password string
}

// Config is the notifications part of the configuration.
type Config struct {
	Endpoints []Endpoint
	SMTP      SMTP
	// PublicURL prefixes links in emails.
	PublicURL string
	Timeout   time.Duration
}

// Event is something that happened to a video.
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // video.playable, video.ready or video.failed
	Timestamp time.Time `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData is the video the event is about.
type EventData struct {
	VideoID string `json:"video_id"`
	Title   string `json:"title"`
	OwnerID string `json:"owner_id"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
	// AvailableSeconds is how far a processing video can be watched (video.playable).
	AvailableSeconds float64 `json:"available_seconds,omitempty"`
}

// Users looks up the uploader's address (implemented by auth).
type Users interface {
	Email(ctx context.Context, userID string) (string, error)
}

// Notifier inserts and delivers notifications.
type Notifier struct {
	cfg    Config
	db     *db.DB
	queue  *queue.Queue
	users  Users
	client *http.Client
	log    *slog.Logger
}

// New registers the delivery workers on q.
func New(d *db.DB, q *queue.Queue, users Users, cfg Config, log *slog.Logger) *Notifier {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	n := &Notifier{cfg: cfg, db: d, queue: q, users: users, client: &http.Client{Timeout: cfg.Timeout}, log: log}
	river.AddWorker(q.Workers, &webhookWorker{n: n})
	river.AddWorker(q.Workers, &emailWorker{n: n})
	return n
}

type webhookArgs struct {
	Endpoint string `json:"endpoint"`
	Event    Event  `json:"event"`
}

func (webhookArgs) Kind() string { return "notify.webhook" }

type emailArgs struct {
	Event Event `json:"event"`
}

func (emailArgs) Kind() string { return "notify.email" }

// VideoEventTx queues the deliveries of an event inside the transaction that caused it.
func (n *Notifier) VideoEventTx(ctx context.Context, tx *db.Tx, typ string, data EventData) error {
	ev := Event{ID: "msg_" + uuid.NewString(), Type: typ, Timestamp: time.Now().UTC().Truncate(time.Second), Data: data}
	for _, ep := range n.cfg.Endpoints {
		if _, err := n.queue.InsertTx(ctx, tx, webhookArgs{Endpoint: ep.URL, Event: ev}, &river.InsertOpts{MaxAttempts: 12}); err != nil {
			return err
		}
	}
	// Mail says a video is done; that it can be watched early is for webhooks and the web app.
	if n.cfg.SMTP.Addr != "" && typ != "video.playable" {
		if _, err := n.queue.InsertTx(ctx, tx, emailArgs{Event: ev}, &river.InsertOpts{MaxAttempts: 8}); err != nil {
			return err
		}
	}
	return nil
}

// Sign returns the Standard Webhooks signature header value for a message.
func Sign(secret, msgID string, ts time.Time, body []byte) string {
	key := []byte(secret)
	if s, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(s); err == nil {
			key = k
		}
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", msgID, ts.Unix())
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type webhookWorker struct {
	river.WorkerDefaults[webhookArgs]
	n *Notifier
}

func (w *webhookWorker) Timeout(*river.Job[webhookArgs]) time.Duration { return time.Minute }

func (w *webhookWorker) Work(ctx context.Context, job *river.Job[webhookArgs]) error {
	n := w.n
	var secret string
	for _, ep := range n.cfg.Endpoints {
		if ep.URL == job.Args.Endpoint {
			secret = ep.Secret
		}
	}
	body, _ := json.Marshal(job.Args.Event)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.Args.Endpoint, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(err)
	}
	now := time.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", job.Args.Event.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(secret, job.Args.Event.ID, now, body))
	status, errText := 0, ""
	res, err := n.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		status = res.StatusCode
		if status < 200 || status > 299 {
			err = fmt.Errorf("receiver answered %d", status)
		}
	}
	if err != nil {
		errText = err.Error()
	}
	logErr := n.db.Gorm.WithContext(ctx).Exec(`INSERT INTO webhook_deliveries (id, endpoint, event_type, video_id, attempt, status_code, error, delivered_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, uuid.NewString(), job.Args.Endpoint, job.Args.Event.Type, job.Args.Event.Data.VideoID,
		job.Attempt, status, errText, time.Now().UTC()).Error
	if logErr != nil {
		n.log.Warn("webhook delivery log", "err", logErr)
	}
	return err // River retries with backoff
}

type emailWorker struct {
	river.WorkerDefaults[emailArgs]
	n *Notifier
}

func (w *emailWorker) Timeout(*river.Job[emailArgs]) time.Duration { return time.Minute }

func (w *emailWorker) Work(ctx context.Context, job *river.Job[emailArgs]) error {
	n, ev := w.n, job.Args.Event
	to, err := n.users.Email(ctx, ev.Data.OwnerID)
	if err != nil {
		return river.JobCancel(err)
	}
	subject, text := fmt.Sprintf("Your video %q is ready", ev.Data.Title), "It can be watched now"
	if ev.Type == "video.failed" {
		subject, text = fmt.Sprintf("Your video %q could not be processed", ev.Data.Title), "Processing failed: "+ev.Data.Error
	}
	link := strings.TrimRight(n.cfg.PublicURL, "/") + "/watch/" + ev.Data.VideoID
	msg := "From: " + n.cfg.SMTP.From + "\r\nTo: " + to + "\r\nSubject: " + mimeHeader(subject) +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nMessage-ID: <" + ev.ID + "@vod>\r\n\r\n" +
		text + ".\r\n\r\n" + link + "\r\n"
	var auth smtp.Auth
	if n.cfg.SMTP.Username != "" {
		host, _, _ := strings.Cut(n.cfg.SMTP.Addr, ":")
		auth = smtp.PlainAuth("", n.cfg.SMTP.Username, n.cfg.SMTP.Password, host)
	}
	return smtp.SendMail(n.cfg.SMTP.Addr, auth, n.cfg.SMTP.From, []string{to}, []byte(msg))
}

func mimeHeader(s string) string {
	for _, r := range s {
		if r > 127 {
			return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
		}
	}
	return s
}
