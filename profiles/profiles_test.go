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
	t      *testing.T
	home   string
	system string // a system config directory (XDG_CONFIG_DIRS)
	env    map[string]string
	proj   string // a project root
	cwd    string // a folder two levels below it
}

func newWorld(t *testing.T) *world {
	t.Helper()
	home := t.TempDir()
	w := &world{t: t, home: home, system: t.TempDir(), env: map[string]string{"HOME": home}}
	useDirs(t, home, w.system)
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
			want: `CONFIG:4: unknown key "profiles.code.max_output_token": check its spelling (known keys: model, region, max_output_tokens, min_output_tokens, small_fast_model, aws_profile, burndown, description, governor, tokens_per_minute, requests_per_minute)`},
		{name: "unknown top-level key", config: "defualt = \"code\"\n",
			want: `CONFIG:1: unknown key "defualt": check its spelling (known keys: default, claude_path, process_wrapper, profiles)`},
		{name: "min above max", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\nmin_output_tokens = 8192\n",
			want: `CONFIG:5: min_output_tokens: 8192 is above max_output_tokens 4096: lower min_output_tokens, or raise max_output_tokens`},
		{name: "min above max, min first", config: "[profiles.x]\nmin_output_tokens = 2048\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 1024\n",
			want: `CONFIG:2: min_output_tokens: 2048 is above max_output_tokens 1024: lower min_output_tokens, or raise max_output_tokens`},
		{name: "project cap below the profile's min", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 8192\nmin_output_tokens = 4096\n", project: "profile = \"x\"\nmax_output_tokens = 2048\n",
			want: `PROJECT:2: max_output_tokens: 2048 is below the profile's min_output_tokens 4096: raise max_output_tokens, or lower min_output_tokens`},
		{name: "burndown zero", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\nburndown = 0\n",
			want: `CONFIG:5: burndown: 0 is not a burndown: use a whole number from 1 to 100, how many quota tokens one output token costs (AWS documents 1, 5, 10 and 15)`},
		{name: "burndown as text", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\nburndown = \"10x\"\n",
			want: `CONFIG:5: profiles.x.burndown: got a TOML string, want a whole number, without quotes`},
		{name: "a byte-order mark keeps line numbers", config: "\xef\xbb\xbf[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 0\n",
			want: `CONFIG:4: max_output_tokens: 0 is not a positive number of tokens`},
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
		{name: "tokens_per_minute zero", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ntokens_per_minute = 0\n",
			want: `CONFIG:5: tokens_per_minute: 0 is not a positive whole number`},
		{name: "requests_per_minute negative", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\nrequests_per_minute = -3\n",
			want: `CONFIG:5: requests_per_minute: -3 is not a positive whole number`},
		{name: "tokens_per_minute absurd", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ntokens_per_minute = 20000000000\n",
			want: `CONFIG:5: tokens_per_minute: 20000000000 is more than any Bedrock quota (at most 1000000000)`},
		{name: "tokens_per_minute as string", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ntokens_per_minute = \"200k\"\n",
			want: `CONFIG:5: profiles.x.tokens_per_minute: got a TOML string, want a whole number, without quotes`},
		{name: "tokens_per_minute fraction", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ntokens_per_minute = 2.5\n",
			want: `CONFIG:5: profiles.x.tokens_per_minute: got a TOML float, want a whole number, without quotes`},
		{name: "governor as string", config: "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ngovernor = \"off\"\n",
			want: `CONFIG:5: profiles.x.governor: got a TOML string, want true or false`},
		{name: "project override bad requests_per_minute", project: "profile = \"code\"\nrequests_per_minute = 0\n",
			want: `PROJECT:2: requests_per_minute: 0 is not a positive whole number`},
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

// TestUnknownKeyInAProjectFile: the error lists the keys a project file
// may set.
func TestUnknownKeyInAProjectFile(t *testing.T) {
	w := newWorld(t)
	w.project("profile = \"code\"\nmax_tokens = 2048\n")
	p := w.load().Project
	want := filepath.Join(w.proj, profiles.ProjectFileName) + `:2: unknown key "max_tokens": check its spelling (known keys: profile, model, region, max_output_tokens, min_output_tokens, small_fast_model, aws_profile, burndown, description, governor, tokens_per_minute, requests_per_minute)`
	if p == nil || p.Err() == nil {
		t.Fatalf("project %+v: no error, want %q", p, want)
	}
	if diff := cmp.Diff(want, p.Err().Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

// TestWarningsForAModelNotInTheTable: a full model ID the models table does
// not know is allowed, with a warning that its ceiling and burndown are
// unknown; an application inference profile's ARN names no model and gets
// none.
func TestWarningsForAModelNotInTheTable(t *testing.T) {
	w := newWorld(t)
	w.config("[profiles.new]\nmodel = \"us.anthropic.claude-future-9\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n" +
		"[profiles.app]\nmodel = \"arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n")
	s := w.load()
	r, err := s.Resolve("new")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"profile new: model us.anthropic.claude-future-9 is not in claude-bedrock's table of Claude models: its output ceiling and quota burndown are unknown here (set burndown = N in the profile if you know it)"}
	if diff := cmp.Diff(want, r.Notices); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
	if r, err := s.Resolve("app"); err != nil || len(r.Notices) != 0 {
		t.Errorf("ARN: notices %q, err %v; want none", r.Notices, err)
	}
}

// TestBurndownKey: burndown = N sets the profile's burndown, from the config
// or a trusted project file, and says where it came from.
func TestBurndownKey(t *testing.T) {
	w := newWorld(t)
	w.config("[profiles.h]\nmodel = \"us.anthropic.claude-haiku-5-5\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\nburndown = 10\n")
	r, err := w.load().Resolve("h")
	if err != nil {
		t.Fatal(err)
	}
	if r.Profile.Burndown != 10 || r.Profile.Value("burndown") != "10" || r.Sources["burndown"] != "[profiles.h] in "+w.configPath() {
		t.Errorf("burndown %d (%q) from %q", r.Profile.Burndown, r.Profile.Value("burndown"), r.Sources["burndown"])
	}
	w.project("profile = \"h\"\nburndown = 5\n")
	w.allow()
	r, err = w.load().Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if r.Profile.Burndown != 5 || r.Sources["burndown"] != filepath.Join(w.proj, profiles.ProjectFileName) {
		t.Errorf("project: burndown %d from %q", r.Profile.Burndown, r.Sources["burndown"])
	}
	if r, _ := w.load().Resolve("code"); r.Profile.Burndown != 0 || r.Sources["burndown"] != "" {
		t.Errorf("a profile without the key: burndown %d from %q; want 0 from nowhere", r.Profile.Burndown, r.Sources["burndown"])
	}
}

// TestByteOrderMark: a config or project file that starts with a UTF-8
// byte-order mark (as some Windows editors write them) reads as without it,
// and an edit keeps the mark where it was.
func TestByteOrderMark(t *testing.T) {
	const bom = "\xef\xbb\xbf"
	w := newWorld(t)
	w.config(bom + "default = \"work\"\n\n[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n")
	w.project(bom + "profile = \"work\"\nmax_output_tokens = 2000\n")
	w.allow()
	r, err := w.load().Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if r.Profile.Name != "work" || r.Profile.MaxOutputTokens != 2000 {
		t.Errorf("profile %s cap %d; want work at 2000", r.Profile.Name, r.Profile.MaxOutputTokens)
	}
	if err := profiles.SetDefault(w.configPath(), "light", w.env); err != nil {
		t.Fatal(err)
	}
	if err := profiles.SetCap(w.configPath(), "work", 1500, w.env); err != nil {
		t.Fatal(err)
	}
	want := bom + "default = \"light\"\n\n[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 1500\n"
	if diff := cmp.Diff(want, readFile(t, w.configPath())); diff != "" {
		t.Errorf("config after edits (-want +got):\n%s", diff)
	}
	w2 := newWorld(t)
	w2.config(bom + "[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n")
	if err := profiles.SetDefault(w2.configPath(), "work", w2.env); err != nil {
		t.Fatal(err)
	}
	want = bom + "default = \"work\"\n[profiles.work]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 3000\n"
	if diff := cmp.Diff(want, readFile(t, w2.configPath())); diff != "" {
		t.Errorf("default added at the top (-want +got):\n%s", diff)
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

func TestGovernorKeys(t *testing.T) {
	w := newWorld(t)
	w.config("[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n" +
		"governor = false\ntokens_per_minute = 200000\nrequests_per_minute = 50\n" +
		"[profiles.y]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\n")
	w.project("profile = \"y\"\ntokens_per_minute = 100000\n")
	s := w.load()
	if err := profiles.Allow(s.Paths.TrustDir, s.Project); err != nil {
		t.Fatal(err)
	}
	s = w.load()
	type got struct {
		NoGovernor                bool
		TokensPerMinute, Requests int
		Governor, TPM, TPMSource  string
	}
	projFile := filepath.Join(w.proj, profiles.ProjectFileName)
	for _, tt := range []struct {
		flag string
		want got
	}{
		{"x", got{true, 200000, 50, "false", "200000", "[profiles.x] in " + w.configPath()}},
		{"y", got{false, 100000, 0, "true", "100000", projFile}},
		{"code", got{false, 0, 0, "true", "", ""}}, // built-in: governed, limits unknown
	} {
		r, err := s.Resolve(tt.flag)
		if err != nil {
			t.Fatal(err)
		}
		p := r.Profile
		g := got{p.NoGovernor, p.TokensPerMinute, p.RequestsPerMinute, p.Value("governor"), p.Value("tokens_per_minute"), r.Sources["tokens_per_minute"]}
		if diff := cmp.Diff(tt.want, g); diff != "" {
			t.Errorf("+%s (-want +got):\n%s", tt.flag, diff)
		}
	}
}
