package fakebedrock_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

const model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"

func post(t *testing.T, url string, body any) *http.Response {
	t.Helper()
	js, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() }) // read-only
	return resp
}

func turnBody(maxTokens int, users ...string) map[string]any {
	var msgs []any
	for i, u := range users {
		if i > 0 {
			msgs = append(msgs, map[string]any{"role": "assistant", "content": "ok"})
		}
		msgs = append(msgs, map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "text", "text": "<system-reminder>x</system-reminder>"},
			map[string]any{"type": "text", "text": u},
		}})
	}
	return map[string]any{"anthropic_version": "bedrock-2023-05-31", "max_tokens": maxTokens, "messages": msgs}
}

// streamURL is the path Claude Code uses: the model ID path-escaped (":" as %3A).
func streamURL(s *fakebedrock.Server, op string) string {
	return s.URL() + "/model/" + strings.ReplaceAll(model, ":", "%3A") + "/" + op
}

// decodeStream reads an event-stream body with the AWS SDK's decoder and
// returns the Anthropic events it carries.
func decodeStream(t *testing.T, r io.Reader) []map[string]any {
	t.Helper()
	dec := eventstream.NewDecoder()
	var evs []map[string]any
	for {
		msg, err := dec.Decode(r, nil)
		if errors.Is(err, io.EOF) {
			return evs
		}
		if err != nil {
			t.Fatalf("decode event-stream message: %v", err)
		}
		for name, want := range map[string]string{":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"} {
			if v := msg.Headers.Get(name); v == nil || v.String() != want {
				t.Errorf("header %s = %v, want %q", name, v, want)
			}
		}
		var chunk struct{ Bytes string }
		if err := json.Unmarshal(msg.Payload, &chunk); err != nil {
			t.Fatalf("payload %q: %v", msg.Payload, err)
		}
		raw, err := base64.StdEncoding.DecodeString(chunk.Bytes)
		if err != nil {
			t.Fatalf("bytes %q: %v", chunk.Bytes, err)
		}
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("event %q: %v", raw, err)
		}
		evs = append(evs, ev)
	}
}

func TestStreamingAnswerDecodesWithSDK(t *testing.T) {
	s := fakebedrock.New(t, fakebedrock.WithReply("one two three"))
	resp := post(t, streamURL(s, "invoke-with-response-stream"), turnBody(2048, "first", "second"))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.amazon.eventstream" {
		t.Fatalf("status %d content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs := decodeStream(t, resp.Body)
	var types []string
	var text strings.Builder
	for _, ev := range evs {
		types = append(types, ev["type"].(string))
		if d, ok := ev["delta"].(map[string]any); ok && d["type"] == "text_delta" {
			text.WriteString(d["text"].(string))
		}
	}
	wantTypes := []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta",
		"content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("event types (-want +got):\n%s", diff)
	}
	if text.String() != "one two three" {
		t.Errorf("text %q", text.String())
	}
	if sr := evs[len(evs)-2]["delta"].(map[string]any)["stop_reason"]; sr != "end_turn" {
		t.Errorf("stop_reason %v", sr)
	}

	turns := s.Turns()
	if len(turns) != 1 {
		t.Fatalf("turns %d", len(turns))
	}
	got := turns[0]
	if got.Model != model || got.MaxTokens != 2048 || !got.Stream || got.Op != "invoke-with-response-stream" || got.Status != 200 {
		t.Errorf("recorded %+v", got)
	}
	wantUsers := []string{"<system-reminder>x</system-reminder>\nfirst", "<system-reminder>x</system-reminder>\nsecond"}
	if diff := cmp.Diff(wantUsers, got.UserTexts); diff != "" {
		t.Errorf("user texts (-want +got):\n%s", diff)
	}
	if got.Body["anthropic_version"] != "bedrock-2023-05-31" {
		t.Errorf("body not kept: %v", got.Body)
	}
}

func TestThrottleAboveThresholdAndProbes(t *testing.T) {
	s := fakebedrock.New(t, fakebedrock.WithThrottle(4096))
	// A turn above the threshold: Bedrock's exact 429.
	resp := post(t, streamURL(s, "invoke-with-response-stream"), turnBody(8192, "hi"))
	body, _ := io.ReadAll(resp.Body) // checked below through its content
	if resp.StatusCode != 429 ||
		resp.Header.Get("x-amzn-ErrorType") != "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" ||
		string(body) != `{"message":"Too many tokens, please wait before trying again."}` {
		t.Errorf("got %d %q %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body)
	}
	// At the threshold: fine.
	resp = post(t, streamURL(s, "invoke-with-response-stream"), turnBody(4096, "hi"))
	if resp.StatusCode != 200 || len(decodeStream(t, resp.Body)) == 0 {
		t.Errorf("max_tokens at threshold: status %d", resp.StatusCode)
	}
	// A probe (max_tokens 1) is not throttled, and neither is a big one by default.
	s.Throttle(0)
	resp = post(t, streamURL(s, "invoke"), turnBody(1, "probe"))
	var msg map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil || resp.StatusCode != 200 || msg["type"] != "message" {
		t.Errorf("probe: %d %v %v", resp.StatusCode, msg, err)
	}
	// Unless probes are failed too.
	s.Update(func(b *fakebedrock.Behavior) { b.FailProbes = true })
	if resp := post(t, streamURL(s, "invoke"), turnBody(1, "probe")); resp.StatusCode != 429 {
		t.Errorf("failed probe: status %d, want 429", resp.StatusCode)
	}
	// Healed mid-run.
	s.Heal()
	if resp := post(t, streamURL(s, "invoke-with-response-stream"), turnBody(64000, "hi")); resp.StatusCode != 200 {
		t.Errorf("healed: status %d", resp.StatusCode)
	}
	var answers []string
	for _, r := range s.Requests() {
		answers = append(answers, fmt.Sprintf("%s %d %d", r.Op, r.MaxTokens, r.Status))
	}
	want := []string{"invoke-with-response-stream 8192 429", "invoke-with-response-stream 4096 200",
		"invoke 1 200", "invoke 1 429", "invoke-with-response-stream 64000 200"}
	if diff := cmp.Diff(want, answers); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
}

func TestEveryFailureKind(t *testing.T) {
	for _, tc := range []struct {
		f       fakebedrock.Failure
		status  int
		errType string
		message string
	}{
		{fakebedrock.TooManyTokens, 429, "ThrottlingException", "Too many tokens, please wait before trying again."},
		{fakebedrock.TooManyRequests, 429, "ThrottlingException", "Too many requests, please wait before trying again."},
		{fakebedrock.TooManyTokensPerDay, 429, "ThrottlingException", "Too many tokens per day, please wait before trying again."},
		{fakebedrock.RateTooHigh, 429, "ThrottlingException", "Your request rate is too high. Reduce the frequency of requests."},
		{fakebedrock.Unavailable, 503, "ServiceUnavailableException", "Bedrock is unable to process your request"},
	} {
		t.Run(tc.f.String(), func(t *testing.T) {
			s := fakebedrock.New(t, fakebedrock.WithFailure(tc.f, 0))
			resp := post(t, streamURL(s, "invoke-with-response-stream"), turnBody(100, "hi"))
			var body struct{ Message string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || body.Message != tc.message ||
				resp.Header.Get("x-amzn-ErrorType") != tc.errType+":http://internal.amazon.com/coral/com.amazon.bedrock/" {
				t.Errorf("got %d %q %q", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body.Message)
			}
			if tc.f.Status() != tc.status || tc.f.Message() != tc.message {
				t.Errorf("Status/Message = %d %q", tc.f.Status(), tc.f.Message())
			}
		})
	}
}

func TestMaxTokensStop(t *testing.T) {
	s := fakebedrock.New(t, fakebedrock.WithFailure(fakebedrock.MaxTokens, 0))
	resp := post(t, streamURL(s, "invoke-with-response-stream"), turnBody(3000, "hi"))
	evs := decodeStream(t, resp.Body)
	md := evs[len(evs)-2]
	if md["type"] != "message_delta" || md["delta"].(map[string]any)["stop_reason"] != "max_tokens" ||
		md["usage"].(map[string]any)["output_tokens"] != float64(3000) {
		t.Errorf("message_delta %v", md)
	}
	if r := s.Turns()[0]; r.Answer != "max_tokens" {
		t.Errorf("recorded answer %q", r.Answer)
	}
}

func TestInferenceProfilesAndUnknown(t *testing.T) {
	s := fakebedrock.New(t)
	resp, err := http.Get(s.URL() + "/inference-profiles?type=SYSTEM_DEFINED")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // status is all we need
	if resp.StatusCode != 200 {
		t.Errorf("inference-profiles: %d", resp.StatusCode)
	}
	resp = post(t, s.URL()+"/nope", map[string]any{"x": 1})
	if resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].Op != "inference-profiles" || reqs[0].Query != "type=SYSTEM_DEFINED" ||
		reqs[1].Path != "/nope" || reqs[1].Status != 404 || reqs[1].Answer != "not found" {
		t.Errorf("recorded:\n%s", fakebedrock.Summary(reqs))
	}
	if len(s.Turns()) != 0 {
		t.Errorf("turns from non-streaming requests")
	}
}

func TestWaitTurnsWakesOnArrival(t *testing.T) {
	s := fakebedrock.New(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 3 {
			js, _ := json.Marshal(turnBody(100+i, "hi")) // plain map
			resp, err := http.Post(streamURL(s, "invoke-with-response-stream"), "application/json", bytes.NewReader(js))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body) // drain
			_ = resp.Body.Close()                 // read-only
		}
	}()
	turns := s.WaitTurns(t, 3, 10*time.Second)
	wg.Wait()
	if len(turns) < 3 || turns[2].MaxTokens != 102 {
		t.Errorf("turns:\n%s", fakebedrock.Summary(turns))
	}
}

func TestConcurrentRequestsAndUpdates(t *testing.T) {
	s := fakebedrock.New(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				s.Throttle(i * 100)
			} else {
				s.SetReply(fmt.Sprint("reply ", i))
			}
			js, _ := json.Marshal(turnBody(500, "hi")) // plain map
			resp, err := http.Post(streamURL(s, "invoke-with-response-stream"), "application/json", bytes.NewReader(js))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body) // drain
			_ = resp.Body.Close()                 // read-only
		}()
	}
	wg.Wait()
	if n := len(s.Turns()); n != 8 {
		t.Errorf("%d turns recorded, want 8", n)
	}
}
