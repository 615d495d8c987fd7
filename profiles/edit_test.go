package profiles_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetDefaultKeepsTheRestOfTheFile(t *testing.T) {
	tests := []struct{ name, before, after string }{
		{"no file", "", "default = \"light\"\n"},
		{"replaces", "# mine\ndefault = \"code\" # old\n\n[profiles.work] # work\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n",
			"# mine\ndefault = \"light\" # old\n\n[profiles.work] # work\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n"},
		{"adds at the top", "[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n",
			"default = \"light\"\n[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.before != "" {
				w.config(tt.before)
			}
			if err := profiles.SetDefault(w.configPath(), "light", w.env); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.after, readFile(t, w.configPath())); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if r, err := w.load().Resolve(""); err != nil || r.Profile.Name != "light" {
				t.Fatalf("after +use: %v %v", r, err)
			}
		})
	}
}

func TestSetDefaultRefusesUnknownProfileAndKeepsFile(t *testing.T) {
	w := newWorld(t)
	w.config("default = \"code\"\n")
	err := profiles.SetDefault(w.configPath(), "nope", w.env)
	if err == nil || !strings.Contains(err.Error(), `no profile "nope"; known profiles: code, large, light`) {
		t.Fatalf("err = %v", err)
	}
	if got := readFile(t, w.configPath()); got != "default = \"code\"\n" {
		t.Fatalf("file changed: %q", got)
	}
}

func TestEditsNeverLoseABrokenFile(t *testing.T) {
	w := newWorld(t)
	broken := "default = \"code\"\n[profiles.x\n"
	w.config(broken)
	if err := profiles.SetDefault(w.configPath(), "light", w.env); err == nil {
		t.Fatal("no error for a broken config")
	}
	if err := profiles.SetCap(w.configPath(), "code", 2048, w.env); err == nil {
		t.Fatal("no error for a broken config")
	}
	if got := readFile(t, w.configPath()); got != broken {
		t.Fatalf("file changed: %q", got)
	}
}

func TestSetCap(t *testing.T) {
	w := newWorld(t)
	w.config("# keep me\n[profiles.work]\nmodel = \"sonnet\" # the model\nregion = \"us-east-1\"\nmax_output_tokens = 3000 # was\n")
	if err := profiles.SetCap(w.configPath(), "work", 1500, w.env); err != nil {
		t.Fatal(err)
	}
	if err := profiles.SetCap(w.configPath(), "large", 4096, w.env); err != nil {
		t.Fatal(err)
	}
	want := "# keep me\n[profiles.work]\nmodel = \"sonnet\" # the model\nregion = \"us-east-1\"\nmax_output_tokens = 1500 # was\n" +
		"\n[profiles.large]\ndescription = \"long answers, big refactors\"\nmodel = \"opus\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n"
	if diff := cmp.Diff(want, readFile(t, w.configPath())); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if err := profiles.SetCap(w.configPath(), "work", 0, w.env); err == nil {
		t.Fatal("cap 0 accepted")
	}
}

// TestEditsKeepTrailingComments: replacing a value keeps the comment after it
// and the spacing before the comment, whatever quotes and '#' the line holds.
func TestEditsKeepTrailingComments(t *testing.T) {
	const work = "[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\n"
	tests := []struct {
		name, before, after string
		edit                func(path string, env map[string]string) error
	}{
		{"default", "default = \"code\"  # agreed with the team\n", "default = \"light\"  # agreed with the team\n", setDefaultLight},
		{"default with a tab", "default = \"code\"\t# mine\n", "default = \"light\"\t# mine\n", setDefaultLight},
		{"literal string", "default = 'code' # mine\n", "default = \"light\" # mine\n", setDefaultLight},
		{"quotes and # in the comment", "default = \"code\" # not \"large#2\", it's too slow # really\n", "default = \"light\" # not \"large#2\", it's too slow # really\n", setDefaultLight},
		{"no space before the comment", "default = \"code\"#mine\n", "default = \"light\"#mine\n", setDefaultLight},
		{"no comment, trailing space", "default = \"code\"   \n", "default = \"light\"   \n", setDefaultLight},
		{"no final newline", "default = \"code\" # mine", "default = \"light\" # mine", setDefaultLight},
		{"cap", work + "max_output_tokens = 2048  # agreed with the team\n", work + "max_output_tokens = 1500  # agreed with the team\n", setWorkCap},
		{"cap written with _", work + "max_output_tokens = 2_048 # mine\n", work + "max_output_tokens = 1500 # mine\n", setWorkCap},
		{"cap after a # in a string", "[profiles.work]\ndescription = \"team #1\" # who\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 2048 # \"#\" # x\n",
			"[profiles.work]\ndescription = \"team #1\" # who\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 1500 # \"#\" # x\n", setWorkCap},
		{"indented, dotted key", "[profiles]\n  work.model = \"sonnet\"\n  work.region = \"us-east-1\"\n  work.max_output_tokens = 2048 # mine\n",
			"[profiles]\n  work.model = \"sonnet\"\n  work.region = \"us-east-1\"\n  work.max_output_tokens = 1500 # mine\n", setWorkCap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.config(tt.before)
			if err := tt.edit(w.configPath(), w.env); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.after, readFile(t, w.configPath())); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func setDefaultLight(path string, env map[string]string) error {
	return profiles.SetDefault(path, "light", env)
}

func setWorkCap(path string, env map[string]string) error {
	return profiles.SetCap(path, "work", 1500, env)
}

// TestEditsGoThroughASymlinkedConfig: a config.toml that is a link into a
// dotfiles repository is edited where it points, and stays a link.
func TestEditsGoThroughASymlinkedConfig(t *testing.T) {
	const before = "default = \"code\"\n\n[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n"
	tests := []struct {
		name  string
		edit  func(path string, env map[string]string) error
		after string
	}{
		{"SetDefault", func(path string, env map[string]string) error { return profiles.SetDefault(path, "light", env) },
			"default = \"light\"\n\n[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n"},
		{"SetCap", func(path string, env map[string]string) error { return profiles.SetCap(path, "work", 1500, env) },
			"default = \"code\"\n\n[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 1500\n"},
		{"SetCap of a built-in", func(path string, env map[string]string) error { return profiles.SetCap(path, "large", 4096, env) },
			before + "\n[profiles.large]\ndescription = \"long answers, big refactors\"\nmodel = \"opus\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			target := filepath.Join(w.home, "dotfiles", "claude-bedrock.toml")
			w.write(target, before)
			if err := os.Chmod(target, 0o600); err != nil {
				t.Fatal(err)
			}
			link := w.configPath()
			const dest = "../../dotfiles/claude-bedrock.toml" // relative, as dotfile managers make them
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(dest, link); err != nil {
				t.Fatal(err)
			}
			if err := tt.edit(link, w.env); err != nil {
				t.Fatal(err)
			}
			if got, err := os.Readlink(link); err != nil || got != dest {
				t.Fatalf("%s is no longer the link to %s: Readlink = %q, %v", link, dest, got, err)
			}
			if diff := cmp.Diff(tt.after, readFile(t, target)); diff != "" {
				t.Errorf("target (-want +got):\n%s", diff)
			}
			if fi, err := os.Stat(target); err != nil || fi.Mode() != 0o600 {
				t.Errorf("target mode = %v, %v; want %v", fi.Mode(), err, fs.FileMode(0o600))
			}
			for _, dir := range []string{filepath.Dir(link), filepath.Dir(target)} {
				if names, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(names) > 0 {
					t.Errorf("temporary files left behind: %q", names)
				}
			}
		})
	}
}

// TestEditsRefuseADanglingSymlink: a link to a file that is not there (the
// dotfiles repository not checked out yet) is an error that says so, and no
// file is made in the link's place.
func TestEditsRefuseADanglingSymlink(t *testing.T) {
	edits := map[string]func(path string, env map[string]string) error{
		"SetDefault": func(path string, env map[string]string) error { return profiles.SetDefault(path, "light", env) },
		"SetCap":     func(path string, env map[string]string) error { return profiles.SetCap(path, "code", 2048, env) },
		// Read, a link to nothing (dotfiles moved) is not taken for no
		// config, which would run the built-in profiles without a word.
		"LoadConfig": func(path string, env map[string]string) error { _, err := profiles.LoadConfig(path, env); return err },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			target := filepath.Join(w.home, "dotfiles", "claude-bedrock.toml")
			link := w.configPath()
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			err := edit(link, w.env)
			if want := link + " is a symbolic link to " + target + ", which does not exist"; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want one containing %q", err, want)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Fatalf("%s is no longer a link: %v, %v", link, fi.Mode(), err)
			}
			if _, err := os.Lstat(target); !os.IsNotExist(err) {
				t.Fatalf("%s was made: %v", target, err)
			}
		})
	}
}

func TestEnvironReplacesManagedKeysAndKeepsTheRest(t *testing.T) {
	p := profiles.Builtins()["code"]
	p.AWSProfile = "dev"
	got := p.Environ([]string{"PATH=/bin", "ANTHROPIC_MODEL=opus", "AWS_PROFILE=prod", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=32000", "X=a=b"})
	want := []string{
		"PATH=/bin", "X=a=b",
		"CLAUDE_CODE_USE_BEDROCK=1", "AWS_REGION=us-west-2", "ANTHROPIC_MODEL=sonnet",
		"CLAUDE_CODE_MAX_OUTPUT_TOKENS=4096", "AWS_PROFILE=dev", "CLAUDE_BEDROCK_PROFILE=code",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environ (-want +got):\n%s", diff)
	}
}

func ExampleProfile_Settings() {
	p := profiles.Builtins()["light"]
	os.Stdout.WriteString(p.Settings() + "\n")
	// Output:
	// {"env":{"CLAUDE_CODE_USE_BEDROCK":"1","AWS_REGION":"us-west-2","ANTHROPIC_MODEL":"haiku","CLAUDE_CODE_MAX_OUTPUT_TOKENS":"1024","CLAUDE_BEDROCK_PROFILE":"light"}}
}
