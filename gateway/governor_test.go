package gateway

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

// Six turns at once against a fake Bedrock whose per-minute quota holds
// each answer's reservation while it streams, room for two at a time:
// straight through, four are throttled; through the gateway with the real
// governor, all six are answered and none is throttled, two at a time.
func TestGovernorKeepsTurnsUnderTheQuota(t *testing.T) {
	const (
		tpm      = 60000
		burndown = 5
		turns    = 6
		model    = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	)
	// Each turn holds about 5 x 4096 tokens while it streams: two fit in
	// 60,000, three do not.
	body := `{"max_tokens":4096,"messages":[{"role":"user","content":"hello"}]}`
	newFake := func(t *testing.T) *fakebedrock.Server {
		return fakebedrock.New(t,
			fakebedrock.WithQuota(fakebedrock.Quota{TokensPerMinute: tpm, Burndown: burndown}),
			fakebedrock.WithBehavior(fakebedrock.Behavior{Chunks: 4, ChunkDelay: 50 * time.Millisecond}))
	}
	run := func(t *testing.T, base string) []int {
		statuses := make([]int, turns)
		var wg sync.WaitGroup
		for i := range turns {
			wg.Go(func() {
				resp, _ := send(t, http.MethodPost, base+"/model/"+model+"/invoke-with-response-stream", "", body)
				statuses[i] = resp.StatusCode
			})
		}
		wg.Wait()
		return statuses
	}
	count := func(statuses []int, want int) int {
		n := 0
		for _, s := range statuses {
			if s == want {
				n++
			}
		}
		return n
	}

	t.Run("without", func(t *testing.T) {
		fake := newFake(t)
		_, base := newTestGateway(t, nil, Config{Upstream: endpointUpstream(t, fake.URL())})
		if got := run(t, base); count(got, http.StatusTooManyRequests) == 0 {
			t.Errorf("statuses %v: the control run was not throttled, the test proves nothing", got)
		}
	})

	t.Run("with", func(t *testing.T) {
		fake := newFake(t)
		gov := governor.New(governor.Options{Limits: func(governor.Bucket) governor.Limits {
			return governor.Limits{TokensPerMinute: tpm, Source: "profile"}
		}})
		defer gov.Close()
		var recs records
		_, base := newTestGateway(t, nil, Config{Upstream: endpointUpstream(t, fake.URL()), Pacer: gov, Record: recs.add,
			Burndown: func(string) int { return burndown }})
		got := run(t, base)
		if count(got, http.StatusOK) != turns {
			t.Errorf("statuses %v, want all %d answered", got, turns)
		}
		for _, r := range fake.Requests() {
			if r.Status == http.StatusTooManyRequests {
				t.Errorf("the fake throttled a request the governor let through:\n%s", fakebedrock.Summary(fake.Requests()))
				break
			}
		}
		waitFor(t, "the records", func() bool { return len(recs.get()) == turns })
		waited := 0
		for _, r := range recs.get() {
			if r.Held < burndown*4096 {
				t.Errorf("record %+v: held %d, want at least the reservation %d", r, r.Held, burndown*4096)
			}
			if r.WaitedMS > 0 {
				waited++
			}
		}
		if waited < turns-2 {
			t.Errorf("%d requests waited, want at least %d (two fit at a time)", waited, turns-2)
		}
	})
}
