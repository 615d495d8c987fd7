package models

import "testing"

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
