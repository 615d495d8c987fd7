package profiles

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// Config is the user's config file, merged over the system's (see
// system.go) and the built-in profiles.
type Config struct {
	Path           string // the file it was read from (it may not exist)
	Exists         bool   // whether the file exists
	Default        string // the default profile name; "" when the file sets none
	ClaudePath     string // claude_path: the Claude Code binary to run, or ""
	ProcessWrapper bool   // process_wrapper: cover the processes Claude Code spawns
	Profiles       map[string]Profile
	UserDefined    map[string]bool // which profiles the file defines (a same-named built-in is replaced)
	System         *SystemLayer    // the system config beneath the user's, or nil
	doc            *tomlDoc
	text           []byte // the file as read, for an edit (nil: no file)
}

type tomlConfig struct {
	Default        *string                `toml:"default"`
	ClaudePath     *string                `toml:"claude_path"`
	ProcessWrapper *bool                  `toml:"process_wrapper"`
	Profiles       map[string]tomlProfile `toml:"profiles"`
}

// LoadConfig reads the config file at path, over the system config (see
// LoadSystem). A missing file is not an error: the built-in and system
// profiles apply. Every profile in the file is checked, so a typo anywhere is
// reported before anything runs; env supplies the region of a profile that
// sets none (AWS_REGION, then AWS_DEFAULT_REGION).
func LoadConfig(path string, env map[string]string) (*Config, error) {
	sys, err := LoadSystem(PathsFrom(env).System, env)
	if err != nil {
		return nil, err
	}
	data, err := readLimited(path, "config file", "is it your config? Keep it below that, or point CLAUDE_BEDROCK_CONFIG at the right file")
	if errors.Is(err, fs.ErrNotExist) {
		// A link into dotfiles that moved is not the same as no config.
		if _, err := resolveLink(path); err != nil {
			return nil, err
		}
		return sys.config(path), nil
	}
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return parseConfig(path, data, env, sys)
}

// parseConfig reads the config in data, which came from path, over the
// layer beneath it (nil: the built-in profiles alone).
func parseConfig(path string, data []byte, env map[string]string, under *SystemLayer) (*Config, error) {
	c := under.config(path)
	c.Exists, c.text = true, data
	var tc tomlConfig
	doc, err := decodeStrict(path, data, &tc)
	if err != nil {
		return nil, err
	}
	c.doc = doc
	if tc.ClaudePath != nil {
		c.ClaudePath = *tc.ClaudePath
	}
	if tc.ProcessWrapper != nil {
		c.ProcessWrapper = *tc.ProcessWrapper
	}
	names := make([]string, 0, len(tc.Profiles))
	for name := range tc.Profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		where := doc.at("profiles", name)
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		p := Profile{Name: name, MinOutputTokens: DefaultMinOutputTokens}
		tp := tc.Profiles[name]
		if tp.Region == nil {
			p.Region = envRegion(env)
			if p.Region == "" {
				return nil, fmt.Errorf("%s: profile %s sets no region and AWS_REGION is not set: add region = %q to [profiles.%s]", where, name, DefaultRegion, name)
			}
		}
		if err := apply(&p, tp, doc, []string{"profiles", name}); err != nil {
			return nil, err
		}
		if tp.Model == nil {
			return nil, fmt.Errorf("%s: profile %s sets no model: add model = \"sonnet\" (or haiku, opus, or a Bedrock inference-profile ID)", where, name)
		}
		if tp.MaxOutputTokens == nil {
			return nil, fmt.Errorf("%s: profile %s sets no max_output_tokens: add one, e.g. max_output_tokens = 4096 (without it Claude Code asks for up to %d)", where, name, 128000)
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%s: profile %s: %w", where, name, err)
		}
		c.Profiles[name] = p
		c.UserDefined[name] = true
	}
	if tc.Default != nil {
		c.Default = *tc.Default
		if _, ok := c.Profiles[c.Default]; !ok {
			return nil, fmt.Errorf("%s: default = %q names no profile: %s", doc.at("default"), c.Default, c.knownList())
		}
	}
	return c, nil
}

func envRegion(env map[string]string) string {
	if r := env["AWS_REGION"]; r != "" {
		return r
	}
	return env["AWS_DEFAULT_REGION"]
}

// apply sets on p every key that tp sets, checking each value and naming its
// line in doc under the dotted prefix.
func apply(p *Profile, tp tomlProfile, doc *tomlDoc, prefix []string) error {
	at := func(key string) string { return doc.at(append(append([]string{}, prefix...), key)...) }
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.Description, tp.Description)
	set(&p.Model, tp.Model)
	set(&p.Region, tp.Region)
	set(&p.SmallFastModel, tp.SmallFastModel)
	set(&p.AWSProfile, tp.AWSProfile)
	if tp.Region != nil {
		if err := checkRegion(*tp.Region); err != nil {
			return fmt.Errorf("%s: region: %w", at("region"), err)
		}
	}
	for _, c := range []struct {
		key string
		v   *int64
		dst *int
	}{{"max_output_tokens", tp.MaxOutputTokens, &p.MaxOutputTokens}, {"min_output_tokens", tp.MinOutputTokens, &p.MinOutputTokens}} {
		if c.v == nil {
			continue
		}
		if err := checkCap(*c.v); err != nil {
			return fmt.Errorf("%s: %s: %w", at(c.key), c.key, err)
		}
		*c.dst = int(*c.v)
	}
	if tp.Burndown != nil {
		if err := checkBurndown(*tp.Burndown); err != nil {
			return fmt.Errorf("%s: burndown: %w", at("burndown"), err)
		}
		p.Burndown = int(*tp.Burndown)
	}
	if p.MaxOutputTokens > 0 && p.MinOutputTokens > p.MaxOutputTokens {
		// A floor above the cap: a relaunch after throttling would propose
		// a higher cap than the one that was throttled. The default floor
		// above a small cap is not the user's doing: no error for that.
		switch {
		case tp.MinOutputTokens != nil:
			return fmt.Errorf("%s: min_output_tokens: %d is above max_output_tokens %d: lower min_output_tokens, or raise max_output_tokens",
				at("min_output_tokens"), p.MinOutputTokens, p.MaxOutputTokens)
		case tp.MaxOutputTokens != nil && p.MinOutputTokens != DefaultMinOutputTokens:
			return fmt.Errorf("%s: max_output_tokens: %d is below the profile's min_output_tokens %d: raise max_output_tokens, or lower min_output_tokens",
				at("max_output_tokens"), p.MaxOutputTokens, p.MinOutputTokens)
		}
	}
	if tp.Governor != nil {
		p.NoGovernor = !*tp.Governor
	}
	for _, c := range []struct {
		key string
		v   *int64
		dst *int
	}{{"tokens_per_minute", tp.TokensPerMinute, &p.TokensPerMinute}, {"requests_per_minute", tp.RequestsPerMinute, &p.RequestsPerMinute}} {
		if c.v == nil {
			continue
		}
		if err := checkPerMinute(*c.v); err != nil {
			return fmt.Errorf("%s: %s: %w", at(c.key), c.key, err)
		}
		*c.dst = int(*c.v)
	}
	if tp.Model != nil {
		if err := checkModel(*tp.Model, p.Region); err != nil {
			return fmt.Errorf("%s: %w", at("model"), err)
		}
	}
	if tp.SmallFastModel != nil {
		if err := checkModel(*tp.SmallFastModel, p.Region); err != nil {
			return fmt.Errorf("%s: small_fast_model: %w", at("small_fast_model"), err)
		}
	}
	return nil
}

// Names returns the profile names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// knownList says which profiles exist, for error messages.
func (c *Config) knownList() string {
	return "known profiles: " + strings.Join(c.Names(), ", ")
}
