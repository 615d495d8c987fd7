// Package profiles owns what a claude-bedrock profile is, where profiles come
// from (built-ins, the user's config file, a trusted project file, the
// command line and the environment), which one wins, and the environment and
// settings a profile gives Claude Code.
//
// Nothing here starts a process or touches a terminal; paths are computed
// from an environment map passed in, so tests need no os.Setenv.
package profiles

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/models"
)

// Profile is one named set of Bedrock settings for Claude Code.
type Profile struct {
	Name            string
	Description     string
	Model           string // a Claude Code alias (haiku, sonnet, opus) or a Bedrock inference-profile ID
	Region          string // AWS region, e.g. us-west-2
	MaxOutputTokens int    // CLAUDE_CODE_MAX_OUTPUT_TOKENS: the output cap
	MinOutputTokens int    // the lowest cap a relaunch after throttling proposes
	SmallFastModel  string // ANTHROPIC_DEFAULT_HAIKU_MODEL, or "" to leave Claude Code's choice
	AWSProfile      string // AWS_PROFILE, or "" to leave the environment's
	// Burndown is the output burndown to count for the model, for a user who
	// knows it better than the models table (a model no source documents);
	// 0 = the models table's rate, or the rate it advises.
	Burndown int
	// NoGovernor is governor = false: claude talks to Bedrock directly,
	// without the session's loopback gateway (on by default).
	NoGovernor bool
	// TokensPerMinute and RequestsPerMinute are the quota the governor
	// keeps the session under, when the profile knows it better than
	// Service Quotas; 0 when unset.
	TokensPerMinute   int
	RequestsPerMinute int
}

// DefaultMinOutputTokens is the floor for the cap a relaunch proposes when a
// profile sets no min_output_tokens. Bedrock's throttling counts at least
// models.MinThrottleReservation per request anyway, so lower caps buy little.
const DefaultMinOutputTokens = 1024

// DefaultRegion is the region of the built-in profiles.
const DefaultRegion = "us-west-2"

// DefaultProfile is the profile used when nothing else chooses one.
const DefaultProfile = "code"

// Builtins returns the profiles that exist without any config file.
func Builtins() map[string]Profile {
	return map[string]Profile{
		"light": {Name: "light", Description: "quick questions, small edits", Model: "haiku", Region: DefaultRegion, MaxOutputTokens: 1024, MinOutputTokens: DefaultMinOutputTokens},
		"code":  {Name: "code", Description: "everyday coding", Model: "sonnet", Region: DefaultRegion, MaxOutputTokens: 4096, MinOutputTokens: DefaultMinOutputTokens},
		"large": {Name: "large", Description: "long answers, big refactors", Model: "opus", Region: DefaultRegion, MaxOutputTokens: 8192, MinOutputTokens: DefaultMinOutputTokens},
	}
}

// Commands are the launcher's own +words; no profile may take these names.
var Commands = []string{"allow", "completion", "deny", "doctor", "env", "help", "profiles", "use", "version"}

// hiddenCommands are +words for the launcher's own use (the completion
// scripts call them); they are reserved like Commands but not listed.
var hiddenCommands = []string{"complete-words", "statusline"}

// validName reports whether name is letters, digits, '.', '_' and '-',
// starting with a letter or digit.
func validName(name string) bool {
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._-", c)) {
			return false
		}
	}
	return name != ""
}

// checkName reports why name cannot be a profile name, or nil.
func checkName(name string) error {
	if !validName(name) {
		return fmt.Errorf("profile name %q: use letters, digits, '.', '_' and '-' only", name)
	}
	if IsCommand(name) {
		return fmt.Errorf("profile name %q is taken by the command +%s: choose another name", name, name)
	}
	return nil
}

// IsCommand reports whether +word is one of the launcher's own commands,
// listed or hidden.
func IsCommand(word string) bool {
	return slices.Contains(Commands, word) || slices.Contains(hiddenCommands, word)
}

// checkCap reports why n cannot be an output-token cap, or nil.
func checkCap(n int64) error {
	if n <= 0 {
		return fmt.Errorf("%d is not a positive number of tokens", n)
	}
	if n > models.MaxOutputCeiling {
		return fmt.Errorf("%d is more than any Claude model can produce (%d)", n, models.MaxOutputCeiling)
	}
	return nil
}

// ParseCap parses an output-token cap given as text, e.g. in an environment
// variable, and checks it the same way a config file's cap is checked.
func ParseCap(s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number of tokens", s)
	}
	if err := checkCap(n); err != nil {
		return 0, err
	}
	return int(n), nil
}

// maxPerMinute bounds tokens_per_minute and requests_per_minute: far above
// any Bedrock quota, low enough that a stray digit is caught.
const maxPerMinute = 1_000_000_000

// checkPerMinute reports why n cannot be a per-minute limit, or nil.
func checkPerMinute(n int64) error {
	if n <= 0 {
		return fmt.Errorf("%d is not a positive whole number", n)
	}
	if n > maxPerMinute {
		return fmt.Errorf("%d is more than any Bedrock quota (at most %d)", n, maxPerMinute)
	}
	return nil
}

// checkModel reports why model cannot be used in region, or nil.
func checkModel(model, region string) error {
	if model == "" {
		return fmt.Errorf("no model: set model to %s or a Bedrock inference-profile ID", aliasList())
	}
	if models.IsAlias(model) {
		return nil
	}
	if strings.HasPrefix(model, "arn:") {
		return nil // an application inference profile: its region is in the ARN, Bedrock checks it
	}
	if !strings.Contains(model, ".") {
		return fmt.Errorf("model %q is neither a Claude Code alias (%s) nor a Bedrock inference-profile ID", model, aliasList())
	}
	prefix, _ := models.SplitPrefix(model)
	if !models.PrefixFits(prefix, region) {
		return fmt.Errorf("model %q is a %s. inference profile, which cannot be called from region %s: use the %s. profile, a global. one, or a region it serves",
			model, prefix, region, models.PrefixFor(region))
	}
	return nil
}

// checkBurndown reports why n cannot be a burndown, or nil.
func checkBurndown(n int64) error {
	if n < 1 || n > models.MaxBurndown {
		return fmt.Errorf("%d is not a burndown: use a whole number from 1 to %d, how many quota tokens one output token costs (AWS documents 1, 5, 10 and 15)", n, models.MaxBurndown)
	}
	return nil
}

func checkRegion(region string) error {
	if !models.ValidRegion(region) {
		return fmt.Errorf("region %q is not an AWS region name like us-west-2", region)
	}
	return nil
}

func aliasList() string {
	var a []string
	for k := range models.Aliases {
		a = append(a, k)
	}
	sort.Strings(a)
	return strings.Join(a, ", ")
}

// Validate reports the first problem with p, naming the key.
func (p Profile) Validate() error {
	if err := checkRegion(p.Region); err != nil {
		return fmt.Errorf("region: %w", err)
	}
	if err := checkModel(p.Model, p.Region); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if p.SmallFastModel != "" {
		if err := checkModel(p.SmallFastModel, p.Region); err != nil {
			return fmt.Errorf("small_fast_model: %w", err)
		}
	}
	if err := checkCap(int64(p.MaxOutputTokens)); err != nil {
		return fmt.Errorf("max_output_tokens: %w", err)
	}
	if err := checkCap(int64(p.MinOutputTokens)); err != nil {
		return fmt.Errorf("min_output_tokens: %w", err)
	}
	if p.Burndown != 0 {
		if err := checkBurndown(int64(p.Burndown)); err != nil {
			return fmt.Errorf("burndown: %w", err)
		}
	}
	for _, l := range []struct {
		key string
		n   int
	}{{"tokens_per_minute", p.TokensPerMinute}, {"requests_per_minute", p.RequestsPerMinute}} {
		if l.n != 0 {
			if err := checkPerMinute(int64(l.n)); err != nil {
				return fmt.Errorf("%s: %w", l.key, err)
			}
		}
	}
	return nil
}

// Warnings returns things about p that are allowed but probably not meant:
// a retired model, a cap above the model's ceiling, a model ID not in the
// models table (an application inference profile's ARN names no model, so it
// is not one).
func (p Profile) Warnings() []string {
	var w []string
	m, ok := models.Lookup(p.Model)
	if !ok {
		if strings.HasPrefix(p.Model, "arn:") {
			return nil
		}
		return []string{fmt.Sprintf("profile %s: model %s is not in claude-bedrock's table of Claude models: its output ceiling and quota burndown are unknown here (set burndown = N in the profile if you know it)",
			p.Name, p.Model)}
	}
	if m.Retired != "" {
		w = append(w, fmt.Sprintf("profile %s: %s was retired on Bedrock on %s; choose a current model", p.Name, m.Name, m.Retired))
	}
	if p.MaxOutputTokens > m.MaxOutput {
		w = append(w, fmt.Sprintf("profile %s: max_output_tokens %d is above %s's ceiling of %d; Claude Code will send %d",
			p.Name, p.MaxOutputTokens, m.Name, m.MaxOutput, m.MaxOutput))
	}
	return w
}

// LowerCap is the next cap down after throttling: half the current one, never
// below the profile's min_output_tokens. It is false when the cap is at the
// floor already.
func (p Profile) LowerCap() (int, bool) {
	floor := p.MinOutputTokens
	if floor <= 0 {
		floor = DefaultMinOutputTokens
	}
	next := max(p.MaxOutputTokens/2, floor)
	return next, next < p.MaxOutputTokens
}

// HigherCap is the next cap up after an answer hit the cap: double the
// current one, never above the model's output ceiling. It is false when the
// cap is at the ceiling already.
func (p Profile) HigherCap() (int, bool) {
	ceiling := models.MaxOutputCeiling
	if m, ok := models.Lookup(p.Model); ok {
		ceiling = m.MaxOutput
	}
	next := min(p.MaxOutputTokens*2, ceiling)
	return next, next > p.MaxOutputTokens
}
