package profiles

import (
	"fmt"
	"strconv"
)

// Setup is everything that decides a profile here: the paths, the user's
// config and the project file above the working directory.
type Setup struct {
	Env     map[string]string
	Paths   Paths
	Config  *Config
	Project *Project // nil when there is none
}

// Load reads the config and finds the project file for cwd, with paths
// computed from env.
func Load(env map[string]string, cwd string) (*Setup, error) {
	s := &Setup{Env: env, Paths: PathsFrom(env)}
	var err error
	if s.Config, err = LoadConfig(s.Paths.Config, env); err != nil {
		return nil, err
	}
	if s.Project, err = FindProject(cwd, s.Paths.TrustDir); err != nil {
		return nil, err
	}
	return s, nil
}

// Resolution is the profile that applies, with where each part came from.
type Resolution struct {
	Profile  Profile
	ChosenBy string            // why this profile: "+large on the command line", ...
	Sources  map[string]string // key (as in TOML) -> where its value came from
	Notices  []string          // lines for stderr: an untrusted project file, a retired model, ...
}

// Resolve picks the profile by precedence: flag (+NAME, "" for none) >
// CLAUDE_BEDROCK_PROFILE > trusted project file > the config's default >
// built-in "code"; then applies the project's overrides (when the project's
// profile is the one in use) and CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS.
func (s *Setup) Resolve(flag string) (*Resolution, error) {
	r := &Resolution{Sources: map[string]string{}}
	if w := s.Config.SystemWarning(); w != "" {
		r.Notices = append(r.Notices, w)
	}
	proj := s.Project
	if proj != nil {
		if n := proj.Notice(); n != "" {
			r.Notices = append(r.Notices, n)
		}
		if proj.Trust != Trusted {
			proj = nil
		} else if err := proj.Err(); err != nil {
			return nil, err
		}
	}

	name := ""
	switch {
	case flag != "":
		name, r.ChosenBy = flag, "+"+flag+" on the command line"
	case s.Env["CLAUDE_BEDROCK_PROFILE"] != "":
		name, r.ChosenBy = s.Env["CLAUDE_BEDROCK_PROFILE"], "CLAUDE_BEDROCK_PROFILE in the environment"
	case proj != nil:
		name, r.ChosenBy = proj.Profile, fmt.Sprintf("%s (trusted)", proj.Path)
	case s.Config.Default != "":
		name, r.ChosenBy = s.Config.Default, "default in "+s.Config.DefaultFrom()
	default:
		name, r.ChosenBy = DefaultProfile, "built-in default"
	}
	p, ok := s.Config.Profiles[name]
	if !ok {
		return nil, fmt.Errorf("no profile %q (chosen by %s); %s", name, r.ChosenBy, s.Config.knownList())
	}
	base := "built-in profile " + name
	if f := s.Config.DefinedIn(name); f != "" {
		base = "[profiles." + name + "] in " + f
	}
	for _, k := range profileKeys {
		r.Sources[k] = base
	}
	if p.SmallFastModel == "" {
		delete(r.Sources, "small_fast_model")
	}
	if p.AWSProfile == "" {
		delete(r.Sources, "aws_profile")
	}
	if p.Burndown == 0 {
		delete(r.Sources, "burndown")
	}
	if p.TokensPerMinute == 0 {
		delete(r.Sources, "tokens_per_minute")
	}
	if p.RequestsPerMinute == 0 {
		delete(r.Sources, "requests_per_minute")
	}

	if proj != nil && proj.Profile == name {
		if err := apply(&p, proj.over, proj.doc, nil); err != nil {
			return nil, err
		}
		for k, set := range proj.over.setKeys() {
			if set {
				r.Sources[k] = proj.Path
			}
		}
	}
	if v := s.Env["CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS"]; v != "" {
		n, err := ParseCap(v)
		if err != nil {
			return nil, fmt.Errorf("CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS: %w: set it to a cap such as 2048, or unset it", err)
		}
		p.MaxOutputTokens = n
		r.Sources["max_output_tokens"] = "CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS in the environment"
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	r.Profile = p
	r.Notices = append(r.Notices, p.Warnings()...)
	return r, nil
}

// setKeys tells which keys a TOML profile sets.
func (tp tomlProfile) setKeys() map[string]bool {
	return map[string]bool{
		"description":         tp.Description != nil,
		"model":               tp.Model != nil,
		"region":              tp.Region != nil,
		"max_output_tokens":   tp.MaxOutputTokens != nil,
		"min_output_tokens":   tp.MinOutputTokens != nil,
		"small_fast_model":    tp.SmallFastModel != nil,
		"aws_profile":         tp.AWSProfile != nil,
		"burndown":            tp.Burndown != nil,
		"governor":            tp.Governor != nil,
		"tokens_per_minute":   tp.TokensPerMinute != nil,
		"requests_per_minute": tp.RequestsPerMinute != nil,
	}
}

// Value returns the value of a TOML key of p as text, "" when unset.
func (p Profile) Value(key string) string {
	switch key {
	case "description":
		return p.Description
	case "model":
		return p.Model
	case "region":
		return p.Region
	case "max_output_tokens":
		return strconv.Itoa(p.MaxOutputTokens)
	case "min_output_tokens":
		return strconv.Itoa(p.MinOutputTokens)
	case "small_fast_model":
		return p.SmallFastModel
	case "aws_profile":
		return p.AWSProfile
	case "burndown":
		if p.Burndown == 0 {
			return ""
		}
		return strconv.Itoa(p.Burndown)
	case "governor":
		return strconv.FormatBool(!p.NoGovernor)
	case "tokens_per_minute":
		return perMinute(p.TokensPerMinute)
	case "requests_per_minute":
		return perMinute(p.RequestsPerMinute)
	}
	return ""
}

// perMinute is a per-minute limit as text: "" when unset.
func perMinute(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
