package quota

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRecommend pins the worked numbers the README quotes.
func TestRecommend(t *testing.T) {
	tests := []struct {
		name                                    string
		tpm, parallel, input, burndown, ceiling int
		wantExact, wantCap                      int
		wantLimit                               string
	}{
		{"200k TPM, 3 parallel", 200000, 3, 22000, 5, 64000, 8933, 8704, ""},
		{"1M TPM, 3 parallel", 1000000, 3, 22000, 5, 64000, 62266, 62208, ""},
		{"2M TPM hits the 64k ceiling", 2000000, 3, 22000, 5, 64000, 128933, 64000, "ceiling"},
		{"3M TPM hits Opus 4.1's 32k ceiling", 3000000, 3, 22000, 5, 32000, 195600, 32000, "ceiling"},
		{"100k TPM is too small for 3", 100000, 3, 22000, 5, 64000, 2266, 4096, "minimum"},
		{"50k TPM does not even hold the input", 50000, 3, 22000, 5, 64000, -1067, 4096, "minimum"},
		{"200k TPM, 1 request", 200000, 1, 22000, 5, 64000, 35600, 35584, ""},
		{"burndown 1", 200000, 3, 22000, 1, 64000, 44666, 44544, ""},
		{"400k TPM, 5 parallel", 400000, 5, 22000, 5, 128000, 11600, 11520, ""},
		{"zero parallel counts as 1", 200000, 0, 22000, 5, 64000, 35600, 35584, ""},
		{"no ceiling means the largest", 4000000, 1, 22000, 5, 0, 795600, 128000, "ceiling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Recommend(tt.tpm, tt.parallel, tt.input, tt.burndown, tt.ceiling)
			if r.Exact != tt.wantExact || r.Cap != tt.wantCap || r.Limit != tt.wantLimit {
				t.Errorf("Recommend(%d, %d, %d, %d, %d) = exact %d cap %d limit %q, want exact %d cap %d limit %q",
					tt.tpm, tt.parallel, tt.input, tt.burndown, tt.ceiling, r.Exact, r.Cap, r.Limit, tt.wantExact, tt.wantCap, tt.wantLimit)
			}
		})
	}
}

// TestHold pins both readings of what a request holds at its start, and how
// many fit under the stricter one.
func TestHold(t *testing.T) {
	tests := []struct {
		name          string
		burndown, cap int
		want          Hold
		fits          int
	}{
		{"Sonnet 4.5 at the built-in code cap", 5, 4096, Hold{Low: 26096, High: 42480}, 4},
		{"a cap below 4096 counts as 4096", 5, 1024, Hold{Low: 26096, High: 42480}, 4},
		{"the recommendation: 3 fit", 5, 8704, Hold{Low: 30704, High: 65520}, 3},
		{"one step more: only 2", 5, 8960, Hold{Low: 30960, High: 66800}, 2},
		{"Claude Code's default for Sonnet 4.5", 5, 32000, Hold{Low: 54000, High: 182000}, 1},
		{"Opus 5.5 at the built-in large cap", 10, 8192, Hold{Low: 30192, High: 103920}, 1},
		{"Opus 5.5 at Claude Code's default", 10, 128000, Hold{Low: 150000, High: 1302000}, 0},
		{"Opus 4.8", 15, 8192, Hold{Low: 30192, High: 144880}, 1},
		{"burndown 1: both readings agree", 1, 8192, Hold{Low: 30192, High: 30192}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Recommend(200000, 3, TypicalInput, tt.burndown, 128000)
			if diff := cmp.Diff(tt.want, r.Hold(tt.cap)); diff != "" {
				t.Errorf("Hold(%d) at burndown %d (-want +got):\n%s", tt.cap, tt.burndown, diff)
			}
			if got := StartHold(TypicalInput, tt.cap, tt.burndown); got != tt.want {
				t.Errorf("StartHold = %+v, want %+v", got, tt.want)
			}
			if got := r.Fits(tt.cap); got != tt.fits {
				t.Errorf("Fits(%d) = %d, want %d", tt.cap, got, tt.fits)
			}
		})
	}
}

// TestSettled pins what a finished request costs: cache writes count as
// input, cache reads not at all, output times the burndown.
func TestSettled(t *testing.T) {
	tests := []struct {
		name                                string
		input, cacheWrite, output, burndown int
		want                                int
	}{
		{"Sonnet 4.5, no cache", 22000, 0, 1000, 5, 27000},
		{"Opus 5.5 with a cache write", 3000, 19000, 1000, 10, 32000},
		{"Opus 4.8", 3000, 0, 1000, 15, 18000},
		{"another provider, 1:1", 3000, 0, 1000, 1, 4000},
		{"burndown 0 counts as 1", 3000, 0, 1000, 0, 4000},
	}
	for _, tt := range tests {
		if got := Settled(tt.input, tt.cacheWrite, tt.output, tt.burndown); got != tt.want {
			t.Errorf("%s: Settled(%d, %d, %d, %d) = %d, want %d", tt.name, tt.input, tt.cacheWrite, tt.output, tt.burndown, got, tt.want)
		}
	}
}

// TestRecommendIsLargest checks over a range of quotas that the recommended
// cap fits Parallel requests and one Rounding step more does not.
func TestRecommendIsLargest(t *testing.T) {
	for tpm := 100000; tpm <= 3000000; tpm += 7919 {
		for p := 1; p <= 6; p++ {
			r := Recommend(tpm, p, TypicalInput, 5, 64000)
			if r.Cap%Rounding != 0 {
				t.Fatalf("tpm %d p %d: cap %d not a multiple of %d", tpm, p, r.Cap, Rounding)
			}
			if r.Limit != "" {
				continue
			}
			if p*r.Hold(r.Cap).High > tpm {
				t.Fatalf("tpm %d p %d: cap %d holds %d x %d > quota", tpm, p, r.Cap, p, r.Hold(r.Cap).High)
			}
			if p*r.Hold(r.Cap+Rounding).High <= tpm {
				t.Fatalf("tpm %d p %d: cap %d is not the largest", tpm, p, r.Cap)
			}
		}
	}
}

func TestQuotaMatches(t *testing.T) {
	tests := []struct {
		name, kind, metric, model string
		want                      bool
	}{
		{"Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", "cross-region model inference", "tokens per minute", "Claude Sonnet 4.5", true},
		{"Cross-region model inference requests per minute for Anthropic Claude Sonnet 4.5 V1", "cross-region model inference", "requests per minute", "Claude Sonnet 4.5", true},
		{"Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", "cross-region model inference", "requests per minute", "Claude Sonnet 4.5", false},
		{"Global cross-Region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", "global cross-region model inference", "tokens per minute", "Claude Sonnet 4.5", true},
		{"Global cross-Region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", "cross-region model inference", "tokens per minute", "Claude Sonnet 4.5", false},
		{"On-demand model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", "on-demand model inference", "tokens per minute", "Claude Sonnet 4.5", true},
		{"Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", "cross-region model inference", "tokens per minute", "Claude Sonnet 4", false},
		{"Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4 V1 1M Context Length", "cross-region model inference", "tokens per minute", "Claude Sonnet 4", false},
		{"Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4 V1", "cross-region model inference", "tokens per minute", "Claude Sonnet 4", true},
		{"Cross-region model inference tokens per minute for Anthropic Claude 3.7 Sonnet V1", "cross-region model inference", "tokens per minute", "Claude Sonnet 3.7", true},
		{"Cross-region model inference tokens per minute for Anthropic Claude Opus 4.6", "cross-region model inference", "tokens per minute", "Claude Opus 4.6", true},
		{"Model invocation max tokens per day for Anthropic Claude Sonnet 4.5 V1", "cross-region model inference", "tokens per minute", "Claude Sonnet 4.5", false},
	}
	for _, tt := range tests {
		if got := Matches(tt.name, tt.kind, tt.metric, tt.model); got != tt.want {
			t.Errorf("Matches(%q, %q, %q, %q) = %v, want %v", tt.name, tt.kind, tt.metric, tt.model, got, tt.want)
		}
	}
}

func TestCachedRecommendation(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	q := Cached{Fetched: now.Add(-2 * time.Hour), AWSProfile: "dev", Account: "123456789012",
		Region: "us-west-2", Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", TPM: 200000, RPM: 200,
		TPMName: "Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1"}
	if err := WriteCache(dir, q); err != nil {
		t.Fatal(err)
	}
	// An older entry of another account must lose to the newer one.
	old := q
	old.Account, old.TPM, old.Fetched = "210987654321", 1000000, now.Add(-20*time.Hour)
	if err := WriteCache(dir, old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "quota-damaged.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, ok := CachedRecommendation(dir, "dev", "us-west-2", "sonnet", 0, 3, now)
	if !ok {
		t.Fatal("CachedRecommendation found nothing")
	}
	want := Recommendation{TPM: 200000, RPM: 200, Parallel: 3, Input: 22000, Burndown: 5, BurndownKnown: true, Ceiling: 64000, Exact: 8933, Cap: 8704}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CachedRecommendation (-want +got):\n%s", diff)
	}
	if got, _ := CachedRecommendation(dir, "dev", "us-west-2", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", 0, 0, now); got.Cap != 8704 || got.Parallel != DefaultParallel {
		t.Errorf("by full ID with default parallel: cap %d parallel %d, want 8704 and %d", got.Cap, got.Parallel, DefaultParallel)
	}
	misses := []struct {
		name                      string
		awsProfile, region, model string
		now                       time.Time
	}{
		{"other AWS profile", "prod", "us-west-2", "sonnet", now},
		{"other region", "dev", "eu-central-1", "sonnet", now},
		{"other model", "dev", "us-west-2", "haiku", now},
		{"unknown model", "dev", "us-west-2", "anthropic.claude-nothing", now},
		{"stale after a day", "dev", "us-west-2", "sonnet", now.Add(23 * time.Hour)},
	}
	for _, m := range misses {
		if r, ok := CachedRecommendation(dir, m.awsProfile, m.region, m.model, 0, 3, m.now); ok {
			t.Errorf("%s: got %+v, want no cached recommendation", m.name, r)
		}
	}
	if _, ok := CachedRecommendation(filepath.Join(dir, "missing"), "dev", "us-west-2", "sonnet", 0, 3, now); ok {
		t.Error("a missing cache directory gave a recommendation")
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".quota-*")) // the pattern is fixed: no error possible
	if len(tmps) != 0 {
		t.Errorf("temp files left behind: %v", tmps)
	}
}

// TestCachedRecommendationBurndown: Opus 5.5 is counted at 10x, an
// undocumented model at the advised rate, and a profile's burndown key wins.
func TestCachedRecommendationBurndown(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"us.anthropic.claude-opus-5-5", "us.anthropic.claude-haiku-5-5"} {
		if err := WriteCache(dir, Cached{Fetched: now, Region: "us-west-2", Model: id, TPM: 1000000}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		model         string
		set           int
		burndown, cap int
		known         bool
	}{
		{"opus", 0, 10, 30976, true},                           // (1,000,000/3 - 22,000)/10 = 31,133
		{"us.anthropic.claude-haiku-5-5", 0, 10, 30976, false}, // unknown: advised with 10
		{"us.anthropic.claude-haiku-5-5", 5, 5, 62208, true},   // burndown = 5 in the profile
	}
	for _, tt := range tests {
		r, ok := CachedRecommendation(dir, "", "us-west-2", tt.model, tt.set, 3, now)
		if !ok || r.Burndown != tt.burndown || r.Cap != tt.cap || r.BurndownKnown != tt.known {
			t.Errorf("%s, burndown key %d: %+v, %v; want burndown %d (known %v), cap %d", tt.model, tt.set, r, ok, tt.burndown, tt.known, tt.cap)
		}
	}
}

// The README's worked example: a 200,000 tokens-per-minute quota, three
// parallel requests of 22,000 input tokens, for Claude Sonnet 4.5 (5x) and
// Claude Opus 5.5 (10x).
func ExampleRecommend() {
	for _, m := range []struct {
		name     string
		burndown int
		ceiling  int
		dflt     int
	}{{"Sonnet 4.5", 5, 64000, 32000}, {"Opus 5.5", 10, 128000, 128000}} {
		r := Recommend(200000, 3, TypicalInput, m.burndown, m.ceiling)
		h := r.Hold(r.Cap)
		fmt.Printf("%s (%dx): (200,000 / 3 - 22,000) / %d = %d, recommended %d\n", m.name, m.burndown, m.burndown, r.Exact, r.Cap)
		fmt.Printf("  at %d each request holds between %d and %d at its start; %d fit\n", r.Cap, h.Low, h.High, r.Fits(r.Cap))
		d := r.Hold(m.dflt)
		fmt.Printf("  at Claude Code's default %d: between %d and %d; %d fit\n", m.dflt, d.Low, d.High, r.Fits(m.dflt))
	}
	// Output:
	// Sonnet 4.5 (5x): (200,000 / 3 - 22,000) / 5 = 8933, recommended 8704
	//   at 8704 each request holds between 30704 and 65520 at its start; 3 fit
	//   at Claude Code's default 32000: between 54000 and 182000; 1 fit
	// Opus 5.5 (10x): (200,000 / 3 - 22,000) / 10 = 4466, recommended 4352
	//   at 4352 each request holds between 26352 and 65520 at its start; 3 fit
	//   at Claude Code's default 128000: between 150000 and 1302000; 0 fit
}
