package profiles_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// Saves from several sessions at once (k in two terminals, +use beside
// them) each read the file, change one value and write it back: without a
// lock, the last writer silently drops what the others saved.
func TestConcurrentSavesAreAllKept(t *testing.T) {
	const n = 12
	w := newWorld(t)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[profiles.p%d]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 4096\n\n", i)
	}
	w.config(b.String())
	path := w.configPath()

	var wg sync.WaitGroup
	errs := make([]error, n+1)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = profiles.SetCap(path, fmt.Sprintf("p%d", i), 2048+i, w.env)
		})
	}
	wg.Go(func() {
		<-start
		errs[n] = profiles.SetDefault(path, "p3", w.env)
	})
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("save %d: %v", i, err)
		}
	}
	c, err := profiles.LoadConfig(path, w.env)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got := c.Profiles[fmt.Sprintf("p%d", i)].MaxOutputTokens; got != 2048+i {
			t.Errorf("profile p%d: cap %d, want %d: a save was lost", i, got, 2048+i)
		}
	}
	if c.Default != "p3" {
		t.Errorf("default = %q, want p3: the +use was lost", c.Default)
	}
}

// +allow and +deny of one file from several shells at once must leave one
// verdict: a content allowed by one and a deny or another content by the
// other would both stand otherwise.
func TestConcurrentTrustChangesLeaveOneVerdict(t *testing.T) {
	const n = 8
	w := newWorld(t)
	var projects []*profiles.Project
	for i := range n {
		w.project(fmt.Sprintf("profile = \"large\"\nmax_output_tokens = %d\n", 2000+i))
		projects = append(projects, w.load().Project)
	}
	trustDir := profiles.PathsFrom(w.env).TrustDir
	for round := range 5 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, p := range projects {
			wg.Go(func() {
				<-start
				var err error
				if i == round {
					err = profiles.Deny(trustDir, p)
				} else {
					err = profiles.Allow(trustDir, p)
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		records := 0
		for _, sub := range []string{"allow", "deny"} {
			entries, _ := os.ReadDir(filepath.Join(trustDir, sub))
			for _, e := range entries {
				if b, err := os.ReadFile(filepath.Join(trustDir, sub, e.Name())); err == nil && strings.TrimSpace(string(b)) == projects[0].Path {
					records++
				}
			}
		}
		if records != 1 {
			t.Fatalf("round %d: %d trust records for %s after concurrent +allow/+deny, want 1", round, records, projects[0].Path)
		}
	}
}
