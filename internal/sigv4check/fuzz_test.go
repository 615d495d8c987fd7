package sigv4check_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/claude-bedrock/claude-bedrock/internal/sigv4check"
)

// FuzzAgreesWithSDK signs requests with varied paths, queries, header values
// and bodies with the AWS SDK for Go and checks that the verifier accepts
// every one, and refuses it once the body changes. Paths with "." or ".."
// segments or empty ones are left out: AWS normalizes them, the SDK does not,
// and no AWS SDK sends them. So are tabs in header values: the Go SDK keeps
// them where botocore (and this verifier) fold them with the spaces.
func FuzzAgreesWithSDK(f *testing.F) {
	f.Add("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "type", "SYSTEM_DEFINED", "0", []byte(`{"max_tokens":1}`))
	f.Add("arn:aws:bedrock:us-west-2:123456789012:inference-profile/x", "a b", "c+d", "  two   spaces ", []byte{})
	f.Add("ሴ%zz", "ሴ", "=&?", "é ü", []byte("\x00\xff"))
	f.Add("~!*'()@$,;", "k", "", "x", []byte("{}"))
	signTime := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	creds := aws.Credentials{AccessKeyID: bedrockKeyID, SecretAccessKey: bedrockSecret, SessionToken: bedrockToken}
	v := sigv4check.Verifier{Secret: bedrockSecrets, Service: "bedrock", Region: "us-west-2", Now: func() time.Time { return signTime }}
	f.Fuzz(func(t *testing.T, segment, key, value, header string, body []byte) {
		if segment == "" || segment == "." || segment == ".." || strings.Contains(segment, "/") || key == "" {
			return
		}
		for _, c := range header {
			if c < ' ' || c == 0x7f {
				return // not a valid header value
			}
		}
		u := &url.URL{Scheme: "http", Host: "127.0.0.1:8080", Path: "/model/" + segment + "/invoke", RawQuery: url.Values{key: {value}}.Encode()}
		req, err := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(string(body)))
		if err != nil {
			return
		}
		req.Header.Set("X-Fuzz", header)
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hexSHA256(body), "bedrock", "us-west-2", signTime); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(req, body); err != nil {
			t.Fatalf("path %q query %q header %q: %v", req.URL.EscapedPath(), req.URL.RawQuery, header, err)
		}
		if _, err := v.Verify(req, append(body, 'x')); err == nil {
			t.Fatalf("a changed body was accepted")
		}
	})
}
