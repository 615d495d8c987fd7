package fakebedrock_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

var testKey = fakebedrock.Key{AccessKeyID: "AKIAFAKEGATEWAY00001", SecretAccessKey: "fake/secret/for/tests/only/000000000000", SessionToken: "FwoGZXIvYXdzFAKETOKEN//////////"}

// signed sends method url with body, signed by the AWS SDK's signer with key
// for region at when; sign is the body the signature covers (nil: body).
func signed(t *testing.T, method, url string, body, sign []byte, key fakebedrock.Key, region string, when time.Time) *http.Response {
	t.Helper()
	if sign == nil {
		sign = body
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(sign)
	creds := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey, SessionToken: key.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", region, when); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() }) // read-only
	return resp
}

func TestSigV4Required(t *testing.T) {
	clk := newClock()
	turn, _ := json.Marshal(turnBody(100, "hi")) // plain map
	noToken := testKey
	noToken.SessionToken = ""
	wrongSecret := testKey
	wrongSecret.SecretAccessKey = "not-the-secret"
	unknown := testKey
	unknown.AccessKeyID = "AKIAUNKNOWN000000001"
	const sigMismatch = "The request signature we calculated does not match the signature you provided."
	for _, tc := range []struct {
		name    string
		send    func(s *fakebedrock.Server) *http.Response
		status  int
		errType string // x-amzn-ErrorType without its suffix
		message string // the start of the body's message
		auth    string // recorded
		keyID   string // recorded
	}{
		{name: "signed stream", status: 200, auth: "sigv4", keyID: testKey.AccessKeyID, send: func(s *fakebedrock.Server) *http.Response {
			return signed(t, "POST", streamURL(s, "invoke-with-response-stream"), turn, nil, testKey, "us-west-2", clk.Now())
		}},
		{name: "signed control plane", status: 200, auth: "sigv4", keyID: testKey.AccessKeyID, send: func(s *fakebedrock.Server) *http.Response {
			return signed(t, "GET", s.URL()+"/inference-profiles?type=SYSTEM_DEFINED&maxResults=1000", nil, nil, testKey, "us-west-2", clk.Now())
		}},
		{name: "raw colon in the path", status: 200, auth: "sigv4", keyID: testKey.AccessKeyID, send: func(s *fakebedrock.Server) *http.Response {
			return signed(t, "POST", s.URL()+"/model/"+model+"/invoke", turn, nil, testKey, "us-west-2", clk.Now())
		}},
		{name: "wrong secret", status: 403, errType: "InvalidSignatureException", message: sigMismatch, keyID: testKey.AccessKeyID, send: func(s *fakebedrock.Server) *http.Response {
			return signed(t, "POST", streamURL(s, "invoke-with-response-stream"), turn, nil, wrongSecret, "us-west-2", clk.Now())
		}},
		{name: "tampered body", status: 403, errType: "InvalidSignatureException", message: sigMismatch, keyID: testKey.AccessKeyID, send: func(s *fakebedrock.Server) *http.Response {
			return signed(t, "POST", streamURL(s, "invoke-with-response-stream"), turn, []byte(`{"max_tokens":1}`), testKey, "us-west-2", clk.Now())
		}},
		{name: "stale date", status: 403, errType: "InvalidSignatureException", message: "Signature expired: ", keyID: testKey.AccessKeyID, send: func(s *fakebedrock.Server) *http.Response {
			return signed(t, "POST", streamURL(s, "invoke-with-response-stream"), turn, nil, testKey, "us-west-2", clk.Now().Add(-6*time.Minute))
		}},
		{name: "wrong region", status: 403, errType: "InvalidSignatureException", message: "Credential should be scoped to a valid region", keyID: testKey.AccessKeyID, send: func(s *fakebedrock.Server) *http.Response {
			return signed(t, "POST", streamURL(s, "invoke-with-response-stream"), turn, nil, testKey, "eu-west-1", clk.Now())
		}},
		{name: "unknown key", status: 403, errType: "UnrecognizedClientException", message: "The security token included in the request is invalid.", keyID: unknown.AccessKeyID, send: func(s *fakebedrock.Server) *http.Response {
			return signed(t, "POST", streamURL(s, "invoke-with-response-stream"), turn, nil, unknown, "us-west-2", clk.Now())
		}},
		{name: "session token missing", status: 403, errType: "UnrecognizedClientException", message: "The security token included in the request is invalid.", keyID: testKey.AccessKeyID, send: func(s *fakebedrock.Server) *http.Response {
			return signed(t, "POST", streamURL(s, "invoke-with-response-stream"), turn, nil, noToken, "us-west-2", clk.Now())
		}},
		{name: "unsigned", status: 403, errType: "MissingAuthenticationTokenException", message: "Missing Authentication Token", send: func(s *fakebedrock.Server) *http.Response {
			return post(t, streamURL(s, "invoke-with-response-stream"), turnBody(100, "hi"))
		}},
		{name: "a bearer token where SigV4 is required", status: 403, errType: "IncompleteSignatureException", message: "Unsupported AWS 'algorithm': 'Bearer'", send: func(s *fakebedrock.Server) *http.Response {
			return bearerPost(t, streamURL(s, "invoke-with-response-stream"), turn, "some-token")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakebedrock.New(t, fakebedrock.WithSigV4("us-west-2", testKey), fakebedrock.WithClock(clk.Now))
			resp := tc.send(s)
			body, _ := io.ReadAll(resp.Body) // checked below
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 403 {
				var msg struct{ Message string }
				if err := json.Unmarshal(body, &msg); err != nil || !strings.HasPrefix(msg.Message, tc.message) {
					t.Errorf("body %s, want a message starting %q", body, tc.message)
				}
				if got, want := resp.Header.Get("x-amzn-ErrorType"), tc.errType+":http://internal.amazon.com/coral/com.amazon.coral.service/"; got != want {
					t.Errorf("x-amzn-ErrorType %q, want %q", got, want)
				}
				if strings.Contains(string(body), testKey.SessionToken) || strings.Contains(string(body), testKey.SecretAccessKey) {
					t.Errorf("a credential in the refusal: %s", body)
				}
			}
			reqs := s.Requests()
			if len(reqs) != 1 {
				t.Fatalf("recorded:\n%s", fakebedrock.Summary(reqs))
			}
			r := reqs[0]
			wantAnswer := "ok"
			if tc.errType != "" {
				wantAnswer = tc.errType
			}
			if r.Auth != tc.auth || r.AccessKeyID != tc.keyID || r.Signed != (tc.keyID != "") || r.Status != tc.status || r.Answer != wantAnswer {
				t.Errorf("recorded auth=%q key=%q signed=%v status=%d answer=%q", r.Auth, r.AccessKeyID, r.Signed, r.Status, r.Answer)
			}
		})
	}
}

func bearerPost(t *testing.T, url string, body []byte, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() }) // read-only
	return resp
}

func TestBearerRequired(t *testing.T) {
	turn, _ := json.Marshal(turnBody(100, "hi")) // plain map
	s := fakebedrock.New(t, fakebedrock.WithBearer("the-session-token"))
	var got []string
	for _, tok := range []string{"the-session-token", "the-session-tokeN", ""} {
		var resp *http.Response
		if tok == "" {
			resp = post(t, streamURL(s, "invoke"), turnBody(1, "hi"))
		} else {
			resp = bearerPost(t, streamURL(s, "invoke"), turn, tok)
		}
		got = append(got, resp.Status+" "+strings.TrimSuffix(resp.Header.Get("x-amzn-ErrorType"), ":http://internal.amazon.com/coral/com.amazon.coral.service/"))
	}
	want := []string{"200 OK ", "403 Forbidden UnrecognizedClientException", "403 Forbidden MissingAuthenticationTokenException"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	for _, r := range s.Requests() {
		if strings.Contains(fmt.Sprint(r), "the-session-token") || strings.Contains(fmt.Sprint(r), "tokeN") {
			t.Errorf("the token recorded: %v", r.Header)
		}
	}
	if r := s.Requests()[0]; r.Auth != "bearer" || r.Signed || r.Header.Get("Authorization") != "Bearer <redacted>" {
		t.Errorf("recorded %+v", r)
	}
}

func TestNoAuthRequiredStillRecordsTheKey(t *testing.T) {
	s := fakebedrock.New(t)
	resp := signed(t, "POST", streamURL(s, "invoke"), []byte(`{"max_tokens":1}`), nil, testKey, "us-west-2", time.Now())
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r := s.Requests()[0]
	if !r.Signed || r.AccessKeyID != testKey.AccessKeyID || r.Auth != "" || !r.SessionToken ||
		r.Header.Get("X-Amz-Security-Token") != "<redacted>" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+testKey.AccessKeyID+"/") {
		t.Errorf("recorded signed=%v key=%q auth=%q token=%v header=%v", r.Signed, r.AccessKeyID, r.Auth, r.SessionToken, r.Header)
	}
}

// The AWS SDK's own Bedrock client, pointed at the fake, is accepted: the
// control plane the way the SDK really sends it.
func TestSDKControlPlaneClient(t *testing.T) {
	s := fakebedrock.New(t, fakebedrock.WithSigV4("us-west-2", testKey))
	client := bedrock.New(bedrock.Options{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(s.URL()),
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testKey.AccessKeyID, SecretAccessKey: testKey.SecretAccessKey, SessionToken: testKey.SessionToken}, nil
		})),
	})
	out, err := client.ListInferenceProfiles(context.Background(), &bedrock.ListInferenceProfilesInput{})
	if err != nil {
		t.Fatalf("ListInferenceProfiles: %v\n%s", err, fakebedrock.Summary(s.Requests()))
	}
	if len(out.InferenceProfileSummaries) != 0 {
		t.Errorf("profiles %v", out.InferenceProfileSummaries)
	}
	if r := s.Requests()[0]; r.Auth != "sigv4" || r.Op != "inference-profiles" || !r.SessionToken {
		t.Errorf("recorded %+v", r)
	}
}
