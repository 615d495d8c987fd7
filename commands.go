package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/claude-bedrock/claude-bedrock/launcher"

	"github.com/claude-bedrock/claude-bedrock/profiles"
	"github.com/claude-bedrock/claude-bedrock/quota"
)

// cmdProfiles lists the profiles and marks the one that applies here.
func (a *app) cmdProfiles(args []string) (int, error) {
	if len(args) > 0 {
		return 0, usagef("+profiles takes no arguments")
	}
	s, err := a.setup()
	if err != nil {
		return 0, err
	}
	r, rerr := s.Resolve("")
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PROFILE\tMODEL\tREGION\tCAP\tRECOMMENDED\tGOVERNOR\tFROM\tDESCRIPTION")
	known := false
	var warnings []string
	for _, name := range s.Config.Names() {
		p := s.Config.Profiles[name]
		mark := " "
		if rerr == nil && r.Profile.Name == name {
			mark, p = "*", r.Profile
		}
		from := "built-in"
		switch {
		case s.Config.UserDefined[name]:
			from = "config"
		case s.Config.FromSystem(name):
			from = "system"
		}
		warnings = append(warnings, p.Warnings()...)
		rec := "-"
		if q, ok := quota.CachedRecommendation(s.Paths.CacheDir, p.AWSProfile, p.Region, p.Model, p.Burndown, quota.DefaultParallel, time.Now()); ok {
			rec, known = strconv.Itoa(q.Cap), true
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", mark, name, p.Model, p.Region, p.MaxOutputTokens, rec, governorColumn(p), from, p.Description)
	}
	if err := tw.Flush(); err != nil {
		return 0, err
	}
	fmt.Fprintln(a.stdout)
	// The warnings a launch of each profile would print, in the same words.
	for _, w := range warnings {
		fmt.Fprintf(a.stdout, "! %s\n", w)
	}
	if known {
		fmt.Fprintf(a.stdout, "RECOMMENDED: the largest cap that fits %d parallel requests in the account's tokens-per-minute quota, as +doctor last found it\n", quota.DefaultParallel)
	} else {
		fmt.Fprintln(a.stdout, "RECOMMENDED: run claude-bedrock +doctor to look up the quota and recommend a cap")
	}
	if rerr != nil {
		fmt.Fprintf(a.stdout, "no profile applies here: %v\n", rerr)
	} else {
		fmt.Fprintf(a.stdout, "%s applies here: chosen by %s\n", r.Profile.Name, r.ChosenBy)
		for _, k := range []string{"model", "region", "max_output_tokens", "governor", "tokens_per_minute", "requests_per_minute"} {
			if src, ok := r.Sources[k]; ok && !strings.HasPrefix(src, "built-in") && !strings.HasPrefix(src, "[profiles.") {
				fmt.Fprintf(a.stdout, "  %s = %s from %s\n", k, r.Profile.Value(k), src)
			}
		}
	}
	if p := s.Project; p != nil {
		line := fmt.Sprintf("project file %s: %s", p.Path, p.Trust)
		if n := p.Notice(); n != "" {
			line = n
		}
		fmt.Fprintln(a.stdout, line)
	}
	for _, line := range append(s.Config.Files(), s.Config.SystemWarning()) {
		if line != "" {
			fmt.Fprintln(a.stdout, line)
		}
	}
	if rerr != nil {
		return launcher.ExitUsage, nil
	}
	return 0, nil
}

// governorColumn says whether the profile's sessions go through the
// governor, and under which limits when the profile sets them (otherwise
// the gateway finds them in Service Quotas).
func governorColumn(p profiles.Profile) string {
	if p.NoGovernor {
		return "off"
	}
	var lim []string
	if p.TokensPerMinute > 0 {
		lim = append(lim, strconv.Itoa(p.TokensPerMinute)+" TPM")
	}
	if p.RequestsPerMinute > 0 {
		lim = append(lim, strconv.Itoa(p.RequestsPerMinute)+" RPM")
	}
	if len(lim) == 0 {
		return "on"
	}
	return "on, " + strings.Join(lim, ", ")
}

// cmdUse sets the default profile in the user's config.
func (a *app) cmdUse(args []string) (int, error) {
	if len(args) != 1 {
		return 0, usagef("+use takes one profile name, e.g. claude-bedrock +use light")
	}
	paths := profiles.PathsFrom(a.env)
	if err := profiles.SetDefault(paths.Config, args[0], a.env); err != nil {
		return 0, usageError{err}
	}
	fmt.Fprintf(a.stdout, "default profile is now %s (in %s)\n", args[0], paths.Config)
	return 0, nil
}

// cmdEnv prints the export lines of a profile.
func (a *app) cmdEnv(args []string) (int, error) {
	if len(args) > 1 {
		return 0, usagef("+env takes at most one profile name")
	}
	s, err := a.setup()
	if err != nil {
		return 0, err
	}
	name := ""
	if len(args) == 1 {
		name = strings.TrimPrefix(args[0], "+")
	}
	r, err := a.resolve(s, name)
	if err != nil {
		return 0, err
	}
	for _, v := range r.Profile.Vars() {
		fmt.Fprintf(a.stdout, "export %s=%s\n", v.Key, shellQuote(v.Value))
	}
	return 0, nil
}

// shellQuote quotes s for POSIX shells when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// cmdTrust allows or denies the project file that applies here.
func (a *app) cmdTrust(word string, args []string) (int, error) {
	if len(args) > 0 {
		return 0, usagef("+%s takes no arguments: it acts on the %s that applies in this directory", word, profiles.ProjectFileName)
	}
	paths := profiles.PathsFrom(a.env)
	p, err := profiles.FindProject(a.cwd, paths.TrustDir)
	if err != nil {
		return 0, err
	}
	if p == nil {
		return 0, usagef("no %s in %s or any folder above it", profiles.ProjectFileName, a.cwd)
	}
	if word == "deny" {
		if err := profiles.Deny(paths.TrustDir, p); err != nil {
			return 0, err
		}
		fmt.Fprintf(a.stdout, "denied %s: it is ignored until you run claude-bedrock +allow\n", p.Path)
		return 0, nil
	}
	if err := p.Err(); err != nil {
		return 0, usageError{fmt.Errorf("not allowing it: %w", err)}
	}
	s, err := a.setup()
	if err != nil {
		return 0, err
	}
	// Check it as if it were trusted, so that a broken file is never allowed.
	s.Project.Trust = profiles.Trusted
	if _, err := s.Resolve(p.Profile); err != nil {
		return 0, usageError{fmt.Errorf("not allowing %s: %w", p.Path, err)}
	}
	if err := profiles.Allow(paths.TrustDir, p); err != nil {
		return 0, err
	}
	fmt.Fprintf(a.stdout, "allowed %s: profile %s applies in %s and below\n", p.Path, p.Profile, strings.TrimSuffix(p.Path, "/"+profiles.ProjectFileName))
	return 0, nil
}
