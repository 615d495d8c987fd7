package profiles_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// A config written on Windows, or by an editor set to CRLF, keeps its line
// ending on every line an edit adds: a file of mixed endings shows as
// changed on every line in some editors and diffs.
func TestEditsKeepTheFilesLineEnding(t *testing.T) {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	work := "[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n"
	tests := []struct {
		name, before, after string
		edit                func(path string, env map[string]string) error
	}{
		{"+use adds default at the top", work, "default = \"light\"\n" + work, setDefaultLight},
		{"+use replaces default", "default = \"code\"\n" + work, "default = \"light\"\n" + work, setDefaultLight},
		{"k saves a built-in profile", work, work + "\n[profiles.light]\ndescription = \"quick questions, small edits\"\nmodel = \"haiku\"\nregion = \"us-west-2\"\nmax_output_tokens = 2048\n",
			func(path string, env map[string]string) error { return profiles.SetCap(path, "light", 2048, env) }},
		{"k saves a built-in profile after a last line with no ending", strings.TrimSuffix(work, "\n"), work + "\n[profiles.light]\ndescription = \"quick questions, small edits\"\nmodel = \"haiku\"\nregion = \"us-west-2\"\nmax_output_tokens = 2048\n",
			func(path string, env map[string]string) error { return profiles.SetCap(path, "light", 2048, env) }},
	}
	for _, tt := range tests {
		for _, ending := range []struct {
			name string
			conv func(string) string
		}{{"LF", func(s string) string { return s }}, {"CRLF", crlf}} {
			t.Run(tt.name+"/"+ending.name, func(t *testing.T) {
				w := newWorld(t)
				w.config(ending.conv(tt.before))
				if err := tt.edit(w.configPath(), w.env); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(ending.conv(tt.after), readFile(t, w.configPath())); diff != "" {
					t.Errorf("config (-want +got):\n%s", diff)
				}
			})
		}
	}
}
