package fakebedrock_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

// clock is a quota clock a test steps by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bodyTokens is the input the fake counts for turnBody(maxTokens, "hi").
func bodyTokens(t *testing.T, maxTokens int) int {
	t.Helper()
	js, err := json.Marshal(turnBody(maxTokens, "hi"))
	if err != nil {
		t.Fatal(err)
	}
	return fakebedrock.EstimateInputTokens(js)
}

// status sends a turn and returns its status and, for a refusal, its body;
// a successful stream is read to its end.
func status(t *testing.T, s *fakebedrock.Server, maxTokens int) string {
	t.Helper()
	got, rest := statusNow(t, s, maxTokens)
	rest()
	return got
}

// statusNow sends a turn and returns its status (and a refusal's body) as
// soon as the headers arrive; rest reads a successful stream to its end,
// which waits while the fake is paused.
func statusNow(t *testing.T, s *fakebedrock.Server, maxTokens int) (string, func()) {
	t.Helper()
	resp := post(t, streamURL(s, "invoke-with-response-stream"), turnBody(maxTokens, "hi"))
	if resp.StatusCode == http.StatusOK {
		return "200", func() {
			t.Helper()
			if evs := decodeStream(t, resp.Body); len(evs) == 0 || evs[len(evs)-1]["type"] != "message_stop" {
				t.Errorf("stream ended early: %v", evs)
			}
		}
	}
	body, _ := io.ReadAll(resp.Body) // compared by the caller
	return fmt.Sprintf("%d %s %s", resp.StatusCode, strings.TrimSuffix(resp.Header.Get("x-amzn-ErrorType"), ":http://internal.amazon.com/coral/com.amazon.bedrock/"), body), func() {}
}

const tooManyTokens = `429 ThrottlingException {"message":"Too many tokens, please wait before trying again."}`

// startPaused starts a turn whose answer the fake holds after message_start,
// and waits until the fake has admitted it. finish reads the answer to its
// end once the fake is resumed.
func startPaused(t *testing.T, s *fakebedrock.Server, maxTokens int) (finish func()) {
	t.Helper()
	before := len(s.Turns())
	done := make(chan string, 1)
	go func() {
		js, _ := json.Marshal(turnBody(maxTokens, "hi")) // plain map
		resp, err := http.Post(streamURL(s, "invoke-with-response-stream"), "application/json", strings.NewReader(string(js)))
		if err != nil {
			done <- err.Error()
			return
		}
		defer func() { _ = resp.Body.Close() }() // read-only
		b, _ := io.ReadAll(resp.Body)            // the whole stream
		done <- fmt.Sprintf("%d %d bytes", resp.StatusCode, len(b))
	}()
	s.WaitTurns(t, before+1, 10*time.Second)
	return func() {
		t.Helper()
		if got := <-done; !strings.HasPrefix(got, "200 ") {
			t.Errorf("paused request: %s", got)
		}
	}
}

func TestQuotaHoldsWhileStreamingAndSettlesInWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    fakebedrock.Quota
		out  int // output tokens each answer reports
		// steps: what a second request of max_tokens 1000 gets while the first
		// streams, after it ended, and after the clock moved on.
		whileHeld, afterSettle, after59s, after60s string
	}{
		{
			// Each holds input + 5 x 1000; both do not fit in 10,000. Settled
			// at input + 5 x 1000 the first still fills the window until it
			// leaves it, 60 s after it ended.
			name: "burndown reading, full answer", out: 1000,
			q:         fakebedrock.Quota{TokensPerMinute: 10000, Burndown: 5},
			whileHeld: tooManyTokens, afterSettle: tooManyTokens, after59s: tooManyTokens, after60s: "200",
		},
		{
			// A short answer settles at input + 5 x 10: room at once.
			name: "burndown reading, short answer", out: 10,
			q:         fakebedrock.Quota{TokensPerMinute: 10000, Burndown: 5},
			whileHeld: tooManyTokens, afterSettle: "200", after59s: "200", after60s: "200",
		},
		{
			// Holding input + max_tokens, two fit side by side; each settles
			// at input + 5 x 1000 and together they fill the window.
			name: "max_tokens reading", out: 1000,
			q:         fakebedrock.Quota{TokensPerMinute: 10000, Burndown: 5, Reservation: fakebedrock.HoldMaxTokens},
			whileHeld: "200", afterSettle: tooManyTokens, after59s: tooManyTokens, after60s: "200",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := fakebedrock.New(t, fakebedrock.WithQuota(tc.q), fakebedrock.WithClock(clk.Now),
				fakebedrock.WithBehavior(fakebedrock.Behavior{OutputTokens: tc.out}))
			in := bodyTokens(t, 1000)
			resume := s.Pause()
			finish := startPaused(t, s, 1000)

			hold := in + 5000
			if tc.q.Reservation == fakebedrock.HoldMaxTokens {
				hold = in + 1000
			}
			if diff := cmp.Diff(fakebedrock.QuotaUse{Held: hold, InFlight: 1, Requests: 1}, s.QuotaUse(model)); diff != "" {
				t.Errorf("while streaming (-want +got):\n%s", diff)
			}
			first, rest := statusNow(t, s, 1000)
			got := []string{first}
			resume()
			finish()
			rest()
			// Settled: input + burndown x output, for each answered request.
			answered := 1
			if first == "200" {
				answered = 2
			}
			if diff := cmp.Diff(fakebedrock.QuotaUse{Used: answered * (in + 5*tc.out), Requests: answered}, s.QuotaUse(model)); diff != "" {
				t.Errorf("after the answers (-want +got):\n%s", diff)
			}
			got = append(got, status(t, s, 1000))
			clk.Advance(59 * time.Second)
			got = append(got, status(t, s, 1000))
			clk.Advance(time.Second)
			got = append(got, status(t, s, 1000))
			want := []string{tc.whileHeld, tc.afterSettle, tc.after59s, tc.after60s}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
			rec := s.Turns()[0]
			if rec.Held != hold || rec.InputTokens != in || rec.OutputTokens != tc.out || !rec.Done {
				t.Errorf("first turn recorded %+v", rec)
			}
		})
	}
}

func TestQuotaRequestsPerMinute(t *testing.T) {
	clk := newClock()
	s := fakebedrock.New(t, fakebedrock.WithQuota(fakebedrock.Quota{RequestsPerMinute: 2}), fakebedrock.WithClock(clk.Now))
	var got []string
	for range 3 {
		got = append(got, status(t, s, 100))
	}
	clk.Advance(time.Minute)
	got = append(got, status(t, s, 100))
	want := []string{"200", "200", `429 ThrottlingException {"message":"Too many requests, please wait before trying again."}`, "200"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	var answers []string
	for _, r := range s.Requests() {
		answers = append(answers, r.Answer)
	}
	if diff := cmp.Diff([]string{"ok", "ok", "TooManyRequests", "ok"}, answers); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
}

func TestQuotaPerModelAndProbes(t *testing.T) {
	clk := newClock()
	s := fakebedrock.New(t, fakebedrock.WithQuota(fakebedrock.Quota{TokensPerMinute: 6000, Burndown: 5}), fakebedrock.WithClock(clk.Now))
	in := bodyTokens(t, 1000)
	release := s.Occupy(model, 6000-in-5000) // exactly room for one turn of max_tokens 1000
	defer release()
	resume := s.Pause()
	defer resume()
	finish := startPaused(t, s, 1000) // fits exactly, and holds while paused
	other := "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
	for _, tc := range []struct {
		name, url string
		want      int
	}{
		{"a probe is metered too", streamURL(s, "invoke"), 429},
		{"another model has its own quota", s.URL() + "/model/" + other + "/invoke", 200},
	} {
		if resp := post(t, tc.url, turnBody(1, "hi")); resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	resume()
	finish()
}

func TestOccupyAsATeammate(t *testing.T) {
	clk := newClock()
	s := fakebedrock.New(t, fakebedrock.WithQuota(fakebedrock.Quota{TokensPerMinute: 10000, Burndown: 5}), fakebedrock.WithClock(clk.Now))
	release := s.Occupy(model, 8000)
	if u := s.QuotaUse(model); u != (fakebedrock.QuotaUse{Held: 8000, InFlight: 1, Requests: 1}) {
		t.Errorf("held: %+v", u)
	}
	// A turn of max_tokens 1000 holds input + 5,000: not beside 8,000.
	got := []string{status(t, s, 1000)}
	release()
	release() // harmless
	got = append(got, status(t, s, 1000))
	clk.Advance(time.Minute)
	got = append(got, status(t, s, 1000))
	if diff := cmp.Diff([]string{tooManyTokens, tooManyTokens, "200"}, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

func TestRunTeammateSignsWithItsOwnKey(t *testing.T) {
	s := fakebedrock.New(t, fakebedrock.WithSigV4("us-west-2", testKey), fakebedrock.WithQuota(fakebedrock.Quota{TokensPerMinute: 1_000_000}))
	res := s.RunTeammate(context.Background(), fakebedrock.Teammate{Model: model, MaxTokens: 100, Prompt: "hello", For: 200 * time.Millisecond, Pause: 10 * time.Millisecond})
	if res.OK == 0 || res.Throttled != 0 || res.Other != 0 {
		t.Fatalf("teammate: %+v", res)
	}
	reqs := s.Requests()
	for _, r := range reqs {
		if !r.Teammate || r.Auth != "sigv4" || r.AccessKeyID != fakebedrock.TeammateAccessKeyID || r.Status != 200 || !r.Done {
			t.Errorf("teammate request recorded %+v", r)
		}
	}
	if len(reqs) != res.OK {
		t.Errorf("%d requests recorded, %d answered", len(reqs), res.OK)
	}
	if n := len(s.Turns()); n != 0 {
		t.Errorf("the teammate's requests among the turns: %d", n)
	}
}

func TestRunTeammateIsThrottledLikeAnyone(t *testing.T) {
	s := fakebedrock.New(t, fakebedrock.WithBearer("team-token"), fakebedrock.WithQuota(fakebedrock.Quota{TokensPerMinute: 100}))
	release := s.Occupy(model, 100)
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := s.RunTeammate(ctx, fakebedrock.Teammate{Model: model, MaxTokens: 10, For: 100 * time.Millisecond, Pause: 20 * time.Millisecond})
	if res.OK != 0 || res.Throttled == 0 || res.Other != 0 {
		t.Errorf("teammate: %+v", res)
	}
	for _, r := range s.Requests() {
		if r.Auth != "bearer" || r.Answer != "TooManyTokens" {
			t.Errorf("recorded %+v", r)
		}
	}
}
