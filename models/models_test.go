package models

import (
	"strings"
	"testing"
)

func TestValidRegion(t *testing.T) {
	for s, want := range map[string]bool{
		"us-west-2": true, "eu-central-1": true, "ap-southeast-4": true, "us-gov-east-1": true,
		"us-iso-east-1": true, "us-isob-east-1": true, "ca-central-1": true, "me-south-1": true,
		"us-west": false, "us-west-": false, "uswest2": false, "US-WEST-2": false, "us-west-123": false,
		"u-west-2": false, "us--2": false, "": false, "us-west-2a": false, "us-gov-west": false,
	} {
		if got := ValidRegion(s); got != want {
			t.Errorf("ValidRegion(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestPrefixFits(t *testing.T) {
	tests := []struct {
		prefix, region string
		want           bool
	}{
		{"", "eu-west-1", true},
		{"us", "us-west-2", true}, {"us", "ca-central-1", true}, {"us", "us-gov-west-1", false}, {"us", "eu-west-1", false},
		{"us-gov", "us-gov-west-1", true}, {"us-gov", "us-east-1", false},
		{"eu", "eu-central-1", true}, {"eu", "us-east-1", false},
		{"apac", "ap-northeast-1", true}, {"apac", "eu-west-1", false},
		{"jp", "ap-northeast-1", true}, {"jp", "ap-northeast-3", true}, {"jp", "ap-northeast-2", false},
		{"au", "ap-southeast-2", true}, {"au", "ap-southeast-1", false},
		{"global", "sa-east-1", true},
		{"xx", "us-east-1", false},
	}
	for _, tt := range tests {
		if got := PrefixFits(tt.prefix, tt.region); got != tt.want {
			t.Errorf("PrefixFits(%q, %q) = %v, want %v", tt.prefix, tt.region, got, tt.want)
		}
	}
}

func TestResolveAndLookup(t *testing.T) {
	if got := Resolve("sonnet", "eu-central-1"); got != "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" {
		t.Errorf("Resolve(sonnet, eu-central-1) = %q", got)
	}
	if got := Resolve("us.anthropic.claude-sonnet-4-6", "eu-central-1"); got != "us.anthropic.claude-sonnet-4-6" {
		t.Errorf("a full ID must go out unchanged, got %q", got)
	}
	m, ok := Lookup("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-6-v1")
	if !ok || m.MaxOutput != 128000 || m.DefaultOutput != 64000 {
		t.Errorf("Lookup(ARN) = %+v, %v", m, ok)
	}
	if _, ok := Lookup("us.anthropic.claude-unknown"); ok {
		t.Error("an unknown model was found")
	}
}

// The sentences of AWS's "quotas-token-burndown" page, as quoted in
// models.go, and what each says for the models in Known.
const (
	quote48  = "The burndown rate for Anthropic Claude models version 4.8 is 15x for output tokens"
	quote10x = "Claude Opus 5.5, Claude Sonnet 5, Claude Opus 5, and Claude Fable 5.1 is 10x"
	quote47  = "For all other Anthropic models version 4.7 and below, the burndown is 5x for output tokens."
)

// TestBurndownTable pins every model's rate against the sentence it comes
// from, and the rate advised for those no sentence names.
func TestBurndownTable(t *testing.T) {
	want := map[string]struct {
		rate  int
		known bool
		why   string
	}{
		"Claude Sonnet 3.7": {5, true, quote47},
		"Claude Opus 4":     {5, true, quote47},
		"Claude Sonnet 4":   {5, true, quote47},
		"Claude Opus 4.1":   {5, true, quote47},
		"Claude Haiku 4.5":  {5, true, quote47},
		"Claude Sonnet 4.5": {5, true, quote47},
		"Claude Opus 4.5":   {5, true, quote47},
		"Claude Sonnet 4.6": {5, true, quote47},
		"Claude Opus 4.6":   {5, true, quote47},
		"Claude Opus 4.7":   {5, true, quote47},
		"Claude Opus 4.8":   {15, true, quote48},
		"Claude Opus 5":     {10, true, quote10x},
		"Claude Sonnet 5":   {10, true, quote10x},
		"Claude Opus 5.5":   {10, true, quote10x},
		// Named by no sentence: unknown, advised with the highest rate of
		// generation 5 (Opus 5, Sonnet 5, Opus 5.5: 10).
		"Claude Haiku 5.5":  {10, false, ""},
		"Claude Sonnet 5.5": {10, false, ""},
	}
	if len(want) != len(Known) {
		t.Errorf("the table has %d models, the test pins %d: pin the new ones", len(Known), len(want))
	}
	for _, m := range Known {
		w, ok := want[m.Name]
		if !ok {
			t.Errorf("%s: rate not pinned", m.Name)
			continue
		}
		// The sentence itself must name the model (the 10x list) or its
		// version (4.8; 4.7 and below).
		version := strings.TrimPrefix(m.Name, "Claude ")
		version = version[strings.LastIndex(version, " ")+1:]
		switch w.why {
		case quote10x:
			if !strings.Contains(w.why, m.Name) {
				t.Errorf("%s: not named in %q", m.Name, w.why)
			}
		case quote48:
			if version != "4.8" {
				t.Errorf("%s: version %s is not 4.8", m.Name, version)
			}
		case quote47:
			if strings.Contains(quote10x, m.Name) || !(version <= "4.7") || len(version) > 3 {
				t.Errorf("%s: version %s is not 4.7 or below, or it is named at 10x", m.Name, version)
			}
		}
		rate, known := Burndown(m.ID)
		if rate != w.rate || known != w.known {
			t.Errorf("Burndown(%s) = %d, %v; want %d, %v (%s)", m.ID, rate, known, w.rate, w.known, w.why)
		}
		if w.known != (m.Burndown > 0) {
			t.Errorf("%s: Model.Burndown %d, want %d or 0 when undocumented", m.Name, m.Burndown, w.rate)
		}
	}
}

func TestBurndownLookups(t *testing.T) {
	tests := []struct {
		model string
		rate  int
		known bool
	}{
		{"opus", 10, true},  // Claude Code's alias: Opus 5.5
		{"sonnet", 5, true}, // Sonnet 4.5
		{"haiku", 5, true},  // Haiku 4.5
		{"us.anthropic.claude-opus-4-8", 15, true},
		{"global.anthropic.claude-sonnet-5", 10, true},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-opus-5-5", 10, true},
		{"us.anthropic.claude-haiku-5-5", 10, false},
		{"meta.llama3-70b-instruct-v1:0", 1, true}, // "For all other models, the burndown rate is 1:1."
		{"us.amazon.nova-pro-v1:0", 1, true},
		// The model cannot be told: advise with the highest documented rate.
		{"us.anthropic.claude-future-9", 15, false},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123", 15, false},
	}
	for _, tt := range tests {
		if rate, known := Burndown(tt.model); rate != tt.rate || known != tt.known {
			t.Errorf("Burndown(%q) = %d, %v; want %d, %v", tt.model, rate, known, tt.rate, tt.known)
		}
	}
}
