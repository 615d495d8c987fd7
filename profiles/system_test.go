package profiles_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// systemPath is the system config file of the world's system config folder.
func (w *world) systemPath() string { return filepath.Join(w.system, "claude-bedrock", "config.toml") }

func (w *world) systemConfig(content string) { w.write(w.systemPath(), content) }

const systemConfig = `default = "corp"
claude_path = "/opt/claude/bin/claude"

[profiles.corp]
description = "the company's"
model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
region = "us-east-1"
max_output_tokens = 6000
min_output_tokens = 2048
aws_profile = "corp-bedrock"
burndown = 5

[profiles.code]
model = "sonnet"
region = "us-east-2"
max_output_tokens = 5000
aws_profile = "corp-bedrock"
`

func TestSystemLayerMerge(t *testing.T) {
	type row struct {
		From, Model, Region string
		Cap                 int
		AWSProfile          string
	}
	tests := []struct {
		name     string
		user     string // "" = no user file
		flag     string
		want     string // the profile that applies
		chosenBy string
		sources  string // where its values came from: "system", "user" or "built-in"
		table    map[string]row
		claude   string
	}{
		{name: "system alone", want: "corp", chosenBy: "default in SYSTEM", sources: "system",
			table: map[string]row{
				"corp":  {"system", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1", 6000, "corp-bedrock"},
				"code":  {"system", "sonnet", "us-east-2", 5000, "corp-bedrock"},
				"light": {"built-in", "haiku", "us-west-2", 1024, ""},
				"large": {"built-in", "opus", "us-west-2", 8192, ""},
			},
			claude: "/opt/claude/bin/claude"},
		{name: "a user profile replaces the system one whole; the user's default wins",
			user: "default = \"code\"\nclaude_path = \"/mine/claude\"\n[profiles.code]\nmodel = \"haiku\"\nregion = \"eu-west-1\"\nmax_output_tokens = 3000\n",
			want: "code", chosenBy: "default in USER", sources: "user",
			table: map[string]row{
				"corp":  {"system", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1", 6000, "corp-bedrock"},
				"code":  {"user", "haiku", "eu-west-1", 3000, ""}, // no aws_profile from the system's code
				"light": {"built-in", "haiku", "us-west-2", 1024, ""},
				"large": {"built-in", "opus", "us-west-2", 8192, ""},
			},
			claude: "/mine/claude"},
		{name: "the system's default stays when the user's file sets none",
			user: "[profiles.mine]\nmodel = \"opus\"\nregion = \"us-west-2\"\nmax_output_tokens = 2000\n",
			want: "corp", chosenBy: "default in SYSTEM", sources: "system",
			table: map[string]row{
				"corp":  {"system", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1", 6000, "corp-bedrock"},
				"code":  {"system", "sonnet", "us-east-2", 5000, "corp-bedrock"},
				"mine":  {"user", "opus", "us-west-2", 2000, ""},
				"light": {"built-in", "haiku", "us-west-2", 1024, ""},
				"large": {"built-in", "opus", "us-west-2", 8192, ""},
			},
			claude: "/opt/claude/bin/claude"},
		{name: "the user's default may name a system profile", user: "default = \"corp\"\n",
			want: "corp", chosenBy: "default in USER", sources: "system"},
		{name: "a built-in by flag", flag: "light", want: "light", chosenBy: "+light", sources: "built-in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.systemConfig(systemConfig)
			if tt.user != "" {
				w.config(tt.user)
			}
			names := strings.NewReplacer("SYSTEM", w.systemPath(), "USER", w.configPath())
			s := w.load()
			r, err := s.Resolve(tt.flag)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if r.Profile.Name != tt.want || !strings.HasPrefix(r.ChosenBy, names.Replace(tt.chosenBy)) {
				t.Errorf("got %s chosen by %q, want %s chosen by %q", r.Profile.Name, r.ChosenBy, tt.want, names.Replace(tt.chosenBy))
			}
			wantSource := map[string]string{
				"system":   "[profiles." + tt.want + "] in " + w.systemPath(),
				"user":     "[profiles." + tt.want + "] in " + w.configPath(),
				"built-in": "built-in profile " + tt.want,
			}[tt.sources]
			if got := r.Sources["model"]; got != wantSource {
				t.Errorf("Sources[model] = %q, want %q", got, wantSource)
			}
			if tt.table != nil {
				got := map[string]row{}
				for _, name := range s.Config.Names() {
					p := s.Config.Profiles[name]
					from := "built-in"
					switch f := s.Config.DefinedIn(name); {
					case f == w.systemPath() && s.Config.FromSystem(name):
						from = "system"
					case f == w.configPath() && s.Config.UserDefined[name]:
						from = "user"
					case f != "":
						from = "?" + f
					}
					got[name] = row{from, p.Model, p.Region, p.MaxOutputTokens, p.AWSProfile}
				}
				if diff := cmp.Diff(tt.table, got); diff != "" {
					t.Errorf("profiles (-want +got):\n%s", diff)
				}
				if s.Config.ClaudePath != tt.claude {
					t.Errorf("claude_path = %q, want %q", s.Config.ClaudePath, tt.claude)
				}
			}
			if diff := cmp.Diff([]string{"config " + w.configPath() + map[bool]string{true: "", false: " (none yet: the built-in and system profiles apply)"}[tt.user != ""], "system config " + w.systemPath()}, s.Config.Files()); diff != "" {
				t.Errorf("Files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSystemLayerErrorsNameTheSystemFile(t *testing.T) {
	tests := []struct {
		name   string
		system string
		user   string
		want   string // the whole error, SYSTEM for the system file's path
	}{
		{name: "malformed toml", system: "default = \"code\"\n[profiles.x\nmodel = 1\n",
			want: `SYSTEM:2: expected ']' to close table name`},
		{name: "unknown key", system: "[profiles.corp]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_token = 4096\n",
			want: `SYSTEM:4: unknown key "profiles.corp.max_output_token": check its spelling (known keys: model, region, max_output_tokens, min_output_tokens, small_fast_model, aws_profile, burndown, description, governor, tokens_per_minute, requests_per_minute)`},
		{name: "bad cap", system: "[profiles.corp]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 0\n",
			want: `SYSTEM:4: max_output_tokens: 0 is not a positive number of tokens`},
		{name: "no model", system: "[profiles.corp]\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n",
			want: `SYSTEM:1: profile corp sets no model: add model = "sonnet" (or haiku, opus, or a Bedrock inference-profile ID)`},
		{name: "the system's default is checked against its own profiles", system: "default = \"mine\"\n",
			user: "[profiles.mine]\nmodel = \"opus\"\nregion = \"us-west-2\"\nmax_output_tokens = 2000\n",
			want: `SYSTEM:1: default = "mine" names no profile: known profiles: code, large, light`},
		{name: "an error in the system file stops a valid user file", system: "[profiles.corp]\nmodel = \"sonet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n",
			user: "default = \"light\"\n",
			want: `SYSTEM:2: model "sonet" is neither a Claude Code alias (haiku, opus, sonnet) nor a Bedrock inference-profile ID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.systemConfig(tt.system)
			if tt.user != "" {
				w.config(tt.user)
			}
			want := strings.ReplaceAll(tt.want, "SYSTEM", w.systemPath())
			_, err := profiles.Load(w.env, w.cwd)
			if err == nil || err.Error() != want {
				t.Errorf("Load: error %v\nwant %s", err, want)
			}
			// +use and k load the same layers.
			if err := profiles.SetDefault(w.configPath(), "light", w.env); err == nil || err.Error() != want {
				t.Errorf("SetDefault: error %v\nwant %s", err, want)
			}
		})
	}
}

func TestSystemFileUnreadableIsAWarning(t *testing.T) {
	for name, make := range map[string]func(w *world){
		"a folder": func(w *world) {
			if err := os.MkdirAll(w.systemPath(), 0o755); err != nil {
				t.Fatal(err)
			}
		},
		"a broken link": func(w *world) {
			if err := os.MkdirAll(filepath.Dir(w.systemPath()), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(w.system, "gone.toml"), w.systemPath()); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			make(w)
			w.config("default = \"light\"\n")
			s := w.load()
			r, err := s.Resolve("")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if r.Profile.Name != "light" {
				t.Errorf("profile %s, want the user's default light", r.Profile.Name)
			}
			prefix := "system config " + w.systemPath() + " is not read: "
			if len(r.Notices) != 1 || !strings.HasPrefix(r.Notices[0], prefix) || !strings.HasSuffix(r.Notices[0], "(ask the administrator to fix it; the built-in and your own profiles apply)") {
				t.Errorf("notices %q, want one that starts %q", r.Notices, prefix)
			}
			if got := s.Config.SystemWarning(); got != r.Notices[0] {
				t.Errorf("SystemWarning() = %q", got)
			}
		})
	}
}

func TestSystemFileFirstFoundWins(t *testing.T) {
	w := newWorld(t)
	first, second := t.TempDir(), t.TempDir()
	useDirs(t, w.home, first+string(os.PathListSeparator)+second)
	w.write(filepath.Join(second, "claude-bedrock", "config.toml"), "default = \"large\"\n")
	if got := w.load().Config.Default; got != "large" {
		t.Errorf("default %q from the only system file, want large", got)
	}
	w.write(filepath.Join(first, "claude-bedrock", "config.toml"), "default = \"light\"\n")
	if got := w.load().Config.Default; got != "light" {
		t.Errorf("default %q, want light from the first system directory", got)
	}
}

// TestEditsNeverWriteTheSystemFile: +use and k edit the user's file only; a
// system profile saved with a new cap is copied whole into the user's file.
func TestEditsNeverWriteTheSystemFile(t *testing.T) {
	w := newWorld(t)
	w.systemConfig(systemConfig)
	if err := profiles.SetDefault(w.configPath(), "corp", w.env); err != nil {
		t.Fatalf("SetDefault to a system profile: %v", err)
	}
	if err := profiles.SetCap(w.configPath(), "corp", 3072, w.env); err != nil {
		t.Fatalf("SetCap of a system profile: %v", err)
	}
	b, err := os.ReadFile(w.systemPath())
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != systemConfig {
		t.Errorf("the system file changed:\n%s", b)
	}
	b, err = os.ReadFile(w.configPath())
	if err != nil {
		t.Fatal(err)
	}
	want := "default = \"corp\"\n\n[profiles.corp]\ndescription = \"the company's\"\nmodel = \"us.anthropic.claude-sonnet-4-5-20250929-v1:0\"\nregion = \"us-east-1\"\nmax_output_tokens = 3072\nmin_output_tokens = 2048\naws_profile = \"corp-bedrock\"\nburndown = 5\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("user file (-want +got):\n%s", diff)
	}
	r, err := w.load().Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Sources["model"]; got != "[profiles.corp] in "+w.configPath() {
		t.Errorf("after the save, corp comes from %q, want the user's file", got)
	}
}

func TestPathsFor(t *testing.T) {
	home := t.TempDir()
	appSupport := filepath.Join(home, "Library", "Application Support")
	linux := profiles.BaseDirs{
		Home: home, ConfigHome: filepath.Join(home, ".config"), ConfigDirs: []string{"/etc/xdg"},
		DataHome: filepath.Join(home, ".local/share"), StateHome: filepath.Join(home, ".local/state"),
		CacheHome: filepath.Join(home, ".cache"), RuntimeDir: "/run/user/1000",
	}
	mac := profiles.BaseDirs{ // as github.com/adrg/xdg gives them on macOS, no XDG variable set
		Home: home, ConfigHome: appSupport,
		ConfigDirs: []string{filepath.Join(home, "Library", "Preferences"), "/Library/Application Support", "/Library/Preferences", filepath.Join(home, ".config")},
		DataHome:   appSupport, StateHome: appSupport, CacheHome: filepath.Join(home, "Library", "Caches"), RuntimeDir: appSupport,
	}
	macXDG := mac
	macXDG.ConfigHome = filepath.Join(home, "xdg-config") // XDG_CONFIG_HOME is set
	macXDG.RuntimeDir = filepath.Join(home, "run")        // and XDG_RUNTIME_DIR
	legacy := filepath.Join(home, ".config", "claude-bedrock", "config.toml")
	tests := []struct {
		name   string
		goos   string
		base   profiles.BaseDirs
		env    map[string]string
		legacy bool // ~/.config/claude-bedrock/config.toml exists
		want   profiles.Paths
	}{
		{name: "linux", goos: "linux", base: linux, legacy: true, want: profiles.Paths{
			Config: legacy, System: []string{"/etc/xdg/claude-bedrock/config.toml"},
			TrustDir: filepath.Join(home, ".local/share/claude-bedrock/trust"), StateDir: filepath.Join(home, ".local/state/claude-bedrock"),
			CacheDir: filepath.Join(home, ".cache/claude-bedrock"), RuntimeDir: "/run/user/1000",
		}},
		{name: "macOS, a new user", goos: "darwin", base: mac, want: profiles.Paths{
			Config:   filepath.Join(appSupport, "claude-bedrock", "config.toml"),
			System:   []string{"/Library/Application Support/claude-bedrock/config.toml", "/Library/Preferences/claude-bedrock/config.toml"},
			TrustDir: filepath.Join(appSupport, "claude-bedrock", "trust"), StateDir: filepath.Join(appSupport, "claude-bedrock"),
			CacheDir: filepath.Join(home, "Library", "Caches", "claude-bedrock"),
		}},
		{name: "macOS keeps an existing ~/.config/claude-bedrock/config.toml", goos: "darwin", base: mac, legacy: true, want: profiles.Paths{
			Config:   legacy,
			System:   []string{"/Library/Application Support/claude-bedrock/config.toml", "/Library/Preferences/claude-bedrock/config.toml"},
			TrustDir: filepath.Join(appSupport, "claude-bedrock", "trust"), StateDir: filepath.Join(appSupport, "claude-bedrock"),
			CacheDir: filepath.Join(home, "Library", "Caches", "claude-bedrock"),
		}},
		{name: "macOS with XDG_CONFIG_HOME and XDG_RUNTIME_DIR set", goos: "darwin", base: macXDG, legacy: true, want: profiles.Paths{
			Config:   filepath.Join(home, "xdg-config", "claude-bedrock", "config.toml"),
			System:   []string{"/Library/Application Support/claude-bedrock/config.toml", "/Library/Preferences/claude-bedrock/config.toml"},
			TrustDir: filepath.Join(appSupport, "claude-bedrock", "trust"), StateDir: filepath.Join(appSupport, "claude-bedrock"),
			CacheDir: filepath.Join(home, "Library", "Caches", "claude-bedrock"), RuntimeDir: filepath.Join(home, "run"),
		}},
		{name: "CLAUDE_BEDROCK_CONFIG beats all", goos: "darwin", base: mac, legacy: true, env: map[string]string{"CLAUDE_BEDROCK_CONFIG": "/x/c.toml"}, want: profiles.Paths{
			Config: "/x/c.toml", ConfigSet: true,
			System:   []string{"/Library/Application Support/claude-bedrock/config.toml", "/Library/Preferences/claude-bedrock/config.toml"},
			TrustDir: filepath.Join(appSupport, "claude-bedrock", "trust"), StateDir: filepath.Join(appSupport, "claude-bedrock"),
			CacheDir: filepath.Join(home, "Library", "Caches", "claude-bedrock"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.RemoveAll(filepath.Join(home, ".config")) // best effort: a fresh start
			if tt.legacy {
				if err := os.MkdirAll(filepath.Dir(legacy), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(legacy, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tt.want, profiles.PathsFor(tt.goos, tt.base, tt.env)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestPathsFromTheEnvironment: the xdg package reads the XDG variables (a
// relative one is ignored) and the user's home.
func TestPathsFromTheEnvironment(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the defaults checked are Linux's; TestPathsFor covers macOS")
	}
	w := newWorld(t)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(w.home, "cfg"))
	t.Setenv("XDG_DATA_HOME", "relative/data")
	t.Setenv("XDG_STATE_HOME", filepath.Join(w.home, "st"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(w.home, "ca"))
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(w.home, "run"))
	useDirs(t, w.home, w.system)
	want := profiles.Paths{
		Config: filepath.Join(w.home, "cfg", "claude-bedrock", "config.toml"),
		System: []string{filepath.Join(w.system, "claude-bedrock", "config.toml")},
		// On Linux an unset or relative XDG_DATA_HOME is ~/.local/share.
		TrustDir: filepath.Join(w.home, ".local", "share", "claude-bedrock", "trust"),
		StateDir: filepath.Join(w.home, "st", "claude-bedrock"),
		CacheDir: filepath.Join(w.home, "ca", "claude-bedrock"), RuntimeDir: filepath.Join(w.home, "run"),
	}
	if diff := cmp.Diff(want, profiles.PathsFrom(w.env)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
