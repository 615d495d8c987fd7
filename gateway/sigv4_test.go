package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

// sigv4Fake is a fake Bedrock that requires SigV4 for eu-central-1 with one
// temporary key, checked by internal/sigv4check (written from AWS's
// published algorithm, not with the SDK signer the gateway uses).
func sigv4Fake(t *testing.T) (*fakebedrock.Server, fakebedrock.Key) {
	key := fakebedrock.Key{AccessKeyID: "AKIAGATEWAYTEST", SecretAccessKey: "gatewaySecretKey/0123456789abcdefghijkl", SessionToken: "session-token-value"}
	return fakebedrock.New(t, fakebedrock.WithSigV4("eu-central-1", key)), key
}

// endpointUpstream is the Upstream an AWS_ENDPOINT_URL of raw makes.
func endpointUpstream(t testing.TB, raw string) Upstream {
	t.Helper()
	up, err := ResolveUpstream(map[string]string{"AWS_ENDPOINT_URL": raw}, "eu-central-1")
	if err != nil {
		t.Fatal(err)
	}
	return up
}

// Every request the gateway signs passes the fake's independent verifier:
// the control-plane GET with its query, model IDs with ":" raw and escaped,
// an ARN, temporary credentials, and the headers Claude Code adds (hop-by-hop
// ones included, which the proxy drops before signing).
func TestSigV4SignaturesVerify(t *testing.T) {
	fake, key := sigv4Fake(t)
	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, key.SessionToken)
	up := endpointUpstream(t, fake.URL())
	_, base := newTestGateway(t, nil, Config{Auth: SigV4, Credentials: creds, Region: "eu-central-1", Upstream: up})
	turn := `{"max_tokens":32000,"messages":[{"role":"user","content":"hi: a colon, spaces  and é"}]}`
	cases := []struct{ method, path, body string }{
		{"GET", "/inference-profiles?type=SYSTEM_DEFINED", ""},
		{"GET", "/inference-profiles?nextToken=a%2Bb%3D&maxResults=10", ""},
		{"POST", "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", `{"max_tokens":1,"messages":[]}`},
		{"POST", "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", turn},
		{"POST", "/model/arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-6/invoke", turn},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("X-Claude-Code-Session-Id", "3f1e0c1a-1111-4222-8333-444455556666")
		req.Header.Set("X-Stainless-Timeout", "600")
		req.Header.Set("X-Stainless-Retry-Count", "0")
		req.Header.Set("Connection", "keep-alive")
		req.Header.Set("User-Agent", "claude-cli/2.1.328 (external, cli)")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
	reqs := fake.Requests()
	if len(reqs) != len(cases) {
		t.Fatalf("the fake got %d requests, want %d:\n%s", len(reqs), len(cases), fakebedrock.Summary(reqs))
	}
	for _, r := range reqs {
		if r.Auth != "sigv4" || r.AccessKeyID != key.AccessKeyID || !r.SessionToken {
			t.Errorf("%s %s: auth %q key %q session token %v", r.Method, r.Path, r.Auth, r.AccessKeyID, r.SessionToken)
		}
	}
}

// Credentials AWS refuses get AWS's own refusal, byte for byte; the
// gateway does not dress it up.
func TestSigV4RefusalPassesThrough(t *testing.T) {
	fake, key := sigv4Fake(t)
	up := endpointUpstream(t, fake.URL())
	for _, tc := range []struct {
		name   string
		creds  credentials.StaticCredentialsProvider
		region string
	}{
		{"wrong secret", credentials.NewStaticCredentialsProvider(key.AccessKeyID, "not the secret", key.SessionToken), "eu-central-1"},
		{"unknown key", credentials.NewStaticCredentialsProvider("AKIAUNKNOWN", key.SecretAccessKey, key.SessionToken), "eu-central-1"},
		{"other region", credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, key.SessionToken), "us-east-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := newTestGateway(t, nil, Config{Auth: SigV4, Credentials: tc.creds, Region: tc.region, Upstream: up})
			resp, body := send(t, "POST", base+"/model/eu.anthropic.claude-sonnet-4-6/invoke", "", `{"max_tokens":1}`)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"message"`) ||
				!strings.HasSuffix(resp.Header.Get("X-Amzn-ErrorType"), ":http://internal.amazon.com/coral/com.amazon.coral.service/") {
				t.Errorf("claude got %d %s %q, want the fake's 403", resp.StatusCode, body, resp.Header.Get("X-Amzn-ErrorType"))
			}
		})
	}
}
