package fakebedrock_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

// The quota with the real CLI: while one claude -p holds its reservation
// (its answer held back by Pause), a second one's turn does not fit, is
// retried by Claude Code and fails with Bedrock's 429; once resumed, the
// first answers. This is the failure the governor exists to prevent.
func TestRealClaudeCodeThrottledByQuota(t *testing.T) {
	const haiku = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	// A claude -p turn is about 22,000 input tokens by the fake's estimate and
	// holds that + 5 x 2,048: one fits under 60,000, two do not.
	fake := fakebedrock.New(t, fakebedrock.WithQuota(fakebedrock.Quota{TokensPerMinute: 60000, Burndown: 5}), fakebedrock.WithReply("first come"))
	resume := fake.Pause()
	defer resume()
	env := func() (string, []string) {
		work := t.TempDir()
		home := claudetest.Home(t, work)
		return work, append(claudetest.Env(home, fake.URL(), "us-west-2"), "ANTHROPIC_MODEL="+haiku, "CLAUDE_CODE_MAX_OUTPUT_TOKENS=2048")
	}
	work, firstEnv := env()
	first := claudetest.Command(t, firstEnv, work, "-p", "say hi")
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Process.Kill() }) // a no-op once it has exited
	fake.WaitTurns(t, 1, time.Minute)

	// Were the first's hold not counted, the second would be admitted and
	// then held by Pause until this timeout.
	work, secondEnv := env()
	stdout, stderr, code := claudetest.Run(t, secondEnv, work, 90*time.Second, "-p", "say hi")
	want := "API Error: Request rejected (429) · Too many tokens, please wait before trying again."
	if code != 1 || !strings.Contains(stdout, want) {
		t.Errorf("second run: exit %d, stdout %q, stderr %q, want exit 1 and %q", code, stdout, stderr, want)
	}
	resume()
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(firstOut.String(), "first come") {
			t.Errorf("first run: %v, output %q", err, firstOut.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("first run still running a minute after its answer was resumed: %q", firstOut.String())
	}
	turns := fake.Turns()
	var got []int
	for _, tr := range turns {
		got = append(got, tr.Status)
	}
	if diff := cmp.Diff([]int{200, 429, 429, 429}, got); diff != "" {
		t.Errorf("turn statuses (-want +got):\n%s\n%s", diff, fakebedrock.Summary(turns))
	}
}
