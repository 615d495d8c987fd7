package incidents_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/incidents"
)

// Launchers appending side by side never interleave lines, and every line
// reads back whole.
func TestAppendConcurrently(t *testing.T) {
	path := incidents.Path(filepath.Join(t.TempDir(), "state"))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			r := incidents.Record{Time: time.Now().UTC(), Profile: "code", Model: "sonnet", Region: "us-west-2", Cap: 4096 + i, Kind: "tokens_per_minute", Choice: "none"}
			if err := incidents.Append(path, r); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[int]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r incidents.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		seen[r.Cap] = true
	}
	if len(seen) != 50 {
		t.Errorf("%d distinct lines, want 50", len(seen))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, %v", fi.Mode(), err)
	}
}
