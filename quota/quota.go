// Package quota owns the arithmetic of Bedrock's tokens-per-minute quota —
// what a finished request costs (input + cache writes + burndown x output;
// cache reads are free), what a request holds from its start (AWS's own
// material gives two readings: input + max_tokens, or input + burndown x
// max_tokens) — and the cap it recommends for a quota, from the stricter
// reading, with a cache of quotas looked up by the doctor that other commands
// read without a network call. It imports no AWS SDK, so the launcher stays
// light.
package quota

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/claude-bedrock/claude-bedrock/models"
)

// TypicalInput is the input of a typical Claude Code request in tokens: the
// first turn of a session carries about 85 KB of system prompt and tool
// definitions, about 22,000 tokens (measured with Claude Code 2.1.328).
const TypicalInput = 22000

// DefaultParallel is how many requests are assumed to be in flight at once when
// no --parallel is given: a main conversation plus a couple of subagents or
// background requests is common in Claude Code.
const DefaultParallel = 3

// Rounding is the step a recommended cap is rounded down to. A multiple of 256
// loses at most 255 tokens of cap (1,275 quota tokens at a 5x burndown) and
// keeps every ceiling Claude models have (32,000, 64,000, 128,000) on the grid,
// so a cap clamped to a ceiling is still a multiple of it.
const Rounding = 256

// QuotaTTL is how long a quota fetched from Service Quotas is trusted from the
// cache: quotas change by request to AWS support, rarely within a day.
const QuotaTTL = 24 * time.Hour

// Settled is what a finished request costs against the tokens-per-minute
// quota, as the AWS Bedrock user guide ("quotas-token-burndown") counts it:
// InputTokenCount + CacheWriteInputTokenCount + burndown x output. Cache
// reads are not counted at all.
func Settled(input, cacheWrite, output, burndown int) int {
	return input + cacheWrite + max(burndown, 1)*output
}

// Hold is the quota a request holds from its start until it settles. AWS's
// own material documents it two ways and the sources disagree: AWS re:Post
// and AWS samples say input + max_tokens (Low); other public write-ups say
// input + burndown x max_tokens (High). Both count max_tokens as at least
// models.MinThrottleReservation. With a burndown of 1 they are the same.
type Hold struct {
	Low  int `json:"low"`  // input + max_tokens
	High int `json:"high"` // input + burndown x max_tokens: the stricter reading
}

// StartHold returns both readings of what a request of input tokens with
// max_tokens maxTokens holds at its start, for a model with burndown.
func StartHold(input, maxTokens, burndown int) Hold {
	n := max(maxTokens, models.MinThrottleReservation)
	return Hold{Low: input + n, High: input + max(burndown, 1)*n}
}

// Recommendation is the arithmetic from a tokens-per-minute quota to the
// largest output-token cap that lets Parallel requests of Input tokens run in
// the same minute without being throttled.
//
// It takes the stricter reading of what a request holds from its start,
// Input + Burndown x max_tokens (Hold.High), so P requests fit when
// P x (Input + Burndown x cap) <= TPM, and the largest cap is
// floor((TPM/P - Input) / Burndown). Under the other reading the same cap
// lets more requests in; never fewer.
type Recommendation struct {
	TPM      int `json:"tokens_per_minute"`             // the account's tokens-per-minute quota for the model
	RPM      int `json:"requests_per_minute,omitempty"` // the requests-per-minute quota; 0 when the model has none (or it is unknown)
	Parallel int `json:"parallel"`                      // requests assumed in flight at once
	Input    int `json:"input_tokens"`                  // input tokens assumed per request
	Burndown int `json:"burndown"`                      // quota tokens one output token costs
	// BurndownKnown is false when no source documents the model's rate and
	// Burndown is the rate advised (models.Burndown) or set in the profile.
	BurndownKnown bool `json:"burndown_known"`
	Ceiling       int  `json:"ceiling"` // the model's output ceiling
	Exact         int  `json:"exact"`   // floor((TPM/Parallel - Input) / Burndown); negative when even the input does not fit
	Cap           int  `json:"cap"`     // the recommended cap
	// Limit says what bounded Cap other than the quota: "ceiling" when the
	// quota allows more than the model can produce, "minimum" when the quota
	// is too small for Parallel requests at any cap and Cap is
	// models.MinThrottleReservation (a lower cap reserves no less), "" otherwise.
	Limit string `json:"limit,omitempty"`
}

// Recommend computes the largest cap that lets parallel requests of input
// tokens share a tokens-per-minute quota of tpm, for a model with the given
// burndown and output ceiling, rounded down to a multiple of Rounding. Values
// below 1 for parallel and burndown count as 1; a ceiling of 0 means
// models.MaxOutputCeiling.
func Recommend(tpm, parallel, input, burndown, ceiling int) Recommendation {
	parallel = max(parallel, 1)
	burndown = max(burndown, 1)
	if ceiling <= 0 {
		ceiling = models.MaxOutputCeiling
	}
	r := Recommendation{TPM: tpm, Parallel: parallel, Input: input, Burndown: burndown, Ceiling: ceiling}
	// (TPM/P - input)/burndown == (TPM - P*input)/(P*burndown): integer
	// arithmetic, no float rounding surprises at the boundary.
	r.Exact = floorDiv(tpm-parallel*input, parallel*burndown)
	r.Cap = r.Exact - r.Exact%Rounding
	switch {
	case r.Cap > ceiling:
		r.Cap, r.Limit = ceiling, "ceiling"
	case r.Cap < models.MinThrottleReservation:
		r.Cap, r.Limit = models.MinThrottleReservation, "minimum"
	}
	return r
}

// floorDiv divides rounding toward minus infinity, so a quota that cannot
// even hold the input shows as a negative cap rather than zero.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Hold returns both readings of what one request with output cap capTokens
// holds at its start.
func (r Recommendation) Hold(capTokens int) Hold {
	return StartHold(r.Input, capTokens, r.Burndown)
}

// Fits returns how many requests with output cap capTokens fit in one
// minute's quota at once, under the stricter reading of the hold.
func (r Recommendation) Fits(capTokens int) int {
	return r.TPM / r.Hold(capTokens).High
}

// Cached is one quota lookup as stored under the cache directory.
type Cached struct {
	Fetched    time.Time `json:"fetched"`
	AWSProfile string    `json:"aws_profile"` // as the claude-bedrock profile names it; "" = default chain
	Account    string    `json:"account"`
	Region     string    `json:"region"`
	Model      string    `json:"model"` // the inference-profile or model ID Claude Code sends
	TPM        int       `json:"tokens_per_minute"`
	RPM        int       `json:"requests_per_minute,omitempty"`
	TPMName    string    `json:"tokens_per_minute_quota"`
	RPMName    string    `json:"requests_per_minute_quota,omitempty"`
}

// cacheFile names the cache entry for one AWS profile, account, region and
// model. A hash keeps model IDs with ':' and '/' out of file names.
func cacheFile(cacheDir string, q Cached) string {
	h := sha1.Sum([]byte(q.AWSProfile + "\x00" + q.Account + "\x00" + q.Region + "\x00" + q.Model))
	return filepath.Join(cacheDir, "quota-"+hex.EncodeToString(h[:8])+".json")
}

// WriteCache stores q atomically: a temp file in the same directory,
// then a rename, so a reader never sees half an entry.
func WriteCache(cacheDir string, q Cached) error {
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return fmt.Errorf("create cache directory %s: %w", cacheDir, err)
	}
	data, err := json.MarshalIndent(q, "", "  ")
	if err != nil {
		return fmt.Errorf("encode quota cache: %w", err)
	}
	f, err := os.CreateTemp(cacheDir, ".quota-*.tmp")
	if err != nil {
		return fmt.Errorf("write quota cache in %s: %w", cacheDir, err)
	}
	tmp := f.Name()
	if _, err := f.Write(append(data, '\n')); err != nil {
		_ = f.Close()      // the write error is the one to report
		_ = os.Remove(tmp) // best effort: a stray temp file is harmless
		return fmt.Errorf("write quota cache %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp) // best effort, as above
		return fmt.Errorf("write quota cache %s: %w", tmp, err)
	}
	dst := cacheFile(cacheDir, q)
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp) // best effort, as above
		return fmt.Errorf("write quota cache %s: %w", dst, err)
	}
	return nil
}

// ReadCache returns the newest entry under cacheDir for awsProfile,
// region and the resolved model ID that is younger than QuotaTTL at now.
// Entries of any account match: without a network call the account is not
// known, and the AWS profile name stands for it.
func ReadCache(cacheDir, awsProfile, region, modelID string, now time.Time) (Cached, bool) {
	names, err := filepath.Glob(filepath.Join(cacheDir, "quota-*.json"))
	if err != nil {
		return Cached{}, false // only a malformed pattern fails, and ours is fixed
	}
	var best Cached
	found := false
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			continue // a vanished or unreadable entry is simply not cached
		}
		var q Cached
		if json.Unmarshal(data, &q) != nil {
			continue // a damaged entry is ignored; the next doctor run rewrites it
		}
		if q.AWSProfile != awsProfile || q.Region != region || q.Model != modelID || q.TPM <= 0 {
			continue
		}
		age := now.Sub(q.Fetched)
		if age < -time.Hour || age > QuotaTTL { // from the future beyond clock skew, or stale
			continue
		}
		if !found || q.Fetched.After(best.Fetched) {
			best, found = q, true
		}
	}
	return best, found
}

// CachedRecommendation returns the recommended cap for a claude-bedrock
// profile from the quota that a doctor run cached in the last QuotaTTL,
// without any network call: awsProfile is the profile's aws_profile ("" for
// the default chain), model its model (alias or ID; aliases resolve as Claude
// Code does in region), burndown the profile's burndown key (0: the models
// table's rate, or the rate it advises), parallel the requests in flight
// (DefaultParallel when below 1). It reports false when no fresh quota is
// cached or the model is unknown to the models table.
func CachedRecommendation(cacheDir, awsProfile, region, model string, burndown, parallel int, now time.Time) (Recommendation, bool) {
	if cacheDir == "" {
		return Recommendation{}, false
	}
	id := models.Resolve(model, region)
	m, ok := models.Lookup(id)
	if !ok {
		return Recommendation{}, false
	}
	q, ok := ReadCache(cacheDir, awsProfile, region, id, now)
	if !ok {
		return Recommendation{}, false
	}
	if parallel < 1 {
		parallel = DefaultParallel
	}
	rate, known := ModelBurndown(id, burndown)
	r := Recommend(q.TPM, parallel, TypicalInput, rate, m.MaxOutput)
	r.RPM, r.BurndownKnown = q.RPM, known
	return r, true
}

// ModelBurndown is the burndown to count for model: set, when a profile sets
// one (a user who knows the rate), else the models table's rate or, for a
// model no source documents, the rate it advises. known reports whether the
// rate is documented (or set by the user).
func ModelBurndown(model string, set int) (rate int, known bool) {
	if set > 0 {
		return set, true
	}
	return models.Burndown(model)
}

// quotaKind is the start of the Service Quotas name for the kind of inference
// a model ID makes: no prefix is on-demand, "global." is global
// cross-region, any geography prefix is cross-region.
func Kind(prefix string) string {
	switch prefix {
	case "":
		return "on-demand model inference"
	case "global":
		return "global cross-region model inference"
	default:
		return "cross-region model inference"
	}
}

// Matches reports whether a Service Quotas name is the quota of kind
// (quotaKind) and metric ("tokens per minute", "requests per minute") for
// the model named modelName ("Claude Sonnet 4.5"). Names look like
// "Cross-region model inference tokens per minute for Anthropic Claude Sonnet
// 4.5 V1"; variants with more words after the version (such as "1M Context
// Length") are other quotas and do not match. Older models are named with the
// version first ("Claude 3.7 Sonnet"), so that order matches too.
func Matches(name, kind, metric, modelName string) bool {
	n := strings.ToLower(strings.Join(strings.Fields(name), " "))
	head := kind + " " + metric + " for "
	if !strings.HasPrefix(n, head) {
		return false
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(n, head), "anthropic ")
	want := strings.Fields(strings.ToLower(modelName))
	alts := [][]string{want}
	if len(want) == 3 { // "claude sonnet 3.7" -> "claude 3.7 sonnet"
		alts = append(alts, []string{want[0], want[2], want[1]})
	}
	got := strings.Fields(rest)
	for _, w := range alts {
		if len(got) < len(w) || strings.Join(got[:len(w)], " ") != strings.Join(w, " ") {
			continue
		}
		tail := got[len(w):]
		switch {
		case len(tail) == 0:
			return true
		case len(tail) == 1 && isVersion(tail[0]):
			return true
		}
	}
	return false
}

// isVersion reports whether s is a quota name's model version suffix: "v1", "v2".
func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Thousands formats n with thousands separators: 200000 -> "200,000".
func Thousands(n int) string {
	if n < 0 {
		return "-" + Thousands(-n)
	}
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
