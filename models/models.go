// Package models owns what claude-bedrock knows about Claude models on Amazon
// Bedrock: the aliases Claude Code accepts, the inference-profile IDs, each
// model's output-token ceiling, its quota burndown and its retirement, and which
// geography prefix fits which region.
//
// The figures were measured with Claude Code 2.1.328 (see the project README);
// re-measure them when the pinned Claude Code changes.
package models

import (
	"strings"
)

// MaxOutputCeiling is the largest output-token cap any Claude model on Bedrock
// accepts. A cap above it is a mistake, not a preference.
const MaxOutputCeiling = 128000

// MinThrottleReservation is the smallest max_tokens Bedrock's throttling logic
// counts for a request, whatever the request asks for, as the old Claude Code
// Bedrock documentation stated it (until 2026-02: "the throttling logic sets a
// minimum of 4096 tokens as the max_tokens penalty"). No current AWS page
// says so or otherwise; it is kept as the stricter assumption: a cap below it
// buys no quota.
const MinThrottleReservation = 4096

// Model is one Claude model family member as Claude Code 2.1.328 knows it on Bedrock.
type Model struct {
	Name          string // human name, e.g. "Claude Sonnet 4.5"
	ID            string // Bedrock model ID without geography prefix
	DefaultOutput int    // max_tokens Claude Code sends when no cap is set; 0 where not measured
	MaxOutput     int    // the model's output ceiling; higher caps are clamped silently
	// Burndown is how many quota tokens one output token costs, as AWS
	// documents it for this model; 0 when no source documents it (see
	// Burndown, the function, for the rate to advise with then).
	Burndown int
	Retired  string // date the model was retired on Bedrock, or ""
}

// The output burndown rates, each next to the sentence of the AWS Bedrock
// user guide, "quotas-token-burndown", that states it (the page as quoted in
// 2026 by several independent public sources). Input counts once:
// InputTokenCount + CacheWriteInputTokenCount; cache reads count nothing.
const (
	// "The burndown rate for Anthropic Claude models version 4.8 is 15x for
	// output tokens"
	burndownVersion48 = 15
	// "… Claude Opus 5.5, Claude Sonnet 5, Claude Opus 5, and Claude Fable 5.1
	// is 10x" (Fable 5.1 is not a model Claude Code 2.1.328 knows on Bedrock,
	// so it has no row in Known.)
	burndownNamed10x = 10
	// "For all other Anthropic models version 4.7 and below, the burndown is
	// 5x for output tokens."
	burndown47AndBelow = 5
	// "For all other models, the burndown rate is 1:1."
	burndownOtherModels = 1
	// The page names neither Claude Haiku 5.5 nor Claude Sonnet 5.5: their
	// rate is unknown, not 5 and not a guess.
	burndownUndocumented = 0
)

// Known lists the models Claude Code 2.1.328 knows on Bedrock, oldest first.
var Known = []Model{
	{"Claude Sonnet 3.7", "anthropic.claude-3-7-sonnet-20250219-v1:0", 0, 64000, burndown47AndBelow, "2026-04-28"},
	{"Claude Opus 4", "anthropic.claude-opus-4-20250514-v1:0", 0, 32000, burndown47AndBelow, "2026-05-31"},
	{"Claude Sonnet 4", "anthropic.claude-sonnet-4-20250514-v1:0", 0, 64000, burndown47AndBelow, "2026-10-14"},
	{"Claude Opus 4.1", "anthropic.claude-opus-4-1-20250805-v1:0", 32000, 32000, burndown47AndBelow, ""},
	{"Claude Haiku 4.5", "anthropic.claude-haiku-4-5-20251001-v1:0", 32000, 64000, burndown47AndBelow, ""},
	{"Claude Sonnet 4.5", "anthropic.claude-sonnet-4-5-20250929-v1:0", 32000, 64000, burndown47AndBelow, ""},
	{"Claude Opus 4.5", "anthropic.claude-opus-4-5-20251101-v1:0", 32000, 64000, burndown47AndBelow, ""},
	{"Claude Sonnet 4.6", "anthropic.claude-sonnet-4-6", 32000, 128000, burndown47AndBelow, ""},
	{"Claude Opus 4.6", "anthropic.claude-opus-4-6-v1", 64000, 128000, burndown47AndBelow, ""},
	{"Claude Opus 4.7", "anthropic.claude-opus-4-7", 64000, 128000, burndown47AndBelow, ""},
	{"Claude Opus 4.8", "anthropic.claude-opus-4-8", 64000, 128000, burndownVersion48, ""},
	{"Claude Opus 5", "anthropic.claude-opus-5", 64000, 128000, burndownNamed10x, ""},
	{"Claude Sonnet 5", "anthropic.claude-sonnet-5", 64000, 128000, burndownNamed10x, ""},
	{"Claude Haiku 5.5", "anthropic.claude-haiku-5-5", 128000, 128000, burndownUndocumented, ""},
	{"Claude Sonnet 5.5", "anthropic.claude-sonnet-5-5", 128000, 128000, burndownUndocumented, ""},
	{"Claude Opus 5.5", "anthropic.claude-opus-5-5", 128000, 128000, burndownNamed10x, ""},
}

// Burndown returns how many quota tokens one output token of model costs
// (an alias, a model or inference-profile ID, or an ARN), and whether a
// source documents that rate. When none does, the rate returned is the one
// to advise with, the stricter guess: for a model in Known, the highest
// documented rate of its generation (Claude Haiku 5.5 and Sonnet 5.5: 10,
// as Opus 5.5 and Sonnet 5); for any other Anthropic model or an
// application inference profile, whose model cannot be told from its name,
// the highest documented rate of all. A model of another provider is 1:1,
// as documented.
func Burndown(model string) (rate int, known bool) {
	if m, ok := Lookup(model); ok {
		if m.Burndown > 0 {
			return m.Burndown, true
		}
		return highestBurndown(generation(m.Name)), false
	}
	_, base := SplitPrefix(baseID(model))
	provider, _, ok := strings.Cut(base, ".")
	if ok && provider != "anthropic" && !strings.HasPrefix(model, "arn:") && !strings.Contains(base, "claude") {
		return burndownOtherModels, true
	}
	return highestBurndown(""), false
}

// highestBurndown is the highest documented rate among the models of
// generation gen ("5" for Claude 5.x), or of all models when gen is "".
func highestBurndown(gen string) int {
	best := 0
	for _, m := range Known {
		if gen == "" || generation(m.Name) == gen {
			best = max(best, m.Burndown)
		}
	}
	return best
}

// generation is the major version in a model's name: "Claude Haiku 5.5" -> "5".
func generation(name string) string {
	f := strings.Fields(name)
	for _, w := range f {
		if w != "" && w[0] >= '0' && w[0] <= '9' {
			major, _, _ := strings.Cut(w, ".")
			return major
		}
	}
	return ""
}

// MaxBurndown is the highest burndown a user may set in a profile: well
// above any documented rate, low enough to catch a slip of the keyboard.
const MaxBurndown = 100

// Aliases maps the model aliases Claude Code accepts on Bedrock to the model
// each one resolved to in Claude Code 2.1.328.
var Aliases = map[string]string{
	"haiku":  "anthropic.claude-haiku-4-5-20251001-v1:0",
	"sonnet": "anthropic.claude-sonnet-4-5-20250929-v1:0",
	"opus":   "anthropic.claude-opus-5-5",
}

// DefaultModelID is the model Claude Code uses on Bedrock when none is set.
const DefaultModelID = "anthropic.claude-opus-5-5"

// IsAlias reports whether s is one of Claude Code's model aliases.
func IsAlias(s string) bool {
	_, ok := Aliases[s]
	return ok
}

// Lookup finds the model that an alias, a Bedrock model ID or an
// inference-profile ID (with or without geography prefix, or as an ARN) names.
func Lookup(s string) (Model, bool) {
	if id, ok := Aliases[s]; ok {
		s = id
	}
	_, base := SplitPrefix(baseID(s))
	for _, m := range Known {
		if m.ID == base {
			return m, true
		}
	}
	return Model{}, false
}

// baseID returns the inference-profile or model ID at the end of an ARN
// (…:inference-profile/us.anthropic…), or s itself.
func baseID(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Geography prefixes of cross-region inference profiles, and the regions each
// one can be called from. "global." fits every region. (Plain string tests,
// not regular expressions: this runs on every launch.)
var geographies = []struct {
	prefix string
	fits   func(region string) bool
}{
	{"us-gov", func(r string) bool { return strings.HasPrefix(r, "us-gov-") }},
	{"us", func(r string) bool {
		return strings.HasPrefix(r, "us-") && !strings.HasPrefix(r, "us-gov-") || strings.HasPrefix(r, "ca-")
	}},
	{"eu", func(r string) bool { return strings.HasPrefix(r, "eu-") }},
	{"apac", func(r string) bool { return strings.HasPrefix(r, "ap-") }},
	{"jp", func(r string) bool { return r == "ap-northeast-1" || r == "ap-northeast-3" }},
	{"au", func(r string) bool { return r == "ap-southeast-2" || r == "ap-southeast-4" }},
	{"global", func(string) bool { return true }},
}

// SplitPrefix splits an inference-profile ID into its geography prefix and the
// model ID: "us.anthropic.claude-sonnet-4-6" -> "us", "anthropic.claude-sonnet-4-6".
// An ID without a known prefix returns "" and the ID unchanged.
func SplitPrefix(id string) (prefix, model string) {
	p, rest, ok := strings.Cut(id, ".")
	if !ok {
		return "", id
	}
	for _, g := range geographies {
		if g.prefix == p {
			return p, rest
		}
	}
	return "", id
}

// PrefixFits reports whether an inference profile with geography prefix can be
// called from region. An empty prefix (an on-demand model ID) fits everywhere.
func PrefixFits(prefix, region string) bool {
	if prefix == "" {
		return true
	}
	for _, g := range geographies {
		if g.prefix == prefix {
			return g.fits(region)
		}
	}
	return false
}

// PrefixFor returns the geography prefix Claude Code adds to an alias in region,
// as measured: us-west-2 -> "us", eu-central-1 -> "eu", ap-northeast-1 -> "apac".
func PrefixFor(region string) string {
	switch {
	case strings.HasPrefix(region, "us-gov-"):
		return "us-gov"
	case strings.HasPrefix(region, "eu-"):
		return "eu"
	case strings.HasPrefix(region, "ap-"):
		return "apac"
	default:
		return "us"
	}
}

// ValidRegion reports whether s has the shape of an AWS region name:
// two letters, an optional -gov or -iso[x] part, a word, a number of one or
// two digits (us-west-2, us-gov-east-1, eu-central-1).
func ValidRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) == 4 && (parts[1] == "gov" || parts[1] == "iso" || len(parts[1]) == 4 && strings.HasPrefix(parts[1], "iso") && lower(parts[1][3:])) {
		parts = append(parts[:1], parts[2:]...)
	}
	if len(parts) != 3 || len(parts[0]) != 2 || !lower(parts[0]) || parts[1] == "" || !lower(parts[1]) {
		return false
	}
	n := parts[2]
	return (len(n) == 1 || len(n) == 2) && strings.Trim(n, "0123456789") == ""
}

// lower reports whether s is made of a-z only.
func lower(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz") == ""
}

// Resolve returns the inference-profile ID that Claude Code sends for model
// (an alias or an ID) in region: aliases gain the region's geography prefix,
// IDs go out unchanged.
func Resolve(model, region string) string {
	if id, ok := Aliases[model]; ok {
		return PrefixFor(region) + "." + id
	}
	return model
}
