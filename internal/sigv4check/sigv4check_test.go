package sigv4check_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/sigv4check"
)

// The test suite's credentials, time, region and service (testdata/README.md).
const (
	suiteKeyID  = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteRegion = "us-east-1"
)

var suiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

func suiteSecrets(id string) (string, bool) {
	if id == suiteKeyID {
		return suiteSecret, true
	}
	return "", false
}

// readSuiteRequest parses a test-suite request file: a request line whose
// target may hold spaces, headers (a line starting with white space continues
// the previous header as another value), a blank line and the body.
func readSuiteRequest(t *testing.T, path string) (*http.Request, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(raw), "\n\n")
	lines := strings.Split(head, "\n")
	method, rest, _ := strings.Cut(lines[0], " ")
	target := rest[:strings.LastIndex(rest, " ")]
	r := &http.Request{Method: method, RequestURI: target, Header: http.Header{}, ContentLength: int64(len(body))}
	var last string
	for _, l := range lines[1:] {
		if l[0] == ' ' || l[0] == '\t' {
			r.Header.Add(last, strings.TrimSpace(l))
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("%s: header line %q", path, l)
		}
		if strings.EqualFold(name, "host") {
			r.Host = value
			continue
		}
		last = name
		r.Header.Add(name, value)
	}
	return r, []byte(body)
}

func suiteVerifier(now time.Time) sigv4check.Verifier {
	return sigv4check.Verifier{Secret: suiteSecrets, Service: "service", Region: suiteRegion, Now: func() time.Time { return now }}
}

func TestAWSTestSuite(t *testing.T) {
	dirs, err := filepath.Glob("testdata/v4/*")
	if err != nil || len(dirs) < 25 {
		t.Fatalf("test vectors: %d dirs, %v", len(dirs), err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r, body := readSuiteRequest(t, filepath.Join(dir, "header-signed-request.txt"))
			c, err := suiteVerifier(suiteTime).Verify(r, body)
			if err != nil {
				t.Fatalf("published signature refused: %v", err)
			}
			if c.AccessKeyID != suiteKeyID || !c.Date.Equal(suiteTime) || c.Region != suiteRegion || c.Service != "service" {
				t.Errorf("credential %+v", c)
			}
			wantToken := r.Header.Get("X-Amz-Security-Token") != ""
			if c.SecurityToken != wantToken {
				t.Errorf("SecurityToken = %v, want %v", c.SecurityToken, wantToken)
			}

			// The same request with one bit of the signature changed, or
			// checked against another secret, must be refused.
			authz := r.Header.Get("Authorization")
			flipped := authz[:len(authz)-1] + map[bool]string{true: "1", false: "0"}[authz[len(authz)-1] == '0']
			r.Header.Set("Authorization", flipped)
			wantCode(t, "flipped signature", sigv4check.InvalidSignature, func() error { _, err := suiteVerifier(suiteTime).Verify(r, body); return err }())
			r.Header.Set("Authorization", authz)
			err = sigv4check.Verify(r, body, func(string) (string, bool) { return "not" + suiteSecret, true }, "service", suiteTime, 0)
			wantCode(t, "other secret", sigv4check.InvalidSignature, err)
		})
	}
}

func TestGetVanillaCanonicalRequestAndStringToSign(t *testing.T) {
	r, body := readSuiteRequest(t, "testdata/v4/get-vanilla/header-signed-request.txt")
	creq := sigv4check.CanonicalRequest(r, []string{"host", "x-amz-date"}, hexSHA256(body))
	want, err := os.ReadFile("testdata/v4/get-vanilla/header-canonical-request.txt")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), creq); diff != "" {
		t.Errorf("canonical request (-want +got):\n%s", diff)
	}
	sts := sigv4check.StringToSign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", creq)
	want, err = os.ReadFile("testdata/v4/get-vanilla/header-string-to-sign.txt")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), sts); diff != "" {
		t.Errorf("string to sign (-want +got):\n%s", diff)
	}
}

func TestCanonicalURIAndQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke", "/model/us.anthropic.claude-haiku-4-5-20251001-v1%253A0/invoke"},
		{"/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke", "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke"},
		{"/example space/", "/example%20space/"},
		{"//example//", "/example/"},
		{"/a/./b/../c", "/a/c"},
		{"/", "/"},
		{"", "/"},
	} {
		if got := sigv4check.CanonicalURI(tc.in); got != tc.want {
			t.Errorf("CanonicalURI(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"type=SYSTEM_DEFINED&maxResults=1000", "maxResults=1000&type=SYSTEM_DEFINED"},
		{"Param2=value2&Param1=value1", "Param1=value1&Param2=value2"},
		{"b=2&a=2&a=1", "a=1&a=2&b=2"},
		{"a-b=1&a=2", "a=2&a-b=1"},
		{"k", "k="},
		{"x=a+b&y=%2F", "x=a%20b&y=%2F"},
		{"", ""},
	} {
		if got := sigv4check.CanonicalQuery(tc.in); got != tc.want {
			t.Errorf("CanonicalQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

const (
	bedrockKeyID  = "AKIAFAKEBEDROCK00001"
	bedrockSecret = "fake/secret/for/the/test/only/0000000000"
	bedrockToken  = "FwoGZXIvYXdzEFAKESESSIONTOKEN//////////"
	modelPath     = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
)

// received is one request as a loopback server saw it.
type received struct {
	r    *http.Request
	body []byte
}

// loopback starts a server on 127.0.0.1 that hands every request it receives,
// with its body, to the test; it answers 204.
func loopback(t *testing.T) (string, <-chan received) {
	t.Helper()
	ch := make(chan received, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // a short body from the test itself
		ch <- received{r, body}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

// sdkSigned sends a Bedrock request signed by the AWS SDK for Go's signer at
// signTime and returns it as the server received it.
func sdkSigned(t *testing.T, path string, body []byte, signTime time.Time, contentSHA bool) received {
	t.Helper()
	base, ch := loopback(t)
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/vnd.amazon.eventstream")
	req.Header.Set("X-Claude-Code-Session-Id", "0b7c1a52-0000-4000-8000-000000000000")
	req.Header.Set("X-Stainless-Retry-Count", "0")
	if contentSHA {
		req.Header.Set("X-Amz-Content-Sha256", hexSHA256(body))
	}
	creds := aws.Credentials{AccessKeyID: bedrockKeyID, SecretAccessKey: bedrockSecret, SessionToken: bedrockToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hexSHA256(body), "bedrock", "us-west-2", signTime); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // 204, nothing to read
	return <-ch
}

func bedrockSecrets(id string) (string, bool) {
	if id == bedrockKeyID {
		return bedrockSecret, true
	}
	return "", false
}

func TestSDKSignedBedrockRequest(t *testing.T) {
	signTime := time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":8192,"messages":[{"role":"user","content":"hi"}]}`)
	tampered := bytes.Replace(body, []byte(`"hi"`), []byte(`"ho"`), 1)
	verifier := func(now time.Time) sigv4check.Verifier {
		return sigv4check.Verifier{Secret: bedrockSecrets, Service: "bedrock", Region: "us-west-2", Now: func() time.Time { return now }}
	}
	for _, tc := range []struct {
		name       string
		contentSHA bool
		check      func(got received) (sigv4check.Credential, error)
		code       string // "" accepted
		msg        string // in the message
	}{
		{name: "as signed", check: func(g received) (sigv4check.Credential, error) { return verifier(signTime).Verify(g.r, g.body) }},
		{name: "clock 4m59s ahead", check: func(g received) (sigv4check.Credential, error) {
			return verifier(signTime.Add(5*time.Minute-time.Second)).Verify(g.r, g.body)
		}},
		{name: "wrong secret", code: sigv4check.InvalidSignature, msg: "does not match", check: func(g received) (sigv4check.Credential, error) {
			v := verifier(signTime)
			v.Secret = func(string) (string, bool) { return "another/secret", true }
			return v.Verify(g.r, g.body)
		}},
		{name: "unknown key", code: sigv4check.UnrecognizedClient, msg: "security token included in the request is invalid", check: func(g received) (sigv4check.Credential, error) {
			v := verifier(signTime)
			v.Secret = func(string) (string, bool) { return "", false }
			return v.Verify(g.r, g.body)
		}},
		{name: "stale date", code: sigv4check.InvalidSignature, msg: "Signature expired: 20261202T150405Z is now earlier than 20261202T150506Z (20261202T151006Z - 5 min.)", check: func(g received) (sigv4check.Credential, error) {
			return verifier(signTime.Add(6*time.Minute+time.Second)).Verify(g.r, g.body)
		}},
		{name: "date in the future", code: sigv4check.InvalidSignature, msg: "Signature not yet current: 20261202T150405Z is still later than 20261202T145905Z (20261202T145405Z + 5 min.)", check: func(g received) (sigv4check.Credential, error) {
			return verifier(signTime.Add(-10*time.Minute)).Verify(g.r, g.body)
		}},
		{name: "tampered body", code: sigv4check.InvalidSignature, msg: "does not match", check: func(g received) (sigv4check.Credential, error) {
			return verifier(signTime).Verify(g.r, tampered)
		}},
		{name: "tampered body with content hash", contentSHA: true, code: sigv4check.ContentSHA256Mismatch, check: func(g received) (sigv4check.Credential, error) {
			return verifier(signTime).Verify(g.r, tampered)
		}},
		{name: "content hash kept", contentSHA: true, check: func(g received) (sigv4check.Credential, error) {
			return verifier(signTime).Verify(g.r, g.body)
		}},
		{name: "other service", code: sigv4check.InvalidSignature, msg: "scoped to correct service: 'bedrock-runtime'", check: func(g received) (sigv4check.Credential, error) {
			v := verifier(signTime)
			v.Service = "bedrock-runtime"
			return v.Verify(g.r, g.body)
		}},
		{name: "other region", code: sigv4check.InvalidSignature, msg: "valid region", check: func(g received) (sigv4check.Credential, error) {
			v := verifier(signTime)
			v.Region = "eu-west-1"
			return v.Verify(g.r, g.body)
		}},
		{name: "header changed after signing", code: sigv4check.InvalidSignature, check: func(g received) (sigv4check.Credential, error) {
			g.r.Header.Set("X-Stainless-Retry-Count", "1")
			return verifier(signTime).Verify(g.r, g.body)
		}},
		{name: "no authorization", code: sigv4check.MissingAuthenticationToken, msg: "Missing Authentication Token", check: func(g received) (sigv4check.Credential, error) {
			g.r.Header.Del("Authorization")
			return verifier(signTime).Verify(g.r, g.body)
		}},
		{name: "bearer token", code: sigv4check.IncompleteSignature, check: func(g received) (sigv4check.Credential, error) {
			g.r.Header.Set("Authorization", "Bearer abc")
			return verifier(signTime).Verify(g.r, g.body)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sdkSigned(t, modelPath, body, signTime, tc.contentSHA)
			c, err := tc.check(got)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				want := sigv4check.Credential{AccessKeyID: bedrockKeyID, Date: signTime, Region: "us-west-2", Service: "bedrock",
					SignedHeaders: c.SignedHeaders, SecurityToken: true}
				if diff := cmp.Diff(want, c); diff != "" {
					t.Errorf("credential (-want +got):\n%s", diff)
				}
				return
			}
			wantCode(t, tc.name, tc.code, err)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not say %q", err.Error(), tc.msg)
			}
		})
	}
}

// The model ID's ":" travels escaped once; the canonical request escapes it
// again. A verifier that skipped the second escaping would accept only
// signers that get it wrong.
func TestSDKPathEscapedTwiceInCanonicalRequest(t *testing.T) {
	signTime := time.Now().UTC().Truncate(time.Second)
	body := []byte(`{"max_tokens":1}`)
	got := sdkSigned(t, modelPath, body, signTime, false)
	if got.r.RequestURI != modelPath {
		t.Fatalf("the path went out as %q, want %q", got.r.RequestURI, modelPath)
	}
	v := sigv4check.Verifier{Secret: bedrockSecrets, Service: "bedrock"}
	if _, err := v.Verify(got.r, body); err != nil {
		t.Fatalf("refused: %v", err)
	}
	// Break the signature to read the canonical request in the refusal.
	got.r.Header.Set("X-Stainless-Retry-Count", "9")
	_, err := v.Verify(got.r, body)
	if err == nil || !strings.Contains(err.Error(), "'POST\n/model/us.anthropic.claude-sonnet-4-5-20250929-v1%253A0/invoke-with-response-stream\n\n") ||
		strings.Contains(err.Error(), bedrockToken) {
		t.Errorf("canonical request not escaped twice, or the session token shown: %v", err)
	}
	// Sent with a raw ":" it verifies too, escaped once in the canonical request.
	raw := strings.ReplaceAll(modelPath, "%3A", ":")
	got = sdkSigned(t, raw, body, signTime, false)
	if _, err := v.Verify(got.r, body); err != nil {
		t.Fatalf("raw ':' refused: %v", err)
	}
}

func TestErrorStatus(t *testing.T) {
	var e *sigv4check.Error
	err := sigv4check.Verify(&http.Request{Method: "GET", Header: http.Header{}}, nil, bedrockSecrets, "bedrock", time.Now(), 0)
	if !errors.As(err, &e) || e.Status != 403 || e.Code != sigv4check.MissingAuthenticationToken {
		t.Fatalf("got %v", err)
	}
}

func wantCode(t *testing.T, what, code string, err error) {
	t.Helper()
	var e *sigv4check.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: got %v, want %s", what, err, code)
		return
	}
	if e.Code != code {
		t.Errorf("%s: got %s (%s), want %s", what, e.Code, e.Message, code)
	}
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
