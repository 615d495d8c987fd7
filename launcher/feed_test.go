package launcher

import (
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

// The detector finds an incident in what the feed hands it; a flood past
// the budget is skipped, and the detector, told that it lost output, still
// finds a failure drawn afresh in the next window. The feed's clock is the
// test's: it moves only when told, however slow the machine.
func TestFeed(t *testing.T) {
	final := []byte("API Error: Request rejected (429) · Too many tokens, please wait before trying again.\n")
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	det := detect.NewPlain()
	f := newFeed(det)
	f.now = now
	f.write(final)
	det.Flush()
	select {
	case inc := <-det.Incidents():
		if inc.Kind != detect.TokensPerMinute || !inc.Final {
			t.Errorf("incident %+v", inc)
		}
	default:
		t.Error("no incident")
	}

	det = detect.NewPlain()
	f = newFeed(det)
	f.now = now
	chunk := make([]byte, chunkSize)
	for i := 0; i < 2*feedBudget/chunkSize; i++ {
		f.write(chunk)
	}
	if !f.skipped {
		t.Fatal("a flood past the budget was not skipped")
	}
	clock = clock.Add(feedWindow) // still the same window: skipped too
	f.write(final)
	det.Flush()
	if len(det.Incidents()) != 0 {
		t.Fatalf("the detector read past its budget: %+v", <-det.Incidents())
	}
	clock = clock.Add(time.Millisecond) // the next window
	f.write(final)
	det.Flush()
	if f.skipped {
		t.Error("still skipping in a new window")
	}
	select {
	case inc := <-det.Incidents():
		if inc.Kind != detect.TokensPerMinute || !inc.Final {
			t.Errorf("incident after the flood %+v", inc)
		}
	default:
		t.Error("no incident after the flood")
	}
}
