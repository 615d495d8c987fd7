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
// itself allows (as TestGovernorE2EQuota, where the limit is known: the
// learning costs a 429 or two and a few seconds, not the window).
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
	arrivals, first := turnArrivals(t, recs)
	hold, use := 0, 0
	for _, r := range w.fake.Turns() {
		hold = max(hold, r.Held)
		use = max(use, r.InputTokens+e2eBurndown*r.OutputTokens)
	}
	if hold > 0 && maxOverlap(arrivals, e2eChunks*e2eChunk) > e2eTPM/hold && throttled == 0 {
		// More turns arrived within one answer's time than the quota
		// holds at once: the fake must have refused some, and the limit
		// was learned from those 429s. (Turns that a slow machine started
		// further apart fit as they came, and teach nothing.)
		t.Errorf("the fake throttled nothing: no limit was learned, the test proves nothing\n%s", fakebedrock.Summary(w.fake.Requests()))
	}
	ideal := quotaMakespan(arrivals, hold, use, e2eTPM, e2eChunks*e2eChunk)
	took := last.Sub(first)
	t.Logf("turns arrived over %v; the quota allows them in %v; the sessions took %v (%.2fx); the fake throttled %d requests",
		arrivals[len(arrivals)-1], ideal, took, float64(took)/float64(ideal), throttled)
	if ideal <= 0 || took > ideal*3/2 {
		t.Errorf("the sessions took %v from the first turn; the quota allows %v (hold %d, use %d), at most 1.5x that: %v\n%s",
			took, ideal, hold, use, ideal*3/2, fakebedrock.Summary(w.fake.Turns()))
	}
}

// maxOverlap is the most arrivals (sorted offsets) within any span of d.
func maxOverlap(arrivals []time.Duration, d time.Duration) int {
	most, from := 0, 0
	for i, at := range arrivals {
		for at-arrivals[from] >= d {
			from++
		}
		most = max(most, i-from+1)
	}
	return most
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
