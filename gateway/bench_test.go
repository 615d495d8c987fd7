package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/claude-bedrock/claude-bedrock/governor"
)

// The benchmarks compare three ways to the same loopback fake Bedrock, in
// turn within each iteration so that the load of a shared machine weighs
// on all alike:
//   - direct: the client talks to the fake;
//   - proxy: through a plain httputil.ReverseProxy (FlushInterval -1), the
//     floor for any Go proxy;
//   - gateway: through the Gateway, signing with SigV4 and asking a Pacer
//     that admits at once (the quota model's own cost is not counted here).
//
// The client opens a fresh connection for each request, as Claude Code does
// for each turn; the proxies keep theirs to the fake alive, as the gateway
// keeps its connections to Bedrock.

// nopPacer admits every request at once.
type nopPacer struct{}

func (nopPacer) Acquire(context.Context, governor.Request) (governor.Lease, error) {
	return nopLease{}, nil
}

type nopLease struct{}

func (nopLease) Waited() time.Duration    { return 0 }
func (nopLease) Started(int)              {}
func (nopLease) Throttled() bool          { return false }
func (nopLease) Done(governor.Usage, int) {}

// turnBody is a first turn's body as Claude Code sends it: about 85 KB, with
// max_tokens after the conversation so that finding it costs a whole scan.
func turnBody() []byte {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 1800)
	b, _ := json.Marshal(map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": text}}}) // plain values always marshal
	return []byte(`{"anthropic_version":"bedrock-2023-05-31","messages":[` + string(b) + `],"system":"You are Claude Code.","max_tokens":32000}`)
}

// deltaFrame is one event-stream chunk carrying a text delta, laid out as
// Bedrock lays it out: "type" first in the event, and a "p" field of
// padding beside "bytes".
func deltaFrame(tb testing.TB, text string) []byte {
	var b bytes.Buffer
	quoted, _ := json.Marshal(text) // a string always marshals
	js := `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":` + string(quoted) + `}}`
	p := `{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(js)) + `","p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"}`
	if err := eventstream.NewEncoder().Encode(&b, eventstream.Message{Headers: eventstream.Headers{
		{Name: ":event-type", Value: eventstream.StringValue("chunk")},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue("event")},
	}, Payload: []byte(p)}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// benchFake is the fake Bedrock of the benchmarks. X-Bench-Mode chooses
// the answer:
//   - ttfb: the message_start frame at once, then five deltas;
//   - chunks: N deltas 1 ms apart, each carrying the time it was sent;
//   - bulk: the prepared bulk answer in one go;
//   - slow: one delta every 20 ms for X-Bench-Seconds, or until the client
//     hangs up (streams in flight beside the one measured).
type benchFake struct {
	first []byte
	bulk  []byte
	tb    testing.TB
}

func newBenchFake(tb testing.TB, bulkMB int) (*benchFake, *upstream) {
	f := &benchFake{first: frames(tb, answerEvents[:1])[0], tb: tb}
	one := deltaFrame(tb, strings.Repeat("word ", 40))
	for len(f.bulk) < bulkMB<<20 {
		f.bulk = append(f.bulk, one...)
	}
	u := &upstream{}
	u.Server = newUpstream(tb, func(w http.ResponseWriter, r *http.Request) {}).Server
	u.Server.Config.Handler = http.HandlerFunc(f.serve)
	return f, u
}

func (f *benchFake) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body) // as Bedrock does, read the request first
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	fl := w.(http.Flusher)
	switch r.Header.Get("X-Bench-Mode") {
	case "ttfb":
		_, _ = w.Write(f.first)
		fl.Flush()
		for range 5 {
			_, _ = w.Write(deltaFrame(f.tb, "hello "))
		}
	case "chunks":
		n, _ := strconv.Atoi(r.Header.Get("X-Bench-N"))
		for range n {
			_, _ = w.Write(deltaFrame(f.tb, strconv.FormatInt(time.Now().UnixNano(), 10)))
			fl.Flush()
			time.Sleep(time.Millisecond)
		}
	case "bulk":
		_, _ = w.Write(f.bulk)
	case "slow":
		secs, _ := strconv.Atoi(r.Header.Get("X-Bench-Seconds"))
		end := time.Now().Add(time.Duration(secs) * time.Second)
		for time.Now().Before(end) && r.Context().Err() == nil {
			if _, err := w.Write(deltaFrame(f.tb, "a few words of text ")); err != nil {
				return
			}
			fl.Flush()
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// way is one path from the client to the fake.
type way struct {
	name string
	base string // base URL the client sends to
	auth string // Authorization header, if any
}

// benchWays starts the plain proxy and the gateway in front of the fake.
func benchWays(b *testing.B, fake *upstream) []way {
	target := fake.url(b)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }, FlushInterval: -1}
	proxy := newUpstream(b, nil)
	proxy.Server.Config.Handler = rp
	creds := credentials.NewStaticCredentialsProvider("AKIABENCH", "benchSecret", "")
	_, gw := newTestGateway(b, fake, Config{Auth: SigV4, Credentials: creds, Region: "us-west-2", Pacer: nopPacer{}})
	return []way{{"direct", fake.URL, ""}, {"proxy", proxy.URL, ""}, {"gateway", gw, "Bearer " + testToken}}
}

// freshClient opens a new connection for every request, as Claude Code
// does for each turn.
var freshClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}}

const benchPath = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream"

func benchRequest(b *testing.B, w way, mode string, body []byte) *http.Request {
	req, err := http.NewRequest("POST", w.base+benchPath, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Bench-Mode", mode)
	if w.auth != "" {
		req.Header.Set("Authorization", w.auth)
	}
	return req
}

// BenchmarkTTFB: time to the first byte of a streamed answer to an 85 KB
// turn body, with no other stream in flight and with 49 others streaming
// through the same way (one chunk every 20 ms each), 50 in all. Each
// iteration, for each way in turn: start the other streams, wait until each
// has its first chunk, time 5 requests one after the other, stop the
// others. Metrics: each way's median in ms, and added-ms, the gateway's
// median less the direct one.
func BenchmarkTTFB(b *testing.B) {
	_, fake := newBenchFake(b, 0)
	ways := benchWays(b, fake)
	body := turnBody()
	for _, streams := range []int{1, 50} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			took := make([][]time.Duration, len(ways))
			for b.Loop() {
				for i, w := range ways {
					stop := background(b, w, streams-1)
					for range 5 {
						req := benchRequest(b, w, "ttfb", body)
						start := time.Now()
						resp, err := freshClient.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := io.ReadFull(resp.Body, make([]byte, 12)); err != nil {
							b.Fatalf("%s: %v (status %d)", w.name, err, resp.StatusCode)
						}
						took[i] = append(took[i], time.Since(start))
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					stop()
				}
			}
			reportMedians(b, ways, took, "ms")
		})
	}
}

// background starts n slow streams through w, returns once each has its
// first chunk, and returns a func that stops them all.
func background(b *testing.B, w way, n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var started, done sync.WaitGroup
	for range n {
		started.Add(1)
		done.Go(func() {
			req := benchRequest(b, w, "slow", []byte(`{"max_tokens":4096}`)).WithContext(ctx)
			req.Header.Set("X-Bench-Seconds", "60")
			resp, err := freshClient.Do(req)
			if err != nil {
				started.Done()
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			_, err = io.ReadFull(resp.Body, make([]byte, 12))
			started.Done()
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body) // until stopped
			}
		})
	}
	started.Wait()
	return func() {
		cancel()
		done.Wait()
	}
}

// reportMedians reports each way's median and the gateway's added time.
func reportMedians(b *testing.B, ways []way, took [][]time.Duration, unit string) {
	ms := make([]float64, len(ways))
	for i, w := range ways {
		if len(took[i]) == 0 {
			b.Fatalf("no samples for %s", w.name)
		}
		ms[i] = float64(median(took[i])) / 1e6
		b.ReportMetric(ms[i], w.name+"-"+unit)
	}
	b.ReportMetric(ms[2]-ms[0], "added-"+unit)
}

// median returns the middle of d (the upper one of an even count).
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkChunkDelay: how long each streamed chunk takes from the fake's
// write to the client's read, 100 chunks 1 ms apart per answer. Metrics:
// each way's median in ms and added-ms, the gateway's median less the
// direct one.
func BenchmarkChunkDelay(b *testing.B) {
	_, fake := newBenchFake(b, 0)
	ways := benchWays(b, fake)
	const n = 100
	took := make([][]time.Duration, len(ways))
	for b.Loop() {
		for i, w := range ways {
			req := benchRequest(b, w, "chunks", []byte(`{"max_tokens":4096}`))
			req.Header.Set("X-Bench-N", strconv.Itoa(n))
			resp, err := freshClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			dec := eventstream.NewDecoder()
			for range n {
				m, err := dec.Decode(resp.Body, nil)
				if err != nil {
					b.Fatalf("%s: %v", w.name, err)
				}
				now := time.Now()
				var c struct{ Bytes []byte }
				var ev struct {
					Delta struct{ Text string }
				}
				if json.Unmarshal(m.Payload, &c) != nil || json.Unmarshal(c.Bytes, &ev) != nil {
					b.Fatalf("%s: bad chunk %q", w.name, m.Payload)
				}
				sent, _ := strconv.ParseInt(ev.Delta.Text, 10, 64)
				took[i] = append(took[i], now.Sub(time.Unix(0, sent)))
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	reportMedians(b, ways, took, "ms")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCPUPerMB: CPU time per MB of streamed answer (32 MB of 330-byte
// text-delta chunks written at once, so every read fills the proxy's
// buffer: 32 KiB in both), each proxy's own: the process's CPU time for the
// download through it, less the direct download's in the same iteration
// (the client and the fake run in this process too). Metrics: proxy- and
// gateway-cpu-ms/MB (medians), and extra-cpu-ms/MB, the median of each
// iteration's gateway less plain proxy: what metering, signing and pacing
// add to a proxy.
func BenchmarkCPUPerMB(b *testing.B) {
	const mb = 32
	_, fake := newBenchFake(b, mb)
	ways := benchWays(b, fake)
	var own [2][]float64
	var extra []float64
	for b.Loop() {
		cpu := make([]time.Duration, len(ways))
		for i, w := range ways {
			req := benchRequest(b, w, "bulk", []byte(`{"max_tokens":4096}`))
			start := cpuTime(b)
			resp, err := freshClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n < mb<<20 {
				b.Fatalf("%s: %d bytes, %v", w.name, n, err)
			}
			cpu[i] = cpuTime(b) - start
		}
		own[0] = append(own[0], float64(cpu[1]-cpu[0])/1e6/mb)
		own[1] = append(own[1], float64(cpu[2]-cpu[0])/1e6/mb)
		extra = append(extra, float64(cpu[2]-cpu[1])/1e6/mb)
	}
	b.ReportMetric(medianF(own[0]), "proxy-cpu-ms/MB")
	b.ReportMetric(medianF(own[1]), "gateway-cpu-ms/MB")
	b.ReportMetric(medianF(extra), "extra-cpu-ms/MB")
}

func medianF(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func mustLine(r *bufio.Reader) string {
	s, _ := r.ReadString('\n') // a short read fails in ReadToken
	return s
}

// procKiB reads a field such as VmRSS or VmHWM from /proc/PID/status.
func procKiB(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// Benchmark200Streams: 200 answers streaming at once (one 300-byte chunk
// every 20 ms each, after an 85 KB turn body each) through a gateway in a
// process of its own, as it will run:
//   - ramp: the 200 requests start 10 ms apart and stream for 5 s, so all
//     200 stream together for about 3 s;
//   - burst: all 200 requests are sent at the same moment (the 200 bodies
//     are then held at once while they are signed) and stream for 3 s;
//     with Go's default GC, and with GOMEMLIMIT=20MiB in the gateway's
//     environment.
//
// Metrics: the gateway process's peak resident memory (VmHWM), the highest
// of the iterations (max-peak-MiB) and their median (peak-MiB); its median
// resident memory while all 200 stream (steady-MiB, the median of the
// iterations'), at start, and the chunks the clients received per stream.
func Benchmark200Streams(b *testing.B) {
	_, fake := newBenchFake(b, 0)
	bin := filepath.Join(b.TempDir(), "gatewaybench")
	if out, err := exec.Command("go", "build", "-o", bin, "../internal/gatewaybench").CombinedOutput(); err != nil {
		b.Fatalf("building internal/gatewaybench: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name    string
		stagger time.Duration
		secs    int
		env     string
	}{
		{"ramp", 10 * time.Millisecond, 5, ""},
		{"ramp/GOMEMLIMIT=20MiB", 10 * time.Millisecond, 5, "GOMEMLIMIT=20MiB"},
		{"burst", 0, 3, ""},
		{"burst/GOMEMLIMIT=20MiB", 0, 3, "GOMEMLIMIT=20MiB"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var peak, steady, start, chunks []float64
			for b.Loop() {
				r := run200(b, bin, fake, 200, tc.stagger, tc.secs, tc.env)
				peak, steady = append(peak, r.peak), append(steady, r.steady)
				start, chunks = append(start, r.start), append(chunks, r.chunks)
			}
			b.ReportMetric(slices.Max(peak), "max-peak-MiB")
			b.ReportMetric(medianF(peak), "peak-MiB")
			b.ReportMetric(medianF(steady), "steady-MiB")
			b.ReportMetric(medianF(start), "start-MiB")
			b.ReportMetric(medianF(chunks), "chunks/stream")
		})
	}
}

// memRun is what one run of 200 streams measured, in MiB.
type memRun struct{ peak, steady, start, chunks float64 }

func run200(b *testing.B, bin string, fake *upstream, streams int, stagger time.Duration, secs int, env string) memRun {
	cmd := exec.Command(bin, fake.URL)
	cmd.Env = os.Environ()
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	if _, err := io.WriteString(stdin, testToken+"\n"); err != nil {
		b.Fatal(err)
	}
	addr := mustLine(bufio.NewReader(stdout))
	base := "http://" + strings.TrimSpace(addr)
	pid := cmd.Process.Pid
	startKiB := procKiB(pid, "VmRSS")
	w := way{"gateway", base, "Bearer " + testToken}
	var started, wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	body := turnBody()
	for range streams {
		time.Sleep(stagger)
		started.Add(1)
		wg.Go(func() {
			req := benchRequest(b, w, "slow", body)
			req.Header.Set("X-Bench-Seconds", strconv.Itoa(secs))
			resp, err := freshClient.Do(req)
			if err != nil {
				started.Done()
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			dec := eventstream.NewDecoder()
			n := 0
			for {
				if _, err := dec.Decode(resp.Body, nil); err != nil {
					break
				}
				if n == 0 {
					started.Done()
				}
				n++
			}
			if n == 0 {
				started.Done()
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	started.Wait()
	// Sample while all streams flow.
	var steady []time.Duration // KiB, as Durations for median
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
sample:
	for {
		steady = append(steady, time.Duration(procKiB(pid, "VmRSS")))
		select {
		case <-finished:
			break sample
		case <-time.After(50 * time.Millisecond):
		}
	}
	peak := procKiB(pid, "VmHWM")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("gateway process: %v", err)
	}
	return memRun{
		peak:   float64(peak) / 1024,
		steady: float64(median(steady)) / 1024,
		start:  float64(startKiB) / 1024,
		chunks: float64(total) / float64(streams),
	}
}
