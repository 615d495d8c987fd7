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

// TestReservation pins the per-request reservation and how many fit.
func TestReservation(t *testing.T) {
	r := Recommend(200000, 3, 22000, 5, 64000)
	tests := []struct{ cap, reservation, fits int }{
		{4096, 42480, 4},
		{1024, 42480, 4}, // Bedrock counts at least 4096
		{8704, 65520, 3}, // the recommendation: 3 fit
		{8960, 66800, 2}, // one step more: only 2
		{32000, 182000, 1},
		{128000, 662000, 0},
	}
	for _, tt := range tests {
		if got := r.Reservation(tt.cap); got != tt.reservation {
			t.Errorf("Reservation(%d) = %d, want %d", tt.cap, got, tt.reservation)
		}
		if got := r.Fits(tt.cap); got != tt.fits {
			t.Errorf("Fits(%d) = %d, want %d", tt.cap, got, tt.fits)
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
			if p*r.Reservation(r.Cap) > tpm {
				t.Fatalf("tpm %d p %d: cap %d reserves %d x %d > quota", tpm, p, r.Cap, p, r.Reservation(r.Cap))
			}
			if p*r.Reservation(r.Cap+Rounding) <= tpm {
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
	got, ok := CachedRecommendation(dir, "dev", "us-west-2", "sonnet", 3, now)
	if !ok {
		t.Fatal("CachedRecommendation found nothing")
	}
	want := Recommendation{TPM: 200000, RPM: 200, Parallel: 3, Input: 22000, Burndown: 5, Ceiling: 64000, Exact: 8933, Cap: 8704}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CachedRecommendation (-want +got):\n%s", diff)
	}
	if got, _ := CachedRecommendation(dir, "dev", "us-west-2", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", 0, now); got.Cap != 8704 || got.Parallel != DefaultParallel {
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
		if r, ok := CachedRecommendation(dir, m.awsProfile, m.region, m.model, 3, m.now); ok {
			t.Errorf("%s: got %+v, want no cached recommendation", m.name, r)
		}
	}
	if _, ok := CachedRecommendation(filepath.Join(dir, "missing"), "dev", "us-west-2", "sonnet", 3, now); ok {
		t.Error("a missing cache directory gave a recommendation")
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".quota-*")) // the pattern is fixed: no error possible
	if len(tmps) != 0 {
		t.Errorf("temp files left behind: %v", tmps)
	}
}

// The README's worked example: a 200,000 tokens-per-minute quota, three
// parallel requests of 22,000 input tokens, a 5x burndown.
func ExampleRecommend() {
	r := Recommend(200000, 3, TypicalInput, 5, 64000)
	fmt.Printf("largest cap %d, recommended %d\n", r.Exact, r.Cap)
	fmt.Printf("at %d each request reserves %d; %d fit\n", r.Cap, r.Reservation(r.Cap), r.Fits(r.Cap))
	fmt.Printf("at 32000 each request reserves %d; %d fits\n", r.Reservation(32000), r.Fits(32000))
	// Output:
	// largest cap 8933, recommended 8704
	// at 8704 each request reserves 65520; 3 fit
	// at 32000 each request reserves 182000; 1 fits
}
