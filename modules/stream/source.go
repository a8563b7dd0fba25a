package stream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"vod/app/storage"
	"vod/app/vodtype"
)

// Original uploads are never served through /media (they are whatever bytes a user sent: an HTML
// page with a script would run on our origin). Their owner, or an admin, asks for a short-lived
// signed download link instead, which answers them as an attachment that browsers do not sniff.

// sourceTTL is how long a download link works.
const sourceTTL = 5 * time.Minute

// SourceLink is the answer to GET /api/v1/videos/{id}/source.
type SourceLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Filename  string    `json:"filename"`
	Size      int64     `json:"size"`
}

func (s *Catalog) signSource(id string, exp int64) string {
	e := strconv.FormatInt(exp, 10)
	m := hmac.New(sha256.New, s.cfg.SigningKey)
	m.Write([]byte("source|" + id + "|" + e))
	return e + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func (s *Catalog) verifySource(id, token string) bool {
	e, _, ok := strings.Cut(token, ".")
	exp, err := strconv.ParseInt(e, 10, 64)
	if !ok || err != nil || time.Now().Unix() > exp {
		return false
	}
	return hmac.Equal([]byte(s.signSource(id, exp)), []byte(token))
}

// sourceLink signs a download of a video's original file. It exists only once the upload passed
// validation (status past uploading) and while the source is kept.
func (s *Catalog) sourceLink(r *videoRow) (SourceLink, error) {
	if r.Status == vodtype.StatusUploading || r.SourceKey == "" {
		return SourceLink{}, ErrNoMedia
	}
	exp := time.Now().Add(sourceTTL).Truncate(time.Second)
	return SourceLink{URL: "/api/v1/videos/" + r.ID + "/source/" + s.signSource(r.ID, exp.Unix()),
		ExpiresAt: exp.UTC(), Filename: r.SourceName, Size: r.SourceSize}, nil
}

func (a *API) handleSource(c echo.Context) error {
	r, err := a.editable(c)
	if err != nil {
		return err
	}
	link, err := a.catalog.sourceLink(r)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, link)
}

// handleSourceDownload answers a signed link: the original file as an attachment.
func (a *API) handleSourceDownload(c echo.Context) error {
	s := a.catalog
	id := c.Param("id")
	if !s.verifySource(id, c.Param("token")) {
		return ErrNoMedia
	}
	ctx := c.Request().Context()
	r, err := s.row(ctx, id)
	if errors.Is(err, ErrNoVideo) {
		return ErrNoMedia
	} else if err != nil {
		return err
	}
	if r.Status == vodtype.StatusUploading || r.SourceKey == "" {
		return ErrNoMedia
	}
	f, err := storage.Open(ctx, s.store, r.SourceKey)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNoMedia
	} else if err != nil {
		return err
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/octet-stream")
	h.Set(echo.HeaderContentDisposition, attachment(r.SourceName))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, no-store")
	http.ServeContent(c.Response(), c.Request(), "", f.Info().ModTime, f)
	return nil
}

// attachment is a Content-Disposition that makes browsers save the file under its name, with the
// name encoded per RFC 6266 (non-ASCII and quotes cannot break out of the header).
func attachment(name string) string {
	if name == "" {
		name = "source"
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment; filename=source"
}
