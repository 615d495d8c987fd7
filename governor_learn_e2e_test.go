package main

import (
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

// TestGovernorE2ELearn: the six sessions of TestGovernorE2EQuota, with no
// limit known: no tokens_per_minute in the profile, no Service Quotas
// cache, and a Service Quotas lookup that cannot connect. The governor
// admits every turn, Bedrock refuses those over its quota, and the gateways
// learn a limit from those 429s and pace the rest: all sessions are
// answered and no 429 reaches claude, in at most 1.5 times what the quota
// allows under the limit learned.
func TestGovernorE2ELearn(t *testing.T) {
	const n = 6
	const reply = "Answer paced by a learned limit."
	w := newQuotaWorld(t, reply, "")
	writeFile(t, filepath.Join(w.config, "claude-bedrock/config.toml"),
		"[profiles.code]\nmodel = \"sonnet\"\nregion = \""+e2eRegion+"\"\nmax_output_tokens = 8192\n")
	w.env = append(w.env, "AWS_ENDPOINT_URL_SERVICE_QUOTAS=http://"+closedPort(t))
	ss := w.runSessions(t, n, "hi")
	last := time.Time{}
	for _, s := range ss {
		if s.code != 0 || !strings.Contains(s.stdout.String(), reply) || s.stderr.String() != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, the reply, nothing", s.code, s.stdout.String(), s.stderr.String())
		}
		if s.end.After(last) {
			last = s.end
		}
	}
	recs := w.checkGoverned(t, n)
	throttled := 0
	for _, r := range w.fake.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	if throttled == 0 {
		t.Errorf("the fake throttled nothing: no limit was learned, the test proves nothing\n%s", fakebedrock.Summary(w.fake.Requests()))
	}

	arrivals, first := turnArrivals(t, recs)
	hold, use := 0, 0
	for _, r := range w.fake.Turns() {
		hold = max(hold, r.Held)
		use = max(use, r.InputTokens+e2eBurndown*r.OutputTokens)
	}
	d := e2eChunks * e2eChunk
	learned := firstCut(arrivals, hold, use, e2eTPM, d)
	ideal := quotaMakespan(arrivals, hold, use, e2eTPM, d)
	allowed := quotaMakespan(arrivals, hold, use, learned, d)
	took := last.Sub(first)
	t.Logf("turns arrived over %v; the quota allows them in %v, and in %v under the learned limit of %d; the sessions took %v (%.2fx); the fake throttled %d requests",
		arrivals[len(arrivals)-1], ideal, allowed, learned, took, float64(took)/float64(allowed), throttled)
	if allowed <= 0 || took > allowed*3/2 {
		t.Errorf("the sessions took %v from the first turn; under the learned limit of %d the quota allows %v (hold %d, use %d), at most 1.5x that: %v\n%s",
			took, learned, allowed, hold, use, allowed*3/2, fakebedrock.Summary(w.fake.Turns()))
	}
}

// turnArrivals returns when the turns reached a gateway, as offsets from
// the first, in order, and the first's time.
func turnArrivals(t *testing.T, recs []map[string]any) ([]time.Duration, time.Time) {
	t.Helper()
	var ats []time.Time
	for _, r := range turnsOf(recs) {
		at, err := time.Parse(time.RFC3339Nano, r["time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		ats = append(ats, at)
	}
	slices.SortFunc(ats, time.Time.Compare)
	var arrivals []time.Duration
	for _, at := range ats {
		arrivals = append(arrivals, at.Sub(ats[0]))
	}
	return arrivals, ats[0]
}

// firstCut is the limit the governor's learning comes to when turns
// arriving at the given offsets all go at once (no limit known): 0.7 times
// the first load Bedrock refuses, the first turn that does not fit with
// what was held and used before it (a first cut may be of more, what was
// in flight when that 429 came back; the next 429, of a retry beside the
// turns that fit, cuts to this); the quota itself when every turn fits.
func firstCut(arrivals []time.Duration, hold, use, quota int, d time.Duration) int {
	var ends []time.Duration
	for _, a := range arrivals {
		load := hold
		for _, e := range ends {
			if e <= a {
				load += use
			} else {
				load += hold
			}
		}
		if load > quota {
			return load * 7 / 10
		}
		ends = append(ends, a+d)
	}
	return quota
}

// closedPort returns a loopback address nothing listens on: a Service
// Quotas endpoint whose lookups fail at once, and never reach AWS.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestFirstCut(t *testing.T) {
	d := 4 * time.Second
	// Six turns at once: three fit, the fourth is refused with 4 x 62810
	// held: 0.7 x 251240.
	if got := firstCut(make([]time.Duration, 6), 62810, 22350, e2eTPM, d); got != 175868 {
		t.Errorf("six at once: %d, want 175868", got)
	}
	// Spread so that each ends before the next: none is refused.
	if got := firstCut([]time.Duration{0, 5 * time.Second, 10 * time.Second}, 62810, 22350, e2eTPM, d); got != e2eTPM {
		t.Errorf("one at a time: %d, want the quota", got)
	}
}
