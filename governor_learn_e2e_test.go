package main

import (
	"net"
	"path/filepath"
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
	arrivals, hold := w.checkPaced(t, w.runSessions(t, n, "hi"), reply)
	throttled := 0
	for _, r := range w.fake.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	t.Logf("the fake throttled %d requests", throttled)
	if hold > 0 && maxOverlap(arrivals, e2eChunks*e2eChunk) > e2eTPM/hold && throttled == 0 {
		// More turns arrived within one answer's time than the quota
		// holds at once: the fake must have refused some, and the limit
		// was learned from those 429s. (Turns that a slow machine started
		// further apart fit as they came, and teach nothing.)
		t.Errorf("the fake throttled nothing: no limit was learned, the test proves nothing\n%s", fakebedrock.Summary(w.fake.Requests()))
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
