package gatewayspec_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
)

// TestRuntimeDir: the user's runtime directory when it is a folder of
// theirs they may write to, else the temp folder's claude-bedrock-<uid>.
func TestRuntimeDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	fallback := filepath.Join(tmp, "claude-bedrock-"+strconv.Itoa(os.Getuid()))

	mine := t.TempDir()
	readOnly := t.TempDir()
	if err := os.Chmod(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(readOnly, 0o700) }) // so that t.TempDir can remove it
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Another user's folder, as $XDG_RUNTIME_DIR is after su: "/" for
	// anyone but root; for root, a folder given to nobody.
	others := "/"
	if os.Getuid() == 0 {
		others = t.TempDir()
		if err := os.Chown(others, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, base, want string
	}{
		{"the user's runtime directory", mine, filepath.Join(mine, "claude-bedrock")},
		{"none", "", fallback},
		{"relative", "run/user", fallback},
		{"gone", filepath.Join(mine, "gone"), fallback},
		{"not a folder", file, fallback},
		{"not writable", readOnly, fallback},
		{"another user's", others, fallback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gatewayspec.RuntimeDir(tc.base); got != tc.want {
				t.Errorf("RuntimeDir(%q) = %q, want %q", tc.base, got, tc.want)
			}
		})
	}
}
