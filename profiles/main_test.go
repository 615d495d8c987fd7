package profiles_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/adrg/xdg"
)

// TestMain gives every test of the package a home and system config folder
// of its own: the xdg package reads the process environment, and a config in
// the real /etc/xdg or ~/.config must not reach a test.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "profiles-test-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sys, err := os.MkdirTemp("", "profiles-test-etc-xdg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for k, v := range map[string]string{"HOME": home, "XDG_CONFIG_DIRS": sys} {
		os.Setenv(k, v)
	}
	for _, k := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "CLAUDE_BEDROCK_CONFIG", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		os.Unsetenv(k)
	}
	xdg.Reload()
	code := m.Run()
	os.RemoveAll(home) // best effort: temp folders
	os.RemoveAll(sys)
	os.Exit(code)
}

// useDirs points HOME and XDG_CONFIG_DIRS at the given folders for one test,
// and makes the xdg package read them.
func useDirs(t *testing.T, home, system string) {
	t.Helper()
	t.Cleanup(xdg.Reload) // after t.Setenv has put the old values back
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_DIRS", system)
	xdg.Reload()
}
