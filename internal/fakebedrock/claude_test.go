package fakebedrock_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

// withoutSkipAuth drops CLAUDE_CODE_SKIP_BEDROCK_AUTH from claudetest.Env, so
// the real CLI authenticates as it does against Bedrock.
func withoutSkipAuth(env []string) []string {
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "CLAUDE_CODE_SKIP_BEDROCK_AUTH=") })
}

// The real Claude Code, signing with its own SigV4 implementation (the AWS
// SDK for JavaScript) or sending a Bedrock API key, is accepted by the fake:
// a third signer, besides the Go SDK and the published vectors, that the
// verifier agrees with, on every request it sends — control plane, probes
// and the streamed turn.
func TestRealClaudeCodeAuthenticates(t *testing.T) {
	const haiku = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	for _, tc := range []struct {
		name string
		opt  fakebedrock.Option
		env  []string
		auth string
		key  string
		fail string // the refusal every request gets ("" none)
	}{
		{name: "sigv4 with a session token", opt: fakebedrock.WithSigV4("us-west-2", testKey), auth: "sigv4", key: testKey.AccessKeyID,
			env: []string{"AWS_ACCESS_KEY_ID=" + testKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + testKey.SecretAccessKey, "AWS_SESSION_TOKEN=" + testKey.SessionToken}},
		{name: "bearer", opt: fakebedrock.WithBearer("per-session-token-0123456789abcdef"), auth: "bearer",
			env: []string{"AWS_BEARER_TOKEN_BEDROCK=per-session-token-0123456789abcdef"}},
		{name: "sigv4 with the wrong secret", opt: fakebedrock.WithSigV4("us-west-2", testKey), key: testKey.AccessKeyID, fail: "InvalidSignatureException",
			env: []string{"AWS_ACCESS_KEY_ID=" + testKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY=wrong" + testKey.SecretAccessKey, "AWS_SESSION_TOKEN=" + testKey.SessionToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakebedrock.New(t, tc.opt, fakebedrock.WithReply("signed and sealed"))
			work := t.TempDir()
			home := claudetest.Home(t, work)
			env := append(withoutSkipAuth(claudetest.Env(home, fake.URL(), "us-west-2")), "ANTHROPIC_MODEL="+haiku)
			env = append(env, tc.env...)
			stdout, stderr, code := claudetest.Run(t, env, work, 2*time.Minute, "-p", "say hi")
			reqs := fake.Requests()
			if tc.fail != "" {
				if code == 0 || len(reqs) == 0 {
					t.Errorf("exit %d with %d requests, want a failure", code, len(reqs))
				}
				for _, r := range reqs {
					if r.Status != 403 || r.Answer != tc.fail || r.AccessKeyID != tc.key {
						t.Errorf("%s %s: status %d %s key %q", r.Method, r.Path, r.Status, r.Answer, r.AccessKeyID)
					}
				}
				return
			}
			if code != 0 || !strings.Contains(stdout, "signed and sealed") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nrequests:\n%s", code, stdout, stderr, fakebedrock.Summary(reqs))
			}
			if len(fake.Turns()) == 0 {
				t.Fatalf("no turn:\n%s", fakebedrock.Summary(reqs))
			}
			for _, r := range reqs {
				if r.Auth != tc.auth || r.AccessKeyID != tc.key || r.Status != 200 {
					t.Errorf("%s %s: auth %q key %q status %d %s", r.Method, r.Path, r.Auth, r.AccessKeyID, r.Status, r.Answer)
				}
			}
		})
	}
}
