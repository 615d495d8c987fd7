package profiles

import (
	"strconv"
	"strings"
	"unicode/utf8"
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
//
// It is written out by hand, in ManagedKeys order: encoding/json's
// reflection would be most of the work of building a launch.
func (p Profile) Settings() string {
	b := []byte(`{"env":{`)
	for i, v := range p.Vars() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v.Key)
		b = append(b, ':')
		b = appendJSONString(b, v.Value)
	}
	return string(append(b, "}}"...))
}

// JSONString is s as a JSON string, escaped as Settings escapes its values,
// for other parts of claude's --settings written by hand.
func JSONString(s string) string { return string(appendJSONString(nil, s)) }

// appendJSONString appends s to b as a JSON string: quotes, backslashes and
// control characters escaped, and each byte that is not UTF-8 replaced by
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}
