package profiles

import "path/filepath"

// Paths are the files and folders claude-bedrock uses, computed from an
// environment map by the XDG base directory rules (a relative XDG variable is
// ignored, as the specification says).
type Paths struct {
	Config    string // the user's config file
	TrustDir  string // where +allow and +deny keep their records
	StateDir  string // the incident record and other state
	CacheDir  string // data that may be thrown away
	ConfigSet bool   // Config came from CLAUDE_BEDROCK_CONFIG
}

// PathsFrom computes the paths from env (HOME, XDG_*_HOME, CLAUDE_BEDROCK_CONFIG).
func PathsFrom(env map[string]string) Paths {
	dir := func(xdg, fallback string) string {
		if d := env[xdg]; filepath.IsAbs(d) {
			return filepath.Join(d, "claude-bedrock")
		}
		return filepath.Join(env["HOME"], fallback, "claude-bedrock")
	}
	p := Paths{
		Config:   filepath.Join(dir("XDG_CONFIG_HOME", ".config"), "config.toml"),
		TrustDir: filepath.Join(dir("XDG_DATA_HOME", ".local/share"), "trust"),
		StateDir: dir("XDG_STATE_HOME", ".local/state"),
		CacheDir: dir("XDG_CACHE_HOME", ".cache"),
	}
	if c := env["CLAUDE_BEDROCK_CONFIG"]; c != "" {
		p.Config, p.ConfigSet = c, true
	}
	return p
}
