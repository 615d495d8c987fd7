package fakebedrock_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

func TestAnswersCarryTokenCounts(t *testing.T) {
	s := fakebedrock.New(t, fakebedrock.WithBehavior(fakebedrock.Behavior{Reply: "abcdefghij", Chunks: 4, OutputTokens: 321}))
	in := bodyTokens(t, 2048)

	resp := post(t, streamURL(s, "invoke-with-response-stream"), turnBody(2048, "hi"))
	evs := decodeStream(t, resp.Body)
	var deltas []string
	for _, ev := range evs {
		if d, ok := ev["delta"].(map[string]any); ok && d["type"] == "text_delta" {
			deltas = append(deltas, d["text"].(string))
		}
	}
	if diff := cmp.Diff([]string{"ab", "cde", "fg", "hij"}, deltas); diff != "" {
		t.Errorf("deltas (-want +got):\n%s", diff)
	}
	start := evs[0]["message"].(map[string]any)["usage"]
	wantStart := map[string]any{"input_tokens": float64(in), "cache_creation_input_tokens": 0.0, "cache_read_input_tokens": 0.0, "output_tokens": 1.0}
	if diff := cmp.Diff(wantStart, start); diff != "" {
		t.Errorf("message_start usage (-want +got):\n%s", diff)
	}
	if got := evs[len(evs)-2]["usage"]; !cmp.Equal(got, map[string]any{"output_tokens": 321.0}) {
		t.Errorf("message_delta usage %v", got)
	}
	metrics, _ := evs[len(evs)-1]["amazon-bedrock-invocationMetrics"].(map[string]any)
	if metrics["inputTokenCount"] != float64(in) || metrics["outputTokenCount"] != 321.0 ||
		metrics["invocationLatency"] == nil || metrics["firstByteLatency"] == nil {
		t.Errorf("invocation metrics %v", metrics)
	}

	resp = post(t, streamURL(s, "invoke"), turnBody(2048, "hi"))
	var msg struct{ Usage map[string]int }
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(resp.Header.Get("X-Amzn-Bedrock-Input-Token-Count"), " ", resp.Header.Get("X-Amzn-Bedrock-Output-Token-Count"),
		" ", msg.Usage["input_tokens"], " ", msg.Usage["output_tokens"])
	if want := fmt.Sprint(in, " 321 ", in, " 321"); got != want {
		t.Errorf("invoke counts %q, want %q", got, want)
	}
	for _, r := range s.Requests() {
		if r.InputTokens != in || r.OutputTokens != 321 || !r.Done {
			t.Errorf("recorded %+v", r)
		}
	}
}

// Every event is flushed as it is written: message_start reaches the client
// while the rest of the answer is held back.
func TestEventsFlushedWhilePaused(t *testing.T) {
	s := fakebedrock.New(t)
	resume := s.Pause()
	defer resume()
	resp := post(t, streamURL(s, "invoke-with-response-stream"), turnBody(100, "hi"))
	msg, err := eventstream.NewDecoder().Decode(resp.Body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg.Payload), `"bytes"`) {
		t.Fatalf("payload %s", msg.Payload)
	}
	if r := s.Turns()[0]; r.Done {
		t.Errorf("done while paused: %+v", r)
	}
	resume()
	rest := decodeStream(t, resp.Body)
	if len(rest) == 0 || rest[len(rest)-1]["type"] != "message_stop" {
		t.Errorf("rest of the stream: %v", rest)
	}
	s.WaitFor(t, "the turn done", 10*time.Second, func(reqs []fakebedrock.Request) bool { return reqs[0].Done }, false)
}
