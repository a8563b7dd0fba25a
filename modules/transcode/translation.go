package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/riverqueue/river"

	"vod/app/db"
	"vod/app/queue"
	"vod/app/vodtype"
	"vod/modules/transcode/translate"
)

// TranslationConfig selects the provider and the languages every published video gets.
type TranslationConfig struct {
	Provider translate.Provider // nil: no translation
	Targets  []string
}

type translatePlanArgs struct {
	VideoID string `json:"video_id"`
}

func (translatePlanArgs) Kind() string { return "transcode.translate_plan" }

type translateArgs struct {
	VideoID string `json:"video_id"`
	From    string `json:"from"`
	To      string `json:"to"`
}

func (translateArgs) Kind() string { return "transcode.translate" }

// planTx queues the translations of a freshly published video (inside the publishing transaction).
func (s *Service) planTx(ctx context.Context, tx *db.Tx, videoID string) error {
	if s.cfg.Translation.Provider == nil || len(s.cfg.Translation.Targets) == 0 {
		return nil
	}
	_, err := s.queue.InsertTx(ctx, tx, translatePlanArgs{VideoID: videoID}, nil)
	return err
}

type planWorker struct {
	river.WorkerDefaults[translatePlanArgs]
	s *Service
}

func (w *planWorker) Timeout(*river.Job[translatePlanArgs]) time.Duration { return time.Minute }

// Work picks one source track (English when there is one, else the first) and inserts one job per
// target language that the video does not already have in its own right.
func (w *planWorker) Work(ctx context.Context, job *river.Job[translatePlanArgs]) error {
	s := w.s
	files, err := s.catalog.SubtitleFiles(ctx, job.Args.VideoID)
	if err != nil {
		return err
	}
	var source *vodtype.SubtitleFile
	own := map[string]bool{}
	for i := range files {
		f := &files[i]
		if f.Source == vodtype.SourceTranslated {
			continue
		}
		own[f.Lang] = true
		if source == nil || (vodtype.BaseLanguage(f.Lang) == "en" && vodtype.BaseLanguage(source.Lang) != "en") {
			source = f
		}
	}
	if source == nil {
		return nil
	}
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		for _, t := range s.cfg.Translation.Targets {
			if own[t] || vodtype.BaseLanguage(t) == vodtype.BaseLanguage(source.Lang) {
				continue
			}
			if _, err := s.queue.InsertTx(ctx, tx, translateArgs{VideoID: job.Args.VideoID, From: source.Lang, To: t},
				&river.InsertOpts{MaxAttempts: 6}); err != nil {
				return err
			}
		}
		return queue.CompleteTx(ctx, tx, job)
	})
}

type translateWorker struct {
	river.WorkerDefaults[translateArgs]
	s *Service
}

func (w *translateWorker) Timeout(*river.Job[translateArgs]) time.Duration { return 15 * time.Minute }

// Work translates one track, keeping every cue's timing and order; markup is stripped so the engine
// sees plain sentences. A pair the provider lacks becomes a note on the video, not a failure.
func (w *translateWorker) Work(ctx context.Context, job *river.Job[translateArgs]) error {
	s, a := w.s, job.Args
	p := s.cfg.Translation.Provider
	if p == nil {
		return river.JobCancel(errors.New("translation is not configured"))
	}
	ok, err := p.Supports(ctx, a.From, a.To)
	if err != nil {
		return err // unreachable provider: retried with backoff
	}
	if !ok {
		return s.note(ctx, a.VideoID, fmt.Sprintf("translation to %s not available from %s", a.To, p.Name()))
	}
	files, err := s.catalog.SubtitleFiles(ctx, a.VideoID)
	if errors.Is(err, vodtype.ErrNoVideo) {
		return river.JobCancel(err)
	} else if err != nil {
		return err
	}
	var src *vodtype.SubtitleFile
	for i := range files {
		if files[i].Lang == a.From {
			src = &files[i]
		}
	}
	if src == nil {
		return river.JobCancel(fmt.Errorf("video %s has no %s track", a.VideoID, a.From))
	}
	rc, _, err := s.store.Get(ctx, src.Key, 0, -1)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	rc.Close()
	if err != nil {
		return err
	}
	cues, err := vodtype.ParseCues(raw)
	if err != nil {
		return river.JobCancel(err)
	}
	texts := make([]string, len(cues))
	for i, c := range cues {
		texts[i] = vodtype.PlainText(c.Text)
	}
	out, err := p.Translate(ctx, a.From, a.To, texts)
	if errors.Is(err, translate.ErrUnsupported) {
		return s.note(ctx, a.VideoID, fmt.Sprintf("translation to %s not available from %s", a.To, p.Name()))
	}
	var te *translate.TransientError
	if err != nil && !errors.As(err, &te) && !errors.Is(err, context.DeadlineExceeded) {
		_ = s.note(ctx, a.VideoID, fmt.Sprintf("translation to %s failed: the %s service refused the text", a.To, p.Name()))
		return river.JobCancel(err)
	} else if err != nil {
		return err
	}
	for i := range cues {
		cues[i].Text = out[i]
	}
	err = s.catalog.AddSubtitleFile(ctx, a.VideoID, a.To, vodtype.LanguageLabel(a.To), vodtype.SourceTranslated, vodtype.WriteVTT(cues))
	if errors.Is(err, vodtype.ErrNoVideo) {
		return river.JobCancel(err)
	}
	return err
}

func (s *Service) note(ctx context.Context, id, note string) error {
	if err := s.catalog.AddNote(ctx, id, note); err != nil && !errors.Is(err, vodtype.ErrNoVideo) {
		return err
	}
	return nil
}

// TranslationRequest is a queued on-demand translation.
type TranslationRequest struct {
	VideoID  string `json:"video_id"`
	Source   string `json:"source"`
	Target   string `json:"target"`
	Status   string `json:"status"`
	Provider string `json:"provider"`
}

// Translate queues a translation of the video's track lang into target.
func (s *Service) Translate(ctx context.Context, id, lang, target string) (TranslationRequest, error) {
	if !vodtype.ValidLanguage(target) || vodtype.BaseLanguage(target) == vodtype.BaseLanguage(lang) {
		return TranslationRequest{}, vodtype.FieldErrors{"target": "must be a language tag other than the source's"}
	}
	if s.cfg.Translation.Provider == nil {
		return TranslationRequest{}, ErrNoProvider
	}
	files, err := s.catalog.SubtitleFiles(ctx, id)
	if err != nil {
		return TranslationRequest{}, err
	}
	found := false
	for _, f := range files {
		found = found || f.Lang == lang
	}
	if !found {
		return TranslationRequest{}, ErrNoTrack
	}
	if _, err := s.queue.Insert(ctx, translateArgs{VideoID: id, From: lang, To: target}, &river.InsertOpts{MaxAttempts: 6}); err != nil {
		return TranslationRequest{}, err
	}
	return TranslationRequest{VideoID: id, Source: lang, Target: target, Status: "queued", Provider: s.cfg.Translation.Provider.Name()}, nil
}
