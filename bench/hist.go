package bench

import (
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to 120 s, to 3
// significant figures.
const (
	histMin     = 1
	histMax     = 120_000_000
	histSigFigs = 3
	histShards  = 16
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMin, histMax, histSigFigs)
}

// shardedHist is a histogram many goroutines record into: each records into
// the shard of its index, under that shard's lock.
type shardedHist struct {
	shards [histShards]struct {
		mu sync.Mutex
		h  *hdrhistogram.Histogram
	}
}

func newShardedHist() *shardedHist {
	s := &shardedHist{}
	for i := range s.shards {
		s.shards[i].h = newHist()
	}
	return s
}

func (s *shardedHist) record(shard int, micros int64) {
	if micros < histMin {
		micros = histMin
	}
	if micros > histMax {
		micros = histMax
	}
	sh := &s.shards[shard%histShards]
	sh.mu.Lock()
	sh.h.RecordValue(micros)
	sh.mu.Unlock()
}

// merged returns one histogram of every shard.
func (s *shardedHist) merged() *hdrhistogram.Histogram {
	out := newHist()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		out.Merge(sh.h)
		sh.mu.Unlock()
	}
	return out
}

// Latency summarises a histogram of microseconds, in milliseconds.
type Latency struct {
	Count  int64   `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	MinMS  float64 `json:"min_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	MaxMS  float64 `json:"max_ms"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		Count:  h.TotalCount(),
		MeanMS: h.Mean() / 1000,
		MinMS:  ms(h.Min()),
		P50MS:  ms(h.ValueAtQuantile(50)),
		P90MS:  ms(h.ValueAtQuantile(90)),
		P99MS:  ms(h.ValueAtQuantile(99)),
		P999MS: ms(h.ValueAtQuantile(99.9)),
		MaxMS:  ms(h.Max()),
	}
}
