package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/claude-bedrock/claude-bedrock/quota"
	"github.com/google/go-cmp/cmp"
)

// fakePacer admits every request at once and records what the gateway told
// it; retry says what Throttled answers for the nth 429 (from 1).
type fakePacer struct {
	mu     sync.Mutex
	reqs   []governor.Request
	leases []*fakeLease
	retry  func(n int) bool
	// hold, when not nil, keeps Acquire waiting until it is closed or the
	// request's context ends.
	hold chan struct{}
	// entered, when not nil, gets a value each time Acquire is called.
	entered   chan struct{}
	throttles int
}

func (p *fakePacer) Acquire(ctx context.Context, r governor.Request) (governor.Lease, error) {
	if p.entered != nil {
		p.entered <- struct{}{}
	}
	if p.hold != nil {
		select {
		case <-p.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, r)
	l := &fakeLease{p: p, waited: 7 * time.Millisecond, held: 1000 + len(p.leases)}
	p.leases = append(p.leases, l)
	return l, nil
}

// log renders everything the leases were told, in lease order.
func (p *fakePacer) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for i, l := range p.leases {
		for _, e := range l.events {
			out = append(out, fmt.Sprintf("lease %d: %s", i, e))
		}
	}
	return out
}

type fakeLease struct {
	p      *fakePacer
	waited time.Duration
	held   int
	events []string
}

func (l *fakeLease) Waited() time.Duration { return l.waited }
func (l *fakeLease) Held() int             { return l.held }
func (l *fakeLease) Started(input int) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf("started %d", input))
}
func (l *fakeLease) Throttled() bool {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	l.p.throttles++
	retry := l.p.retry != nil && l.p.retry(l.p.throttles)
	l.events = append(l.events, fmt.Sprintf("throttled (retry %v)", retry))
	return retry
}
func (l *fakeLease) Done(u governor.Usage, status int) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf("done %+v %d", u, status))
}

// records collects the gateway's usage records.
type records struct {
	mu  sync.Mutex
	all []Record
}

func (r *records) add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, rec)
}

func (r *records) get() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.all...)
}

// waitFor polls cond until it holds or the deadline passes: the gateway
// settles a request just after claude has its last byte.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// throttle answers as Bedrock does when the quota is spent.
func throttle(w http.ResponseWriter) {
	w.Header().Set("x-amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = io.WriteString(w, `{"message":"Too many tokens, please wait before trying again."}`)
}

func TestPacerRequestAndProbe(t *testing.T) {
	up := newUpstream(t, okJSON)
	p := &fakePacer{}
	_, base := newTestGateway(t, up, Config{Pacer: p, Session: "s-1", Region: "us-west-2"})
	turn := `{"messages":[{"role":"user","content":[{"type":"tool_result","content":{"max_tokens":5}}]}],"max_tokens":32000}`
	send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream", "", turn)
	send(t, "POST", base+"/model/global.anthropic.claude-opus-5-5/invoke", "", `{"max_tokens":1,"messages":[]}`)
	send(t, "POST", base+"/model/anthropic.claude-haiku-4-5-20251001-v1:0/invoke", "", `{"max_tokens":64000}`)
	send(t, "GET", base+"/inference-profiles?type=SYSTEM_DEFINED", "", "")
	want := []governor.Request{
		{Bucket: governor.Bucket{Region: "us-west-2", Model: "anthropic.claude-sonnet-4-5-20250929-v1:0", Kind: quota.Kind("us")},
			Session: "s-1", MaxTokens: 32000, Input: len(turn) / 4, Burndown: 5},
		{Bucket: governor.Bucket{Region: "us-west-2", Model: "anthropic.claude-opus-5-5", Kind: quota.Kind("global")},
			Session: "s-1", MaxTokens: 1, Input: len(`{"max_tokens":1,"messages":[]}`) / 4, Burndown: 10, Probe: true},
		{Bucket: governor.Bucket{Region: "us-west-2", Model: "anthropic.claude-haiku-4-5-20251001-v1:0", Kind: quota.Kind("")},
			Session: "s-1", MaxTokens: 64000, Input: len(`{"max_tokens":64000}`) / 4, Burndown: 5},
	}
	p.mu.Lock()
	got := append([]governor.Request(nil), p.reqs...)
	p.mu.Unlock()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("requests the Pacer saw (-want +got):\n%s", d)
	}
}

// A 429 the Pacer wants absorbed is queued again and sent again; claude only
// sees the answer that finally came.
func TestThrottledRequestIsRetried(t *testing.T) {
	var mu sync.Mutex
	n := 0
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			throttle(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", "120")
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", "7")
		_, _ = io.WriteString(w, `{"type":"message","content":[],"usage":{"input_tokens":120,"output_tokens":7}}`)
	})
	p := &fakePacer{retry: func(int) bool { return true }}
	var recs records
	_, base := newTestGateway(t, up, Config{Pacer: p, RetryDelay: time.Millisecond, Record: recs.add, Session: "s", Profile: "work"})
	resp, body := send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke", "", `{"max_tokens":4096}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"output_tokens":7`) {
		t.Fatalf("claude got %d %q, want the second answer", resp.StatusCode, body)
	}
	reqs := up.requests()
	if len(reqs) != 2 || string(reqs[0].Body) != string(reqs[1].Body) {
		t.Fatalf("upstream got %d requests, want the same body twice", len(reqs))
	}
	waitFor(t, "the record", func() bool { return len(recs.get()) == 1 })
	want := []string{
		"lease 0: throttled (retry true)",
		"lease 1: done {Input:120 CacheRead:0 CacheWrite:0 Output:7} 200",
	}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
	rec := recs.get()[0]
	rec.Time = time.Time{}
	wantRec := Record{Session: "s", Profile: "work", Model: "us.anthropic.claude-sonnet-4-6", Region: "us-west-2",
		MaxTokens: 4096, Input: 120, Output: 7, Held: 1001, WaitedMS: 14, Status: 200, Retries: 1}
	if d := cmp.Diff(wantRec, rec); d != "" {
		t.Errorf("record (-want +got):\n%s", d)
	}
}

// When the Pacer says not to retry (its budget is spent, or the request was
// alone in flight), Bedrock's 429 reaches claude unchanged.
func TestThrottledRequestPassedOn(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { throttle(w) })
	p := &fakePacer{retry: func(n int) bool { return n < 3 }}
	_, base := newTestGateway(t, up, Config{Pacer: p, RetryDelay: time.Millisecond})
	resp, body := send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream", "", `{"max_tokens":4096}`)
	if resp.StatusCode != 429 || body != `{"message":"Too many tokens, please wait before trying again."}` ||
		resp.Header.Get("X-Amzn-ErrorType") != "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" {
		t.Errorf("claude got %d %q %v, want Bedrock's 429", resp.StatusCode, body, resp.Header)
	}
	if n := len(up.requests()); n != 3 {
		t.Errorf("%d attempts upstream, want 3", n)
	}
	want := []string{"lease 0: throttled (retry true)", "lease 1: throttled (retry true)", "lease 2: throttled (retry false)"}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
}

// A Pacer that always says retry cannot make the gateway loop for ever.
func TestRetriesAreBounded(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { throttle(w) })
	p := &fakePacer{retry: func(int) bool { return true }}
	_, base := newTestGateway(t, up, Config{Pacer: p, RetryDelay: time.Millisecond})
	resp, _ := send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke", "", `{"max_tokens":4096}`)
	if resp.StatusCode != 429 || len(up.requests()) != maxAttempts {
		t.Errorf("status %d after %d attempts, want 429 after %d", resp.StatusCode, len(up.requests()), maxAttempts)
	}
}

// A request claude gives up on while it waits for admission never goes
// upstream, and is recorded as such.
func TestClientGoneWhileQueued(t *testing.T) {
	up := newUpstream(t, okJSON)
	p := &fakePacer{hold: make(chan struct{}), entered: make(chan struct{}, 1)}
	var recs records
	_, base := newTestGateway(t, up, Config{Pacer: p, Record: recs.add})
	cancel, errc := sendAndHangUp(base, "/model/us.anthropic.claude-sonnet-4-6/invoke", `{"max_tokens":4096}`)
	<-p.entered // the request waits in the queue
	cancel()
	if err := <-errc; err == nil {
		t.Errorf("the cancelled request got an answer")
	}
	waitFor(t, "the record", func() bool { return len(recs.get()) == 1 })
	if got := recs.get()[0].Status; got != StatusClientGone {
		t.Errorf("recorded status %d, want %d", got, StatusClientGone)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("%d requests went upstream", n)
	}
}
