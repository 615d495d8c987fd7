package claudetest_test

// What the real Claude Code sends to a loopback gateway when the user's own
// settings files carry Bedrock credentials or endpoints in their env block.
// The launcher decides from these whether it can put its governor between
// claude and Bedrock (main package, governor.go): it gives claude
// ANTHROPIC_BEDROCK_BASE_URL (also in --settings) and a per-session
// AWS_BEARER_TOKEN_BEDROCK (in the process environment only), and removes
// CLAUDE_CODE_SKIP_BEDROCK_AUTH.

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

// authSeen is one request as a gateway in front of the fake saw it.
type authSeen struct {
	Method, Path, Authorization string
}

// recorder is a loopback HTTP server that notes each request's
// Authorization and passes it on to the fake Bedrock.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []authSeen
}

func newRecorder(t *testing.T, upstream string) *recorder {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(u) },
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, authSeen{r.Method, r.URL.Path, r.Header.Get("Authorization")})
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	rec.srv.Listener = ln
	rec.srv.Start()
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *recorder) requests() []authSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]authSeen(nil), r.seen...)
}

// TestGatewayEnvAgainstSettingsFiles runs `claude -p hi` as the launcher
// runs it with the governor on, with settings files that set the variables
// the governor depends on, and pins where each request went and with which
// Authorization.
func TestGatewayEnvAgainstSettingsFiles(t *testing.T) {
	const session, userKey = "session-token-0123456789abcdef", "user-own-bedrock-key"
	for _, tc := range []struct {
		name     string
		userEnv  map[string]string // ~/.claude/settings.json's env block
		ourEnv   map[string]string // added to the launcher's --settings env
		otherURL bool              // userEnv's ANTHROPIC_BEDROCK_BASE_URL points at another recorder
		// want is the Authorization every request to the gateway carries;
		// "" with wantNoAuthGET: the GET /inference-profiles carries none.
		want          string
		wantNoAuthGET bool
		wantOther     bool // requests reached the other recorder instead
	}{
		{name: "control: no settings", want: "Bearer " + session},
		{name: "settings AWS_BEARER_TOKEN_BEDROCK beats the process env",
			userEnv: map[string]string{"AWS_BEARER_TOKEN_BEDROCK": userKey}, want: "Bearer " + userKey},
		{name: "settings CLAUDE_CODE_SKIP_BEDROCK_AUTH=1: the control plane goes without the token",
			userEnv: map[string]string{"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1"}, want: "Bearer " + session, wantNoAuthGET: true},
		{name: "--settings CLAUDE_CODE_SKIP_BEDROCK_AUTH empty switches it off again",
			userEnv: map[string]string{"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1"}, ourEnv: map[string]string{"CLAUDE_CODE_SKIP_BEDROCK_AUTH": ""},
			want: "Bearer " + session},
		{name: "--settings CLAUDE_CODE_SKIP_BEDROCK_AUTH=0 switches it off again",
			userEnv: map[string]string{"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1"}, ourEnv: map[string]string{"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "0"},
			want: "Bearer " + session},
		{name: "--settings ANTHROPIC_BEDROCK_BASE_URL beats the settings file's",
			userEnv: map[string]string{}, otherURL: true, want: "Bearer " + session},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakebedrock.New(t)
			gw := newRecorder(t, fake.URL())
			other := newRecorder(t, fake.URL())
			work := t.TempDir()
			home := claudetest.Home(t, work)
			userEnv := map[string]string{}
			for k, v := range tc.userEnv {
				userEnv[k] = v
			}
			if tc.otherURL {
				userEnv["ANTHROPIC_BEDROCK_BASE_URL"] = other.srv.URL
			}
			if len(userEnv) > 0 {
				claudetest.WriteJSON(t, home, ".claude/settings.json", map[string]any{"env": userEnv})
			}
			ours := `{"env":{"ANTHROPIC_BEDROCK_BASE_URL":"` + gw.srv.URL + `","CLAUDE_CODE_MAX_OUTPUT_TOKENS":"2048"`
			for k, v := range tc.ourEnv {
				ours += `,"` + k + `":"` + v + `"`
			}
			ours += "}}"
			var env []string
			for _, kv := range claudetest.Env(home, gw.srv.URL, "us-west-2") {
				if !strings.HasPrefix(kv, "CLAUDE_CODE_SKIP_BEDROCK_AUTH=") {
					env = append(env, kv)
				}
			}
			env = append(env, "AWS_BEARER_TOKEN_BEDROCK="+session)
			stdout, stderr, code := claudetest.Run(t, env, work, runLimit, "--settings", ours, "-p", "hi")
			if code != 0 || !strings.Contains(stdout, fakebedrock.DefaultReply) {
				t.Fatalf("exit %d\nstdout %q\nstderr %q\n%s", code, stdout, stderr, fakebedrock.Summary(fake.Requests()))
			}
			seen, elsewhere := gw.requests(), other.requests()
			if tc.wantOther {
				seen = elsewhere
			} else if len(elsewhere) > 0 {
				t.Errorf("requests reached the settings file's base URL: %+v", elsewhere)
			}
			if len(seen) == 0 {
				t.Fatalf("no request reached the gateway")
			}
			turns := 0
			for _, r := range seen {
				want := tc.want
				if tc.wantNoAuthGET && r.Method == http.MethodGet {
					want = ""
				}
				if r.Authorization != want {
					t.Errorf("%s %s: Authorization %q, want %q", r.Method, r.Path, r.Authorization, want)
				}
				if strings.HasSuffix(r.Path, "/invoke-with-response-stream") {
					turns++
				}
			}
			if turns == 0 {
				t.Errorf("no turn went through the gateway: %+v", seen)
			}
		})
	}
}
