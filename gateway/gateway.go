package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/claude-bedrock/claude-bedrock/models"
	"github.com/claude-bedrock/claude-bedrock/quota"
)

// DefaultMaxBody is the largest request body the gateway forwards (32 MiB):
// a request must be read whole to be signed, and Claude Code's largest turns
// are a few MiB (a long conversation with images). Larger ones get 413.
const DefaultMaxBody = 32 << 20

// MinTokenLen is the shortest session token New accepts: 128 bits written in
// base64 take 22 characters.
const MinTokenLen = 22

// Defaults for the Config fields left zero.
const (
	DefaultRetryDelay    = 250 * time.Millisecond
	DefaultShutdownGrace = 10 * time.Second
)

// maxAttempts bounds how often one request goes upstream, whatever the Pacer
// answers: a Pacer that always says retry must not loop for ever.
const maxAttempts = 4

// Config is what a Gateway needs. Token, Region (for SigV4), Upstream and
// the credentials of the chosen Auth are required; the rest may be zero.
type Config struct {
	// Token is the session's secret: claude sends it as
	// "Authorization: Bearer <Token>" (its AWS_BEARER_TOKEN_BEDROCK) and
	// every request without it is refused. At least MinTokenLen characters.
	Token string
	// Region is the AWS region requests are signed for and metered in.
	Region string
	// Upstream is where requests go (see ResolveUpstream).
	Upstream Upstream
	// Auth is how requests are authenticated upstream (see AuthFromEnv).
	Auth AuthMode
	// Credentials sign requests when Auth is SigV4 (see LoadCredentials).
	Credentials aws.CredentialsProvider
	// APIKey is the user's own Bedrock API key, sent when Auth is Bearer.
	APIKey string
	// Pacer admits model invocations under the quota; nil lets every request
	// through at once.
	Pacer governor.Pacer
	// Burndown says how many quota tokens one output token of a model costs
	// (the model ID without geography prefix). Nil uses models.Burndown,
	// which answers the stricter guess for a rate no source documents.
	Burndown func(model string) int
	// Record receives one Record per model invocation, when it has ended.
	// It is called on the request's goroutine: it should be quick.
	Record func(Record)
	// Session and Profile name the claude-bedrock session and profile, for
	// the records and the Pacer.
	Session, Profile string
	// Log receives the gateway's errors (upstream unreachable, credentials
	// refused); nil discards them. No line holds a token or a credential.
	Log *log.Logger
	// Transport carries requests upstream; nil uses a clone of
	// http.DefaultTransport that keeps answers byte for byte (no transparent
	// decompression) and enough idle connections for many parallel streams.
	Transport http.RoundTripper
	// MaxBody bounds request bodies; 0 means DefaultMaxBody.
	MaxBody int64
	// RetryDelay is the mean of the jittered pause before a throttled
	// request, queued again and admitted, goes upstream again; 0 means
	// DefaultRetryDelay.
	RetryDelay time.Duration
	// ShutdownGrace is how long Serve lets requests in flight finish once its
	// context is done; 0 means DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

// Record is what usage.jsonl keeps of one model invocation: counts and
// timings only, never a prompt, an answer, a header value or a credential.
type Record struct {
	// Time is when the request reached the gateway.
	Time time.Time `json:"time"`
	// Session and Profile are the claude-bedrock session and profile
	// (Config.Session, Config.Profile).
	Session string `json:"session"`
	Profile string `json:"profile"`
	// Model is the model or inference-profile ID claude asked for.
	Model string `json:"model"`
	// Region is the AWS region the request went to.
	Region string `json:"region"`
	// MaxTokens is the request body's max_tokens (0 when it had none).
	MaxTokens int `json:"max_tokens"`
	// Input, CacheRead, CacheWrite and Output are the answer's token counts
	// (Bedrock's own where it sent them).
	Input      int `json:"input_tokens"`
	CacheRead  int `json:"cache_read_tokens"`
	CacheWrite int `json:"cache_write_tokens"`
	Output     int `json:"output_tokens"`
	// Held is the tokens the request held against its bucket while in
	// flight, when the Pacer's Lease reports it (a Held() int method).
	Held int `json:"held"`
	// WaitedMS is the time spent queued by the Pacer, all attempts together.
	WaitedMS int64 `json:"waited_ms"`
	// Status is the HTTP status claude got; 499 when claude hung up before
	// an answer started (nginx's convention). A 499 after the request
	// reached Bedrock settles, and records, the request's hold as its
	// usage: Bedrock counted it, and nothing says how much.
	Status int `json:"status"`
	// Retries counts the 429s the gateway absorbed by queueing the request
	// again.
	Retries int `json:"retries,omitempty"`
	// Cut is set when an answer started but did not reach claude whole
	// (claude or the upstream hung up).
	Cut bool `json:"cut,omitempty"`
	// Exception is the type of an exception message that ended a streamed
	// answer inside a 200 ("throttlingException", "modelStreamErrorException").
	Exception string `json:"exception,omitempty"`
}

// StatusClientGone is the status recorded when claude hung up before an
// answer started.
const StatusClientGone = 499

// Gateway is the loopback Bedrock gateway: an http.Handler that checks the
// session token, paces model invocations, authenticates them upstream and
// streams the answers back while it meters them.
type Gateway struct {
	tokenSum   [sha256.Size]byte
	region     string
	up         Upstream
	auth       AuthMode
	creds      aws.CredentialsProvider
	apiKey     string
	signer     *v4.Signer
	pacer      governor.Pacer
	burndown   func(string) int
	record     func(Record)
	session    string
	profile    string
	log        *log.Logger
	base       http.RoundTripper
	maxBody    int64
	retryDelay time.Duration
	grace      time.Duration
	proxy      *httputil.ReverseProxy
}

// New checks cfg and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	if len(cfg.Token) < MinTokenLen {
		return nil, fmt.Errorf("gateway: the session token must have at least %d characters (128 bits)", MinTokenLen)
	}
	for _, u := range []*url.URL{cfg.Upstream.Runtime, cfg.Upstream.Control} {
		if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("gateway: Upstream needs a runtime and a control-plane http(s) URL (see ResolveUpstream)")
		}
	}
	switch cfg.Auth {
	case SigV4:
		if cfg.Credentials == nil {
			return nil, errors.New("gateway: SigV4 needs Credentials (see LoadCredentials)")
		}
		if cfg.Region == "" {
			return nil, errors.New("gateway: SigV4 needs the Region to sign for")
		}
	case Bearer:
		if cfg.APIKey == "" {
			return nil, errors.New("gateway: bearer authentication needs the user's APIKey (AWS_BEARER_TOKEN_BEDROCK)")
		}
	case NoAuth:
	default:
		return nil, fmt.Errorf("gateway: unknown %v", cfg.Auth)
	}
	g := &Gateway{
		tokenSum:   sha256.Sum256([]byte(cfg.Token)),
		region:     cfg.Region,
		up:         cfg.Upstream,
		auth:       cfg.Auth,
		creds:      cfg.Credentials,
		apiKey:     cfg.APIKey,
		signer:     v4.NewSigner(),
		pacer:      cfg.Pacer,
		burndown:   cfg.Burndown,
		record:     cfg.Record,
		session:    cfg.Session,
		profile:    cfg.Profile,
		log:        cfg.Log,
		base:       cfg.Transport,
		maxBody:    cfg.MaxBody,
		retryDelay: cfg.RetryDelay,
		grace:      cfg.ShutdownGrace,
	}
	if g.log == nil {
		g.log = log.New(io.Discard, "", 0)
	}
	if g.base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableCompression = true // pass answers byte for byte
		t.MaxIdleConnsPerHost = 256 // parallel streams reuse their connections
		t.MaxIdleConns = 256
		// Each connection keeps a read and a write buffer for its life.
		// Request bodies bypass the write buffer, and answers are read
		// into the copy's own buffers: small ones serve, and with hundreds
		// of streams the defaults' 4 KiB each weigh.
		t.ReadBufferSize = 1 << 10
		t.WriteBufferSize = 1 << 10
		dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second} // http.DefaultTransport's
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return bodyConn{c}, nil
		}
		g.base = t
	}
	if g.burndown == nil {
		g.burndown = func(model string) int {
			rate, _ := models.Burndown(model) // undocumented: the stricter guess
			return rate
		}
	}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxBody
	}
	if g.retryDelay <= 0 {
		g.retryDelay = DefaultRetryDelay
	}
	if g.grace <= 0 {
		g.grace = DefaultShutdownGrace
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      transport{g},
		FlushInterval:  -1, // every write reaches claude at once: event streams must not wait in a buffer
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.errorHandler,
		ErrorLog:       g.log,
		BufferPool:     copyBuffers{},
	}
	return g, nil
}

// copyBuffers lends the proxy the large copy buffers of the event-stream
// copy: the proxy copies the other answers (JSON, errors, the control
// plane's), which are short.
type copyBuffers struct{}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }

// authorized reports whether r carries the session token. Both sides are
// hashed first so that the comparison takes the same time whatever the
// length or content of what was sent.
func (g *Gateway) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], g.tokenSum[:]) == 1
}

// ServeHTTP answers one request from claude.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.authorized(r) {
		writeError(w, http.StatusUnauthorized, "UnrecognizedClientException",
			"claude-bedrock gateway: this request does not carry the session's token")
		return
	}
	if r.Method == http.MethodHead && r.URL.Path == "/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	// Read the whole body now: it is signed, measured for the Pacer and
	// sent again after a 429; and only once it is read does the server
	// notice a client that hangs up while its request waits in the queue.
	body, err := readBody(r, g.maxBody)
	if err != nil {
		writeError(w, http.StatusBadRequest, "ValidationException", "claude-bedrock gateway: cannot read the request body: "+err.Error())
		return
	}
	if int64(len(body)) > g.maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "ValidationException",
			fmt.Sprintf("claude-bedrock gateway: the request body is larger than %d MiB", g.maxBody>>20))
		return
	}
	c := g.newCall(r, body)
	defer c.finish() // also when a stream claude hung up on is aborted
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
	if c.stream != nil {
		// The proxy has set the headers; the answer is copied here.
		c.stream.copyTo(w)
	}
}

// readBody reads a request body of at most max bytes (one more tells that it
// is larger), into a buffer of its announced length when it has one: a
// turn's body is held while its answer starts, and hundreds of them may be.
func readBody(r *http.Request, max int64) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= max {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	return buf.Bytes(), err
}

// route is what the path of a request says.
type route struct {
	runtime bool
	// model and op are set for /model/{model}/{op}; model is unescaped.
	model, op string
	// path is the path to send upstream, escaped as the AWS SDKs escape it.
	path string
}

// parseRoute reads a request's path. Claude Code sends the model ID with its
// ":" raw; other clients escape it. Either way the path goes upstream as the
// AWS SDKs send it: each segment escaped except for RFC 3986's unreserved
// characters (":" as %3A), which the SigV4 signer then escapes once more in
// the canonical request, as AWS expects.
func parseRoute(u *url.URL) route {
	raw := strings.Split(u.EscapedPath(), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		if d, err := url.PathUnescape(s); err == nil {
			s = d
		}
		segs[i] = s
	}
	var rt route
	if len(segs) >= 4 && segs[0] == "" && segs[1] == "model" {
		// /model/{id}/{op}: an ID sent with a raw "/" (an ARN) spans segments.
		rt.model = strings.Join(segs[2:len(segs)-1], "/")
		rt.op = segs[len(segs)-1]
		segs = []string{"", "model", rt.model, rt.op}
	}
	// The runtime API lives under /model/, /async-invoke and /guardrail/;
	// everything else is the control plane's.
	rt.runtime = rt.model != "" || (len(segs) > 1 && (segs[1] == "async-invoke" || segs[1] == "guardrail"))
	var b strings.Builder
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('/')
		}
		escapeSegment(&b, s)
	}
	rt.path = b.String()
	return rt
}

// escapeSegment writes s escaped as an AWS SDK escapes a path label.
func escapeSegment(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

// paced reports whether an operation is a model invocation the Pacer admits.
func paced(op string) bool { return op == "invoke" || op == "invoke-with-response-stream" }

// callKey keys the call in a request's context.
type callKey struct{}

// call is one request's way through the gateway.
type call struct {
	g       *Gateway
	start   time.Time
	rt      route
	body    []byte
	paced   bool
	req     governor.Request
	lease   governor.Lease // the current attempt's; nil once released
	waited  time.Duration
	held    int
	retries int
	status  int
	meter   meter
	resp    *meteredBody // a JSON answer's
	stream  *eventStream // an event stream's
	// sent is set once the current attempt's request was written upstream;
	// attempt numbers the attempts, so that a late word of an earlier one
	// does not set it.
	sent    atomic.Bool
	attempt atomic.Int32
	// signedWith tells which credentials signed the last attempt;
	// renewals counts the attempts made again with renewed ones.
	signedWith credsID
	renewals   int
}

func (g *Gateway) newCall(r *http.Request, body []byte) *call {
	c := &call{g: g, start: time.Now(), rt: parseRoute(r.URL), body: body}
	if c.rt.model == "" || !paced(c.rt.op) {
		return c
	}
	max, _ := maxTokens(body)
	id := c.rt.model
	if i := strings.LastIndexByte(id, '/'); i >= 0 { // an ARN: …:inference-profile/us.anthropic…
		id = id[i+1:]
	}
	prefix, base := models.SplitPrefix(id)
	c.req = governor.Request{
		Bucket:    governor.Bucket{Region: g.region, Model: base, Kind: quota.Kind(prefix)},
		Session:   g.session,
		MaxTokens: max,
		// A rough count, until message_start gives the real one.
		Input:    estimateInput(body),
		Burndown: g.burndown(base),
		Probe:    max == 1,
	}
	c.paced = g.pacer != nil
	c.meter.started = func(input int) {
		if c.lease != nil {
			c.lease.Started(input)
		}
	}
	return c
}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// acquire waits for the Pacer's admission.
func (c *call) acquire(ctx context.Context) error {
	l, err := c.g.pacer.Acquire(ctx, c.req)
	if err != nil {
		return err
	}
	c.lease = l
	c.waited += l.Waited()
	if h, ok := l.(interface{ Held() int }); ok {
		c.held = h.Held()
	}
	return nil
}

// releaseLease settles the attempt's lease, if any, as refused with
// status: Bedrock counts nothing for it.
func (c *call) releaseLease(status int) {
	if c.lease != nil {
		c.lease.Done(governor.Usage{}, status)
		c.lease = nil
	}
}

// finish settles the lease and writes the record.
func (c *call) finish() {
	cut := c.resp != nil && !c.resp.eof || c.stream != nil && !c.stream.eof
	u, status := c.settled(cut)
	if c.lease != nil {
		c.lease.Done(u, status)
		c.lease = nil
	}
	if c.g.record == nil || c.rt.model == "" || !paced(c.rt.op) {
		return
	}
	c.g.record(Record{
		Time: c.start, Session: c.g.session, Profile: c.g.profile,
		Model: c.rt.model, Region: c.g.region, MaxTokens: c.req.MaxTokens,
		Input: u.Input, CacheRead: u.CacheRead, CacheWrite: u.CacheWrite, Output: u.Output,
		Held: c.held, WaitedMS: c.waited.Milliseconds(), Status: c.status,
		Retries: c.retries, Cut: cut, Exception: c.meter.exception,
	})
}

// settled returns what the request used, as well as it is known, and the
// status to settle it with: the status claude got, or, when the answer
// ended in an exception message, the status Bedrock gives that exception
// (a throttlingException inside a 200 is a 429 for the Pacer to learn from).
func (c *call) settled(cut bool) (governor.Usage, int) {
	u, status := c.meter.usage, c.status
	throttled := false
	if c.meter.exception != "" {
		status = exceptionStatus(c.meter.exception)
		throttled = status == http.StatusTooManyRequests
	}
	if cut || c.meter.exception != "" {
		// The answer stopped before its final counts: what it had written
		// counts (the deltas streamed, at four bytes per token).
		takeMax(&u.Output, c.meter.deltas/bytesPerToken)
	}
	switch {
	case c.status == StatusClientGone && c.sent.Load():
		// claude hung up after the request reached Bedrock, before any
		// answer: Bedrock counts it all the same, and nothing says how
		// much it ran. Settle to its hold: its input and the reservation
		// for its max_tokens, as it held them in flight.
		u = governor.Usage{Input: c.req.Input, Output: max(c.req.MaxTokens, models.MinThrottleReservation)}
		if c.req.Probe {
			u.Output = c.req.MaxTokens // a probe holds what it asks
		}
	case u.Input == 0 && u.CacheWrite == 0 && c.status/100 == 2 && !throttled:
		// The answer never said (cut before message_start): Bedrock still
		// counts the input, so settle to the estimate. A throttled answer
		// was not run.
		u.Input = c.req.Input
	}
	return u, status
}

// exceptionStatus is the HTTP status Bedrock answers an exception with when
// it comes before the answer starts (InvokeModelWithResponseStream's
// documented errors); 500 for one it does not document.
func exceptionStatus(exception string) int {
	switch strings.ToLower(exception) {
	case "throttlingexception":
		return http.StatusTooManyRequests
	case "servicequotaexceededexception", "validationexception":
		return http.StatusBadRequest
	case "modeltimeoutexception":
		return http.StatusRequestTimeout
	case "modelstreamerrorexception":
		return http.StatusFailedDependency
	case "serviceunavailableexception":
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// rewrite points the outgoing request at the upstream. Authorization (the
// session token) never leaves: the transport sets the upstream's own.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	c := callOf(pr.In.Context())
	up := g.up.Control
	if c.rt.runtime {
		up = g.up.Runtime
	}
	out := pr.Out.URL
	out.Scheme, out.Host, out.User = up.Scheme, up.Host, nil
	out.RawPath = strings.TrimSuffix(up.EscapedPath(), "/") + c.rt.path
	out.Path, _ = url.PathUnescape(out.RawPath) // made by escapeSegment: always valid
	out.RawQuery = pr.In.URL.RawQuery
	pr.Out.Host = ""
	pr.Out.Header.Del("Authorization")
}

// transport sends a request upstream: it waits for the Pacer, authenticates
// the request and, after a 429 the Pacer wants absorbed, queues it again.
// Signing happens here, not in rewrite, because the proxy drops the
// hop-by-hop headers only after rewrite, and a signature over them fails.
type transport struct{ g *Gateway }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	g := t.g
	ctx := req.Context()
	c := callOf(ctx)
	// The body was read whole in ServeHTTP: send it with its length, never
	// chunked (a chunked body does not verify).
	req.TransferEncoding = nil
	req.Header.Del("Content-Length")
	req.ContentLength = int64(len(c.body))
	req.GetBody = func() (io.ReadCloser, error) { return &bodyReader{c.body}, nil }
	var payloadHash string
	if g.auth == SigV4 {
		sum := sha256.Sum256(c.body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	for attempt := int32(1); ; attempt++ {
		// Nothing of this attempt reached Bedrock yet (a refused one before
		// it, a 429 or a 403, counted nothing).
		c.attempt.Store(attempt)
		c.sent.Store(false)
		req := req.WithContext(sentTrace(ctx, c, attempt))
		if c.paced {
			if err := c.acquire(ctx); err != nil {
				return nil, pacerError{err}
			}
		}
		if attempt > 1 {
			// A jittered pause, so throttled requests do not come back in
			// step. It is taken once the retry is admitted, so that it
			// holds its place: should claude hang up now, the lease ends
			// having sent nothing, and no place is left behind for a later
			// request with the same body to take.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(g.retryDelay/2 + rand.N(g.retryDelay)):
			}
		}
		req.Body = http.NoBody
		if len(c.body) > 0 {
			req.Body, _ = req.GetBody() // never fails
		}
		if err := g.authenticate(req, payloadHash); err != nil {
			if g.awaitCredentials(ctx, c, err) {
				continue
			}
			return nil, err
		}
		resp, err := g.base.RoundTrip(req)
		if err == nil {
			var again bool
			if resp, again = g.renewAfter(ctx, c, resp); again {
				continue
			}
		}
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || c.lease == nil {
			c.body = nil // sent for good: let it go while the answer streams
			return resp, err
		}
		if attempt == maxAttempts || ctx.Err() != nil {
			// No retry: the 429 still teaches the Pacer, as one passed on.
			c.lease.Done(governor.Usage{}, http.StatusTooManyRequests)
			c.lease = nil
			c.body = nil
			return resp, nil // Bedrock's own answer, unchanged
		}
		retry := c.lease.Throttled() // releases the hold
		c.lease = nil
		if !retry {
			c.body = nil
			return resp, nil // Bedrock's own answer, unchanged
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drain so the connection is reused
		_ = resp.Body.Close()                                         // nothing to do if it fails
		c.retries++
	}
}

// sentTrace notes when attempt's request has reached the upstream: from
// then on Bedrock counts it, whatever becomes of claude.
func sentTrace(ctx context.Context, c *call, attempt int32) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil && c.attempt.Load() == attempt {
				c.sent.Store(true)
			}
		},
	})
}

// bodyReader reads a request body and lets go of it once read, so that a
// body is not kept alive by the outgoing request for as long as its answer
// streams.
type bodyReader struct{ b []byte }

func (r *bodyReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		r.b = nil
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	if len(r.b) == 0 {
		r.b = nil
	}
	return n, nil
}

func (r *bodyReader) Close() error { r.b = nil; return nil }

// skip drops the first n bytes, written by other means.
func (r *bodyReader) skip(n int) {
	r.b = r.b[n:]
	if len(r.b) == 0 {
		r.b = nil
	}
}

// bodyConn is a connection to the upstream that writes a request body the
// gateway holds straight from memory, in one write. Without it, net/http
// copies a body through a fresh 32 KiB buffer per request (io.Copy into the
// connection), which a burst of requests pays hundreds of times at once.
// Over TLS the connection is wrapped, and HTTP/2 frames bodies with its own
// buffers: this serves plain HTTP/1.1.
type bodyConn struct{ net.Conn }

func (c bodyConn) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	// net/http sends a body of known length as an io.LimitedReader around
	// it (see net/http's transferWriter).
	if lr, ok := r.(*io.LimitedReader); ok {
		if b, ok := lr.R.(*bodyReader); ok {
			p := b.b[:min(int64(len(b.b)), lr.N)]
			m, err := c.Conn.Write(p)
			n, lr.N = int64(m), lr.N-int64(m)
			b.skip(m)
			if err != nil {
				return n, err
			}
		}
	}
	m, err := io.Copy(c.Conn, r) // the rest, if any: net.Conn's own ReadFrom
	return n + m, err
}

// authenticate sets the upstream's authentication on req.
func (g *Gateway) authenticate(req *http.Request, payloadHash string) error {
	switch g.auth {
	case SigV4:
		creds, err := g.creds.Retrieve(req.Context())
		if err != nil {
			return credentialsError{err: err}
		}
		req.Header.Del("X-Amz-Security-Token") // from an earlier attempt's credentials
		callOf(req.Context()).signedWith = idOf(creds)
		return g.signer.SignHTTP(req.Context(), creds, req, payloadHash, "bedrock", g.region, time.Now())
	case Bearer:
		req.Header.Set("Authorization", "Bearer "+g.apiKey)
	}
	return nil
}

// pacerError is the Pacer refusing to admit a request.
type pacerError struct{ err error }

func (e pacerError) Error() string { return "waiting for quota: " + e.err.Error() }
func (e pacerError) Unwrap() error { return e.err }

// credentialsError is the credential chain failing. Its text never holds
// the chain's own error: the AWS SDK's may quote what a credential_process
// printed, secret key included, and this text reaches claude's screen and
// the log. The doctor says why, without secrets.
type credentialsError struct {
	from string // where they were looked for ("AWS profile \"x\""), or ""
	err  error
}

func (e credentialsError) Error() string {
	if e.from != "" {
		return "no usable AWS credentials from " + e.from + ": run 'claude-bedrock +doctor' to see why"
	}
	return "no usable AWS credentials: run 'claude-bedrock +doctor' to see why"
}
func (e credentialsError) Unwrap() error { return e.err }

// modifyResponse notes the status and, for a model's answer, meters it on
// the way through.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	c := callOf(resp.Request.Context())
	c.status = resp.StatusCode
	if c.rt.model == "" || resp.StatusCode/100 != 2 {
		return nil
	}
	c.meter.headers(resp.Header)
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil // compressed: the headers' counts are all there is
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	stream := mt == "application/vnd.amazon.eventstream"
	if !stream && mt != "application/json" {
		return nil
	}
	if stream {
		// The proxy sends the headers with an empty body; the answer is
		// copied after it (see eventStream.copyTo).
		c.stream = newEventStream(resp.Body, &c.meter)
		resp.Body = http.NoBody
		return nil
	}
	c.resp = &meteredBody{rc: resp.Body, m: &c.meter}
	resp.Body = c.resp
	return nil
}

// errorHandler answers when no answer came from upstream, the way Bedrock
// answers its own failures: a status and a JSON message. Claude Code retries
// 5xx answers as it retries network errors.
func (g *Gateway) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	c := callOf(r.Context())
	if r.Context().Err() != nil {
		c.status = StatusClientGone // nobody is listening any more
		return
	}
	var pe pacerError
	var ce credentialsError
	switch {
	case errors.As(err, &pe):
		c.status = http.StatusServiceUnavailable
		writeError(w, c.status, "ServiceUnavailableException", "claude-bedrock gateway: "+err.Error())
	case errors.As(err, &ce):
		c.status = http.StatusForbidden
		writeError(w, c.status, "UnrecognizedClientException", "claude-bedrock gateway: "+err.Error())
	default:
		c.status = http.StatusBadGateway
		writeError(w, c.status, "InternalServerException", "claude-bedrock gateway: no answer from "+upstreamName(r, g)+": "+errText(err))
	}
	g.log.Printf("gateway: %s %s: %v", r.Method, c.rt.path, err)
}

// upstreamName names the host a request was for.
func upstreamName(r *http.Request, g *Gateway) string {
	if c := callOf(r.Context()); c != nil && c.rt.runtime {
		return g.up.Runtime.Host
	}
	return g.up.Control.Host
}

// errText is an error's message without the URL a url.Error repeats.
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// writeError answers with status and a Bedrock-shaped error.
func writeError(w http.ResponseWriter, status int, errType, msg string) {
	body, _ := json.Marshal(map[string]string{"message": msg}) // a map of strings always marshals
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone; nothing to do
}
