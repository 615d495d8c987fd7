package launcher

import (
	"testing"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

// The detector finds an incident in what the feed hands it; a flood past
// the budget is skipped, and the detector, told that it lost output, still
// finds a failure drawn afresh in the next window.
func TestFeed(t *testing.T) {
	final := []byte("API Error: Request rejected (429) · Too many tokens, please wait before trying again.\n")
	det := detect.NewPlain()
	f := newFeed(det)
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
	chunk := make([]byte, chunkSize)
	for i := 0; i < 2*feedBudget/chunkSize; i++ {
		f.write(chunk)
	}
	if !f.skipped {
		t.Fatal("a flood past the budget was not skipped")
	}
	f.write(final) // the same window: skipped too
	det.Flush()
	if len(det.Incidents()) != 0 {
		t.Fatalf("the detector read past its budget: %+v", <-det.Incidents())
	}
	f.windowStart = f.windowStart.Add(-2 * feedWindow) // the next window
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
