package gateway

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRefusesWithoutTheSessionToken(t *testing.T) {
	up := newUpstream(t, okJSON)
	var logs syncBuffer
	_, base := newTestGateway(t, up, Config{Log: newLog(&logs)})
	for _, tc := range []struct{ name, auth string }{
		{"no Authorization", "-"},
		{"wrong token", "Bearer tok-0123456789abcdefghijklmnopqrstuX"},
		{"token prefix", "Bearer " + testToken[:len(testToken)-1]},
		{"token with more", "Bearer " + testToken + "x"},
		{"not bearer", "Basic " + testToken},
		{"SigV4", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/bedrock/aws4_request, SignedHeaders=host, Signature=00"},
	} {
		for _, path := range []string{"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream", "/inference-profiles?type=SYSTEM_DEFINED", "/"} {
			method := http.MethodPost
			if !strings.HasPrefix(path, "/model/") {
				method = http.MethodGet
			}
			resp, body := send(t, method, base+path, tc.auth, `{"max_tokens":10}`)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s: status %d, want 401", tc.name, path, resp.StatusCode)
			}
			if strings.Contains(body, testToken) {
				t.Errorf("%s: the answer shows the token: %s", tc.name, body)
			}
		}
	}
	resp, _ := send(t, http.MethodHead, base+"/", "-", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HEAD / without token: status %d, want 401", resp.StatusCode)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Errorf("the log shows the token:\n%s", logs.String())
	}
}

func TestNewRefusesAShortToken(t *testing.T) {
	up := newUpstream(t, okJSON)
	_, err := New(Config{Token: "short", Upstream: Upstream{Runtime: up.url(t), Control: up.url(t)}, Auth: NoAuth})
	if err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("New with a short token: %v; want an error that does not show it", err)
	}
}

func TestRouting(t *testing.T) {
	runtime := newUpstream(t, okJSON)
	control := newUpstream(t, okJSON)
	_, base := newTestGateway(t, nil, Config{Upstream: Upstream{Runtime: runtime.url(t), Control: control.url(t)}})
	type hit struct{ Up, Method, Path, Query string }
	for _, tc := range []struct {
		name, method, path string
		want               hit
	}{
		{"stream, raw colon", "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream",
			hit{"runtime", "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", ""}},
		{"stream, escaped colon", "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream",
			hit{"runtime", "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", ""}},
		{"stream, lower-case escape", "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3a0/invoke-with-response-stream",
			hit{"runtime", "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", ""}},
		{"invoke", "POST", "/model/global.anthropic.claude-opus-5-5/invoke",
			hit{"runtime", "POST", "/model/global.anthropic.claude-opus-5-5/invoke", ""}},
		{"ARN with raw slash", "POST", "/model/arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6/invoke",
			hit{"runtime", "POST", "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-6/invoke", ""}},
		{"ARN escaped", "POST", "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-6/invoke",
			hit{"runtime", "POST", "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-6/invoke", ""}},
		{"inference profiles", "GET", "/inference-profiles?type=SYSTEM_DEFINED",
			hit{"control", "GET", "/inference-profiles", "type=SYSTEM_DEFINED"}},
		{"one inference profile", "GET", "/inference-profiles/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
			hit{"control", "GET", "/inference-profiles/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0", ""}},
		{"foundation models", "GET", "/foundation-models?byProvider=anthropic",
			hit{"control", "GET", "/foundation-models", "byProvider=anthropic"}},
		{"count tokens", "POST", "/model/anthropic.claude-sonnet-4-6/count-tokens",
			hit{"runtime", "POST", "/model/anthropic.claude-sonnet-4-6/count-tokens", ""}},
		{"guardrail", "POST", "/guardrail/g1/version/1/apply",
			hit{"runtime", "POST", "/guardrail/g1/version/1/apply", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nr, nc := len(runtime.requests()), len(control.requests())
			resp, body := send(t, tc.method, base+tc.path, "", `{"max_tokens":5}`)
			if resp.StatusCode != 200 || body != `{"ok":true}` {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			var got []hit
			for _, r := range runtime.requests()[nr:] {
				got = append(got, hit{"runtime", r.Method, r.Path, r.Query})
			}
			for _, r := range control.requests()[nc:] {
				got = append(got, hit{"control", r.Method, r.Path, r.Query})
			}
			if d := cmp.Diff([]hit{tc.want}, got); d != "" {
				t.Errorf("upstream requests (-want +got):\n%s", d)
			}
		})
	}
}

func TestHeadAnsweredByTheGateway(t *testing.T) {
	up := newUpstream(t, okJSON)
	_, base := newTestGateway(t, up, Config{})
	resp, body := send(t, http.MethodHead, base+"/", "", "")
	if resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /: %d %q, want 200 and no body", resp.StatusCode, body)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("HEAD / went upstream (%d requests)", n)
	}
}

func TestBodyTooLarge(t *testing.T) {
	up := newUpstream(t, okJSON)
	_, base := newTestGateway(t, up, Config{MaxBody: 1 << 20})
	resp, body := send(t, http.MethodPost, base+"/model/anthropic.claude-sonnet-4-6/invoke", "", strings.Repeat("x", 1<<20+1))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than 1 MiB") {
		t.Errorf("status %d body %q, want 413 naming the limit", resp.StatusCode, body)
	}
	resp, _ = send(t, http.MethodPost, base+"/model/anthropic.claude-sonnet-4-6/invoke", "", strings.Repeat("x", 1<<20))
	if resp.StatusCode != 200 {
		t.Errorf("a body of exactly the limit: status %d, want 200", resp.StatusCode)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("%d requests upstream, want 1 (the one within the limit)", n)
	}
}

// The upstream's authentication in each mode, and the session token never
// going upstream.
func TestUpstreamAuthModes(t *testing.T) {
	up := newUpstream(t, okJSON)
	for _, tc := range []struct {
		name     string
		cfg      Config
		wantAuth string
	}{
		{"bearer", Config{Auth: Bearer, APIKey: "user-bedrock-api-key"}, "Bearer user-bedrock-api-key"},
		{"none", Config{Auth: NoAuth}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := newTestGateway(t, up, tc.cfg)
			n := len(up.requests())
			send(t, http.MethodGet, base+"/inference-profiles?type=SYSTEM_DEFINED", "", "")
			send(t, http.MethodPost, base+"/model/us.anthropic.claude-sonnet-4-6/invoke", "", `{"max_tokens":1}`)
			got := up.requests()[n:]
			if len(got) != 2 {
				t.Fatalf("%d requests upstream, want 2", len(got))
			}
			for _, r := range got {
				if a := r.Header.Get("Authorization"); a != tc.wantAuth {
					t.Errorf("%s %s: Authorization %q, want %q", r.Method, r.Path, a, tc.wantAuth)
				}
				if r.Header.Get("X-Amz-Date") != "" {
					t.Errorf("%s %s: signed with SigV4 in mode %s", r.Method, r.Path, tc.name)
				}
				for k, vs := range r.Header {
					for _, v := range vs {
						if strings.Contains(v, testToken) {
							t.Errorf("the session token went upstream in header %s", k)
						}
					}
				}
			}
		})
	}
}

// What claude sends beside the body reaches the upstream; what Bedrock
// answers reaches claude byte for byte, error or not.
func TestPassesHeadersAndErrorsThrough(t *testing.T) {
	const throttled = `{"message":"Too many tokens, please wait before trying again."}`
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("x-amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/")
		h.Set("x-amzn-RequestId", "5d9c1a6e-0000-4000-8000-000000000001")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, throttled)
	})
	_, base := newTestGateway(t, up, Config{})
	req, _ := http.NewRequest(http.MethodPost, base+"/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream", strings.NewReader(`{"max_tokens":32000,"messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("X-Claude-Code-Session-Id", "3f1e0c1a-1111-4222-8333-444455556666")
	req.Header.Set("X-Stainless-Retry-Count", "2")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || string(body) != throttled {
		t.Errorf("claude got %d %q, want 429 %q", resp.StatusCode, body, throttled)
	}
	for k, want := range map[string]string{
		"X-Amzn-Errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
		"X-Amzn-Requestid": "5d9c1a6e-0000-4000-8000-000000000001",
		"Content-Type":     "application/json",
		"Content-Length":   strconv.Itoa(len(throttled)),
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("claude got %s %q, want %q", k, got, want)
		}
	}
	r := up.requests()[0]
	for k, want := range map[string]string{
		"X-Claude-Code-Session-Id": "3f1e0c1a-1111-4222-8333-444455556666",
		"X-Stainless-Retry-Count":  "2",
		"Content-Type":             "application/json",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("upstream got %s %q, want %q", k, got, want)
		}
	}
	if string(r.Body) != `{"max_tokens":32000,"messages":[]}` {
		t.Errorf("upstream got body %q", r.Body)
	}
}

// An upstream that does not answer gives claude a 5xx with a Bedrock-shaped
// body (Claude Code retries it), and the log line holds no token.
func TestUnreachableUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	ln.Close() // nothing listens there now
	var logs syncBuffer
	_, base := newTestGateway(t, nil, Config{Upstream: Upstream{Runtime: dead, Control: dead}, Log: newLog(&logs),
		Auth: Bearer, APIKey: "user-bedrock-api-key-secret"})
	resp, body := send(t, http.MethodPost, base+"/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream", "", `{"max_tokens":100}`)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	var msg struct{ Message string }
	if err := json.Unmarshal([]byte(body), &msg); err != nil || !strings.Contains(msg.Message, dead.Host) {
		t.Errorf("body %q: want a JSON message naming %s", body, dead.Host)
	}
	if resp.Header.Get("X-Amzn-ErrorType") == "" {
		t.Errorf("no X-Amzn-ErrorType header")
	}
	out := logs.String() + body
	for _, secret := range []string{testToken, "user-bedrock-api-key-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("a secret shows in the log or answer:\n%s", out)
		}
	}
	if !strings.Contains(logs.String(), "gateway: POST /model/") {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		ln, err := Listen(addr)
		if err != nil {
			if addr == "[::1]:0" && strings.Contains(err.Error(), "cannot assign") {
				continue // no IPv6 loopback on this machine
			}
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		ln.Close()
	}
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "10.0.0.1:0", "example.com:0", "nonsense"} {
		if ln, err := Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted a non-loopback address", addr)
		}
	}
}

func TestServeRefusesANonLoopbackListener(t *testing.T) {
	// Listening on all interfaces is allowed to the test, but the gateway
	// must refuse to serve on such a socket; nothing connects to it.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	up := newUpstream(t, okJSON)
	g, err := New(Config{Token: testToken, Upstream: Upstream{Runtime: up.url(t), Control: up.url(t)}, Auth: NoAuth})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Serve(t.Context(), ln); err == nil || !strings.Contains(err.Error(), "not a loopback") {
		t.Errorf("Serve on 0.0.0.0: %v, want a refusal", err)
	}
}

func TestReadToken(t *testing.T) {
	tok, err := ReadToken(strings.NewReader(testToken + "\n"))
	if err != nil || tok != testToken {
		t.Errorf("ReadToken = %q, %v", tok, err)
	}
	for _, in := range []string{"", "\n", "short\n"} {
		if _, err := ReadToken(strings.NewReader(in)); err == nil {
			t.Errorf("ReadToken(%q) accepted it", in)
		}
	}
}

// The user's own gateway may live under a path: requests go below it.
func TestUpstreamUnderAPath(t *testing.T) {
	up := newUpstream(t, okJSON)
	u := up.url(t)
	u.Path = "/bedrock/v1"
	_, base := newTestGateway(t, nil, Config{Upstream: Upstream{Runtime: u, Control: u}})
	send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", "", `{"max_tokens":1}`)
	send(t, "GET", base+"/inference-profiles?type=SYSTEM_DEFINED", "", "")
	var got []string
	for _, r := range up.requests() {
		got = append(got, r.Path+"?"+r.Query)
	}
	want := []string{"/bedrock/v1/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke?", "/bedrock/v1/inference-profiles?type=SYSTEM_DEFINED"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("upstream paths (-want +got):\n%s", d)
	}
}
