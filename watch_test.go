package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// The hint after a throttled run shows how to run it again, but never a
// word that could hold a secret: the prompt and the values of options that
// may carry one are "…".
func TestHintCommandLineHidesWhatCouldBeSecret(t *testing.T) {
	tests := []struct {
		cmdline []string
		want    string
	}{
		{[]string{"-p", "hi"}, "claude-bedrock +code -p …"},
		{[]string{"+light", "-p", "hi"}, "claude-bedrock +light -p …"},
		{[]string{"-p", "hi", "--settings", `{"env":{"AWS_SECRET_ACCESS_KEY":"s3cr3t"}}`}, "claude-bedrock +code -p … --settings …"},
		{[]string{"--settings=" + `{"env":{"TOKEN":"s3cr3t"}}`, "-p", "hi"}, "claude-bedrock +code --settings=… -p …"},
		{[]string{"--mcp-config", `{"mcpServers":{"x":{"headers":{"Authorization":"Bearer s3cr3t"}}}}`, "-p", "hi"}, "claude-bedrock +code --mcp-config … -p …"},
		{[]string{"--model", "opus", "--output-format", "json", "-p", "--", "-the prompt"}, "claude-bedrock +code --model opus --output-format json -p -- …"},
		{[]string{"--append-system-prompt", "key s3cr3t", "--resume", "abc", "-p", "go on"}, "claude-bedrock +code --append-system-prompt … --resume abc -p …"},
	}
	for _, tt := range tests {
		w := &watcher{cmdline: tt.cmdline, profile: profiles.Profile{Name: "code"}}
		got := w.commandLine()
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.cmdline, diff)
		}
		if strings.Contains(got, "s3cr3t") {
			t.Errorf("%q: the hint shows a secret: %s", tt.cmdline, got)
		}
	}
}

func TestPipedIn(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	file, err := os.CreateTemp(t.TempDir(), "in")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, tt := range []struct {
		name string
		f    *os.File
		want bool
	}{{"pipe", r, true}, {"file", file, true}, {"/dev/null", devNull, false}} {
		if got := pipedIn(tt.f); got != tt.want {
			t.Errorf("%s: pipedIn = %v, want %v", tt.name, got, tt.want)
		}
	}
}
