package detect

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// bulkText returns n bytes of plain text lines of varied length, like a
// build log or a file printed by a tool.
func bulkText(n int) []byte {
	words := []string{"the", "request", "func", "return", "error", "value", "tokens",
		"attempt", "Bedrock", "model", "io.Writer", "// comment", "x := 42", "if err != nil {",
		"retrying", "API", "many", "per", "day", "429", "output", "maximum", "Resend"}
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for b.Len() < n {
		k := 3 + rng.IntN(12)
		for i := range k {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.IntN(len(words))])
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()[:n]
}

// goSource returns n bytes of the Go standard library's source, with CRLF
// line ends as a terminal receives them: realistic text a tool prints.
func goSource(tb testing.TB, n int) []byte {
	var b bytes.Buffer
	root := filepath.Join(runtime.GOROOT(), "src")
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || b.Len() >= n {
			return filepath.SkipAll
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		x, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b.Write(bytes.ReplaceAll(x, []byte("\n"), []byte("\r\n")))
		return nil
	})
	if err != nil || b.Len() < n {
		tb.Fatalf("reading Go source under %s: %v (%d bytes)", root, err, b.Len())
	}
	return b.Bytes()[:n]
}

// BenchmarkDetectorBulkText measures throughput on plain text lines fed in
// 32 KiB writes, the size of the proxy's copy buffer.
func BenchmarkDetectorBulkText(b *testing.B) {
	data := goSource(b, 8<<20)
	const chunk = 32 << 10
	d := New()
	d.Resize(120, 40)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for i := 0; i < len(data); i += chunk {
			d.Write(data[i:min(i+chunk, len(data))])
		}
	}
}

// recordedData returns every recording in testdata, one after the other.
func recordedData(tb testing.TB) []byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.raw"))
	var data []byte
	for _, f := range files {
		x, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		data = append(data, x...)
	}
	if len(data) == 0 {
		tb.Fatal("no recordings in testdata")
	}
	return data
}

// BenchmarkDetectorRecorded measures throughput on the recordings of the
// real Claude Code in testdata (80×30 screen), fed in 4 KiB writes.
func BenchmarkDetectorRecorded(b *testing.B) {
	data := recordedData(b)
	const chunk = 4 << 10
	d := New()
	d.Resize(80, 30)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for i := 0; i < len(data); i += chunk {
			d.Write(data[i:min(i+chunk, len(data))])
		}
	}
}

// BenchmarkDetectorPlain measures a NewPlain detector (claude -p into a
// pipe) on bulk text with LF line ends, in 32 KiB writes.
func BenchmarkDetectorPlain(b *testing.B) {
	data := bytes.ReplaceAll(goSource(b, 8<<20), []byte("\r\n"), []byte("\n"))
	const chunk = 32 << 10
	d := NewPlain()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for i := 0; i < len(data); i += chunk {
			d.Write(data[i:min(i+chunk, len(data))])
		}
	}
}
