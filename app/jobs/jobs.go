// Package jobs is the administrators' view of the job queue: River's jobs by state and kind with
// their video, attempts and last error, retry and cancel through River's client.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"vod/app/httpx"
	"vod/app/queue"
	"vod/app/vodtype"
)

// Job is a River job as the admin API shows it.
type Job struct {
	ID          int64  `json:"id"`
	Kind        string `json:"kind"`
	State       string `json:"state"`
	VideoID     string `json:"video_id,omitempty"`
	Attempt     int    `json:"attempt"`
	MaxAttempts int    `json:"max_attempts"`
	LastError   string `json:"last_error,omitempty"`
	// Stage and Progress are the video's processing state, shown for running jobs.
	Stage       string     `json:"stage,omitempty"`
	Progress    *int       `json:"progress,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	AttemptedAt *time.Time `json:"attempted_at"`
	FinalizedAt *time.Time `json:"finalized_at"`
}

// View is a River job as the admin API and the jobs command show it.
func View(r *rivertype.JobRow) Job {
	j := Job{ID: r.ID, Kind: r.Kind, State: string(r.State), Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		CreatedAt: r.CreatedAt.UTC(), AttemptedAt: r.AttemptedAt, FinalizedAt: r.FinalizedAt}
	var args struct {
		VideoID string `json:"video_id"`
	}
	_ = json.Unmarshal(r.EncodedArgs, &args)
	j.VideoID = args.VideoID
	if n := len(r.Errors); n > 0 {
		j.LastError = r.Errors[n-1].Error
	}
	return j
}

// States names River's job states.
var States = map[string]rivertype.JobState{
	"available": rivertype.JobStateAvailable, "cancelled": rivertype.JobStateCancelled, "completed": rivertype.JobStateCompleted,
	"discarded": rivertype.JobStateDiscarded, "pending": rivertype.JobStatePending, "retryable": rivertype.JobStateRetryable,
	"running": rivertype.JobStateRunning, "scheduled": rivertype.JobStateScheduled,
}

// Progress is what the catalog says about videos being processed (implemented by stream).
type Progress interface {
	Progress(ctx context.Context, ids []string) (map[string]vodtype.Progress, error)
}

// Admin serves /api/v1/admin/jobs.
type Admin struct {
	queue  *queue.Queue
	videos Progress
}

// New builds the admin API over the queue.
func New(q *queue.Queue, videos Progress) *Admin { return &Admin{queue: q, videos: videos} }

// Routes declares the admin job routes.
func (a *Admin) Routes(r *httpx.Router) {
	job := httpx.Resp("job", httpx.Object(nil, httpx.Obj{"job": httpx.AnyObj}))
	action := func(name string, h echo.HandlerFunc) httpx.Route {
		return httpx.Route{Method: http.MethodPost, Path: "/api/v1/admin/jobs/:id/" + name, Handler: h, Auth: httpx.Admin, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "admin", Summary: strings.ToUpper(name[:1]) + name[1:] + " a job", Params: []httpx.Obj{httpx.PathParam("id", "job id")},
				Responses: httpx.Obj{"200": job, "403": httpx.ErrResp("admins only"), "404": httpx.ErrResp("no such job")}}}
	}
	r.Add(
		httpx.Route{Method: http.MethodGet, Path: "/api/v1/admin/jobs", Handler: a.handleJobs, Auth: httpx.Admin, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "admin", Summary: "Jobs by state and kind, with their video, attempts, last error and, while running, the video's stage and progress",
				Params:    append([]httpx.Obj{httpx.QueryParam("state", "River job state", httpx.StrType), httpx.QueryParam("kind", "job kind", httpx.StrType)}, httpx.Paging...),
				Responses: httpx.Obj{"200": httpx.Resp("page of jobs", httpx.AnyObj), "403": httpx.ErrResp("admins only"), "422": httpx.ErrResp("bad state or cursor")}}},
		action("retry", a.handleJobAction("retry")),
		action("cancel", a.handleJobAction("cancel")),
	)
}

func (a *Admin) handleJobs(c echo.Context) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	params := river.NewJobListParams().First(page.Limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if s := c.QueryParam("state"); s != "" {
		st, ok := States[s]
		if !ok {
			return httpx.Validation(map[string]string{"state": "must be a River job state"})
		}
		params = params.States(st)
	}
	if k := c.QueryParam("kind"); k != "" {
		params = params.Kinds(k)
	}
	if page.Cursor != "" {
		cur := &river.JobListCursor{}
		if err := cur.UnmarshalText([]byte(page.Cursor)); err != nil {
			return httpx.Validation(map[string]string{"cursor": "is not a cursor this API returned"})
		}
		params = params.After(cur)
	}
	res, err := a.queue.List(c.Request().Context(), params)
	if err != nil {
		return err
	}
	out := httpx.List[Job]{Items: []Job{}}
	var running []string
	for _, r := range res.Jobs {
		j := View(r)
		out.Items = append(out.Items, j)
		if r.State == rivertype.JobStateRunning && j.VideoID != "" {
			running = append(running, j.VideoID)
		}
	}
	if len(running) > 0 {
		views, err := a.videos.Progress(c.Request().Context(), running)
		if err != nil {
			return err
		}
		for i, j := range out.Items {
			if v, ok := views[j.VideoID]; ok && j.State == string(rivertype.JobStateRunning) {
				p := v.Progress
				out.Items[i].Stage, out.Items[i].Progress = v.Stage, &p
			}
		}
	}
	if len(res.Jobs) == page.Limit && res.LastCursor != nil {
		if s, err := res.LastCursor.MarshalText(); err == nil {
			cur := string(s)
			out.NextCursor = &cur
		}
	}
	return c.JSON(http.StatusOK, out)
}

func (a *Admin) handleJobAction(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			return httpx.NotFound("job")
		}
		ctx := c.Request().Context()
		var row *rivertype.JobRow
		if action == "retry" {
			row, err = a.queue.Retry(ctx, id)
		} else {
			row, err = a.queue.Cancel(ctx, id)
		}
		if errors.Is(err, rivertype.ErrNotFound) {
			return httpx.NotFound("job")
		} else if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"job": View(row)})
	}
}
