package main

import (
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// The incident record says what k really did: a cap that could not be
// saved is a relaunch, with the reason, never a "keep".
func TestKeepIsRecordedAsWhatHappened(t *testing.T) {
	for _, tt := range []struct {
		name, config string
		saved        bool
	}{
		{"saved", "[profiles.code]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n", true},
		// An inline table is a layout the editor does not rewrite.
		{"not saved", "[profiles]\ncode = {model = \"sonnet\", region = \"us-west-2\", max_output_tokens = 4096}\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			home := isolateHome(t)
			env := map[string]string{"HOME": home}
			config := profiles.PathsFrom(env).Config
			writeFile(t, config, tt.config)
			a := &app{env: env, stderr: os.Stderr, log: log.New(io.Discard, "", 0)}
			s, err := profiles.Load(env, home)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Resolve("code")
			if err != nil {
				t.Fatal(err)
			}
			w := a.newWatch(s, r, "/bin/true", nil, nil, nil)
			inc := detect.Incident{Kind: detect.TokensPerMinute, Final: true}
			p, ok := w.Propose(inc)
			if !ok || !p.CanKeep || p.Cap != 2048 {
				t.Fatalf("proposal %+v", p)
			}
			// In the launcher's order: the choice, then the save.
			w.Record(inc, "keep")
			err = w.Keep(p)
			if (err == nil) != tt.saved {
				t.Fatalf("Keep: %v", err)
			}
			recs := readIncidents(t, home)
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1: %+v", len(recs), recs)
			}
			got := recs[0]
			if tt.saved && (got.Choice != "keep" || got.NotKept != "") {
				t.Errorf("a saved cap recorded as %q (not kept: %q), want keep", got.Choice, got.NotKept)
			}
			if !tt.saved && (got.Choice != "relaunch" || !strings.Contains(got.NotKept, filepath.Base(config))) {
				t.Errorf("a cap that was not saved recorded as %q (not kept: %q), want relaunch and why", got.Choice, got.NotKept)
			}
			if got.Cap != 4096 {
				t.Errorf("recorded cap %d, want the cap in force, 4096", got.Cap)
			}
		})
	}
}
