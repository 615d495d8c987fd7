package gateway

import (
	"strings"
	"testing"
)

// BenchmarkMeterStream: the metering of a streamed answer alone, on 1 MB of
// 330-byte text-delta chunks fed in 32 KiB reads, as the proxy reads them.
func BenchmarkMeterStream(b *testing.B) {
	one := deltaFrame(b, strings.Repeat("word ", 40))
	var stream []byte
	for len(stream) < 1<<20 {
		stream = append(stream, one...)
	}
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		var m meter
		s := &frameScanner{message: m.chunk, drop: m.skipChunk}
		for p := stream; len(p) > 0; {
			n := min(len(p), copyBufferSize)
			s.Write(p[:n])
			p = p[n:]
		}
		if s.broken {
			b.Fatal("broken")
		}
	}
}
