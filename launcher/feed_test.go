package launcher

import (
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

// The detector finds an incident in what the feed hands it, in order, and
// the feed never blocks the writer even when the detector is far behind.
func TestFeed(t *testing.T) {
	det := detect.NewPlain()
	f := newFeed(det)
	f.write([]byte("API Error: Request rejected (429) · Too many tokens, please wait before trying again.\n"))
	f.close()
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the detector did not finish reading")
	}
	det.Flush()
	select {
	case inc := <-det.Incidents():
		if inc.Kind != detect.TokensPerMinute || !inc.Final {
			t.Errorf("incident %+v", inc)
		}
	default:
		t.Error("no incident")
	}

	// A flood: far more than the budget in one window. Every write returns
	// at once, and the detector is told it lost output.
	f = newFeed(detect.New())
	chunk := make([]byte, chunkSize)
	for i := 0; i < 2*feedBudget/chunkSize; i++ {
		f.write(chunk)
	}
	if !f.lost.Load() {
		t.Error("a flood past the budget was not marked lost")
	}
	f.close()
	<-f.done
	if len(f.free) > feedChunks {
		t.Errorf("%d spare buffers, bound %d", len(f.free), feedChunks)
	}
}
