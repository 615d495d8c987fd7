package gateway

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// testToken is the session token of the tests' gateways.
const testToken = "tok-0123456789abcdefghijklmnopqrstuv"

// seen is one request an upstream received.
type seen struct {
	Method, Path, Query string // Path as on the wire (escaped)
	Header              http.Header
	Body                []byte
	Host                string
}

// upstream is a loopback stand-in for Bedrock that records what it gets.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

// newUpstream starts an upstream on 127.0.0.1 answering with h (after the
// request is recorded).
func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // a broken body shows as a short one in the test
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), body, r.Host})
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}))
	u.Listener = ln
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

func (u *upstream) url(t testing.TB) *url.URL {
	t.Helper()
	p, err := url.Parse(u.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// okJSON answers every request with a small JSON body.
func okJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

// newTestGateway starts a gateway in NoAuth mode (unless cfg says otherwise)
// in front of up, on 127.0.0.1, and returns its base URL.
func newTestGateway(t testing.TB, up *upstream, cfg Config) (*Gateway, string) {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.Region == "" {
		cfg.Region = "us-west-2"
	}
	if cfg.Upstream.Runtime == nil {
		cfg.Upstream = Upstream{Runtime: up.url(t), Control: up.url(t)}
	}
	if cfg.Auth == SigV4 && cfg.Credentials == nil {
		cfg.Auth = NoAuth // the zero Config: no signing unless a test asks
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return g, "http://" + ln.Addr().String()
}

// send makes a request to the gateway with the session token (or tok, when
// not empty; "-" for none) and returns the answer with its body read.
func send(t testing.TB, method, u, tok, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	switch tok {
	case "":
		req.Header.Set("Authorization", "Bearer "+testToken)
	case "-":
	default:
		req.Header.Set("Authorization", tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newLog(b *syncBuffer) *log.Logger { return log.New(b, "", 0) }

// sendAndHangUp sends body to path at the gateway with the session's
// token, in the background. hangUp cancels the request as a client that
// goes away; errc has what the client got (its answer's body closed).
func sendAndHangUp(base, path, body string) (hangUp context.CancelFunc, errc <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	ch := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		ch <- err
	}()
	return cancel, ch
}
