package upload

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"vod/app/httpx"
)

// StatusChecksumMismatch is tus's status for a chunk whose checksum does not match.
const StatusChecksumMismatch = 460

// tusHeaders answers every tus request, a refusal too, with the protocol version and the CORS
// headers a browser client on another origin needs to read the responses (the credential is the
// bearer token, never a cookie, so any origin may call).
func tusHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Tus-Resumable", tusVersion)
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "Location, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires, "+
			"Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, Vod-Video-Id")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// tusError maps resumable-upload errors to the statuses of the tus spec, in the API's error shape.
func tusError(err error) error {
	var hdr *TusHeaderError
	switch {
	case errors.Is(err, ErrTusVersion):
		e := httpx.E(http.StatusPreconditionFailed, "tus_version", err.Error())
		e.Header = http.Header{"Tus-Version": {tusVersion}}
		return e
	case errors.Is(err, ErrOffsetMismatch):
		return httpx.E(http.StatusConflict, "offset_mismatch", err.Error())
	case errors.Is(err, ErrUploadLocked):
		return httpx.E(http.StatusLocked, "upload_locked", err.Error())
	case errors.Is(err, ErrChecksumMismatch):
		return httpx.E(StatusChecksumMismatch, "checksum_mismatch", err.Error())
	case errors.Is(err, ErrChecksumAlgo):
		return httpx.E(http.StatusBadRequest, "checksum_algorithm", err.Error())
	case errors.Is(err, ErrChunkType):
		return httpx.E(http.StatusUnsupportedMediaType, "unsupported_media_type", err.Error())
	case errors.Is(err, ErrUploadFinished):
		return httpx.E(http.StatusConflict, "upload_finished", err.Error())
	case errors.As(err, &hdr):
		return httpx.E(http.StatusBadRequest, "bad_header", err.Error())
	}
	return httpError(err)
}

func tusRoutes(s *Service) []httpx.Route {
	pre := []echo.MiddlewareFunc{tusHeaders}
	idParam := []httpx.Obj{httpx.PathParam("id", "resumable upload id (from Location)")}
	tusHdr := func(name, desc string, schema httpx.Obj) httpx.Obj {
		return httpx.Obj{"name": name, "in": "header", "required": true, "description": desc, "schema": schema}
	}
	optHdr := func(name, desc string) httpx.Obj {
		return httpx.Obj{"name": name, "in": "header", "required": false, "description": desc, "schema": httpx.StrType}
	}
	resumable := tusHdr("Tus-Resumable", "protocol version", httpx.Obj{"type": "string", "enum": []string{tusVersion}})
	offset := httpx.Obj{"schema": httpx.Integer, "description": "bytes received"}
	chunk := httpx.Obj{"content": httpx.Obj{"application/offset+octet-stream": httpx.Obj{"schema": httpx.Obj{"type": "string", "format": "binary"}}}}
	common := httpx.Obj{"401": httpx.ErrResp("not logged in"), "404": httpx.ErrResp("no such upload of the caller, or expired"),
		"412": httpx.ErrResp("unsupported Tus-Resumable")}
	with := func(extra httpx.Obj) httpx.Obj {
		out := httpx.Obj{}
		for k, v := range common {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	return []httpx.Route{
		{Method: http.MethodOptions, Path: "/api/v1/tus", Handler: s.handleTusOptions, Auth: httpx.Public, Pre: pre,
			Doc: httpx.Doc{Tag: "uploads", Summary: "Resumable uploads (tus 1.0.0): what the server supports",
				Responses: httpx.Obj{"204": httpx.Obj{"description": "Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm"}}}},
		{Method: http.MethodOptions, Path: "/api/v1/tus/:id", Handler: s.handleTusOptions, Auth: httpx.Public, Pre: pre,
			Doc: httpx.Doc{Tag: "uploads", Summary: "Resumable upload: CORS preflight", Params: idParam,
				Responses: httpx.Obj{"204": httpx.NoBody("what the server supports")}}},
		{Method: http.MethodPost, Path: "/api/v1/tus", Handler: s.handleTusCreate, Auth: httpx.User, Limit: httpx.LimitUpload, Pre: pre,
			Doc: httpx.Doc{Tag: "uploads", Summary: "Create a resumable upload (tus creation, creation-with-upload)",
				Params: []httpx.Obj{resumable, tusHdr("Upload-Length", "file size in bytes", httpx.Integer),
					optHdr("Upload-Metadata", "comma-separated `key base64(value)`: filename, title, description, visibility")},
				Body: chunk,
				Responses: with(httpx.Obj{
					"201": httpx.Obj{"description": "created; Location is the upload's URL, Vod-Video-Id its video",
						"headers": httpx.Obj{"Location": httpx.Obj{"schema": httpx.StrType}, "Vod-Video-Id": httpx.Obj{"schema": httpx.StrType},
							"Upload-Offset": offset, "Upload-Expires": httpx.Obj{"schema": httpx.StrType}}},
					"400": httpx.ErrResp("missing or malformed header"), "413": httpx.ErrResp("larger than the size limit"),
					"422": httpx.ErrResp("invalid metadata fields, or an empty file")})}},
		{Method: http.MethodHead, Path: "/api/v1/tus/:id", Handler: s.handleTusHead, Auth: httpx.User, Limit: httpx.LimitAPI, Pre: pre,
			Doc: httpx.Doc{Tag: "uploads", Summary: "Offset of a resumable upload", Params: append([]httpx.Obj{resumable}, idParam...),
				Responses: with(httpx.Obj{"200": httpx.Obj{"description": "Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires",
					"headers": httpx.Obj{"Upload-Offset": offset, "Upload-Length": httpx.Obj{"schema": httpx.Integer}}}})}},
		{Method: http.MethodPatch, Path: "/api/v1/tus/:id", Handler: s.handleTusPatch, Auth: httpx.User, Pre: pre,
			Doc: httpx.Doc{Tag: "uploads", Summary: "Send a chunk of a resumable upload",
				Params: append([]httpx.Obj{resumable, tusHdr("Upload-Offset", "where the chunk starts", httpx.Integer),
					optHdr("Upload-Checksum", "`<sha1|sha256|sha512|md5> <base64 digest>` of the chunk")}, idParam...),
				Body: chunk,
				Responses: with(httpx.Obj{"204": httpx.Obj{"description": "stored; Upload-Offset is the new offset",
					"headers": httpx.Obj{"Upload-Offset": offset}},
					"400": httpx.ErrResp("missing or malformed header"), "409": httpx.ErrResp("Upload-Offset is not the upload's offset"),
					"413": httpx.ErrResp("the chunk passes Upload-Length"), "415": httpx.ErrResp("not application/offset+octet-stream"),
					"423": httpx.ErrResp("another request is writing to the upload"), "460": httpx.ErrResp("checksum mismatch; chunk discarded")})}},
		{Method: http.MethodDelete, Path: "/api/v1/tus/:id", Handler: s.handleTusDelete, Auth: httpx.User, Limit: httpx.LimitAPI, Pre: pre,
			Doc: httpx.Doc{Tag: "uploads", Summary: "Cancel a resumable upload (tus termination)", Params: append([]httpx.Obj{resumable}, idParam...),
				Responses: with(httpx.Obj{"204": httpx.NoBody("removed with its video"), "409": httpx.ErrResp("already complete"),
					"423": httpx.ErrResp("a chunk is being written")})}},
		{Method: http.MethodPost, Path: "/api/v1/tus/:id", Handler: s.handleTusOverride, Auth: httpx.User, Pre: pre,
			Doc: httpx.Doc{Tag: "uploads", Summary: "PATCH, HEAD or DELETE for clients that can only POST (X-HTTP-Method-Override)",
				Params: append([]httpx.Obj{{"name": "X-HTTP-Method-Override", "in": "header", "required": true, "schema": httpx.Obj{"type": "string",
					"enum": []string{"PATCH", "HEAD", "DELETE"}}}}, idParam...),
				Body:      chunk,
				Responses: with(httpx.Obj{"204": httpx.NoBody("as the overridden method"), "405": httpx.ErrResp("no or another override")})}},
	}
}

func checkTusVersion(c echo.Context) error {
	if c.Request().Header.Get("Tus-Resumable") != tusVersion {
		return ErrTusVersion
	}
	return nil
}

func (s *Service) handleTusOptions(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Tus-Version", tusVersion)
	h.Set("Tus-Extension", tusExtensions)
	h.Set("Tus-Max-Size", strconv.FormatInt(s.cfg.MaxBytes, 10))
	h.Set("Tus-Checksum-Algorithm", tusChecksums)
	h.Set("Access-Control-Allow-Methods", "POST, HEAD, PATCH, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Tus-Resumable, Upload-Length, Upload-Metadata, "+
		"Upload-Offset, Upload-Checksum, Upload-Defer-Length, Upload-Concat, X-HTTP-Method-Override, X-Requested-With")
	h.Set("Access-Control-Max-Age", "86400")
	h.Del("Tus-Resumable") // the spec leaves it out of OPTIONS responses
	return c.NoContent(http.StatusNoContent)
}

func setTusState(c echo.Context, st TusState) {
	h := c.Response().Header()
	h.Set("Upload-Offset", strconv.FormatInt(st.Offset, 10))
	if !st.Complete {
		h.Set("Upload-Expires", st.ExpiresAt.UTC().Format(http.TimeFormat))
	}
}

func headerInt(c echo.Context, name string) (int64, error) {
	v := c.Request().Header.Get(name)
	if v == "" {
		return 0, &TusHeaderError{name, "is required"}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, &TusHeaderError{name, "must be a non-negative integer"}
	}
	return n, nil
}

func isChunk(c echo.Context) bool {
	return strings.EqualFold(strings.TrimSpace(strings.Split(c.Request().Header.Get("Content-Type"), ";")[0]), "application/offset+octet-stream")
}

func (s *Service) handleTusCreate(c echo.Context) error {
	if err := checkTusVersion(c); err != nil {
		return err
	}
	req := c.Request()
	if req.Header.Get("Upload-Defer-Length") != "" {
		return &TusHeaderError{"Upload-Defer-Length", "is not supported: send Upload-Length"}
	}
	length, err := headerInt(c, "Upload-Length")
	if err != nil {
		return err
	}
	caller, _ := httpx.CallerFrom(c)
	st, err := s.CreateTus(req.Context(), TusCreate{OwnerID: caller.ID, OwnerUsername: caller.Username, Length: length,
		Metadata: req.Header.Get("Upload-Metadata")})
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Location", "/api/v1/tus/"+st.ID)
	h.Set("Vod-Video-Id", st.VideoID)
	if isChunk(c) && req.ContentLength != 0 {
		// creation-with-upload: the body is the first chunk. The upload exists whatever becomes
		// of the chunk, so the answer is 201 with what was kept.
		sum, err := ParseChecksum(req.Header.Get("Upload-Checksum"))
		if err != nil {
			return err
		}
		if next, err := s.WriteTus(req.Context(), caller.ID, st.ID, TusChunk{Offset: 0, ContentLength: req.ContentLength, Body: req.Body, Checksum: sum}); err == nil {
			st = next
		} else if errors.Is(err, ErrAborted) {
			return nil
		} else if cur, serr := s.tusRow(req.Context(), caller.ID, st.ID); serr == nil {
			st = cur.state()
		}
	}
	setTusState(c, st)
	return c.NoContent(http.StatusCreated)
}

func (s *Service) handleTusHead(c echo.Context) error {
	if err := checkTusVersion(c); err != nil {
		return err
	}
	caller, _ := httpx.CallerFrom(c)
	st, err := s.TusStatus(c.Request().Context(), caller.ID, c.Param("id"))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	setTusState(c, st)
	h.Set("Upload-Length", strconv.FormatInt(st.Length, 10))
	if st.Metadata != "" {
		h.Set("Upload-Metadata", st.Metadata)
	}
	h.Set("Vod-Video-Id", st.VideoID)
	return c.NoContent(http.StatusOK)
}

func (s *Service) handleTusPatch(c echo.Context) error {
	if err := checkTusVersion(c); err != nil {
		return err
	}
	if !isChunk(c) {
		return ErrChunkType
	}
	off, err := headerInt(c, "Upload-Offset")
	if err != nil {
		return err
	}
	req := c.Request()
	sum, err := ParseChecksum(req.Header.Get("Upload-Checksum"))
	if err != nil {
		return err
	}
	caller, _ := httpx.CallerFrom(c)
	st, err := s.WriteTus(req.Context(), caller.ID, c.Param("id"), TusChunk{Offset: off, ContentLength: req.ContentLength, Body: req.Body, Checksum: sum})
	if err != nil {
		return err
	}
	setTusState(c, st)
	c.Response().Header().Set("Vod-Video-Id", st.VideoID)
	return c.NoContent(http.StatusNoContent)
}

func (s *Service) handleTusDelete(c echo.Context) error {
	if err := checkTusVersion(c); err != nil {
		return err
	}
	caller, _ := httpx.CallerFrom(c)
	if err := s.TerminateTus(c.Request().Context(), caller.ID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handleTusOverride serves clients that can only send POST (tus's X-HTTP-Method-Override).
func (s *Service) handleTusOverride(c echo.Context) error {
	switch strings.ToUpper(c.Request().Header.Get("X-HTTP-Method-Override")) {
	case http.MethodPatch:
		return s.handleTusPatch(c)
	case http.MethodHead:
		return s.handleTusHead(c)
	case http.MethodDelete:
		return s.handleTusDelete(c)
	}
	return httpx.E(http.StatusMethodNotAllowed, "method_not_allowed", "POST on an upload needs X-HTTP-Method-Override: PATCH, HEAD or DELETE")
}
