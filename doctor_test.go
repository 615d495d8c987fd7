package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDoctorThroughTheLauncher: +doctor execs the doctor binary installed
// beside the launcher, with the profile resolved as for a launch. With every
// AWS endpoint on a closed loopback port it still ends within its bound and
// says what it could not check (a "!", not a failure: exit 0); with no
// claude to run it fails (exit 1).
func TestDoctorThroughTheLauncher(t *testing.T) {
	env := testEnv(t, "report",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1", "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=doNotPrintThisSecret",
		"AWS_EC2_METADATA_DISABLED=true", "FAKE_EXIT=0")
	start := time.Now()
	out, stderr, code := runLauncher(t, env, t.TempDir(), "", "+doctor", "+light", "--json")
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("+doctor took %v with no AWS reachable", elapsed) // a bound far above the 10 s design, not a timing test
	}
	if code != 0 {
		t.Errorf("exit %d, want 0 (nothing failed, only unchecked); stderr %s", code, stderr)
	}
	var r struct {
		Profile   string
		OK        bool
		Unchecked []string
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if r.Profile != "light" || !r.OK || len(r.Unchecked) != 3 {
		t.Errorf("profile %q ok %v unchecked %q; want light, ok, identity/model/quota unchecked", r.Profile, r.OK, r.Unchecked)
	}
	if strings.Contains(out+stderr, "doNotPrintThisSecret") {
		t.Error("the secret key was printed")
	}
	if _, _, code := runLauncher(t, append(env, "PATH=/nonexistent"), t.TempDir(), "", "+doctor"); code != 1 {
		t.Errorf("no claude: exit %d, want 1", code)
	}
	_, stderr, code = runLauncher(t, env, t.TempDir(), "", "+doctor", "--parallel", "0")
	if code != 2 || !strings.Contains(stderr, "--parallel takes a number") {
		t.Errorf("bad --parallel: exit %d, %q", code, stderr)
	}
}
