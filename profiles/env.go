package profiles

import (
	"encoding/json"
	"strconv"
	"strings"
)

// ManagedKeys are the environment variables a profile sets for Claude Code,
// in the order they are printed.
var ManagedKeys = []string{
	"CLAUDE_CODE_USE_BEDROCK",
	"AWS_REGION",
	"ANTHROPIC_MODEL",
	"CLAUDE_CODE_MAX_OUTPUT_TOKENS",
	"ANTHROPIC_DEFAULT_HAIKU_MODEL",
	"AWS_PROFILE",
	"CLAUDE_BEDROCK_PROFILE",
}

// Var is one environment variable.
type Var struct{ Key, Value string }

// Vars returns the variables p sets, in ManagedKeys order; optional ones the
// profile leaves unset are absent, so the environment's own value stays.
func (p Profile) Vars() []Var {
	v := []Var{
		{"CLAUDE_CODE_USE_BEDROCK", "1"},
		{"AWS_REGION", p.Region},
		{"ANTHROPIC_MODEL", p.Model},
		{"CLAUDE_CODE_MAX_OUTPUT_TOKENS", strconv.Itoa(p.MaxOutputTokens)},
	}
	if p.SmallFastModel != "" {
		v = append(v, Var{"ANTHROPIC_DEFAULT_HAIKU_MODEL", p.SmallFastModel})
	}
	if p.AWSProfile != "" {
		v = append(v, Var{"AWS_PROFILE", p.AWSProfile})
	}
	return append(v, Var{"CLAUDE_BEDROCK_PROFILE", p.Name})
}

// Environ returns base (KEY=VALUE entries, as os.Environ gives them) with the
// profile's variables set: replaced where base has them, added where not.
func (p Profile) Environ(base []string) []string {
	vars := p.Vars()
	set := make(map[string]string, len(vars))
	for _, v := range vars {
		set[v.Key] = v.Value
	}
	out := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	for _, v := range vars {
		out = append(out, v.Key+"="+v.Value)
	}
	return out
}

// Settings returns the JSON for claude's --settings flag that carries the
// profile's variables. Claude Code lets the env block of its settings files
// beat the process environment (measured), and --settings beats those files,
// so this is what makes the profile's values reach the wire.
func (p Profile) Settings() string {
	env := map[string]string{}
	for _, v := range p.Vars() {
		env[v.Key] = v.Value
	}
	b, err := json.Marshal(map[string]any{"env": env})
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return string(b)
}
