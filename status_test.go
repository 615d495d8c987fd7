package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adrg/xdg"
	"github.com/google/go-cmp/cmp"

	quotagov "github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// setRuntimeDir points the user's runtime directory, as the xdg package
// finds it, at dir for an in-process test.
func setRuntimeDir(t *testing.T, dir string) {
	t.Helper()
	t.Cleanup(xdg.Reload) // after t.Setenv has put the old value back
	t.Setenv("XDG_RUNTIME_DIR", dir)
	xdg.Reload()
}

// TestStatusReadsTheLedger runs +status against a ledger one session
// published to, as the table and as JSON.
func TestStatusReadsTheLedger(t *testing.T) {
	runtime := t.TempDir()
	dir := gatewayspec.LedgerDir(gatewayspec.RuntimeDir(runtime))
	l, err := quotagov.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	now := time.Now()
	b := quotagov.Bucket{Region: "us-west-2", Model: "anthropic.claude-sonnet-4-5-20250929-v1:0", Kind: "cross-region model inference"}
	err = l.Publish(quotagov.State{PID: 1, Time: now, Buckets: []quotagov.BucketState{{
		Bucket:   b,
		Limits:   quotagov.Limits{TokensPerMinute: 200000, Source: "service quotas"},
		Held:     62810,
		InFlight: 1,
		Waiting:  2,
		Window:   []quotagov.Tally{{At: now.Add(-10 * time.Second).UnixMilli(), N: 22000}},
		Day:      now.Format(time.DateOnly),
		Absorbed: 3,
		Passed:   1,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	setRuntimeDir(t, runtime)
	env := map[string]string{}

	var out bytes.Buffer
	if err := status(&out, env, nil); err != nil {
		t.Fatalf("+status: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	row := strings.Fields(lines[len(lines)-1])
	want := []string{"us-west-2", b.Model, "cross-region", "200,000", "service", "quotas", "22,000", "62,810", "1", "2", "3", "1"}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("+status row (-want +got):\n%s\nall:\n%s", diff, out.String())
	}

	out.Reset()
	if err := status(&out, env, []string{"--json"}); err != nil {
		t.Fatal(err)
	}
	var st quotagov.Status
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("+status --json: %v\n%s", err, out.String())
	}
	if len(st.Buckets) != 1 || st.Buckets[0].Limit != 200000 || st.Buckets[0].Waiting != 2 || st.Buckets[0].Absorbed != 3 {
		t.Errorf("+status --json = %+v", st)
	}
}

// TestStatusWithNoSession says so, and a wrong flag is a usage error.
func TestStatusWithNoSession(t *testing.T) {
	var out bytes.Buffer
	t.Setenv("TMPDIR", t.TempDir()) // where the runtime folder falls back to
	setRuntimeDir(t, filepath.Join(t.TempDir(), "none"))
	env := map[string]string{}
	if err := status(&out, env, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no governed session is running") {
		t.Errorf("+status = %q", out.String())
	}
	if err := status(&out, env, []string{"--watch", "--json"}); err == nil || !strings.Contains(err.Error(), "--watch redraws a table") {
		t.Errorf("+status --watch --json: %v", err)
	}
	if err := status(&out, env, []string{"--jsn"}); err == nil || !strings.Contains(err.Error(), "--json and --watch") {
		t.Errorf("+status --jsn: %v", err)
	}
}

// TestOfferProposesTheLargestCapThatFits: after a 429 the governor passed
// on, the offer proposes the largest cap that fits the limit it knows,
// rather than half the cap; without that knowledge it halves.
func TestOfferProposesTheLargestCapThatFits(t *testing.T) {
	runtime := t.TempDir()
	l, err := quotagov.OpenLedger(gatewayspec.LedgerDir(gatewayspec.RuntimeDir(runtime)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	now := time.Now()
	b := quotagov.Bucket{Region: "us-west-2", Model: "anthropic.claude-sonnet-4-5-20250929-v1:0", Kind: "cross-region model inference"}
	publish := func(passed int, region string) {
		t.Helper()
		bb := b
		bb.Region = region
		if err := l.Publish(quotagov.State{PID: 1, Time: now, Buckets: []quotagov.BucketState{{
			Bucket: bb, Limits: quotagov.Limits{TokensPerMinute: 50000, Source: "profile"},
			Day: now.Format(time.DateOnly), Passed: passed,
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	p := profiles.Profile{Name: "code", Model: "sonnet", Region: "us-west-2", MaxOutputTokens: 8192}
	setRuntimeDir(t, runtime)
	env := map[string]string{}
	for _, tc := range []struct {
		name     string
		governed bool
		passed   int
		region   string
		want     int
	}{
		// (50,000 - 22,000) / 5 = 5,600, rounded down to 5,376.
		{"a 429 passed on in the profile's quota", true, 1, "us-west-2", 5376},
		{"no 429 passed on", true, 0, "us-west-2", 4096},
		{"another region's quota", true, 1, "eu-west-1", 4096},
		{"governor off", false, 1, "us-west-2", 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			publish(tc.passed, tc.region)
			a := &app{env: env}
			if tc.governed {
				a.gov = &governor{}
			}
			w := &watcher{a: a, profile: p}
			if got, ok := w.lowerCap(); !ok || got != tc.want {
				t.Errorf("lowerCap() = %d, %v; want %d", got, ok, tc.want)
			}
		})
	}
}
