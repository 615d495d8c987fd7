package profiles_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// world is a throw-away home with a config file and a project tree.
type world struct {
	t    *testing.T
	home string
	env  map[string]string
	proj string // a project root
	cwd  string // a folder two levels below it
}

func newWorld(t *testing.T) *world {
	t.Helper()
	home := t.TempDir()
	w := &world{t: t, home: home, env: map[string]string{"HOME": home}}
	w.proj = filepath.Join(home, "src", "proj")
	w.cwd = filepath.Join(w.proj, "a", "b")
	if err := os.MkdirAll(w.cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) configPath() string { return profiles.PathsFrom(w.env).Config }

func (w *world) write(path, content string) {
	w.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) config(content string) { w.write(w.configPath(), content) }
func (w *world) project(content string) {
	w.write(filepath.Join(w.proj, profiles.ProjectFileName), content)
}

func (w *world) load() *profiles.Setup {
	w.t.Helper()
	s, err := profiles.Load(w.env, w.cwd)
	if err != nil {
		w.t.Fatalf("Load: %v", err)
	}
	return s
}

func (w *world) allow() {
	w.t.Helper()
	s := w.load()
	if err := profiles.Allow(s.Paths.TrustDir, s.Project); err != nil {
		w.t.Fatalf("Allow: %v", err)
	}
}

const userConfig = `default = "work"

[profiles.work]
model = "us.anthropic.claude-sonnet-4-6"
region = "us-east-1"
max_output_tokens = 3000

[profiles.code]
model = "haiku"
region = "eu-central-1"
max_output_tokens = 2000
`

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name      string
		config    string
		project   string
		trust     bool
		flag      string
		env       map[string]string
		want      string // profile name
		chosenBy  string // a part of ChosenBy
		wantCap   int
		wantRegio string
	}{
		{name: "built-in default", want: "code", chosenBy: "built-in", wantCap: 4096, wantRegio: "us-west-2"},
		{name: "config default", config: userConfig, want: "work", chosenBy: "default in", wantCap: 3000, wantRegio: "us-east-1"},
		{name: "user profile replaces built-in", config: userConfig, flag: "code", want: "code", wantCap: 2000, wantRegio: "eu-central-1"},
		{name: "trusted project beats default", config: userConfig, project: `profile = "large"`, trust: true, want: "large", chosenBy: ".claude-bedrock.toml (trusted)", wantCap: 8192, wantRegio: "us-west-2"},
		{name: "untrusted project is ignored", config: userConfig, project: `profile = "large"`, want: "work", chosenBy: "default in", wantCap: 3000, wantRegio: "us-east-1"},
		{name: "env beats project", project: `profile = "large"`, trust: true, env: map[string]string{"CLAUDE_BEDROCK_PROFILE": "light"}, want: "light", chosenBy: "CLAUDE_BEDROCK_PROFILE", wantCap: 1024, wantRegio: "us-west-2"},
		{name: "flag beats env", env: map[string]string{"CLAUDE_BEDROCK_PROFILE": "light"}, flag: "large", want: "large", chosenBy: "+large on the command line", wantCap: 8192, wantRegio: "us-west-2"},
		{name: "project overrides its own profile", project: "profile = \"code\"\nregion = \"eu-west-1\"\nmax_output_tokens = 1500\n", trust: true, want: "code", wantCap: 1500, wantRegio: "eu-west-1"},
		{name: "project overrides stay out of another profile", project: "profile = \"code\"\nregion = \"eu-west-1\"\n", trust: true, flag: "large", want: "large", wantCap: 8192, wantRegio: "us-west-2"},
		{name: "project overrides apply when its profile is named by flag", project: "profile = \"code\"\nmax_output_tokens = 1500\n", trust: true, flag: "code", want: "code", wantCap: 1500, wantRegio: "us-west-2"},
		{name: "env cap beats everything", project: "profile = \"code\"\nmax_output_tokens = 1500\n", trust: true, env: map[string]string{"CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS": "2048"}, want: "code", wantCap: 2048, wantRegio: "us-west-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			for k, v := range tt.env {
				w.env[k] = v
			}
			if tt.config != "" {
				w.config(tt.config)
			}
			if tt.project != "" {
				w.project(tt.project)
				if tt.trust {
					w.allow()
				}
			}
			r, err := w.load().Resolve(tt.flag)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if r.Profile.Name != tt.want || r.Profile.MaxOutputTokens != tt.wantCap || r.Profile.Region != tt.wantRegio {
				t.Errorf("got %s cap %d region %s, want %s cap %d region %s", r.Profile.Name, r.Profile.MaxOutputTokens, r.Profile.Region, tt.want, tt.wantCap, tt.wantRegio)
			}
			if !strings.Contains(r.ChosenBy, tt.chosenBy) {
				t.Errorf("ChosenBy = %q, want it to contain %q", r.ChosenBy, tt.chosenBy)
			}
		})
	}
}

func TestSourcesNameWhereEachValueCameFrom(t *testing.T) {
	w := newWorld(t)
	w.config(userConfig)
	w.project("profile = \"work\"\nmax_output_tokens = 1234\n")
	w.allow()
	w.env["CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS"] = ""
	r, err := w.load().Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	projFile := filepath.Join(w.proj, profiles.ProjectFileName)
	want := map[string]string{
		"model":             "[profiles.work] in " + w.configPath(),
		"region":            "[profiles.work] in " + w.configPath(),
		"max_output_tokens": projFile,
	}
	for k, v := range want {
		if r.Sources[k] != v {
			t.Errorf("Sources[%s] = %q, want %q", k, r.Sources[k], v)
		}
	}
}

func TestTrust(t *testing.T) {
	w := newWorld(t)
	w.project(`profile = "large"`)
	projFile := filepath.Join(w.proj, profiles.ProjectFileName)
	resolve := func() *profiles.Resolution {
		t.Helper()
		r, err := w.load().Resolve("")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	r := resolve()
	if r.Profile.Name != "code" || len(r.Notices) != 1 || !strings.Contains(r.Notices[0], "is not trusted yet: run 'claude-bedrock +allow'") {
		t.Fatalf("untrusted: got %s, notices %q", r.Profile.Name, r.Notices)
	}

	w.allow()
	if r = resolve(); r.Profile.Name != "large" || len(r.Notices) != 0 {
		t.Fatalf("allowed: got %s, notices %q", r.Profile.Name, r.Notices)
	}

	w.project("profile = \"light\"\n") // any edit needs a new +allow
	r = resolve()
	if r.Profile.Name != "code" || len(r.Notices) != 1 || !strings.Contains(r.Notices[0], projFile+" changed since it was allowed") {
		t.Fatalf("edited: got %s, notices %q", r.Profile.Name, r.Notices)
	}

	w.allow()
	if r = resolve(); r.Profile.Name != "light" {
		t.Fatalf("re-allowed: got %s", r.Profile.Name)
	}

	s := w.load()
	if err := profiles.Deny(s.Paths.TrustDir, s.Project); err != nil {
		t.Fatal(err)
	}
	if r = resolve(); r.Profile.Name != "code" || len(r.Notices) != 0 {
		t.Fatalf("denied: got %s, notices %q (a denied file is ignored quietly)", r.Profile.Name, r.Notices)
	}
	if got := w.load().Project.Trust; got != profiles.Denied {
		t.Fatalf("trust after deny = %v", got)
	}
	w.allow()
	if r = resolve(); r.Profile.Name != "light" {
		t.Fatalf("allowed after deny: got %s", r.Profile.Name)
	}
}

func TestTrustIsPerPath(t *testing.T) {
	w := newWorld(t)
	w.project(`profile = "large"`)
	w.allow()
	// The same content in another project is not trusted: trust is tied to path and content.
	other := filepath.Join(w.home, "other")
	w.write(filepath.Join(other, profiles.ProjectFileName), `profile = "large"`)
	s, err := profiles.Load(w.env, other)
	if err != nil {
		t.Fatal(err)
	}
	if s.Project.Trust != profiles.NotTrusted {
		t.Fatalf("copied file: trust = %v, want not trusted", s.Project.Trust)
	}
}

func TestProjectFileMustBeARegularFile(t *testing.T) {
	w := newWorld(t)
	w.project(`profile = "large"`)
	w.allow()
	// A folder of that name nearer to cwd is not a project file: the search goes on upwards.
	if err := os.Mkdir(filepath.Join(w.cwd, profiles.ProjectFileName), 0o755); err != nil {
		t.Fatal(err)
	}
	s := w.load()
	if s.Project == nil || s.Project.Path != filepath.Join(w.proj, profiles.ProjectFileName) {
		t.Fatalf("project = %+v", s.Project)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		project string // trusted before resolving
		flag    string
		env     map[string]string
		want    string // the whole error, with CONFIG and PROJECT for the paths
	}{
		{name: "malformed toml", config: "default = \"code\"\n[profiles.x\nmodel = 1\n",
			want: `CONFIG:2: expected ']' to close table name`},
		{name: "unknown key", config: "[profiles.code]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_token = 4096\n",
			want: `CONFIG:4: unknown key "profiles.code.max_output_token": check its spelling (known keys: model, region, max_output_tokens, min_output_tokens, small_fast_model, aws_profile, description)`},
		{name: "unknown top-level key", config: "defualt = \"code\"\n",
			want: `CONFIG:1: unknown key "defualt": check its spelling (known keys: see the README)`},
		{name: "cap zero", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 0\n",
			want: `CONFIG:4: max_output_tokens: 0 is not a positive number of tokens`},
		{name: "cap negative", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = -5\n",
			want: `CONFIG:4: max_output_tokens: -5 is not a positive number of tokens`},
		{name: "cap too large", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 200000\n",
			want: `CONFIG:4: max_output_tokens: 200000 is more than any Claude model can produce (128000)`},
		{name: "cap as string", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = \"4096\"\n",
			want: `CONFIG:4: profiles.x.max_output_tokens: got a TOML string, want a whole number, without quotes`},
		{name: "cap missing", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\n",
			want: `CONFIG:1: profile x sets no max_output_tokens: add one, e.g. max_output_tokens = 4096 (without it Claude Code asks for up to 128000)`},
		{name: "model missing", config: "[profiles.x]\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n",
			want: `CONFIG:1: profile x sets no model: add model = "sonnet" (or haiku, opus, or a Bedrock inference-profile ID)`},
		{name: "model typo", config: "[profiles.x]\nmodel = \"sonet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n",
			want: `CONFIG:2: model "sonet" is neither a Claude Code alias (haiku, opus, sonnet) nor a Bedrock inference-profile ID`},
		{name: "prefix does not fit region", config: "[profiles.x]\nregion = \"us-west-2\"\nmodel = \"eu.anthropic.claude-sonnet-4-6\"\nmax_output_tokens = 4096\n",
			want: `CONFIG:3: model "eu.anthropic.claude-sonnet-4-6" is a eu. inference profile, which cannot be called from region us-west-2: use the us. profile, a global. one, or a region it serves`},
		{name: "malformed region", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west\"\nmax_output_tokens = 4096\n",
			want: `CONFIG:3: region: region "us-west" is not an AWS region name like us-west-2`},
		{name: "reserved name", config: "[profiles.doctor]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n",
			want: `CONFIG:1: profile name "doctor" is taken by the command +doctor: choose another name`},
		{name: "default names no profile", config: "default = \"wrok\"\n",
			want: `CONFIG:1: default = "wrok" names no profile: known profiles: code, large, light`},
		{name: "unknown flag profile", flag: "huge",
			want: `no profile "huge" (chosen by +huge on the command line); known profiles: code, large, light`},
		{name: "env cap not a number", env: map[string]string{"CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS": "abc"},
			want: `CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS: "abc" is not a whole number of tokens: set it to a cap such as 2048, or unset it`},
		{name: "project names unknown profile", project: `profile = "team"`,
			want: `no profile "team" (chosen by PROJECT (trusted)); known profiles: code, large, light`},
		{name: "project override bad cap", project: "profile = \"code\"\nmax_output_tokens = 0\n",
			want: `PROJECT:2: max_output_tokens: 0 is not a positive number of tokens`},
		{name: "project region makes model prefix wrong", config: "[profiles.x]\nmodel = \"us.anthropic.claude-sonnet-4-6\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n", project: "profile = \"x\"\nregion = \"eu-central-1\"\n",
			want: `profile x: model: model "us.anthropic.claude-sonnet-4-6" is a us. inference profile, which cannot be called from region eu-central-1: use the eu. profile, a global. one, or a region it serves`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			for k, v := range tt.env {
				w.env[k] = v
			}
			if tt.config != "" {
				w.config(tt.config)
			}
			projFile := filepath.Join(w.proj, profiles.ProjectFileName)
			var err error
			var s *profiles.Setup
			s, err = profiles.Load(w.env, w.cwd)
			if err == nil && tt.project != "" {
				w.project(tt.project)
				s = w.load()
				// Trust it directly: +allow itself refuses broken files.
				if err := profiles.Allow(s.Paths.TrustDir, s.Project); err != nil {
					t.Fatal(err)
				}
				s = w.load()
			}
			if err == nil {
				_, err = s.Resolve(tt.flag)
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			want := strings.NewReplacer("CONFIG", w.configPath(), "PROJECT", projFile).Replace(tt.want)
			if diff := cmp.Diff(want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGlobalPrefixFitsEveryRegion(t *testing.T) {
	w := newWorld(t)
	w.config("[profiles.g]\nmodel = \"global.anthropic.claude-sonnet-4-5-20250929-v1:0\"\nregion = \"ap-southeast-2\"\nmax_output_tokens = 4096\n")
	if _, err := w.load().Resolve("g"); err != nil {
		t.Fatal(err)
	}
}

func TestRegionFromEnvironmentWhenProfileHasNone(t *testing.T) {
	w := newWorld(t)
	w.config("[profiles.x]\nmodel = \"sonnet\"\nmax_output_tokens = 4096\n")
	w.env["AWS_REGION"] = "eu-west-3"
	r, err := w.load().Resolve("x")
	if err != nil {
		t.Fatal(err)
	}
	if r.Profile.Region != "eu-west-3" {
		t.Fatalf("region %q", r.Profile.Region)
	}
}

func TestWarnings(t *testing.T) {
	w := newWorld(t)
	w.config("[profiles.old]\nmodel = \"us.anthropic.claude-sonnet-4-20250514-v1:0\"\nregion = \"us-west-2\"\nmax_output_tokens = 100000\n")
	r, err := w.load().Resolve("old")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"profile old: Claude Sonnet 4 was retired on Bedrock on 2026-10-14; choose a current model",
		"profile old: max_output_tokens 100000 is above Claude Sonnet 4's ceiling of 64000; Claude Code will send 64000",
	}
	if diff := cmp.Diff(want, r.Notices); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
}

func TestNextCaps(t *testing.T) {
	tests := []struct {
		model    string
		cap, min int
		lower    int
		lowerOK  bool
		higher   int
		higherOK bool
	}{
		{"sonnet", 4096, 1024, 2048, true, 8192, true},
		{"sonnet", 1500, 1024, 1024, true, 3000, true},
		{"sonnet", 1024, 1024, 1024, false, 2048, true},
		{"haiku", 48000, 0, 24000, true, 64000, true}, // Haiku 4.5's ceiling is 64000
		{"haiku", 64000, 1024, 32000, true, 64000, false},
		{"us.anthropic.claude-opus-4-1-20250805-v1:0", 32000, 1024, 16000, true, 32000, false},
		{"us.anthropic.claude-future-9", 100000, 1024, 50000, true, 128000, true}, // unknown: the largest ceiling
	}
	for _, tt := range tests {
		p := profiles.Profile{Model: tt.model, MaxOutputTokens: tt.cap, MinOutputTokens: tt.min}
		if got, ok := p.LowerCap(); got != tt.lower || ok != tt.lowerOK {
			t.Errorf("%s %d: LowerCap = %d %v, want %d %v", tt.model, tt.cap, got, ok, tt.lower, tt.lowerOK)
		}
		if got, ok := p.HigherCap(); got != tt.higher || ok != tt.higherOK {
			t.Errorf("%s %d: HigherCap = %d %v, want %d %v", tt.model, tt.cap, got, ok, tt.higher, tt.higherOK)
		}
	}
}
