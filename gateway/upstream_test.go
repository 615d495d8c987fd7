package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	p, err := LoadCredentials(ctx, "static")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*aws.CredentialsCache); !ok {
		t.Errorf("provider %T is not cached", p)
	}
	c, err := p.Retrieve(ctx)
	if err != nil || c.AccessKeyID != "AKIASTATIC" {
		t.Errorf("Retrieve = %v, %v", c.AccessKeyID, err)
	}
	_, err = LoadCredentials(ctx, "absent")
	if err == nil || !strings.Contains(err.Error(), `"absent"`) {
		t.Errorf("a missing profile: %v, want an error naming it", err)
	}
	awsFiles(t, "[profile empty]\nregion = us-west-2\n")
	_, err = LoadCredentials(ctx, "empty")
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
		p, err := LoadCredentials(ctx, "proc")
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
	_, err := LoadCredentials(context.Background(), "leaky")
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
