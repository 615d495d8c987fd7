// Package fakebedrock is a loopback fake of the Amazon Bedrock runtime for tests.
//
// It speaks what Claude Code 2.1.328 sends when CLAUDE_CODE_USE_BEDROCK=1 and
// ANTHROPIC_BEDROCK_BASE_URL point it here: GET /inference-profiles at start,
// POST /model/{id}/invoke for probes (plain JSON) and
// POST /model/{id}/invoke-with-response-stream for each turn (an AWS event
// stream carrying Anthropic streaming events). It records every request so a
// test can assert the model, max_tokens and the conversation that went out on
// the wire, and it can answer the way Bedrock does when it throttles, is
// unavailable, or when an answer stops at the output-token cap. What it
// answers can be changed while it runs, so a test can flip it mid-session.
package fakebedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Failure names a way Bedrock refuses a request.
type Failure int

// The failures the fake can answer with, each with Bedrock's exact status,
// error type and message.
const (
	// None answers normally.
	None Failure = iota
	// TooManyTokens is tokens-per-minute throttling: 429 ThrottlingException
	// "Too many tokens, please wait before trying again.".
	TooManyTokens
	// TooManyRequests is requests-per-minute throttling: 429 ThrottlingException
	// "Too many requests, please wait before trying again.".
	TooManyRequests
	// TooManyTokensPerDay is tokens-per-day throttling: 429 ThrottlingException
	// "Too many tokens per day, please wait before trying again.".
	TooManyTokensPerDay
	// RateTooHigh is the other requests-per-minute wording: 429
	// ThrottlingException "Your request rate is too high. Reduce the frequency
	// of requests.".
	RateTooHigh
	// Unavailable is 503 ServiceUnavailableException "Bedrock is unable to
	// process your request".
	Unavailable
	// MaxTokens answers successfully but stops with stop_reason "max_tokens",
	// as an answer that hit the output-token cap does.
	MaxTokens
)

// String names the failure the way the constants do.
func (f Failure) String() string {
	switch f {
	case None:
		return "None"
	case TooManyTokens:
		return "TooManyTokens"
	case TooManyRequests:
		return "TooManyRequests"
	case TooManyTokensPerDay:
		return "TooManyTokensPerDay"
	case RateTooHigh:
		return "RateTooHigh"
	case Unavailable:
		return "Unavailable"
	case MaxTokens:
		return "MaxTokens"
	}
	return fmt.Sprintf("Failure(%d)", int(f))
}

// errorAnswer is what Bedrock sends for a refused request.
type errorAnswer struct {
	status  int
	errType string
	message string
}

const coralSuffix = ":http://internal.amazon.com/coral/com.amazon.bedrock/"

// errorAnswers holds Bedrock's exact wording for each refusal.
var errorAnswers = map[Failure]errorAnswer{
	TooManyTokens:       {http.StatusTooManyRequests, "ThrottlingException", "Too many tokens, please wait before trying again."},
	TooManyRequests:     {http.StatusTooManyRequests, "ThrottlingException", "Too many requests, please wait before trying again."},
	TooManyTokensPerDay: {http.StatusTooManyRequests, "ThrottlingException", "Too many tokens per day, please wait before trying again."},
	RateTooHigh:         {http.StatusTooManyRequests, "ThrottlingException", "Your request rate is too high. Reduce the frequency of requests."},
	Unavailable:         {http.StatusServiceUnavailable, "ServiceUnavailableException", "Bedrock is unable to process your request"},
}

// Message returns Bedrock's error message for f, or "" for None and MaxTokens,
// which are not refusals.
func (f Failure) Message() string { return errorAnswers[f].message }

// Status returns the HTTP status Bedrock answers f with, 200 for None and MaxTokens.
func (f Failure) Status() int {
	if a, ok := errorAnswers[f]; ok {
		return a.status
	}
	return http.StatusOK
}

// DefaultReply is the answer text when none is configured.
const DefaultReply = "Hello from the fake Bedrock."

// Behavior is what the fake answers. The zero value answers every request
// successfully with DefaultReply.
type Behavior struct {
	// Reply is the text of every successful answer; "" means DefaultReply.
	Reply string
	// Fail is how turns are refused (None: they are not).
	Fail Failure
	// FailAbove limits Fail to requests whose max_tokens is greater than it,
	// as Bedrock throttles big reservations first. 0 fails every request.
	FailAbove int
	// FailProbes applies Fail to /invoke as well. By default probes (Claude
	// Code sends them with max_tokens 1 at start) succeed while turns fail,
	// so the interactive CLI starts normally and is refused on its first turn.
	FailProbes bool
	// Delay holds every model answer back this long, so a test can see a
	// request in flight.
	Delay time.Duration
}

// Option changes the initial Behavior of a Server.
type Option func(*Behavior)

// WithReply sets the reply text.
func WithReply(text string) Option { return func(b *Behavior) { b.Reply = text } }

// WithFailure refuses turns whose max_tokens is above the given threshold
// (0: every turn) with f.
func WithFailure(f Failure, above int) Option {
	return func(b *Behavior) { b.Fail, b.FailAbove = f, above }
}

// WithThrottle refuses turns whose max_tokens is above the threshold with
// tokens-per-minute throttling, as Bedrock does when a reservation does not
// fit the quota.
func WithThrottle(above int) Option { return WithFailure(TooManyTokens, above) }

// WithFailProbes applies the failure to /invoke probes too.
func WithFailProbes() Option { return func(b *Behavior) { b.FailProbes = true } }

// WithBehavior replaces the whole initial Behavior.
func WithBehavior(nb Behavior) Option { return func(b *Behavior) { *b = nb } }

// Request is one request the fake received.
type Request struct {
	Time   time.Time
	Method string
	Path   string // URL path as received (escaped)
	Query  string // raw query
	// Model is the model or inference-profile ID from /model/{id}/..., unescaped.
	Model string
	// Op is "invoke", "invoke-with-response-stream", "inference-profiles" or "" (unknown path).
	Op string
	// Stream is true for invoke-with-response-stream.
	Stream bool
	// MaxTokens is the body's max_tokens, 0 if absent.
	MaxTokens int
	// UserTexts holds the text of each user message in order: the text blocks
	// of one message joined with "\n". A test asserts a conversation carried
	// over with it.
	UserTexts []string
	// Body is the full decoded JSON body (nil if there was none or it was not JSON).
	Body map[string]any
	// Status is the HTTP status the fake answered with.
	Status int
	// Answer is what the fake did: "ok", "max_tokens", a Failure name, or "not found".
	Answer string
}

// Server is a running fake Bedrock on 127.0.0.1.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	behavior Behavior
	reqs     []Request
	changed  chan struct{} // closed and replaced whenever a request is recorded
	msgSeq   int
}

// New starts a fake Bedrock listening on 127.0.0.1 and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{changed: make(chan struct{})}
	for _, o := range opts {
		o(&s.behavior)
	}
	// Listen explicitly on the IPv4 loopback: httptest's default can be
	// redirected by its -httptest.serve flag, and tests must never listen
	// beyond 127.0.0.1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakebedrock: listen on 127.0.0.1: %v", err)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener = ln
	s.srv.Start()
	t.Cleanup(s.Close)
	return s
}

// URL returns the base URL to put in ANTHROPIC_BEDROCK_BASE_URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server. It is called on test cleanup; calling it earlier is fine.
func (s *Server) Close() {
	// CloseClientConnections first: a CLI that keeps a connection alive must
	// not hold Close up.
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Behavior returns what the fake currently answers.
func (s *Server) Behavior() Behavior {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.behavior
}

// SetBehavior changes what the fake answers from the next request on.
func (s *Server) SetBehavior(b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behavior = b
}

// Update changes what the fake answers from the next request on, with f
// applied to the current Behavior under the lock.
func (s *Server) Update(f func(*Behavior)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.behavior)
}

// SetReply changes the reply text.
func (s *Server) SetReply(text string) { s.Update(func(b *Behavior) { b.Reply = text }) }

// SetFailure refuses turns with max_tokens above the threshold (0: all) with f;
// None heals the fake.
func (s *Server) SetFailure(f Failure, above int) {
	s.Update(func(b *Behavior) { b.Fail, b.FailAbove = f, above })
}

// Throttle refuses turns with max_tokens above the threshold with
// tokens-per-minute throttling.
func (s *Server) Throttle(above int) { s.SetFailure(TooManyTokens, above) }

// Heal makes the fake answer every request successfully again.
func (s *Server) Heal() { s.SetFailure(None, 0) }

// Requests returns a copy of every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Turns returns the streaming requests (invoke-with-response-stream) received
// so far, in order: the conversation turns and their retries.
func (s *Server) Turns() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return streaming(s.reqs)
}

func streaming(reqs []Request) []Request {
	var out []Request
	for _, r := range reqs {
		if r.Stream {
			out = append(out, r)
		}
	}
	return out
}

// Changed returns a channel that is closed at the next recorded request;
// take a new one after each wake-up.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// WaitTurns waits until at least n streaming requests have arrived and
// returns them all. It fails the test, listing what did arrive, if that takes
// longer than timeout.
func (s *Server) WaitTurns(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	return s.WaitFor(t, fmt.Sprintf("%d turns", n), timeout, func(reqs []Request) bool {
		return len(streaming(reqs)) >= n
	}, true)
}

// WaitRequests waits until at least n requests of any kind have arrived and
// returns them all, failing the test after timeout.
func (s *Server) WaitRequests(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	return s.WaitFor(t, fmt.Sprintf("%d requests", n), timeout, func(reqs []Request) bool {
		return len(reqs) >= n
	}, false)
}

// WaitFor waits until cond holds for the requests recorded so far and returns
// them (only the streaming ones if turnsOnly). It fails the test with what,
// and a summary of what arrived, after timeout.
func (s *Server) WaitFor(t testing.TB, what string, timeout time.Duration, cond func([]Request) bool, turnsOnly bool) []Request {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		reqs := append([]Request(nil), s.reqs...)
		ch := s.changed
		s.mu.Unlock()
		if cond(reqs) {
			if turnsOnly {
				return streaming(reqs)
			}
			return reqs
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("fakebedrock: waited %v for %s; got %d requests:\n%s", timeout, what, len(reqs), Summary(reqs))
			return nil
		}
	}
}

// Summary renders requests one per line for failure messages.
func Summary(reqs []Request) string {
	var b strings.Builder
	for i, r := range reqs {
		fmt.Fprintf(&b, "  %d: %s %s model=%q max_tokens=%d stream=%v -> %d %s\n",
			i, r.Method, r.Path, r.Model, r.MaxTokens, r.Stream, r.Status, r.Answer)
	}
	return b.String()
}

// parsePath splits /model/{id}/{op}. The ID arrives escaped (":" as %3A).
func parsePath(p string) (model, op string, ok bool) {
	rest, found := strings.CutPrefix(p, "/model/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/")
	if i < 0 {
		return "", "", false
	}
	op = rest[i+1:]
	if op != "invoke" && op != "invoke-with-response-stream" {
		return "", "", false
	}
	m, err := url.PathUnescape(rest[:i])
	if err != nil {
		return "", "", false
	}
	return m, op, true
}

// userTexts extracts the text of each user message; content is either a
// string or a list of blocks of which the text ones count.
func userTexts(body map[string]any) []string {
	msgs, _ := body["messages"].([]any)
	var out []string
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		if mm["role"] != "user" {
			continue
		}
		switch c := mm["content"].(type) {
		case string:
			out = append(out, c)
		case []any:
			var parts []string
			for _, blk := range c {
				bm, _ := blk.(map[string]any)
				if bm["type"] == "text" {
					if s, ok := bm["text"].(string); ok {
						parts = append(parts, s)
					}
				}
			}
			out = append(out, strings.Join(parts, "\n"))
		}
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Time: time.Now(), Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		rec.Status, rec.Answer = http.StatusBadRequest, "unreadable body"
		s.record(rec)
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if len(raw) > 0 {
		var body map[string]any
		if json.Unmarshal(raw, &body) == nil {
			rec.Body = body
			if mt, ok := body["max_tokens"].(float64); ok {
				rec.MaxTokens = int(mt)
			}
			rec.UserTexts = userTexts(body)
		}
	}

	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/inference-profiles":
		rec.Op = "inference-profiles"
		// Harmless: no profiles. Claude Code then uses its built-in IDs.
		rec.Status, rec.Answer = http.StatusOK, "ok"
		s.record(rec)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"inferenceProfileSummaries":[]}`) // the client may be gone; nothing to do
		return
	case r.Method == http.MethodPost:
		model, op, ok := parsePath(r.URL.EscapedPath())
		if ok {
			rec.Model, rec.Op, rec.Stream = model, op, op == "invoke-with-response-stream"
			s.answer(w, rec)
			return
		}
	}
	rec.Status, rec.Answer = http.StatusNotFound, "not found"
	s.record(rec)
	w.Header().Set("x-amzn-ErrorType", "UnknownOperationException"+coralSuffix)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, `{"message":"fakebedrock: unknown path"}`) // best effort
}

// record appends rec and wakes every waiter.
func (s *Server) record(rec Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, rec)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) answer(w http.ResponseWriter, rec Request) {
	s.mu.Lock()
	b := s.behavior
	s.msgSeq++
	seq := s.msgSeq
	s.mu.Unlock()

	if b.Delay > 0 {
		time.Sleep(b.Delay) // a deliberate slow answer, not synchronization
	}
	fail := b.Fail
	if fail != None && (rec.MaxTokens <= b.FailAbove || (!rec.Stream && !b.FailProbes)) {
		fail = None
	}
	reply := b.Reply
	if reply == "" {
		reply = DefaultReply
	}

	if ea, ok := errorAnswers[fail]; ok {
		rec.Status, rec.Answer = ea.status, fail.String()
		s.record(rec)
		w.Header().Set("x-amzn-ErrorType", ea.errType+coralSuffix)
		w.Header().Set("x-amzn-RequestId", fmt.Sprintf("fake-%08d", seq))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ea.status)
		msg, _ := json.Marshal(map[string]string{"message": ea.message}) // a map of strings always marshals
		_, _ = w.Write(msg)                                              // the client may be gone; nothing to do
		return
	}

	stop := "end_turn"
	outTokens := len(strings.Fields(reply)) + 1
	if fail == MaxTokens {
		stop = "max_tokens"
		outTokens = rec.MaxTokens
		rec.Answer = "max_tokens"
	} else {
		rec.Answer = "ok"
	}
	rec.Status = http.StatusOK
	s.record(rec)

	id := fmt.Sprintf("msg_bdrk_fake%08d", seq)
	w.Header().Set("x-amzn-RequestId", fmt.Sprintf("fake-%08d", seq))
	if !rec.Stream {
		w.Header().Set("Content-Type", "application/json")
		out, _ := json.Marshal(map[string]any{ // plain maps always marshal
			"id": id, "type": "message", "role": "assistant", "model": rec.Model,
			"content":       []any{map[string]any{"type": "text", "text": reply}},
			"stop_reason":   stop,
			"stop_sequence": nil,
			"usage":         map[string]any{"input_tokens": 10, "output_tokens": outTokens},
		})
		_, _ = w.Write(out) // the client may be gone; nothing to do
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	for _, ev := range StreamEvents(id, rec.Model, reply, stop, outTokens) {
		if err := WriteChunk(w, ev); err != nil {
			return // the client went away; nothing more to send
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// StreamEvents returns the Anthropic streaming events of one text answer, in
// order: message_start, content_block_start, one content_block_delta per
// word, content_block_stop, message_delta (with stopReason) and message_stop.
func StreamEvents(id, model, text, stopReason string, outputTokens int) []map[string]any {
	evs := []map[string]any{
		{"type": "message_start", "message": map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": model,
			"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": 10, "output_tokens": 1},
		}},
		{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}},
	}
	// Split after spaces so the deltas concatenate back to text exactly.
	for _, piece := range strings.SplitAfter(text, " ") {
		if piece == "" {
			continue
		}
		evs = append(evs, map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": piece}})
	}
	evs = append(evs,
		map[string]any{"type": "content_block_stop", "index": 0},
		map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": stopReason, "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": outputTokens}},
		map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": map[string]any{
			"inputTokenCount": 10, "outputTokenCount": outputTokens,
			"invocationLatency": 1, "firstByteLatency": 1,
		}},
	)
	return evs
}

// WriteChunk writes one Anthropic streaming event as a Bedrock event-stream
// message: headers :event-type=chunk, :content-type=application/json,
// :message-type=event, and payload {"bytes":"<base64 of the event JSON>"}.
func WriteChunk(w io.Writer, event any) error {
	js, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("fakebedrock: encode event: %w", err)
	}
	payload, err := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString(js)})
	if err != nil {
		return fmt.Errorf("fakebedrock: encode chunk: %w", err)
	}
	msg := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue("chunk")},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: payload,
	}
	// Encode into a buffer first so a message reaches the wire in one write.
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, msg); err != nil {
		return fmt.Errorf("fakebedrock: encode event-stream message: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
