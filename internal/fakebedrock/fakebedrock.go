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
//
// It can also stand in for Bedrock where a gateway sits in front of it: it
// can require SigV4 (checked by package sigv4check, not by the SDK that
// signs) or a bearer token and refuse as Bedrock does; it can meter a
// per-minute quota per model the way Bedrock does (a request holds its
// reservation from its start while it streams, slowly if asked, and settles
// to what it used in a sliding window), with a teammate using part of it; and
// its answers carry token counts where Bedrock puts them. The same server
// answers the runtime (/model/...) and the control plane (/inference-profiles).
// Every event is flushed as it is written, and Go's net package sets
// TCP_NODELAY on every connection, so no delay measured through the fake is
// a buffer's or Nagle's.
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

	"github.com/claude-bedrock/claude-bedrock/internal/sigv4check"
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
	// request in flight. Under a quota the request holds its reservation
	// meanwhile, as it does at Bedrock before the first byte.
	Delay time.Duration
	// Chunks is how many text deltas a streamed answer is cut into (0: one
	// per word; never more than the reply has characters).
	Chunks int
	// ChunkDelay waits this long before each text delta, so an answer
	// streams slowly and holds its reservation while it does.
	ChunkDelay time.Duration
	// OutputTokens is the output token count an answer reports and settles
	// with (0: the reply's words + 1, or max_tokens when Fail is MaxTokens).
	OutputTokens int
}

// config is everything an Option can set before the server starts.
type config struct {
	behavior Behavior
	auth     auth
	quota    *Quota
	clock    func() time.Time
}

// Option changes how a Server starts: its initial Behavior, the
// authentication it requires, its quota, its clock.
type Option func(*config)

// WithReply sets the reply text.
func WithReply(text string) Option { return func(c *config) { c.behavior.Reply = text } }

// WithFailure refuses turns whose max_tokens is above the given threshold
// (0: every turn) with f.
func WithFailure(f Failure, above int) Option {
	return func(c *config) { c.behavior.Fail, c.behavior.FailAbove = f, above }
}

// WithThrottle refuses turns whose max_tokens is above the threshold with
// tokens-per-minute throttling, as Bedrock does when a reservation does not
// fit the quota.
func WithThrottle(above int) Option { return WithFailure(TooManyTokens, above) }

// WithFailProbes applies the failure to /invoke probes too.
func WithFailProbes() Option { return func(c *config) { c.behavior.FailProbes = true } }

// WithBehavior replaces the whole initial Behavior.
func WithBehavior(nb Behavior) Option { return func(c *config) { c.behavior = nb } }

// WithClock gives the quota its clock, so a test can step the 60-second
// window instead of waiting for it. Delays (Delay, ChunkDelay) stay real.
// Under WithSigV4 the same clock judges signature dates (five minutes either
// way): keep it near real time when a real signer signs, or move it to make
// a signature stale.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// Request is one request the fake received.
type Request struct {
	Time   time.Time
	Method string
	Path   string // URL path as received (escaped)
	Query  string // raw query
	// Model is the model or inference-profile ID from /model/{id}/..., unescaped.
	Model string
	// Op is "invoke", "invoke-with-response-stream", "inference-profiles",
	// "sts" (GetCallerIdentity, see WithExpired) or "" (unknown path).
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
	// Header is the request's headers as received (the Host in
	// Header["Host"]), with secrets replaced by "<redacted>" so a failing
	// test cannot print them: a bearer token (the scheme is kept) and
	// X-Amz-Security-Token. A SigV4 Authorization holds no secret and is kept.
	Header http.Header
	// Auth is what authenticated the request: "sigv4" or "bearer" when the
	// fake checked and accepted it, "" when it was not checked or refused.
	Auth string
	// Signed is true when the request carried a SigV4 Authorization header,
	// AccessKeyID the key it named (checked or not).
	Signed      bool
	AccessKeyID string
	// SessionToken is true when an X-Amz-Security-Token was sent.
	SessionToken bool
	// Teammate marks requests sent by RunTeammate, not by the client under test.
	Teammate bool
	// InputTokens is the input count the answer reported (estimated from the
	// body, see EstimateInputTokens), OutputTokens the output count; Held is
	// the reservation the request held under the quota (0 without one).
	InputTokens, OutputTokens, Held int
	// Done is true once the answer was sent in full (or the client left).
	Done bool
	// Status is the HTTP status the fake answered with.
	Status int
	// Answer is what the fake did: "ok", "max_tokens", a Failure name,
	// "not found", or the error type of an authentication refusal.
	Answer string
}

// Server is a running fake Bedrock on 127.0.0.1.
type Server struct {
	srv  *httptest.Server
	auth auth
	now  func() time.Time

	mu       sync.Mutex
	behavior Behavior
	reqs     []Request
	changed  chan struct{} // closed and replaced whenever a request is recorded
	msgSeq   int
	quota    *Quota
	ledgers  map[string]*ledger // per model ID
	paused   chan struct{}      // non-nil while streams are paused; closed to resume
}

// New starts a fake Bedrock listening on 127.0.0.1 and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	s := &Server{changed: make(chan struct{}), behavior: c.behavior, auth: c.auth, now: c.clock,
		quota: c.quota, ledgers: map[string]*ledger{}}
	s.auth.addTeammate()
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
// so far from the client under test (not the teammate's), in order: the
// conversation turns and their retries.
func (s *Server) Turns() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return streaming(s.reqs)
}

func streaming(reqs []Request) []Request {
	var out []Request
	for _, r := range reqs {
		if r.Stream && !r.Teammate {
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
	rec := Request{Time: time.Now(), Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Teammate: r.Header.Get("User-Agent") == TeammateUserAgent,
		SessionToken: r.Header.Get("X-Amz-Security-Token") != ""}
	rec.Header.Set("Host", r.Host)
	redact(rec.Header)
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
	if len(s.auth.keys) > 0 && isSTS(r, raw) {
		s.answerSTS(w, r, raw, rec)
		return
	}
	if refusal := s.authenticate(r, raw, &rec); refusal != nil {
		rec.Status, rec.Answer, rec.Done = refusal.status, strings.TrimSuffix(refusal.errType, authSuffix), true
		s.record(rec)
		writeError(w, *refusal, "")
		return
	}

	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/inference-profiles":
		rec.Op = "inference-profiles"
		// Harmless: no profiles. Claude Code then uses its built-in IDs.
		rec.Status, rec.Answer, rec.Done = http.StatusOK, "ok", true
		s.record(rec)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"inferenceProfileSummaries":[]}`) // the client may be gone; nothing to do
		return
	case r.Method == http.MethodPost:
		model, op, ok := parsePath(r.URL.EscapedPath())
		if ok {
			rec.Model, rec.Op, rec.Stream = model, op, op == "invoke-with-response-stream"
			rec.InputTokens = EstimateInputTokens(raw)
			s.answer(w, r, rec)
			return
		}
	}
	rec.Status, rec.Answer = http.StatusNotFound, "not found"
	s.record(rec)
	writeError(w, errorAnswer{http.StatusNotFound, "UnknownOperationException" + coralSuffix, "fakebedrock: unknown path"}, "")
}

// redact replaces the secrets among h's values.
func redact(h http.Header) {
	if a := h.Get("Authorization"); a != "" && !strings.HasPrefix(a, sigv4check.Algorithm+" ") {
		scheme, _, _ := strings.Cut(a, " ")
		h.Set("Authorization", scheme+" <redacted>")
	}
	if h.Get("X-Amz-Security-Token") != "" {
		h.Set("X-Amz-Security-Token", "<redacted>")
	}
}

// writeError answers as Bedrock refuses: the status, x-amzn-ErrorType and
// a JSON body {"message": …}.
func writeError(w http.ResponseWriter, ea errorAnswer, requestID string) {
	w.Header().Set("x-amzn-ErrorType", ea.errType)
	if requestID != "" {
		w.Header().Set("x-amzn-RequestId", requestID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ea.status)
	msg, _ := json.Marshal(map[string]string{"message": ea.message}) // a map of strings always marshals
	_, _ = w.Write(msg)                                              // the client may be gone; nothing to do
}

// EstimateInputTokens is the input token count the fake reports and meters
// for a request body: one token per four bytes, at least one. Real counts
// differ; what matters to a test is that they are known in advance.
func EstimateInputTokens(body []byte) int {
	return max(1, (len(body)+3)/4)
}

// record appends rec and wakes every waiter; it returns rec's index.
func (s *Server) record(rec Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, rec)
	s.wake()
	return len(s.reqs) - 1
}

// finish updates the recorded request i when its answer ends.
func (s *Server) finish(i int, output int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs[i].OutputTokens, s.reqs[i].Done = output, true
	s.wake()
}

// wake tells every waiter something changed; s.mu is held.
func (s *Server) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, rec Request) {
	s.mu.Lock()
	b := s.behavior
	s.msgSeq++
	seq := s.msgSeq
	s.mu.Unlock()
	requestID := fmt.Sprintf("fake-%08d", seq)

	fail := b.Fail
	if fail != None && (rec.MaxTokens <= b.FailAbove || (!rec.Stream && !b.FailProbes)) {
		fail = None
	}
	if ea, ok := errorAnswers[fail]; ok {
		if b.Delay > 0 {
			time.Sleep(b.Delay) // a deliberate slow answer, not synchronization
		}
		rec.Status, rec.Answer, rec.Done = ea.status, fail.String(), true
		s.record(rec)
		ea.errType += coralSuffix
		writeError(w, ea, requestID)
		return
	}

	// Bedrock meters from the request's start: admit it or throttle it now.
	hold, refused := s.admit(seq, rec)
	if refused != None {
		ea := errorAnswers[refused]
		rec.Status, rec.Answer, rec.Done = ea.status, refused.String(), true
		s.record(rec)
		ea.errType += coralSuffix
		writeError(w, ea, requestID)
		return
	}
	rec.Held = hold
	start := time.Now()
	if b.Delay > 0 {
		time.Sleep(b.Delay) // a deliberate slow answer, not synchronization
	}

	reply := b.Reply
	if reply == "" {
		reply = DefaultReply
	}
	stop := "end_turn"
	outTokens := len(strings.Fields(reply)) + 1
	rec.Answer = "ok"
	if fail == MaxTokens {
		stop, outTokens, rec.Answer = "max_tokens", rec.MaxTokens, "max_tokens"
	}
	if b.OutputTokens > 0 {
		outTokens = b.OutputTokens
	}
	rec.Status = http.StatusOK
	idx := s.record(rec)
	// Settle whatever happens below: the answer was produced, as at Bedrock.
	defer func() {
		s.settle(seq, rec.Model, rec.InputTokens, outTokens)
		s.finish(idx, outTokens)
	}()

	id := fmt.Sprintf("msg_bdrk_fake%08d", seq)
	w.Header().Set("x-amzn-RequestId", requestID)
	if !rec.Stream {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", fmt.Sprint(rec.InputTokens))
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", fmt.Sprint(outTokens))
		w.Header().Set("X-Amzn-Bedrock-Invocation-Latency", fmt.Sprint(time.Since(start).Milliseconds()))
		out, _ := json.Marshal(map[string]any{ // plain maps always marshal
			"id": id, "type": "message", "role": "assistant", "model": rec.Model,
			"content":       []any{map[string]any{"type": "text", "text": reply}},
			"stop_reason":   stop,
			"stop_sequence": nil,
			"usage":         usage(rec.InputTokens, outTokens),
		})
		_, _ = w.Write(out) // the client may be gone; nothing to do
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	flush()
	evs := answerEvents(id, rec.Model, split(reply, b.Chunks), stop, rec.InputTokens, outTokens)
	firstByte := time.Since(start)
	for i, ev := range evs {
		if ev["type"] == "content_block_delta" && b.ChunkDelay > 0 {
			select {
			case <-time.After(b.ChunkDelay): // a deliberately slow stream
			case <-r.Context().Done():
				return
			}
		}
		if i == len(evs)-1 {
			ev["amazon-bedrock-invocationMetrics"] = map[string]any{
				"inputTokenCount": rec.InputTokens, "outputTokenCount": outTokens,
				"invocationLatency": time.Since(start).Milliseconds(), "firstByteLatency": firstByte.Milliseconds(),
			}
		}
		if err := WriteChunk(w, ev); err != nil {
			return // the client went away; nothing more to send
		}
		flush()
		if i == 0 && !s.waitResumed(r) {
			return
		}
	}
}

// usage is an Anthropic usage object as Bedrock's answers carry it.
func usage(input, output int) map[string]any {
	return map[string]any{"input_tokens": input, "cache_creation_input_tokens": 0,
		"cache_read_input_tokens": 0, "output_tokens": output}
}

// split cuts text into n pieces of about equal length on rune boundaries
// (n 0: after each space, as words are streamed).
func split(text string, n int) []string {
	if n <= 0 {
		var out []string
		for _, piece := range strings.SplitAfter(text, " ") {
			if piece != "" {
				out = append(out, piece)
			}
		}
		return out
	}
	runes := []rune(text)
	n = max(1, min(n, len(runes)))
	out := make([]string, n)
	for i := range n {
		out[i] = string(runes[i*len(runes)/n : (i+1)*len(runes)/n])
	}
	return out
}

// Pause holds every streamed answer after its message_start until the
// returned resume is called (once is enough; more is harmless). A test then
// knows answers are in flight, holding their reservations, without sleeping.
func (s *Server) Pause() (resume func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused == nil {
		s.paused = make(chan struct{})
	}
	ch := s.paused
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			close(ch)
			if s.paused == ch {
				s.paused = nil
			}
		})
	}
}

// waitResumed waits while streams are paused; false if the client left.
func (s *Server) waitResumed(r *http.Request) bool {
	s.mu.Lock()
	ch := s.paused
	s.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-r.Context().Done():
		return false
	}
}

// StreamEvents returns the Anthropic streaming events of one text answer, in
// order: message_start, content_block_start, one content_block_delta per
// word, content_block_stop, message_delta (with stopReason) and message_stop,
// with 10 input tokens.
func StreamEvents(id, model, text, stopReason string, outputTokens int) []map[string]any {
	return answerEvents(id, model, split(text, 0), stopReason, 10, outputTokens)
}

// answerEvents returns the events of an answer whose text deltas are pieces,
// with usage in message_start and message_delta and Bedrock's invocation
// metrics in message_stop, as Bedrock sends them.
func answerEvents(id, model string, pieces []string, stopReason string, inputTokens, outputTokens int) []map[string]any {
	evs := []map[string]any{
		{"type": "message_start", "message": map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": model,
			"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
			"usage": usage(inputTokens, 1),
		}},
		{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}},
	}
	for _, piece := range pieces {
		evs = append(evs, map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": piece}})
	}
	return append(evs,
		map[string]any{"type": "content_block_stop", "index": 0},
		map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": stopReason, "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": outputTokens}},
		map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": map[string]any{
			"inputTokenCount": inputTokens, "outputTokenCount": outputTokens,
			"invocationLatency": 1, "firstByteLatency": 1,
		}},
	)
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
