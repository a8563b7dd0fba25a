// Package metrics exposes Prometheus metrics: HTTP requests by route and status, River jobs by kind
// and outcome, queue depth, storage operations, upload bytes, transcode speed, and Go runtime
// metrics. Everything is registered on a registry of its own (no globals).
package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"vod/app/db"
	"vod/app/storage"
	"vod/app/vodtype"
)

// Metrics holds every collector.
type Metrics struct {
	reg         *prometheus.Registry
	httpReqs    *prometheus.CounterVec
	httpDur     *prometheus.HistogramVec
	jobs        *prometheus.CounterVec
	jobDur      *prometheus.HistogramVec
	storageDur  *prometheus.HistogramVec
	storageErrs *prometheus.CounterVec
	uploadBytes prometheus.Counter
	speed       prometheus.Histogram
	encodeRuns  prometheus.Counter
	encodeCPU   prometheus.Counter
	videoCPU    prometheus.Histogram
	videoRSS    prometheus.Histogram
}

// New builds the collectors; queue depth is read from the database at scrape time.
func New(d *db.DB) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vod_http_requests_total", Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"})
	m.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vod_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14)}, []string{"route", "method"})
	m.jobs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vod_jobs_total", Help: "Jobs worked by kind and outcome."}, []string{"kind", "outcome"})
	m.jobDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vod_job_duration_seconds", Help: "Job run time by kind and outcome.",
		Buckets: prometheus.ExponentialBuckets(0.01, 3, 12)}, []string{"kind", "outcome"})
	m.storageDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vod_storage_operation_duration_seconds", Help: "Storage operation latency.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 3, 12)}, []string{"backend", "op"})
	m.storageErrs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vod_storage_errors_total", Help: "Failed storage operations."}, []string{"backend", "op"})
	m.uploadBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "vod_upload_bytes_total", Help: "Bytes of uploaded sources stored."})
	m.speed = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vod_transcode_speed_ratio", Help: "Encode speed as a multiple of real time.",
		Buckets: []float64{0.25, 0.5, 1, 2, 4, 8, 16, 32}})
	m.encodeRuns = prometheus.NewCounter(prometheus.CounterOpts{Name: "vod_encode_runs_total", Help: "ffmpeg encode runs (chunks and audio tracks), so that duplicate work shows."})
	m.encodeCPU = prometheus.NewCounter(prometheus.CounterOpts{Name: "vod_encode_cpu_seconds_total", Help: "CPU seconds used by ffmpeg encode runs."})
	m.videoCPU = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vod_video_encode_cpu_seconds", Help: "Encode CPU seconds per finished video (sum over its parts).",
		Buckets: prometheus.ExponentialBuckets(1, 3, 10)})
	m.videoRSS = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vod_video_encode_peak_rss_bytes", Help: "Largest resident set of any ffmpeg run of a finished video.",
		Buckets: prometheus.ExponentialBuckets(32<<20, 2, 9)})
	m.reg.MustRegister(m.httpReqs, m.httpDur, m.jobs, m.jobDur, m.storageDur, m.storageErrs, m.uploadBytes, m.speed, m.encodeRuns, m.encodeCPU, m.videoCPU, m.videoRSS,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &queueDepth{db: d})
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Echo records every request by its route pattern (never the raw path, to bound cardinality).
func (m *Metrics) Echo(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		t := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		if err != nil && !c.Response().Committed {
			status = errStatus(err)
		}
		m.httpReqs.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
		m.httpDur.WithLabelValues(route, c.Request().Method).Observe(time.Since(t).Seconds())
		return err
	}
}

func errStatus(err error) int {
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) {
		return s.HTTPStatus()
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	return http.StatusInternalServerError
}

// EncodeRun records one ffmpeg encode run and its CPU seconds.
func (m *Metrics) EncodeRun(cpu float64) { m.encodeRuns.Inc(); m.encodeCPU.Add(cpu) }

// VideoEncoded records the encode CPU seconds and the largest ffmpeg resident set of a finished video.
func (m *Metrics) VideoEncoded(cpu float64, peakRSS uint64, _ int) {
	m.videoCPU.Observe(cpu)
	m.videoRSS.Observe(float64(peakRSS))
}

// TranscodeSpeed records how many seconds of video were encoded per second.
func (m *Metrics) TranscodeSpeed(x float64) { m.speed.Observe(x) }

// Worker is River middleware that counts and times every job.
func (m *Metrics) Worker() rivertype.WorkerMiddleware { return &workerMW{m: m} }

type workerMW struct {
	river.MiddlewareDefaults
	m *Metrics
}

func (w *workerMW) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	t := time.Now()
	err := doInner(ctx)
	outcome := "completed"
	if err != nil {
		outcome = "error"
		var cancel *river.JobCancelError
		if errors.As(err, &cancel) {
			outcome = "cancelled"
		}
	}
	w.m.jobs.WithLabelValues(job.Kind, outcome).Inc()
	w.m.jobDur.WithLabelValues(job.Kind, outcome).Observe(time.Since(t).Seconds())
	return err
}

type queueDepth struct{ db *db.DB }

var depthDesc = prometheus.NewDesc("vod_queue_jobs", "Jobs in the queue by state.", []string{"state"}, nil)

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var rows []struct {
		State string
		N     int64
	}
	if err := q.db.Gorm.WithContext(ctx).Raw(`SELECT state, COUNT(*) AS n FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled') GROUP BY state`).Scan(&rows).Error; err != nil {
		return
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.State] = true
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(r.N), r.State)
	}
	for _, s := range []string{"available", "running", "retryable", "scheduled"} {
		if !seen[s] {
			ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, 0, s)
		}
	}
}

// Storage wraps a backend to time its operations, count its errors and the bytes of stored uploads.
func (m *Metrics) Storage(s storage.Storage) storage.Storage { return &instrumented{Storage: s, m: m} }

type instrumented struct {
	storage.Storage
	m *Metrics
}

func (i *instrumented) Unwrap() storage.Storage { return i.Storage }

func (i *instrumented) observe(op string, t time.Time, err error) {
	i.m.storageDur.WithLabelValues(i.Storage.Name(), op).Observe(time.Since(t).Seconds())
	if err != nil && err != storage.ErrNotFound {
		i.m.storageErrs.WithLabelValues(i.Storage.Name(), op).Inc()
	}
}

func (i *instrumented) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.Object, error) {
	t := time.Now()
	o, err := i.Storage.Put(ctx, key, r, size, opts)
	i.observe("put", t, err)
	if err == nil && vodtype.IsSourceKey(key) {
		i.m.uploadBytes.Add(float64(o.Size))
	}
	return o, err
}

func (i *instrumented) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, storage.Object, error) {
	t := time.Now()
	rc, o, err := i.Storage.Get(ctx, key, off, n)
	i.observe("get", t, err)
	return rc, o, err
}

func (i *instrumented) Stat(ctx context.Context, key string) (storage.Object, error) {
	t := time.Now()
	o, err := i.Storage.Stat(ctx, key)
	i.observe("stat", t, err)
	return o, err
}

func (i *instrumented) Delete(ctx context.Context, key string) error {
	t := time.Now()
	err := i.Storage.Delete(ctx, key)
	i.observe("delete", t, err)
	return err
}

func (i *instrumented) DeletePrefix(ctx context.Context, prefix string) error {
	t := time.Now()
	err := i.Storage.DeletePrefix(ctx, prefix)
	i.observe("delete_prefix", t, err)
	return err
}
