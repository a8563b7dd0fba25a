package app

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"vod/app/httpx"
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

func jobView(r *rivertype.JobRow) Job {
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

var jobStates = map[string]rivertype.JobState{
	"available": rivertype.JobStateAvailable, "cancelled": rivertype.JobStateCancelled, "completed": rivertype.JobStateCompleted,
	"discarded": rivertype.JobStateDiscarded, "pending": rivertype.JobStatePending, "retryable": rivertype.JobStateRetryable,
	"running": rivertype.JobStateRunning, "scheduled": rivertype.JobStateScheduled,
}

// mountAdmin adds the job admin API (River's client operations) and the modules' admin routes.
func (a *App) mountAdmin(g *echo.Group) {
	admin := a.auth.RequireAdmin
	g.GET("/jobs", a.handleJobs, admin)
	g.POST("/jobs/:id/retry", a.handleJobAction("retry"), admin)
	g.POST("/jobs/:id/cancel", a.handleJobAction("cancel"), admin)
}

func (a *App) handleJobs(c echo.Context) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	params := river.NewJobListParams().First(page.Limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if s := c.QueryParam("state"); s != "" {
		st, ok := jobStates[s]
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
		j := jobView(r)
		out.Items = append(out.Items, j)
		if r.State == rivertype.JobStateRunning && j.VideoID != "" {
			running = append(running, j.VideoID)
		}
	}
	if len(running) > 0 {
		views, err := a.stream.VideoViews(c.Request().Context(), running)
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

func (a *App) handleJobAction(action string) echo.HandlerFunc {
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
		return c.JSON(http.StatusOK, map[string]any{"job": jobView(row)})
	}
}
