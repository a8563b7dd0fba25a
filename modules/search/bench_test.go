package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/stretchr/testify/require"

	"vod/app/vodtype"
)

var words = []string{"river", "mountain", "cooking", "pasta", "travel", "music", "guitar", "piano", "garden", "flower",
	"coffee", "morning", "evening", "city", "night", "train", "station", "ocean", "wave", "surf", "bread", "butter",
	"cheese", "market", "festival", "dance", "football", "goal", "match", "winter", "summer", "snow", "rain", "storm",
	"forest", "camping", "fire", "story", "history", "science", "space", "rocket", "planet", "star", "galaxy", "robot",
	"machine", "learning", "lesson", "teacher", "student", "school", "library", "book", "reading", "writing", "poem",
	"painting", "colour", "light", "shadow", "window", "door", "house", "kitchen", "recipe", "chocolate", "cake",
	"birthday", "wedding", "family", "friend", "holiday", "beach", "island", "bridge", "tower", "castle", "king", "queen",
	"dragon", "horse", "valley", "picnic", "bicycle", "engine", "garage", "repair", "review", "unboxing", "tutorial"}

// vocabulary extends the word list with 20,000 generated pseudo-words; text draws from it with a
// Zipf distribution, as natural language does, so that common words are common and most are rare.
var vocabulary = func() []string {
	syl := []string{"ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "den", "bar", "gel", "pon", "tri", "sul", "mar", "ve", "qui", "zo", "fa", "lin"}
	out := append([]string{}, words...)
	r := rand.New(rand.NewPCG(7, 7))
	seen := map[string]bool{}
	for len(out) < 20_000 {
		w := ""
		for range 2 + r.IntN(3) {
			w += syl[r.IntN(len(syl))]
		}
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}()

func sentence(r *rand.Rand, z *rand.Zipf, n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += " "
		}
		s += vocabulary[z.Uint64()]
	}
	return s
}

func dirSize(p string) int64 {
	var n int64
	_ = filepath.Walk(p, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// BenchmarkIndex builds an index of VOD_BENCH_VIDEOS videos (default 50,000) and VOD_BENCH_CUES
// cues (default 2,000,000) with the production mapping, then runs 1,000 mixed queries from 8 clients.
func BenchmarkIndex(b *testing.B) {
	nv, nc := 50_000, 2_000_000
	if v, err := strconv.Atoi(os.Getenv("VOD_BENCH_VIDEOS")); err == nil {
		nv = v
	}
	if v, err := strconv.Atoi(os.Getenv("VOD_BENCH_CUES")); err == nil {
		nc = v
	}
	// VOD_BENCH_INDEX keeps the built index at a path and reuses it on the next run, to iterate on
	// queries without rebuilding.
	path, reuse := os.Getenv("VOD_BENCH_INDEX"), false
	if path == "" {
		path = filepath.Join(b.TempDir(), "idx")
	} else if _, err := os.Stat(path); err == nil {
		reuse = true
	}
	var idx bleve.Index
	var err error
	if reuse {
		idx, err = bleve.Open(path)
	} else {
		idx, err = newIndex(path)
	}
	require.NoError(b, err)
	defer idx.Close()
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.07, 2, uint64(len(vocabulary)-1))
	langs := []string{"en", "fr", "es", "de"}
	// Each video gets one subtitle track of nc/nv cues, in one of four languages; a tenth of the
	// videos are private.
	perVideo := nc / nv
	t0 := time.Now()
	batch := idx.NewBatch()
	for i := range nv {
		if reuse {
			break
		}
		id := fmt.Sprintf("v%06d", i)
		v := vodtype.SearchVideo{ID: id, Title: sentence(r, z, 4), Description: sentence(r, z, 20), OwnerID: fmt.Sprintf("u%d", i%500),
			OwnerUsername: fmt.Sprintf("user%d", i%500), Visibility: vodtype.Public, Status: vodtype.StatusReady}
		if i%10 == 0 {
			v.Visibility = vodtype.Private
		}
		cues := make([]vodtype.Cue, perVideo)
		for n := range cues {
			cues[n] = vodtype.Cue{Start: float64(n) * 2.5, End: float64(n)*2.5 + 2, Text: sentence(r, z, 8)}
		}
		require.NoError(b, batch.Index(id, videoDoc(v, []Track{{Lang: langs[i%len(langs)], Cues: cues}})))
		if batch.Size() >= 500 {
			require.NoError(b, idx.Batch(batch))
			batch = idx.NewBatch()
		}
	}
	require.NoError(b, idx.Batch(batch))
	buildTime := time.Since(t0)
	t2 := time.Now()
	if !reuse {
		require.NoError(b, compact(context.Background(), idx))
	}
	mergeTime := time.Since(t2)
	// Merged-away segments are deleted in the background: wait for the size to settle.
	size := dirSize(path)
	for range 60 {
		time.Sleep(time.Second)
		n := dirSize(path)
		if n == size {
			break
		}
		size = n
	}

	s := &Service{cfg: Config{Path: path}, catalog: benchCatalog{}}
	s.setIndex(idx)
	s.ready.Store(true)
	// Three query sets. "content": words drawn uniformly from the vocabulary outside its 100 most
	// frequent words, the way people search for distinctive words (the most frequent words of real
	// text are stop words, which the analysers drop). "weighted": the same words drawn with the
	// text's Zipf distribution, so common content words are queried most. "frequent": every word
	// drawn with the text's distribution, the pessimistic case where queries hit the longest
	// postings lists.
	rq := rand.New(rand.NewPCG(3, 4))
	zq := rand.NewZipf(rq, 1.07, 2, uint64(len(vocabulary)-1))
	content := func() string { return vocabulary[100+rq.IntN(len(vocabulary)-100)] }
	frequent := func() string { return vocabulary[zq.Uint64()] }
	weighted := func() string {
		for {
			if n := zq.Uint64(); n >= 100 {
				return vocabulary[n]
			}
		}
	}
	kindNames := []string{"word", "two words", "phrase", "prefix", "typo"}
	makeQueries := func(word func() string) []string {
		kinds := []func() string{
			func() string { return word() },
			func() string { return word() + " " + word() },
			func() string { return `"` + word() + " " + word() + `"` },
			func() string { w := word(); return w[:min(4, len(w))] },
			func() string {
				w := []rune(word())
				if w[1] == 'x' {
					w[1] = 'q'
				} else {
					w[1] = 'x'
				}
				return string(w)
			},
		}
		qs := make([]string, 1000)
		for i := range qs {
			qs[i] = kinds[i%len(kinds)]()
		}
		return qs
	}
	run := func(name string, queries []string) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		byKind := make([][]time.Duration, len(kindNames))
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					t := time.Now()
					if _, err := s.Search(context.Background(), Request{Q: queries[i], Scope: "all", Limit: 20, CallerID: "u7"}); err != nil {
						b.Error(err)
					}
					d := time.Since(t)
					mu.Lock()
					lat = append(lat, d)
					byKind[i%len(kindNames)] = append(byKind[i%len(kindNames)], d)
					mu.Unlock()
				}
			}()
		}
		for i := range queries {
			next <- i
		}
		close(next)
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		for k, l := range byKind {
			sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
			fmt.Printf("  %s %-9s p50 %s p95 %s\n", name, kindNames[k], l[len(l)/2].Round(time.Microsecond), l[len(l)*95/100].Round(time.Microsecond))
		}
		return lat
	}
	if p := os.Getenv("VOD_BENCH_QUERY_PROFILE"); p != "" {
		f, err := os.Create(p)
		require.NoError(b, err)
		require.NoError(b, pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	// The server runs with runtime.gc_percent (default 400) unless GOGC is set; the queries run at
	// that setting and again at Go's own default, 100.
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	serverGC := 400
	if os.Getenv("GOGC") != "" {
		serverGC = orig
	}
	p := func(lat []time.Duration, q float64) time.Duration {
		return lat[int(float64(len(lat)-1)*q)].Round(time.Microsecond)
	}
	fmt.Printf("index: %d videos with %d cues in %s (%.0f cues/s), merged in %s, %.0f MiB on disk\n", nv, perVideo*nv,
		buildTime.Round(time.Millisecond), float64(perVideo*nv)/buildTime.Seconds(), mergeTime.Round(time.Millisecond), float64(size)/(1<<20))
	b.ResetTimer()
	for _, gc := range []int{serverGC, 100} {
		debug.SetGCPercent(gc)
		fmt.Printf("GOGC=%d\n", gc)
		latC := run("content", makeQueries(content))
		latW := run("weighted", makeQueries(weighted))
		latF := run("frequent", makeQueries(frequent))
		fmt.Printf("content-word queries: p50 %s p95 %s p99 %s\n", p(latC, 0.5), p(latC, 0.95), p(latC, 0.99))
		fmt.Printf("weighted content-word queries: p50 %s p95 %s p99 %s\n", p(latW, 0.5), p(latW, 0.95), p(latW, 0.99))
		fmt.Printf("frequent-word queries: p50 %s p95 %s p99 %s\n", p(latF, 0.5), p(latF, 0.95), p(latF, 0.99))
		if gc == serverGC {
			b.ReportMetric(float64(p(latC, 0.95).Microseconds())/1000, "p95-content-ms")
			b.ReportMetric(float64(p(latW, 0.95).Microseconds())/1000, "p95-weighted-ms")
			b.ReportMetric(float64(p(latF, 0.95).Microseconds())/1000, "p95-frequent-ms")
		}
	}
	b.StopTimer()
	if !reuse {
		b.ReportMetric(float64(perVideo*nv)/buildTime.Seconds(), "cues/s")
	}
	b.ReportMetric(float64(size)/(1<<20), "index-MiB")
}

// benchCatalog stands in for the database's video views: the benchmark measures the index.
type benchCatalog struct{}

func (benchCatalog) SearchVideo(context.Context, string) (vodtype.SearchVideo, error) {
	return vodtype.SearchVideo{}, vodtype.ErrNoVideo
}
func (benchCatalog) VideoIDs(context.Context, string, int) ([]string, error) { return nil, nil }
func (benchCatalog) Views(_ context.Context, ids []string) (map[string]any, error) {
	out := make(map[string]any, len(ids))
	for _, id := range ids {
		out[id] = id
	}
	return out, nil
}
