package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDoctorThroughTheLauncher: +doctor execs the doctor binary installed
// beside the launcher, with the profile resolved as for a launch. With every
// AWS endpoint on a closed loopback port it still ends within its bound, and
// fails (exit 1): claude could not reach Bedrock either. Each check that
// could not reach its endpoint is a ✗ that says what to fix, and the run does
// not end in "0 problems". With no claude to run it fails too.
func TestDoctorThroughTheLauncher(t *testing.T) {
	env := testEnv(t, "report",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1", "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=doNotPrintThisSecret",
		"AWS_EC2_METADATA_DISABLED=true", "FAKE_EXIT=0")
	system := systemConfigPath(env)
	writeFile(t, system, "[profiles.corp]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 6000\n")
	start := time.Now()
	out, stderr, code := runLauncher(t, env, t.TempDir(), "", "+doctor", "+light", "--json")
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("+doctor took %v with no AWS reachable", elapsed) // a bound far above the 10 s design, not a timing test
	}
	if code != 1 {
		t.Errorf("exit %d, want 1 (no AWS endpoint reachable); stderr %s", code, stderr)
	}
	var r struct {
		Profile string
		OK      bool
		Checks  []struct{ Name, Status, Summary, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if r.Profile != "light" || r.OK {
		t.Errorf("profile %q ok %v; want light, not ok", r.Profile, r.OK)
	}
	for _, c := range r.Checks {
		switch c.Name {
		case "identity", "model", "quota":
			if c.Status != "fail" || !strings.Contains(c.Summary, "127.0.0.1:1") && !strings.Contains(c.Summary, "could not reach") {
				t.Errorf("check %s: %s %q; want fail, naming what it could not reach", c.Name, c.Status, c.Summary)
			}
		}
	}
	for _, want := range []string{`"config ~/.config/claude-bedrock/config.toml (none yet)"`, `"system config ` + system + `"`} {
		if !strings.Contains(out, want) { // the profile check names the config files in use
			t.Errorf("no %s in:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr, "doNotPrintThisSecret") {
		t.Error("the secret key was printed")
	}
	human, _, code := runLauncher(t, env, t.TempDir(), "", "+doctor", "+light")
	for _, want := range []string{"✗ identity", "✗ model", "✗ quota", "fix: ", "network", "proxy", "AWS_ENDPOINT_URL=http://127.0.0.1:1", "region us-west-2", "fix: as for identity"} {
		if !strings.Contains(human, want) {
			t.Errorf("the report lacks %q:\n%s", want, human)
		}
	}
	if code != 1 || strings.Contains(human, "0 problems") {
		t.Errorf("exit %d, want 1 and no \"0 problems\":\n%s", code, human)
	}
	if _, _, code := runLauncher(t, append(env, "PATH=/nonexistent"), t.TempDir(), "", "+doctor"); code != 1 {
		t.Errorf("no claude: exit %d, want 1", code)
	}
	_, stderr, code = runLauncher(t, env, t.TempDir(), "", "+doctor", "--parallel", "0")
	if code != 2 || !strings.Contains(stderr, "--parallel takes a number") {
		t.Errorf("bad --parallel: exit %d, %q", code, stderr)
	}
}
