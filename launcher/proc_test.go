package launcher

import (
	"slices"
	"testing"
)

// A key set twice reaches claude once, with its last value, as os/exec
// passes an environment: a relaunch sets again what the user exported.
func TestLastWins(t *testing.T) {
	got := lastWins([]string{"A=1", "B=2", "junk", "A=3", "C=", "B=2"})
	want := []string{"A=3", "C=", "B=2"}
	if !slices.Equal(got, want) {
		t.Fatalf("lastWins = %q, want %q", got, want)
	}
}
