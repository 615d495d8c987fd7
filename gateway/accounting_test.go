package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/google/go-cmp/cmp"
)

// exceptionFrame is an exception message as Bedrock writes it inside a 200
// event stream.
func exceptionFrame(t *testing.T, typ, msg string) []byte {
	return encodeMessage(t, eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":exception-type", Value: eventstream.StringValue(typ)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
		},
		Payload: []byte(`{"message":"` + msg + `"}`),
	})
}

// A throttlingException inside a 200 stream reaches claude byte for byte,
// is reported to the Pacer as a 429, and settles what the answer had
// streamed: its input and the output of the deltas before it.
func TestExceptionInsideAStream(t *testing.T) {
	fr := frames(t, answerEvents)
	sent := [][]byte{fr[0], fr[1], fr[2], exceptionFrame(t, "throttlingException", "Too many tokens, please wait before trying again.")}
	up := newUpstream(t, streamUpstream(sent))
	p := &fakePacer{}
	var recs records
	_, base := newTestGateway(t, up, Config{Pacer: p, Record: recs.add})
	resp, body := send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream", "", `{"max_tokens":32000}`)
	if want := string(joinFrames(sent)); resp.StatusCode != 200 || body != want {
		t.Errorf("claude got %d and %d bytes, want 200 and the %d bytes sent", resp.StatusCode, len(body), len(want))
	}
	waitFor(t, "the record", func() bool { return len(recs.get()) == 1 })
	// The delta's text, `Hello, \"usage\" is a word too.`, is 31 bytes of JSON: 7 tokens.
	want := []string{"lease 0: started 1500", "lease 0: done {Input:1200 CacheRead:5000 CacheWrite:300 Output:7} 429"}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
	if rec := recs.get()[0]; rec.Status != 200 || rec.Exception != "throttlingException" || rec.Output != 7 {
		t.Errorf("record %+v, want status 200, the exception and 7 output tokens", rec)
	}
}

// With the real governor, a throttlingException inside a 200 stream cuts
// the bucket's limit as a 429 does.
func TestExceptionInsideAStreamTeachesTheGovernor(t *testing.T) {
	fr := frames(t, answerEvents)
	up := newUpstream(t, streamUpstream([][]byte{fr[0], exceptionFrame(t, "throttlingException", "Too many tokens")}))
	gov := governor.New(governor.Options{Limits: func(governor.Bucket) governor.Limits {
		return governor.Limits{TokensPerMinute: 1_000_000, Source: "profile"}
	}})
	defer gov.Close()
	var recs records
	_, base := newTestGateway(t, up, Config{Pacer: gov, Record: recs.add})
	send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream", "", `{"max_tokens":4096}`)
	waitFor(t, "the record", func() bool { return len(recs.get()) == 1 })
	st := gov.Status()
	if len(st.Buckets) != 1 || st.Buckets[0].Source != governor.SourceLearned || st.Buckets[0].Limit >= 1_000_000 {
		t.Errorf("status %+v: want the limit learned from the throttle, under the quota", st.Buckets)
	}
}

func joinFrames(fr [][]byte) []byte {
	var b []byte
	for _, f := range fr {
		b = append(b, f...)
	}
	return b
}

// When claude hangs up after its request reached Bedrock, before any
// answer, the request settles to its hold (Bedrock counts it; nothing says
// how much) rather than to nothing.
func TestClientGoneAfterTheRequestWasSent(t *testing.T) {
	arrived := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // the whole request has been written
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second): // a watchdog: the test fails below
		}
	})
	p := &fakePacer{}
	var recs records
	_, base := newTestGateway(t, up, Config{Pacer: p, Record: recs.add})
	cancel, errc := sendAndHangUp(base, "/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream",
		`{"max_tokens":100,"messages":[{"role":"user","content":"hello"}]}`)
	<-arrived
	cancel()
	<-errc
	waitFor(t, "the record", func() bool { return len(recs.get()) == 1 })
	want := []string{"lease 0: done {Input:16 CacheRead:0 CacheWrite:0 Output:4096} 499"}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
	if rec := recs.get()[0]; rec.Status != StatusClientGone {
		t.Errorf("record %+v, want status %d", rec, StatusClientGone)
	}
}

// A throttled request whose client hangs up before its retry goes leaves no
// place behind: the same body sent again later waits behind the requests
// queued before it, instead of taking the head of the queue.
func TestRetryLeftByAGoneClientJumpsNoQueue(t *testing.T) {
	const model = "us.anthropic.claude-sonnet-4-6"
	// Each request holds about 4,100 tokens (the 4,096 reservation): two
	// fit under 10,000, and after the 429 cuts the limit to 0.7 x 8,200,
	// one at a time.
	bodyOf := func(name string) string {
		return `{"max_tokens":4096,"messages":[{"role":"user","content":"` + name + `"}]}`
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	throttled := false
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		name := string(b[len(`{"max_tokens":4096,"messages":[{"role":"user","content":"`) : len(b)-len(`"}]}`)])
		mu.Lock()
		order = append(order, name)
		first := name == "retried" && !throttled
		throttled = throttled || first
		mu.Unlock()
		switch {
		case name == "long":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(20 * time.Second): // a watchdog: the test fails below
			}
			_, _ = io.WriteString(w, `{"usage":{"input_tokens":10,"output_tokens":10}}`)
		case first:
			throttle(w)
		default:
			okJSON(w, r)
		}
	})
	gov := governor.New(governor.Options{Limits: func(governor.Bucket) governor.Limits {
		return governor.Limits{TokensPerMinute: 10_000, Source: "profile"}
	}})
	defer gov.Close()
	_, base := newTestGateway(t, up, Config{Pacer: gov, Burndown: func(string) int { return 1 }, RetryDelay: time.Hour})
	bucket := func() governor.BucketStatus {
		if st := gov.Status(); len(st.Buckets) == 1 {
			return st.Buckets[0]
		}
		return governor.BucketStatus{}
	}
	url := base + "/model/" + model + "/invoke"
	post := func(ctx context.Context, name string) chan int {
		done := make(chan int, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(bodyOf(name)))
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		return done
	}

	long := post(context.Background(), "long")
	waitFor(t, "the long answer in flight", func() bool { return bucket().InFlight == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	gone := post(ctx, "retried")
	// Throttled, cut, queued again behind nothing but the long answer.
	waitFor(t, "the retry queued", func() bool { b := bucket(); return b.Absorbed == 1 && b.Waiting == 1 })
	cancel()
	<-gone
	waitFor(t, "the retry gone", func() bool { return bucket().Waiting == 0 })
	other := post(context.Background(), "other")
	waitFor(t, "the other request queued", func() bool { return bucket().Waiting == 1 })
	again := post(context.Background(), "retried")
	waitFor(t, "the re-sent request queued", func() bool { return bucket().Waiting == 2 })
	close(release)
	for _, c := range []chan int{long, other, again} {
		if s := <-c; s != http.StatusOK {
			t.Errorf("status %d", s)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff([]string{"long", "retried", "other", "retried"}, order); d != "" {
		t.Errorf("the order requests reached Bedrock in (-want +got):\n%s", d)
	}
}

// When the upstream breaks off mid-stream, claude sees the answer cut (an
// error reading it, not a short whole answer), and the request settles
// what had streamed, marked cut.
func TestUpstreamBreaksOffMidStream(t *testing.T) {
	fr := frames(t, answerEvents)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		for _, f := range fr[:3] {
			_, _ = w.Write(f)
		}
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close() // mid-chunk stream, no terminating chunk
	})
	p := &fakePacer{}
	var recs records
	_, base := newTestGateway(t, up, Config{Pacer: p, Record: recs.add})
	req, _ := http.NewRequest("POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream", strings.NewReader(`{"max_tokens":100}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("claude read %d bytes and a clean end, want the answer cut", len(got))
	}
	if want := joinFrames(fr[:3]); !strings.HasPrefix(string(got), string(want)) {
		t.Errorf("claude got %d bytes, want the %d bytes streamed first", len(got), len(want))
	}
	waitFor(t, "the record", func() bool { return len(recs.get()) == 1 })
	want := []string{"lease 0: started 1500", "lease 0: done {Input:1200 CacheRead:5000 CacheWrite:300 Output:7} 200"}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
	if rec := recs.get()[0]; !rec.Cut {
		t.Errorf("record %+v, want it marked cut", rec)
	}
}

// A retry admitted after a 429 whose client hangs up during its pause
// never reached Bedrock: it settles nothing, though the refused attempt
// before it was written upstream.
func TestRetryPauseHangUpSettlesNothing(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { throttle(w) })
	p := &fakePacer{retry: func(int) bool { return true }}
	var recs records
	_, base := newTestGateway(t, up, Config{Pacer: p, Record: recs.add, RetryDelay: time.Hour})
	cancel, errc := sendAndHangUp(base, "/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream",
		`{"max_tokens":100,"messages":[{"role":"user","content":"hello"}]}`)
	waitFor(t, "the retry admitted", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.leases) == 2 })
	cancel()
	<-errc
	waitFor(t, "the record", func() bool { return len(recs.get()) == 1 })
	want := []string{"lease 0: throttled (retry true)", "lease 1: done {Input:0 CacheRead:0 CacheWrite:0 Output:0} 499"}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
}
