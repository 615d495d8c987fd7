package profiles_test

import (
	"strings"
	"testing"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// The config decoder follows TOML's rules on what may be written twice
// and in which forms, and names the line of each mistake.
func TestConfigDecodingFollowsTOML(t *testing.T) {
	const p = "model = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 4096\n"
	tests := []struct {
		name, config string
		want         string // "" for no error; else the error after "CONFIG:"
		cap          int    // profile x's cap when it loads
	}{
		{"table", "[profiles.x]\n" + p, "", 4096},
		{"inline table", "[profiles]\nx = {model = \"sonnet\", region = \"us-east-1\", max_output_tokens = 0x800}\n", "", 2048},
		{"dotted keys", "profiles.x.model = \"sonnet\"\nprofiles.x.region = \"us-east-1\"\nprofiles.x.max_output_tokens = 4_096\n", "", 4096},
		{"dotted keys in a table", "[profiles]\nx.model = \"sonnet\"\nx.region = \"us-east-1\"\nx.max_output_tokens = 1024\n", "", 1024},
		{"sub-table of an implicit table", "[profiles.x]\n" + p + "[profiles]\n", "", 4096},
		{"duplicate key", "[profiles.x]\n" + p + "model = \"haiku\"\n", "5: profiles.x.model is already set on line 2", 0},
		{"duplicate table", "[profiles.x]\n" + p + "[profiles.x]\n", "5: table [profiles.x] is already defined on line 1", 0},
		{"table over a dotted key's table", "profiles.x.model = \"sonnet\"\n[profiles.x]\n", "2: table [profiles.x] is already defined on line 1", 0},
		{"table over a value", "default = \"code\"\n[default]\n", "2: default is already set on line 1", 0},
		{"key into an inline table", "[profiles]\nx = {model = \"sonnet\"}\nx.region = \"us-east-1\"\n", "3: profiles.x is already defined on line 2", 0},
		{"table into an inline table", "[profiles]\nx = {model = \"sonnet\"}\n[profiles.x]\n", "3: profiles.x is already set on line 2", 0},
		{"duplicate key in an inline table", "[profiles]\nx = {model = \"sonnet\", model = \"haiku\"}\n", "2: profiles.x.model is already set on line 2", 0},
		{"array of tables", "[[profiles]]\n", "1: [[profiles]]: an array of tables has no place in this file", 0},
		{"table where a value goes", "[default]\n", "1: default: got a TOML table, want a string in double quotes", 0},
		{"value where a table goes", "profiles = 3\n", "1: profiles: got a TOML integer, want a table", 0},
		{"float cap", "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 4096.0\n", "4: profiles.x.max_output_tokens: got a TOML float, want a whole number, without quotes", 0},
		{"bool as string", "process_wrapper = \"yes\"\n", "1: process_wrapper: got a TOML string, want true or false", 0},
		{"unknown key in an inline table", "[profiles]\nx = {model = \"sonnet\", modle = \"haiku\"}\n", "2: unknown key \"profiles.x.modle\": check its spelling (known keys: model, ", 0},
		{"integer too large", "[profiles.x]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 99999999999999999999\n", "4: profiles.x.max_output_tokens: 99999999999999999999 does not fit in a 64-bit integer", 0},
		{"syntax error line", "default = \"code\"\n\n\nmodel = = 1\n", "4: ", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.config(tt.config)
			c, err := profiles.LoadConfig(w.configPath(), w.env)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := c.Profiles["x"].MaxOutputTokens; got != tt.cap {
					t.Errorf("cap %d, want %d", got, tt.cap)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), w.configPath()+":"+tt.want) {
				t.Errorf("error %v, want %s:%s", err, w.configPath(), tt.want)
			}
		})
	}
}
