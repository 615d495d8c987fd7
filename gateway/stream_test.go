package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/auth/bearer"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/google/go-cmp/cmp"
)

// An answer with every count: what Bedrock streams for a turn that wrote to
// and read from the prompt cache.
var answerEvents = []map[string]any{
	{"type": "message_start", "message": map[string]any{
		"id": "msg_bdrk_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": []any{},
		"usage": map[string]any{"input_tokens": 1200, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 5000, "output_tokens": 1},
	}},
	{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}},
	{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": "Hello, \"usage\" is a word too."}},
	{"type": "content_block_stop", "index": 0},
	{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn"}, "usage": map[string]any{"output_tokens": 42}},
	{"type": "message_stop", "amazon-bedrock-invocationMetrics": map[string]any{
		"inputTokenCount": 1200, "outputTokenCount": 42, "invocationLatency": 900, "firstByteLatency": 300,
		"cacheReadInputTokenCount": 5000, "cacheWriteInputTokenCount": 300,
	}},
}

// frames encodes events as Bedrock's event-stream chunks, one []byte each.
func frames(t testing.TB, events []map[string]any) [][]byte {
	t.Helper()
	var out [][]byte
	for _, ev := range events {
		var b bytes.Buffer
		if err := fakebedrock.WriteChunk(&b, ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	return out
}

// encodeMessage encodes one event-stream message with the SDK's encoder.
func encodeMessage(t testing.TB, m eventstream.Message) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// streamUpstream answers with the frames, flushing each one.
func streamUpstream(fr [][]byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Header().Set("X-Amzn-Requestid", "req-1")
		for _, f := range fr {
			if _, err := w.Write(f); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
}

type scanned struct {
	MsgType, EventType string
	Payload            string
}

// scanAll feeds stream to a frameScanner in pieces of the given sizes
// (cycled) and returns what it found.
func scanAll(stream []byte, sizes ...int) ([]scanned, *frameScanner) {
	var got []scanned
	s := &frameScanner{message: func(mt, et, p []byte) {
		got = append(got, scanned{string(mt), string(et), string(p)})
	}}
	for i := 0; len(stream) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(stream))
		s.Write(stream[:n])
		stream = stream[n:]
	}
	return got, s
}

// testStream is a stream with every kind of header value, an exception, an
// oversized message (skipped) and chunks around them.
func testStream(t testing.TB) ([]byte, []scanned) {
	fr := frames(t, answerEvents[:2])
	var stream []byte
	var want []scanned
	for _, f := range fr {
		stream = append(stream, f...)
	}
	for _, ev := range answerEvents[:2] {
		js, _ := json.Marshal(ev)
		p, _ := json.Marshal(map[string][]byte{"bytes": js})
		want = append(want, scanned{"event", "chunk", string(p)})
	}
	stream = append(stream, encodeMessage(t, eventstream.Message{
		Headers: eventstream.Headers{
			{Name: "b", Value: eventstream.BoolValue(true)},
			{Name: "f", Value: eventstream.BoolValue(false)},
			{Name: "i8", Value: eventstream.Int8Value(-3)},
			{Name: "i16", Value: eventstream.Int16Value(300)},
			{Name: "i32", Value: eventstream.Int32Value(70000)},
			{Name: "i64", Value: eventstream.Int64Value(1 << 40)},
			{Name: "bytes", Value: eventstream.BytesValue([]byte{0, 1, 2})},
			{Name: "ts", Value: eventstream.TimestampValue(time.Unix(1700000000, 0))},
			{Name: "uuid", Value: eventstream.UUIDValue{1, 2, 3}},
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
			{Name: ":exception-type", Value: eventstream.StringValue("throttlingException")},
		},
		Payload: []byte(`{"message":"Too many tokens"}`),
	})...)
	want = append(want, scanned{"exception", "throttlingException", `{"message":"Too many tokens"}`})
	stream = append(stream, encodeMessage(t, eventstream.Message{
		Headers: eventstream.Headers{{Name: ":message-type", Value: eventstream.StringValue("event")}},
		Payload: bytes.Repeat([]byte("x"), maxKept+100),
	})...)
	stream = append(stream, encodeMessage(t, eventstream.Message{})...)
	want = append(want, scanned{})
	return stream, want
}

func TestFrameScannerAnyPieces(t *testing.T) {
	stream, want := testStream(t)
	for _, sizes := range [][]int{{len(stream)}, {1}, {7}, {11, 13}, {12}, {4096}, {maxKept + 1}} {
		got, s := scanAll(stream, sizes...)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("pieces of %v (-want +got):\n%s", sizes, d)
		}
		if s.broken || len(s.buf) != 0 || s.skip != 0 {
			t.Errorf("pieces of %v: left broken=%v buf=%d skip=%d", sizes, s.broken, len(s.buf), s.skip)
		}
	}
}

func TestFrameScannerStopsAtGarbage(t *testing.T) {
	fr := frames(t, answerEvents[:2])
	flipped := bytes.Clone(fr[1])
	flipped[len(flipped)-10] ^= 1 // the payload no longer matches the message CRC
	badPrelude := bytes.Clone(fr[1])
	badPrelude[2] ^= 0x40 // the length no longer matches the prelude CRC
	for name, tail := range map[string][]byte{
		"garbage":         []byte("this is not an event stream at all, not even close"),
		"payload flipped": flipped,
		"prelude flipped": badPrelude,
		"tiny length":     {0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		stream := append(append(bytes.Clone(fr[0]), tail...), fr[1]...)
		got, s := scanAll(stream, 5)
		if len(got) != 1 || !s.broken {
			t.Errorf("%s: %d messages, broken %v; want the first message, then a stop", name, len(got), s.broken)
		}
	}
}

// FuzzFrameScanner: whatever the bytes, the scanner never panics, keeps its
// memory bounded, and finds the same messages however the bytes are split.
func FuzzFrameScanner(f *testing.F) {
	stream, _ := testStream(f)
	f.Add(stream[:2000], uint16(1), uint16(7))
	f.Add(stream[:50], uint16(12), uint16(3))
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint16(3), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		whole, sw := scanAll(data, len(data)+1)
		split, ss := scanAll(data, int(a)%64+1, int(b)%64+1)
		if d := cmp.Diff(whole, split); d != "" {
			t.Errorf("split differently, found differently (-whole +split):\n%s", d)
		}
		if sw.broken != ss.broken {
			t.Errorf("broken whole %v, split %v", sw.broken, ss.broken)
		}
		if cap(ss.buf) > 2*maxKept {
			t.Errorf("buffer grew to %d", cap(ss.buf))
		}
	})
}

// A streamed answer reaches claude byte for byte, and its counts reach the
// Pacer (message_start's input with cache writes as the real hold; the
// whole usage at the end) and the record.
func TestStreamedUsage(t *testing.T) {
	fr := frames(t, answerEvents)
	up := newUpstream(t, streamUpstream(fr))
	p := &fakePacer{}
	var recs records
	_, base := newTestGateway(t, up, Config{Pacer: p, Record: recs.add, Session: "s", Profile: "work"})
	resp, body := send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream", "", `{"max_tokens":32000}`)
	if want := string(bytes.Join(fr, nil)); body != want || resp.StatusCode != 200 {
		t.Errorf("claude got %d and %d bytes, want 200 and the %d bytes sent", resp.StatusCode, len(body), len(want))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.amazon.eventstream" {
		t.Errorf("Content-Type %q", ct)
	}
	waitFor(t, "the record", func() bool { return len(recs.get()) == 1 })
	want := []string{"lease 0: started 1500", "lease 0: done {Input:1200 CacheRead:5000 CacheWrite:300 Output:42} 200"}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
	rec := recs.get()[0]
	if rec.Input != 1200 || rec.CacheRead != 5000 || rec.CacheWrite != 300 || rec.Output != 42 || rec.Status != 200 || rec.Cut {
		t.Errorf("record %+v", rec)
	}
	// The record holds counts, never content or secrets.
	js, _ := json.Marshal(rec)
	for _, s := range []string{"Hello", testToken, "req-1"} {
		if strings.Contains(string(js), s) {
			t.Errorf("the record holds %q: %s", s, js)
		}
	}
}

// A stream that turns into garbage still reaches claude byte for byte; the
// counting stops, and the request settles to what was read before.
func TestMalformedStreamPassesThrough(t *testing.T) {
	fr := frames(t, answerEvents)
	garbage := make([]byte, 5000)
	for i := range garbage {
		garbage[i] = byte(rand.IntN(256))
	}
	sent := [][]byte{fr[0], garbage, fr[4], fr[5]}
	up := newUpstream(t, streamUpstream(sent))
	p := &fakePacer{}
	_, base := newTestGateway(t, up, Config{Pacer: p})
	resp, body := send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream", "", `{"max_tokens":32000}`)
	if resp.StatusCode != 200 || body != string(bytes.Join(sent, nil)) {
		t.Errorf("claude got %d and %d bytes, want 200 and the %d bytes sent", resp.StatusCode, len(body), len(bytes.Join(sent, nil)))
	}
	waitFor(t, "done", func() bool { return len(p.log()) == 2 })
	want := []string{"lease 0: started 1500", "lease 0: done {Input:1200 CacheRead:5000 CacheWrite:300 Output:1} 200"}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
}

// The first chunk reaches claude while the upstream is still answering: the
// upstream writes one frame and waits until the test has read it.
func TestFirstChunkArrivesAtOnce(t *testing.T) {
	fr := frames(t, answerEvents)
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		_, _ = w.Write(fr[0])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(20 * time.Second): // a watchdog: the test fails below
		case <-r.Context().Done():
			return
		}
		for _, f := range fr[1:] {
			_, _ = w.Write(f)
		}
	})
	_, base := newTestGateway(t, up, Config{Pacer: &fakePacer{}})
	req, _ := http.NewRequest("POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream", strings.NewReader(`{"max_tokens":100}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len(fr[0]))
	got := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(resp.Body, first)
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil || !bytes.Equal(first, fr[0]) {
			t.Fatalf("first chunk: %v, %q", err, first)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first chunk did not arrive while the upstream held the rest back")
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(rest, bytes.Join(fr[1:], nil)) {
		t.Errorf("the rest: %v, %d bytes", err, len(rest))
	}
}

// When claude hangs up mid-stream, the upstream request is cancelled and
// the request still settles, marked cut.
func TestClientHangsUpMidStream(t *testing.T) {
	fr := frames(t, answerEvents)
	upstreamGone := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		_, _ = w.Write(fr[0])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(upstreamGone)
		case <-time.After(20 * time.Second):
		}
	})
	p := &fakePacer{}
	var recs records
	_, base := newTestGateway(t, up, Config{Pacer: p, Record: recs.add})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream", strings.NewReader(`{"max_tokens":100}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, len(fr[0]))); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-upstreamGone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled")
	}
	waitFor(t, "the record", func() bool { return len(recs.get()) == 1 })
	want := []string{"lease 0: started 1500", "lease 0: done {Input:1200 CacheRead:5000 CacheWrite:300 Output:1} 200"}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
	if rec := recs.get()[0]; !rec.Cut {
		t.Errorf("record not marked cut: %+v", rec)
	}
}

// A non-streamed answer's counts come from its JSON usage and Bedrock's
// token-count headers.
func TestInvokeUsage(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", "900")
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", "12")
		_, _ = io.WriteString(w, `{"type":"message","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":900,"cache_creation_input_tokens":50,"cache_read_input_tokens":4000,"output_tokens":12}}`)
	})
	p := &fakePacer{}
	_, base := newTestGateway(t, up, Config{Pacer: p})
	send(t, "POST", base+"/model/us.anthropic.claude-sonnet-4-6/invoke", "", `{"max_tokens":64000}`)
	waitFor(t, "done", func() bool { return len(p.log()) == 1 })
	want := []string{"lease 0: done {Input:900 CacheRead:4000 CacheWrite:50 Output:12} 200"}
	if d := cmp.Diff(want, p.log()); d != "" {
		t.Errorf("what the Pacer was told (-want +got):\n%s", d)
	}
}

// httpBearer is the SDK's bearer signer without its HTTPS check: the
// gateway is plain HTTP on loopback.
type httpBearer struct{}

func (httpBearer) SignWithBearerToken(_ context.Context, tok bearer.Token, m bearer.Message) (bearer.Message, error) {
	req := m.(*smithyhttp.Request)
	req.Header.Set("Authorization", "Bearer "+tok.Value)
	return req, nil
}

// The AWS SDK's own Bedrock runtime client, as a client of the gateway,
// decodes the streamed answer: the framing arrives intact.
func TestSDKClientThroughGateway(t *testing.T) {
	fr := frames(t, answerEvents)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/invoke") {
			okJSON(w, r)
			return
		}
		streamUpstream(fr)(w, r)
	})
	_, base := newTestGateway(t, up, Config{Pacer: &fakePacer{}})
	client := bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(base),
		BearerAuthTokenProvider: bearer.TokenProviderFunc(func(context.Context) (bearer.Token, error) {
			return bearer.Token{Value: testToken}, nil
		}),
		BearerAuthSigner:     httpBearer{},
		AuthSchemePreference: []string{"httpBearerAuth"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	model := "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	out, err := client.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(model), ContentType: aws.String("application/json"), Body: []byte(`{"max_tokens":100}`),
	})
	if err != nil {
		t.Fatalf("InvokeModelWithResponseStream: %v", err)
	}
	var got []map[string]any
	for ev := range out.GetStream().Events() {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("unexpected event %T", ev)
		}
		var m map[string]any
		if err := json.Unmarshal(chunk.Value.Bytes, &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if err := out.GetStream().Close(); err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	js, _ := json.Marshal(answerEvents)
	_ = json.Unmarshal(js, &want) // numbers as float64, as got has them
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events the SDK decoded (-want +got):\n%s", d)
	}
	inv, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(`{"max_tokens":1}`)})
	if err != nil || string(inv.Body) != `{"ok":true}` {
		t.Errorf("InvokeModel: %v %q", err, inv.Body)
	}
	for _, r := range up.requests() {
		if !strings.Contains(r.Path, "v1%3A0") {
			t.Errorf("upstream path %s: want the colon escaped once", r.Path)
		}
	}
}

// FuzzMeter: whatever a chunk's payload holds, reading it never panics and
// never makes a count negative.
func FuzzMeter(f *testing.F) {
	for _, fr := range frames(f, answerEvents) {
		f.Add(fr[12+75 : len(fr)-4]) // roughly the payload; the fuzzer finds the rest
	}
	f.Add([]byte(`{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdGFydCIsIm1lc3NhZ2UiOnsidXNhZ2UiOnsiaW5wdXRfdG9rZW5zIjotNX19fQ=="}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var m meter
		m.chunk([]byte("event"), []byte("chunk"), payload)
		m.event(payload)
		if u := m.usage; u.Input < 0 || u.CacheRead < 0 || u.CacheWrite < 0 || u.Output < 0 {
			t.Errorf("negative count %+v", u)
		}
	})
}
