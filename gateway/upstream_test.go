package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/google/go-cmp/cmp"
)

// TestMain lets the test binary stand in for a credential_process: with
// GATEWAY_TEST_CREDPROC set to a counter file it prints temporary
// credentials that expire GATEWAY_TEST_CREDPROC_TTL from now.
func TestMain(m *testing.M) {
	if f := os.Getenv("GATEWAY_TEST_CREDPROC"); f != "" {
		os.Exit(credentialProcess(f))
	}
	os.Exit(m.Run())
}

func credentialProcess(counter string) int {
	b, _ := os.ReadFile(counter) // absent the first time
	n := len(b) + 1
	if err := os.WriteFile(counter, []byte(strings.Repeat("x", n)), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if ready := os.Getenv("GATEWAY_TEST_CREDPROC_READY"); ready != "" {
		if _, err := os.Stat(ready); err != nil {
			return 1 // as a credential_process fails when its session is over
		}
	}
	ttl, _ := time.ParseDuration(os.Getenv("GATEWAY_TEST_CREDPROC_TTL"))
	out, _ := json.Marshal(map[string]any{ // a map of plain values always marshals
		"Version": 1, "AccessKeyId": fmt.Sprintf("AKIAPROC%04d", n), "SecretAccessKey": "secret", "SessionToken": "token",
		"Expiration": time.Now().Add(ttl).UTC().Format(time.RFC3339),
	})
	fmt.Println(string(out))
	return 0
}

func TestResolveUpstream(t *testing.T) {
	type got struct{ Runtime, Control, Err string }
	for _, tc := range []struct {
		name   string
		env    map[string]string
		region string
		want   got
	}{
		{"AWS", nil, "us-west-2", got{"https://bedrock-runtime.us-west-2.amazonaws.com", "https://bedrock.us-west-2.amazonaws.com", ""}},
		{"China", nil, "cn-north-1", got{"https://bedrock-runtime.cn-north-1.amazonaws.com.cn", "https://bedrock.cn-north-1.amazonaws.com.cn", ""}},
		{"one override for all", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "eu-west-1",
			got{"http://127.0.0.1:4566", "http://127.0.0.1:4566", ""}},
		{"per service", map[string]string{
			"AWS_ENDPOINT_URL":                 "http://127.0.0.1:1",
			"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:2/",
			"AWS_ENDPOINT_URL_BEDROCK":         "http://127.0.0.1:3",
		}, "us-east-1", got{"http://127.0.0.1:2", "http://127.0.0.1:3", ""}},
		{"runtime only", map[string]string{"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:2"}, "us-east-1",
			got{"http://127.0.0.1:2", "https://bedrock.us-east-1.amazonaws.com", ""}},
		{"overrides ignored", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE"}, "us-east-1",
			got{"https://bedrock-runtime.us-east-1.amazonaws.com", "https://bedrock.us-east-1.amazonaws.com", ""}},
		{"the user's own gateway", map[string]string{"ANTHROPIC_BEDROCK_BASE_URL": "https://llm.corp.example/bedrock/", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, "",
			got{"https://llm.corp.example/bedrock", "https://llm.corp.example/bedrock", ""}},
		{"no region", nil, "", got{Err: "no AWS region"}},
		{"odd region", nil, "us-west-2.evil.example", got{Err: "not an AWS region"}},
		{"not a URL", map[string]string{"AWS_ENDPOINT_URL_BEDROCK": "127.0.0.1:3"}, "us-east-1", got{Err: `AWS_ENDPOINT_URL_BEDROCK="127.0.0.1:3" is not an http(s) URL`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, err := ResolveUpstream(tc.env, tc.region)
			var g got
			if err != nil {
				g.Err = err.Error()
				if !strings.Contains(g.Err, tc.want.Err) || tc.want.Err == "" {
					t.Errorf("error %q, want one containing %q", g.Err, tc.want.Err)
				}
				return
			}
			g = got{up.Runtime.String(), up.Control.String(), ""}
			if d := cmp.Diff(tc.want, g); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestAuthFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		mode AuthMode
		key  string
	}{
		{nil, SigV4, ""},
		{map[string]string{"AWS_BEARER_TOKEN_BEDROCK": "k"}, Bearer, "k"},
		{map[string]string{"AWS_BEARER_TOKEN_BEDROCK": "k", "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1"}, Bearer, "k"},
		{map[string]string{"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1"}, NoAuth, ""},
		{map[string]string{"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "true"}, NoAuth, ""},
		{map[string]string{"CLAUDE_CODE_SKIP_BEDROCK_AUTH": "0"}, SigV4, ""},
	} {
		mode, key := AuthFromEnv(tc.env)
		if mode != tc.mode || key != tc.key {
			t.Errorf("AuthFromEnv(%v) = %v, %q; want %v, %q", tc.env, mode, key, tc.mode, tc.key)
		}
	}
}

// awsFiles points the AWS SDK at a config file of the test's own, with no
// other source of credentials.
func awsFiles(t *testing.T, config string) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func TestLoadCredentials(t *testing.T) {
	awsFiles(t, "[profile static]\naws_access_key_id = AKIASTATIC\naws_secret_access_key = staticSecretValue\n")
	ctx := context.Background()
	p, err := LoadCredentials(ctx, "static", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.cur.(*aws.CredentialsCache); !ok {
		t.Errorf("provider %T is not cached", p.cur)
	}
	c, err := p.Retrieve(ctx)
	if err != nil || c.AccessKeyID != "AKIASTATIC" {
		t.Errorf("Retrieve = %v, %v", c.AccessKeyID, err)
	}
	_, err = LoadCredentials(ctx, "absent", true)
	if err == nil || !strings.Contains(err.Error(), `"absent"`) {
		t.Errorf("a missing profile: %v, want an error naming it", err)
	}
	awsFiles(t, "[profile empty]\nregion = us-west-2\n")
	_, err = LoadCredentials(ctx, "empty", false)
	if err == nil || !strings.Contains(err.Error(), `"empty"`) {
		t.Errorf("a profile without credentials: %v, want an error naming it", err)
	}
}

// Temporary credentials are fetched again before they expire, not after:
// ones that expire within the refresh window are never reused.
func TestLoadCredentialsRefreshesBeforeExpiry(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	awsFiles(t, fmt.Sprintf("[profile proc]\ncredential_process = %q\n", self))
	counter := filepath.Join(t.TempDir(), "count")
	t.Setenv("GATEWAY_TEST_CREDPROC", counter)
	ctx := context.Background()
	for _, tc := range []struct {
		ttl  time.Duration
		want string // the key of the third Retrieve
	}{
		{time.Hour, "AKIAPROC0001"},
		{credentialsExpiryWindow - time.Minute, "AKIAPROC0003"},
	} {
		os.Remove(counter)
		t.Setenv("GATEWAY_TEST_CREDPROC_TTL", tc.ttl.String())
		p, err := LoadCredentials(ctx, "proc", false)
		if err != nil {
			t.Fatal(err)
		}
		var c aws.Credentials
		for range 2 {
			if c, err = p.Retrieve(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if c.AccessKeyID != tc.want {
			t.Errorf("credentials valid for %v: third fetch gave %s, want %s", tc.ttl, c.AccessKeyID, tc.want)
		}
	}
}

// TestCredentialsErrorHoldsNoSecret: the AWS SDK's error for a
// credential_process whose output it cannot parse quotes that output,
// secret key included; the gateway's error, which reaches claude's screen
// and the log, must not.
func TestCredentialsErrorHoldsNoSecret(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	proc := `echo '{"Version":1,"AccessKeyId":"AKIDLEAK","SecretAccessKey":"SECRETLEAKVALUE","Expiration":"not a time"}'`
	if err := os.WriteFile(cfg, []byte("[profile leaky]\ncredential_process = sh -c \""+strings.ReplaceAll(proc, `"`, `\"`)+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	_, err := LoadCredentials(context.Background(), "leaky", false)
	if err == nil {
		t.Fatal("credentials loaded from a process whose output does not parse")
	}
	if inner := errors.Unwrap(err); inner == nil || !strings.Contains(inner.Error(), "SECRETLEAKVALUE") {
		t.Logf("the SDK's own error no longer quotes the output (%v): this test guards nothing new", inner)
	}
	if strings.Contains(err.Error(), "SECRETLEAKVALUE") {
		t.Errorf("the error quotes the secret: %v", err)
	}
	if !strings.Contains(err.Error(), `"leaky"`) {
		t.Errorf("the error does not name the profile: %v", err)
	}
}

// The renewal tests' keys: the fake knows both; the credentials file holds
// the old one until the "refresh" writes the new one.
var (
	oldKey = fakebedrock.Key{AccessKeyID: "AKIAOLDKEY0000000001", SecretAccessKey: "oldSecretKey/0123456789abcdefghijklmnop"}
	newKey = fakebedrock.Key{AccessKeyID: "AKIANEWKEY0000000002", SecretAccessKey: "newSecretKey/0123456789abcdefghijklmnop"}
)

// writeKey writes the AWS config file of awsFiles with profile p's static key k,
// as a refresh command that rewrites the files would.
func writeKey(t *testing.T, k fakebedrock.Key) {
	t.Helper()
	ini := fmt.Sprintf("[profile p]\naws_access_key_id = %s\naws_secret_access_key = %s\n", k.AccessKeyID, k.SecretAccessKey)
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCredentialsRenew: the cache keeps serving what it read until Renew
// loads the chain again, from the files as they are now.
func TestCredentialsRenew(t *testing.T) {
	awsFiles(t, "")
	writeKey(t, oldKey)
	ctx := context.Background()
	c, err := LoadCredentials(ctx, "p", false)
	if err != nil {
		t.Fatal(err)
	}
	writeKey(t, newKey)
	for _, want := range []string{oldKey.AccessKeyID, newKey.AccessKeyID} {
		got, err := c.Retrieve(ctx)
		if err != nil || got.AccessKeyID != want {
			t.Errorf("Retrieve = %s, %v; want %s", got.AccessKeyID, err, want)
		}
		c.Renew(ctx)
	}
}

// TestLoadCredentialsAwaitsAuthRefresh: a chain that fails at the start is
// an error, unless Claude Code runs awsAuthRefresh, which it does at start
// when the credentials fail: then the gateway starts and waits for it.
func TestLoadCredentialsAwaitsAuthRefresh(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	awsFiles(t, fmt.Sprintf("[profile proc]\ncredential_process = %q\n", self))
	dir := t.TempDir()
	t.Setenv("GATEWAY_TEST_CREDPROC", filepath.Join(dir, "count"))
	t.Setenv("GATEWAY_TEST_CREDPROC_TTL", "1h")
	t.Setenv("GATEWAY_TEST_CREDPROC_READY", filepath.Join(dir, "ready"))
	ctx := context.Background()
	if _, err := LoadCredentials(ctx, "proc", false); err == nil {
		t.Error("failing credentials loaded without awsAuthRefresh")
	}
	c, err := LoadCredentials(ctx, "proc", true)
	if err != nil {
		t.Fatalf("with awsAuthRefresh: %v", err)
	}
	if c.waits() != RefreshWait {
		t.Errorf("waits %v before the credentials worked, want %v", c.waits(), RefreshWait)
	}
	c.Worked()
	if c.waits() != 0 {
		t.Errorf("waits %v once they worked, want 0: claude refreshes only at its start", c.waits())
	}
}

func TestCredentialRefusal(t *testing.T) {
	for _, tc := range []struct {
		status int
		typ    string
		want   bool
	}{
		{403, "ExpiredTokenException:http://internal.amazon.com/coral/com.amazon.coral.service/", true},
		{403, "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/", true},
		{400, "ExpiredTokenException", true},
		{403, "InvalidClientTokenId", true},
		{403, "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/", false},
		{403, "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/", false},
		{429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", false},
		{401, "ExpiredTokenException", false}, // not how AWS says it; Claude Code does not refresh on 401 either
		{403, "", false},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		resp.Header.Set("X-Amzn-ErrorType", tc.typ)
		if got := credentialRefusal(resp); got != tc.want {
			t.Errorf("%d %s: credentialRefusal %v, want %v", tc.status, tc.typ, got, tc.want)
		}
	}
}

// expiryFake is a fake Bedrock in us-west-2 that knows both keys, with
// old's expired from the start when expired.
func expiryFake(t *testing.T, expired bool) *fakebedrock.Server {
	opts := []fakebedrock.Option{fakebedrock.WithSigV4("us-west-2", oldKey, newKey)}
	if expired {
		opts = append(opts, fakebedrock.WithExpired(oldKey.AccessKeyID))
	}
	return fakebedrock.New(t, opts...)
}

// renewGateway is a gateway signing with profile p of the AWS files, in
// front of fake; authRefresh as the user's settings say.
func renewGateway(t *testing.T, fake *fakebedrock.Server, authRefresh bool, logs *syncBuffer) string {
	t.Helper()
	creds, err := LoadCredentials(context.Background(), "p", authRefresh)
	if err != nil {
		t.Fatal(err)
	}
	_, base := newTestGateway(t, nil, Config{Auth: SigV4, Credentials: creds, Region: "us-west-2",
		Upstream: endpointUpstream(t, fake.URL()), Log: newLog(logs)})
	return base
}

const renewTurn = `{"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`

// keysOf lists the access key and answer of each request the fake got.
func keysOf(reqs []fakebedrock.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.AccessKeyID+" "+r.Answer)
	}
	return out
}

// TestRenewAtStartWaitsForAuthRefresh: credentials expired when the session
// starts, with awsAuthRefresh: the refused request waits until the refresh
// (here the test, as claude would) has written new ones, and goes with
// those; claude gets the answer, not the refusal.
func TestRenewAtStartWaitsForAuthRefresh(t *testing.T) {
	awsFiles(t, "")
	writeKey(t, oldKey)
	fake := expiryFake(t, true)
	var logs syncBuffer
	base := renewGateway(t, fake, true, &logs)
	type answer struct {
		status int
		body   string
	}
	done := make(chan answer, 1)
	go func() {
		resp, body := send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", "", renewTurn)
		done <- answer{resp.StatusCode, body}
	}()
	fake.WaitFor(t, "the old key refused", time.Minute, func(reqs []fakebedrock.Request) bool {
		return len(reqs) > 0 && reqs[0].Answer == fakebedrock.ExpiredToken
	}, false)
	writeKey(t, newKey)
	a := <-done
	if a.status != http.StatusOK || !strings.Contains(a.body, fakebedrock.DefaultReply) {
		t.Errorf("claude got %d %s; want the answer", a.status, a.body)
	}
	want := []string{oldKey.AccessKeyID + " " + fakebedrock.ExpiredToken, newKey.AccessKeyID + " ok"}
	if diff := cmp.Diff(want, keysOf(fake.Requests())); diff != "" {
		t.Errorf("requests at the fake (-want +got):\n%s", diff)
	}
	if l := logs.String(); strings.Contains(l, oldKey.SecretAccessKey) || strings.Contains(l, newKey.SecretAccessKey) {
		t.Errorf("a secret key in the log: %s", l)
	}
}

// TestRenewPassesRefusal: without awsAuthRefresh at the start, and later in
// a session with it (claude then no longer refreshes by itself), a refusal
// that renewed credentials cannot cure reaches claude at once and
// unchanged, for claude's own message; one that they can cure (the user
// refreshed meanwhile) goes again with them.
func TestRenewPassesRefusal(t *testing.T) {
	const path = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke"
	refusal := `{"message":"` + fakebedrock.ExpiredMessage + `"}`
	for _, tc := range []struct {
		name        string
		authRefresh bool
		midSession  bool // the old key worked once, then expires
		refreshed   bool // new credentials are in the files when it is refused
		want        []string
	}{
		{name: "start, no awsAuthRefresh", want: []string{"AKIAOLDKEY0000000001 ExpiredTokenException"}},
		{name: "mid-session, awsAuthRefresh, not refreshed", authRefresh: true, midSession: true,
			want: []string{"AKIAOLDKEY0000000001 ok", "AKIAOLDKEY0000000001 ExpiredTokenException"}},
		{name: "mid-session, refreshed elsewhere", midSession: true, refreshed: true,
			want: []string{"AKIAOLDKEY0000000001 ok", "AKIAOLDKEY0000000001 ExpiredTokenException", "AKIANEWKEY0000000002 ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			awsFiles(t, "")
			writeKey(t, oldKey)
			fake := expiryFake(t, !tc.midSession)
			var logs syncBuffer
			base := renewGateway(t, fake, tc.authRefresh, &logs)
			if tc.midSession {
				if resp, body := send(t, "POST", base+path, "", renewTurn); resp.StatusCode != http.StatusOK {
					t.Fatalf("first request: %d %s", resp.StatusCode, body)
				}
				fake.Expire(oldKey.AccessKeyID)
			}
			if tc.refreshed {
				writeKey(t, newKey)
			}
			resp, body := send(t, "POST", base+path, "", renewTurn)
			if tc.refreshed {
				if resp.StatusCode != http.StatusOK {
					t.Errorf("got %d %s; want the answer with the new key", resp.StatusCode, body)
				}
			} else if resp.StatusCode != http.StatusForbidden || body != refusal ||
				resp.Header.Get("X-Amzn-ErrorType") != fakebedrock.ExpiredToken+":http://internal.amazon.com/coral/com.amazon.coral.service/" {
				t.Errorf("got %d %q %q; want Bedrock's refusal unchanged", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
			}
			if diff := cmp.Diff(tc.want, keysOf(fake.Requests())); diff != "" {
				t.Errorf("requests at the fake (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChainFailsAtStartWaitsForAuthRefresh: a chain that gives nothing at
// the start (an SSO session over, here a credential_process that fails
// until "ready" exists) keeps a request waiting, with awsAuthRefresh, until
// it gives credentials, which then sign it.
func TestChainFailsAtStartWaitsForAuthRefresh(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	awsFiles(t, fmt.Sprintf("[profile p]\ncredential_process = %q\n", self))
	dir := t.TempDir()
	counter, ready := filepath.Join(dir, "count"), filepath.Join(dir, "ready")
	t.Setenv("GATEWAY_TEST_CREDPROC", counter)
	t.Setenv("GATEWAY_TEST_CREDPROC_TTL", "1h")
	t.Setenv("GATEWAY_TEST_CREDPROC_READY", ready)
	var keys []fakebedrock.Key
	for n := 1; n <= 200; n++ {
		keys = append(keys, fakebedrock.Key{AccessKeyID: fmt.Sprintf("AKIAPROC%04d", n), SecretAccessKey: "secret", SessionToken: "token"})
	}
	fake := fakebedrock.New(t, fakebedrock.WithSigV4("us-west-2", keys...))
	var logs syncBuffer
	base := renewGateway(t, fake, true, &logs)
	done := make(chan int, 1)
	go func() {
		resp, _ := send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", "", renewTurn)
		done <- resp.StatusCode
	}()
	// Runs of the process: one at the load, then the waiting request's.
	for runs := 0; runs < 3; {
		select {
		case status := <-done:
			t.Fatalf("answered %d before the chain gave credentials", status)
		case <-time.After(renewPoll): // the process leaves no other trace to wait on
		}
		b, _ := os.ReadFile(counter)
		runs = len(b)
	}
	if len(fake.Requests()) != 0 {
		t.Fatalf("requests went upstream without credentials: %v", keysOf(fake.Requests()))
	}
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if status := <-done; status != http.StatusOK {
		t.Errorf("got %d; want the answer once the chain gives credentials", status)
	}
	if reqs := fake.Requests(); len(reqs) != 1 || reqs[0].Auth != "sigv4" {
		t.Errorf("requests at the fake %v; want one, signed", keysOf(reqs))
	}
}
