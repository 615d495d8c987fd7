package fakebedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TeammateUserAgent is the User-Agent of RunTeammate's requests, by which the
// fake tells them from the client under test's.
const TeammateUserAgent = "fakebedrock-teammate"

// Teammate is another client using the same quota directly, as a colleague,
// a CI job or claude run without the launcher would.
type Teammate struct {
	// Model is the model ID it calls (unescaped; ":" is escaped on the wire).
	Model string
	// MaxTokens is each request's max_tokens.
	MaxTokens int
	// Prompt is each request's user message; its length sets the input.
	Prompt string
	// Pause waits this long between one answer's end and the next request.
	Pause time.Duration
	// For bounds the run: no request starts after it has passed (real time).
	For time.Duration
}

// TeammateResult counts a teammate's answers by status.
type TeammateResult struct {
	OK, Throttled, Other int
}

// RunTeammate sends tm's requests to the fake one after another, streaming
// and reading each answer in full, until tm.For has passed or ctx is done,
// and counts the answers. It authenticates as the fake requires: with its own
// key (TeammateAccessKeyID) under SigV4, else with the bearer token. Its
// requests are recorded with Teammate set and are not among Turns.
func (s *Server) RunTeammate(ctx context.Context, tm Teammate) TeammateResult {
	var res TeammateResult
	deadline := time.Now().Add(tm.For)
	body, _ := json.Marshal(map[string]any{ // plain maps always marshal
		"anthropic_version": "bedrock-2023-05-31", "max_tokens": tm.MaxTokens,
		"messages": []any{map[string]any{"role": "user", "content": tm.Prompt}},
	})
	url := s.URL() + "/model/" + strings.ReplaceAll(tm.Model, ":", "%3A") + "/invoke-with-response-stream"
	for ctx.Err() == nil && time.Now().Before(deadline) {
		status, err := s.teammateRequest(ctx, url, body)
		switch {
		case err != nil:
			res.Other++
		case status == http.StatusOK:
			res.OK++
		case status == http.StatusTooManyRequests:
			res.Throttled++
		default:
			res.Other++
		}
		select {
		case <-ctx.Done():
		case <-time.After(tm.Pause): // the teammate's own pace
		}
	}
	return res
}

func (s *Server) teammateRequest(ctx context.Context, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", TeammateUserAgent)
	switch {
	case s.auth.teammate.AccessKeyID != "":
		sum := sha256.Sum256(body)
		k := s.auth.teammate
		region := s.auth.region
		if region == "" {
			region = "us-east-1"
		}
		creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "bedrock", region, s.now()); err != nil {
			return 0, err
		}
	case s.auth.bearer != "":
		req.Header.Set("Authorization", "Bearer "+s.auth.bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
