package governor

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzStateFile reads arbitrary bytes as another session's state file: no
// panic, and a state is taken only when the header's length and checksum vouch
// for its body.
func FuzzStateFile(f *testing.F) {
	body := []byte(`{"pid":7,"time":"2026-12-02T12:00:00Z","buckets":[{"bucket":{"region":"r","model":"m","kind":"k"},"limits":{},"held":5,"in_flight":1,"waiting":0,"day":"2026-12-02"}]}`)
	f.Add(fmt.Appendf(nil, "%08x %08x\n%s", len(body), checksum(body), body))
	f.Add([]byte("00000002 00000000\n{}"))
	f.Add([]byte("{not a header"))
	f.Add([]byte{})
	path := filepath.Join(f.TempDir(), "session-x.state") // one per process: its inputs run one at a time
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close() //nolint:errcheck // read only
		p := &peer{state: file}
		st, ok, _ := p.read()
		if !ok {
			return
		}
		var size, sum uint32
		if _, err := fmt.Sscanf(string(b[:headerLen]), "%08x %08x\n", &size, &sum); err != nil {
			t.Fatalf("took a state from a file with a bad header %q: %v", b[:headerLen], err)
		}
		inner := b[headerLen : headerLen+int(size)]
		if checksum(inner) != sum {
			t.Fatalf("took a state whose body does not match its checksum")
		}
		var want State
		if err := json.Unmarshal(inner, &want); err != nil {
			t.Fatalf("took a state from a body that is no JSON state: %v", err)
		}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Fatalf("(-want +got)\n%s", diff)
		}
	})
}
