// Package doctor implements `claude-bedrock +doctor`: it checks the whole path
// from the claude binary through the profile, Claude's settings files, the AWS
// configuration and identity, the Bedrock model and the account's quota, to
// the incident record, and prints one line per check with a fix for every
// problem. The quota arithmetic that turns a tokens-per-minute quota into a
// recommended output-token cap, and the cache of the quota that other
// commands read without a network call, are package quota's.
//
// The package does not import the launcher or the profile loader: the caller
// resolves the profile and hands everything over in an Input.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/claude-bedrock/claude-bedrock/quota"
)

// DefaultTimeout bounds each network call of a check, so that with no network
// or a hanging endpoint the whole doctor still ends within TotalTimeout.
const DefaultTimeout = 4 * time.Second

// TotalTimeout bounds a whole doctor run.
const TotalTimeout = 9 * time.Second

// Value is one resolved profile value and the source that set it.
type Value struct {
	Key    string `json:"key"`    // e.g. "max_output_tokens"
	Value  string `json:"value"`  // as resolved, e.g. "4096"
	Source string `json:"source"` // e.g. "config /home/u/.config/claude-bedrock/config.toml", "built-in"
}

// DefaultManagedEnv lists the environment keys the launcher sets for claude,
// used when Input.ManagedEnv is nil.
var DefaultManagedEnv = []string{
	"CLAUDE_CODE_USE_BEDROCK", "AWS_REGION", "ANTHROPIC_MODEL",
	"CLAUDE_CODE_MAX_OUTPUT_TOKENS", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "AWS_PROFILE",
}

// Input is everything the doctor needs, resolved by the caller. Nothing in it
// is read from the process: paths and the environment come from here, so tests
// and the real run see the same code.
type Input struct {
	Profile      string  // name of the profile that applies
	ChosenBy     string  // why it applies: "flag +NAME", "env CLAUDE_BEDROCK_PROFILE", "project file /p/.claude-bedrock.toml", "config default", "built-in"
	ProjectFile  string  // the project file that applies here, or ""
	ProjectTrust string  // its trust state: "", "trusted", "not trusted", "changed since +allow", "denied"
	ConfigPath   string  // the user config file, named in fixes; may be ""
	ConfigExists bool    // whether the user config file exists
	SystemConfig string  // the system config file read beneath it, or ""
	ConfigWarn   string  // why a system config file was not read, or ""
	Values       []Value // every resolved profile value with its source

	Model           string // alias or inference-profile ID, as the profile says
	Region          string // AWS region the launcher sets
	MaxOutputTokens int    // the profile's cap; 0 = unset, Claude Code's default applies
	Burndown        int    // the profile's burndown key; 0 = the models table's rate (or the rate it advises)
	SmallFastModel  string // the profile's small_fast_model (ANTHROPIC_DEFAULT_HAIKU_MODEL); "" = Claude Code's choice
	AWSProfile      string // the profile's aws_profile; "" = the default chain

	ManagedEnv []string // env keys the launcher sets for claude; nil = DefaultManagedEnv

	ClaudePath string // the claude binary that would run (never the launcher itself), or ""
	ClaudeErr  error  // why no claude was found, when ClaudePath is ""

	Env  map[string]string // the process environment; secret values in it are never printed
	Cwd  string            // the working directory: the project for Claude's settings files
	Home string            // the home directory; "" = Env["HOME"]

	// ManagedSettingsPath is Claude Code's managed-settings.json, which beats
	// even --settings; "" = the platform's location.
	ManagedSettingsPath string
	IncidentsPath       string // $XDG_STATE_HOME/claude-bedrock/incidents.jsonl
	CacheDir            string // $XDG_CACHE_HOME/claude-bedrock; "" = no quota cache

	Parallel int              // requests in flight at once (--parallel); below 1 = quota.DefaultParallel
	Now      func() time.Time // the clock; nil = time.Now
	Timeout  time.Duration    // per network call; 0 = DefaultTimeout
}

// Status is the outcome of one check.
type Status string

// The outcomes of a check. Unchecked means the check could not be done (no
// network, a timeout, no credentials to ask with); it is shown like a warning
// and listed at the end, and does not by itself make the run fail.
const (
	OK        Status = "ok"
	Warn      Status = "warn"
	Fail      Status = "fail"
	Unchecked Status = "unchecked"
)

// Symbol returns the mark printed in front of a check line.
func (s Status) Symbol() string {
	switch s {
	case OK:
		return "✓"
	case Fail:
		return "✗"
	default:
		return "!"
	}
}

// worse returns the more severe of two statuses.
func worse(a, b Status) Status {
	rank := map[Status]int{OK: 0, Unchecked: 1, Warn: 2, Fail: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Check is the result of one check.
type Check struct {
	Name    string   `json:"name"`    // claude, profile, settings, aws, identity, model, quota, history
	Status  Status   `json:"status"`  // ok, warn, fail, unchecked
	Summary string   `json:"summary"` // one line: what was found
	Details []string `json:"details,omitempty"`
	Fix     string   `json:"fix,omitempty"` // a command to paste (or the edit to make) for fail and warn

	reached bool // an AWS endpoint answered this check (identity, model, quota)
}

// Report is the result of a doctor run.
type Report struct {
	Profile string `json:"profile"`
	OK      bool   `json:"ok"` // no check failed, and something was verified with AWS
	// Verified is whether AWS answered at least one of the identity, model
	// and quota checks. A run that verified none of them cannot say the
	// setup works, whatever else it found: it is not OK.
	Verified       bool                  `json:"verified"`
	Checks         []Check               `json:"checks"`
	Recommendation *quota.Recommendation `json:"recommendation,omitempty"` // nil when the quota is not known
	Unchecked      []string              `json:"unchecked,omitempty"`      // "check: why" for each check that could not be done
}

// Run runs every check, writes the report to w (human-readable, or JSON when
// jsonOut) and reports whether no check failed. The error is only about
// writing to w; problems found are in the report.
func Run(ctx context.Context, in Input, w io.Writer, jsonOut bool) (ok bool, err error) {
	r := Diagnose(ctx, in)
	if jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			return r.OK, fmt.Errorf("write doctor report: %w", err)
		}
		return r.OK, nil
	}
	if _, err := io.WriteString(w, Render(r)); err != nil {
		return r.OK, fmt.Errorf("write doctor report: %w", err)
	}
	return r.OK, nil
}

// Diagnose runs every check and returns the report. The network checks run
// side by side, each under its own timeout, and the whole run under
// TotalTimeout.
func Diagnose(ctx context.Context, in Input) Report {
	in = withDefaults(in)
	ctx, cancel := context.WithTimeout(ctx, TotalTimeout)
	defer cancel()

	var claude Check
	var wg sync.WaitGroup
	wg.Go(func() { claude = checkClaude(ctx, in) })

	profile := checkProfile(in)
	settings := checkSettings(in)
	history := checkHistory(in)

	a := checkAWS(ctx, in)
	var identity, model, quotaCheck Check
	var q *quotaResult
	wg.Go(func() { identity = a.identity(ctx, in) })
	wg.Go(func() { model = a.model(ctx, in) })
	wg.Go(func() { quotaCheck, q = a.quota(ctx, in) })
	wg.Wait()

	if a.instanceRole && identity.Status == OK {
		// STS accepted credentials that came from neither the files nor the
		// environment: an instance or container role supplied them.
		a.check.Status, a.check.Fix = OK, ""
		a.check.Summary = "credentials from the instance or container role"
		a.check.Details = a.check.Details[:1] // keep the region line
	}
	if q != nil && history.Fix != "" && q.rec.Limit != "minimum" && q.rec.Cap < in.MaxOutputTokens {
		// The quota arithmetic knows a better next cap than halving.
		history.Fix = fmt.Sprintf("CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS=%d claude-bedrock", q.rec.Cap)
	}
	if q != nil && q.fresh && a.account != "" && in.CacheDir != "" {
		q.cache.Account = a.account
		if err := quota.WriteCache(in.CacheDir, q.cache); err != nil {
			quotaCheck.Details = append(quotaCheck.Details, "could not cache the quota: "+err.Error())
		}
	}

	// With no network every AWS check fails alike: say what to look at once.
	switch {
	case quotaCheck.Status == Fail && quotaCheck.Fix != "" && quotaCheck.Fix == identity.Fix:
		quotaCheck.Fix = "as for identity"
	case quotaCheck.Status == Fail && quotaCheck.Fix != "" && quotaCheck.Fix == model.Fix:
		quotaCheck.Fix = "as for model"
	}
	if model.Status == Fail && model.Fix != "" && model.Fix == identity.Fix {
		model.Fix = "as for identity"
	}
	r := Report{Profile: in.Profile, OK: true,
		Checks: []Check{claude, profile, settings, a.check, identity, model, quotaCheck, history}}
	redact(r.Checks, secretValues(in, a))
	if q != nil {
		r.Recommendation = &q.rec
	}
	for _, c := range r.Checks {
		if c.Status == Fail {
			r.OK = false
		}
		if c.Status == Unchecked {
			r.Unchecked = append(r.Unchecked, c.Name+": "+c.Summary)
		}
		r.Verified = r.Verified || c.reached
	}
	r.OK = r.OK && r.Verified
	return r
}

// secretValues lists the credential values the doctor could have seen: the
// environment's secrets and the keys of the AWS profile chain. None is ever
// printed on purpose; redact makes sure an error message quoting one cannot
// print it either.
func secretValues(in Input, a *awsState) []string {
	var out []string
	for k, v := range in.Env {
		u := strings.ToUpper(k)
		if len(v) >= 8 && (strings.Contains(u, "SECRET") || strings.Contains(u, "TOKEN") || strings.Contains(u, "PASSWORD") ||
			strings.Contains(u, "ACCESS_KEY") || strings.Contains(u, "API_KEY") || strings.Contains(u, "CREDENTIAL")) {
			out = append(out, v)
		}
	}
	return append(out, a.secrets...)
}

// redact replaces every secret value in the checks' text.
func redact(checks []Check, secrets []string) {
	if len(secrets) == 0 {
		return
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, "[redacted]")
	}
	r := strings.NewReplacer(pairs...)
	for i := range checks {
		c := &checks[i]
		c.Summary, c.Fix = r.Replace(c.Summary), r.Replace(c.Fix)
		for j := range c.Details {
			c.Details[j] = r.Replace(c.Details[j])
		}
	}
}

// withDefaults fills the optional fields of in.
func withDefaults(in Input) Input {
	if in.Env == nil {
		in.Env = map[string]string{}
	}
	if in.Home == "" {
		in.Home = in.Env["HOME"]
	}
	if in.ManagedEnv == nil {
		in.ManagedEnv = DefaultManagedEnv
	}
	if in.Parallel < 1 {
		in.Parallel = quota.DefaultParallel
	}
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Timeout <= 0 {
		in.Timeout = DefaultTimeout
	}
	return in
}

// Render formats a report for a terminal: one line per check, details
// indented under it, the fix after "fix:", and a closing summary.
func Render(r Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "claude-bedrock doctor, profile %q\n\n", r.Profile)
	const indent = "             "
	fails, warns := 0, 0
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%s %-10s %s\n", c.Status.Symbol(), c.Name, c.Summary)
		for _, d := range c.Details {
			fmt.Fprintf(&b, "%s%s\n", indent, d)
		}
		if c.Fix != "" {
			fmt.Fprintf(&b, "%sfix: %s\n", indent, c.Fix)
		}
		switch c.Status {
		case Fail:
			fails++
		case Warn:
			warns++
		}
	}
	b.WriteString("\n")
	if !r.Verified && fails == 0 {
		// Never "0 problems" after a run that confirmed nothing with AWS.
		// (When a check failed, that failure already says why.)
		fails++
		b.WriteString("✗ nothing was verified with AWS (identity, model, quota): this run cannot say that claude will work\n")
	}
	switch {
	case fails == 0 && warns == 0 && len(r.Unchecked) == 0:
		b.WriteString("All checks passed.\n")
	default:
		fmt.Fprintf(&b, "%s, %s", plural(fails, "problem"), plural(warns, "warning"))
		if len(r.Unchecked) > 0 {
			names := make([]string, len(r.Unchecked))
			for i, u := range r.Unchecked {
				names[i], _, _ = strings.Cut(u, ":")
			}
			fmt.Fprintf(&b, "; could not check: %s", strings.Join(names, ", "))
		}
		b.WriteString(".\n")
	}
	return b.String()
}

// plural formats "1 problem", "2 problems".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// num formats n with thousands separators: 200000 -> "200,000".
func num(n int) string { return quota.Thousands(n) }
