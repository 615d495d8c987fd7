package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// verifySigV4 checks a request's SigV4 signature the way AWS does, written
// from AWS's published algorithm ("Create a canonical request", "Create a
// string to sign", "Calculate the signature") and not with the SDK signer
// that made it. secrets maps access key IDs to secret keys. body is the
// request body as received.
func verifySigV4(r *http.Request, body []byte, secrets map[string]string, region, service string, now time.Time) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return fmt.Errorf("not a SigV4 Authorization: %q", auth)
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return fmt.Errorf("bad credential scope %q", fields["Credential"])
	}
	if scope[2] != region || scope[3] != service {
		return fmt.Errorf("scope %s/%s, want %s/%s", scope[2], scope[3], region, service)
	}
	secret, ok := secrets[scope[0]]
	if !ok {
		return fmt.Errorf("unknown access key %q", scope[0])
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return fmt.Errorf("bad X-Amz-Date %q", amzDate)
	}
	if scope[1] != amzDate[:8] {
		return fmt.Errorf("scope date %s is not the request's %s", scope[1], amzDate[:8])
	}
	if d := now.Sub(t); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signature date %s is %v away from now", amzDate, d)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	has := map[string]bool{}
	for _, h := range signed {
		has[h] = true
	}
	for _, must := range []string{"host", "x-amz-date"} {
		if !has[must] {
			return fmt.Errorf("%s is not signed", must)
		}
	}
	if r.Header.Get("X-Amz-Security-Token") != "" && !has["x-amz-security-token"] {
		return errors.New("x-amz-security-token is not signed")
	}

	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	// The path as it came over the wire, each byte outside the unreserved
	// set (and "/") encoded once more: every service but S3 double-encodes.
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon.WriteString(uriEncode(path, false) + "\n")
	var pairs []string
	if r.URL.RawQuery != "" {
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			dk, err1 := url.QueryUnescape(k)
			dv, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("bad query %q", r.URL.RawQuery)
			}
			pairs = append(pairs, uriEncode(dk, true)+"="+uriEncode(dv, true))
		}
	}
	sort.Strings(pairs)
	canon.WriteString(strings.Join(pairs, "&") + "\n")
	for _, h := range signed {
		var vals []string
		switch h {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			vals = r.Header.Values(h)
		}
		if len(vals) == 0 {
			return fmt.Errorf("signed header %s is missing", h)
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		canon.WriteString(h + ":" + strings.Join(vals, ",") + "\n")
	}
	canon.WriteString("\n" + fields["SignedHeaders"] + "\n")
	bodySum := sha256.Sum256(body)
	canon.WriteString(hex.EncodeToString(bodySum[:]))

	canonSum := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(canonSum[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{scope[1], region, service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("signature does not match; canonical request:\n%s", canon.String())
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// uriEncode encodes every byte outside RFC 3986's unreserved set as %XX
// (upper case); "/" too when slash is set.
func uriEncode(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 || (c == '/' && !slash) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// AWS's published SigV4 test suite (aws-sig-v4-test-suite): the verifier
// must accept its signatures.
func TestVerifierAcceptsAWSTestVectors(t *testing.T) {
	secrets := map[string]string{"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	for _, tc := range []struct{ name, method, target, sig string }{
		{"get-vanilla", "GET", "/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"post-vanilla", "POST", "/", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(tc.method, "http://example.amazonaws.com"+tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("X-Amz-Date", "20150830T123600Z")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="+tc.sig)
			if err := verifySigV4(r, nil, secrets, "us-east-1", "service", now); err != nil {
				t.Errorf("AWS's own vector refused: %v", err)
			}
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), tc.sig[:4], "0000", 1))
			if err := verifySigV4(r, nil, secrets, "us-east-1", "service", now); err == nil {
				t.Errorf("a changed signature was accepted")
			}
		})
	}
}

// Every request the gateway signs passes an independent verifier: the
// control-plane GET with its query, model IDs with ":" raw and escaped,
// temporary credentials, and the headers Claude Code adds (hop-by-hop ones
// included, which the proxy drops before signing).
func TestSigV4SignaturesVerify(t *testing.T) {
	secrets := map[string]string{"AKIAGATEWAYTEST": "gatewaySecretKey/0123456789abcdefghijkl"}
	type verdict struct {
		path string
		err  error
	}
	got := make(chan verdict, 10)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- verdict{r.URL.EscapedPath(), verifySigV4(r, body, secrets, "eu-central-1", "bedrock", time.Now())}
		okJSON(w, r)
	})
	creds := credentials.NewStaticCredentialsProvider("AKIAGATEWAYTEST", secrets["AKIAGATEWAYTEST"], "session-token-value")
	_, base := newTestGateway(t, up, Config{Auth: SigV4, Credentials: creds, Region: "eu-central-1"})
	turn := `{"max_tokens":32000,"messages":[{"role":"user","content":"hi: a colon, spaces  and é"}]}`
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/inference-profiles?type=SYSTEM_DEFINED", ""},
		{"GET", "/inference-profiles?nextToken=a%2Bb%3D&maxResults=10", ""},
		{"POST", "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", `{"max_tokens":1,"messages":[]}`},
		{"POST", "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", turn},
		{"POST", "/model/arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-6/invoke", turn},
	} {
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
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		select {
		case v := <-got:
			if v.err != nil {
				t.Errorf("%s %s: upstream refused the signature of %s: %v", tc.method, tc.path, v.path, v.err)
			}
		default:
			t.Errorf("%s %s: nothing reached the upstream (status %d)", tc.method, tc.path, resp.StatusCode)
		}
	}
	for _, r := range up.requests() {
		if r.Header.Get("X-Amz-Security-Token") != "session-token-value" {
			t.Errorf("%s: X-Amz-Security-Token %q", r.Path, r.Header.Get("X-Amz-Security-Token"))
		}
	}
}

// The verifier is only worth something if it refuses: a wrong key, a
// tampered body, a stale date, a signature for another region.
func TestVerifierRefusesBadSignatures(t *testing.T) {
	secrets := map[string]string{"AKIAGATEWAYTEST": "gatewaySecretKey/0123456789abcdefghijkl"}
	var captured *http.Request
	var capturedBody []byte
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		capturedBody, _ = io.ReadAll(r.Body)
		captured = r.Clone(r.Context())
		okJSON(w, r)
	})
	creds := credentials.NewStaticCredentialsProvider("AKIAGATEWAYTEST", secrets["AKIAGATEWAYTEST"], "")
	_, base := newTestGateway(t, up, Config{Auth: SigV4, Credentials: creds, Region: "us-west-2"})
	send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke", "", `{"max_tokens":1}`)
	if captured == nil {
		t.Fatal("nothing reached the upstream")
	}
	now := time.Now()
	if err := verifySigV4(captured, capturedBody, secrets, "us-west-2", "bedrock", now); err != nil {
		t.Fatalf("the genuine request is refused: %v", err)
	}
	for _, tc := range []struct {
		name    string
		secrets map[string]string
		body    string
		region  string
		now     time.Time
	}{
		{"wrong key", map[string]string{"AKIAGATEWAYTEST": "another secret"}, string(capturedBody), "us-west-2", now},
		{"tampered body", secrets, `{"max_tokens":64000}`, "us-west-2", now},
		{"stale date", secrets, string(capturedBody), "us-west-2", now.Add(20 * time.Minute)},
		{"other region", secrets, string(capturedBody), "us-east-1", now},
	} {
		if err := verifySigV4(captured, []byte(tc.body), tc.secrets, tc.region, "bedrock", tc.now); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
