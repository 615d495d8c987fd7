package launcher

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeExe(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFindClaude(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "bin", "claude-bedrock")
	writeExe(t, self)
	real := filepath.Join(dir, "real", "claude")
	writeExe(t, real)
	other := filepath.Join(dir, "other", "claude")
	writeExe(t, other)
	link := filepath.Join(dir, "links", "claude")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	noexec := filepath.Join(dir, "noexec", "claude")
	if err := os.MkdirAll(filepath.Dir(noexec), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noexec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := func(dirs ...string) string { return strings.Join(dirs, string(os.PathListSeparator)) }

	tests := []struct {
		name       string
		env        map[string]string
		configured string
		want       string
		wantErr    string
	}{
		{"PATH", map[string]string{"PATH": path(filepath.Dir(real))}, "", real, ""},
		{"skips the launcher linked as claude", map[string]string{"PATH": path(filepath.Dir(link), filepath.Dir(noexec), filepath.Dir(real))}, "", real, ""},
		{"env beats config beats PATH", map[string]string{"PATH": path(filepath.Dir(real)), "CLAUDE_BEDROCK_CLAUDE": other}, real, other, ""},
		{"config beats PATH", map[string]string{"PATH": path(filepath.Dir(real))}, other, other, ""},
		{"configured path is the launcher", map[string]string{"CLAUDE_BEDROCK_CLAUDE": link}, "", "", "is claude-bedrock itself"},
		{"configured path missing", nil, filepath.Join(dir, "nope"), "", "claude_path in the config: claude not found: "},
		{"not executable", map[string]string{"CLAUDE_BEDROCK_CLAUDE": noexec}, "", "", "is not an executable file"},
		{"not on PATH", map[string]string{"PATH": path(filepath.Dir(link))}, "", "", "claude not found on PATH: install Claude Code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindClaude(tt.env, tt.configured, self)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	_, err := FindClaude(map[string]string{"PATH": ""}, "", self)
	if !errors.Is(err, ErrNotFound) || ExitCodeFor(err) != ExitNotFound {
		t.Errorf("not found: %v, exit %d", err, ExitCodeFor(err))
	}
	_, err = FindClaude(map[string]string{"CLAUDE_BEDROCK_CLAUDE": noexec}, "", self)
	if ExitCodeFor(err) != ExitNotExecutable {
		t.Errorf("not executable: exit %d", ExitCodeFor(err))
	}
}
