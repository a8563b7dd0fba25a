package transcode

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"vod/app/httpx"
	"vod/app/vodtype"
)

// httpError is the module's one map from domain errors to HTTP.
func httpError(err error) error {
	switch {
	case errors.Is(err, ErrNoVideo):
		return httpx.NotFound("video")
	case errors.Is(err, ErrNoTrack):
		return httpx.NotFound("subtitle track")
	case errors.Is(err, ErrForbidden):
		return httpx.E(http.StatusForbidden, "forbidden", "only the owner or an admin may do this")
	case errors.Is(err, ErrSourceMissing):
		return httpx.E(http.StatusConflict, "source_missing", "the original upload is no longer stored, so the video cannot be processed again")
	case errors.Is(err, ErrNoProvider):
		return httpx.E(http.StatusConflict, "translation_unavailable", "no translation provider is configured")
	case errors.Is(err, ErrBusy):
		return httpx.E(http.StatusConflict, "video_busy", "the video is still being processed")
	}
	return err
}

// Routes declares reprocessing and on-demand translation (under /api/v1).
func (s *Service) Routes(root *httpx.Router) {
	r := root.WithErrors(httpError)
	r.Add(
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/videos/:id/reprocess", Handler: s.handleReprocess, Auth: httpx.User, Limit: httpx.LimitMetadata,
			Doc: httpx.Doc{Tag: "videos", Summary: "Process the kept source again (owner or admin)", Params: []httpx.Obj{httpx.VideoIDParam},
				Responses: httpx.Obj{"202": httpx.Resp("queued", httpx.Object(nil, httpx.Obj{"video": httpx.Ref("Video")})),
					"403": httpx.ErrResp("not yours"), "404": httpx.ErrResp("not found"), "409": httpx.ErrResp("still processing or source gone")}}},
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/videos/:id/subtitles/:lang/translations", Handler: s.handleTranslate, Auth: httpx.User, Limit: httpx.LimitMetadata,
			Doc: httpx.Doc{Tag: "videos", Summary: "Translate a subtitle track on demand (owner or admin)",
				Params: []httpx.Obj{httpx.VideoIDParam, httpx.PathParam("lang", "source track language")},
				Body:   httpx.JSONBody(httpx.Object([]string{"target"}, httpx.Obj{"target": httpx.StrType})),
				Responses: httpx.Obj{"202": httpx.Resp("queued", httpx.AnyObj), "403": httpx.ErrResp("not yours"), "404": httpx.ErrResp("no such video or track"),
					"409": httpx.ErrResp("no provider configured"), "422": httpx.ErrResp("invalid target")}}},
	)
}

// owned returns the video when the caller may run owner-only actions on it: a private video of
// someone else does not exist for them (404), a visible one is forbidden (403).
func (s *Service) owned(c echo.Context, id string) (vodtype.PipelineVideo, error) {
	v, err := s.catalog.PipelineVideo(c.Request().Context(), id)
	if err != nil {
		return v, err
	}
	caller, _ := httpx.CallerFrom(c)
	if caller.ID != v.OwnerID && !caller.Admin {
		if v.Visibility == vodtype.Private {
			return v, ErrNoVideo
		}
		return v, ErrForbidden
	}
	return v, nil
}

func (s *Service) handleReprocess(c echo.Context) error {
	v, err := s.owned(c, c.Param("id"))
	if err != nil {
		return err
	}
	view, err := s.Reprocess(c.Request().Context(), v)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"video": view})
}

func (s *Service) handleTranslate(c echo.Context) error {
	id, lang := c.Param("id"), c.Param("lang")
	if _, err := s.owned(c, id); err != nil {
		return err
	}
	var in struct {
		Target string `json:"target"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	req, err := s.Translate(c.Request().Context(), id, lang, strings.ToLower(strings.TrimSpace(in.Target)))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"translation": req})
}
