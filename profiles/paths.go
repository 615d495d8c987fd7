package profiles

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/adrg/xdg"
)

// AppDir is the folder claude-bedrock keeps its files in, under each base
// directory.
const AppDir = "claude-bedrock"

// Paths are the files and folders claude-bedrock uses, from the base
// directories of the platform as github.com/adrg/xdg finds them: the XDG
// variables where they are set (a relative one is ignored, as the
// specification says), else the platform's own places.
type Paths struct {
	Config     string   // the user's config file
	ConfigSet  bool     // Config came from CLAUDE_BEDROCK_CONFIG
	System     []string // where a system config file may be, most important first
	TrustDir   string   // where +allow and +deny keep their records
	StateDir   string   // the incident record and other state
	CacheDir   string   // data that may be thrown away
	RuntimeDir string   // files that live as long as a run; may not exist; "" for none
}

// PathsFrom computes the paths for this platform from the base directories
// the xdg package read from the process environment (tests set it with
// t.Setenv and call xdg.Reload), and CLAUDE_BEDROCK_CONFIG from env.
func PathsFrom(env map[string]string) Paths {
	return PathsFor(runtime.GOOS, BaseDirs{
		Home:       xdg.Home,
		ConfigHome: xdg.ConfigHome,
		ConfigDirs: xdg.ConfigDirs,
		DataHome:   xdg.DataHome,
		StateHome:  xdg.StateHome,
		CacheHome:  xdg.CacheHome,
		RuntimeDir: xdg.RuntimeDir,
	}, env)
}

// BaseDirs are the base directories of one platform, as the xdg package
// gives them: plain values, so that the rules of PathsFor can be tested for
// any platform on any platform.
type BaseDirs struct {
	Home       string
	ConfigHome string
	ConfigDirs []string
	DataHome   string
	StateHome  string
	CacheHome  string
	RuntimeDir string
}

// PathsFor computes the paths for the platform goos (runtime.GOOS) from its
// base directories and CLAUDE_BEDROCK_CONFIG in env.
//
// On macOS the xdg package puts the user's config in ~/Library/Application
// Support, where a config written before claude-bedrock used it is not: an
// existing ~/.config/claude-bedrock/config.toml (the place the README named
// then) is still the one read and edited, unless XDG_CONFIG_HOME is set and
// so names the place itself.
//
// System config directories inside the home folder (macOS lists
// ~/Library/Preferences and ~/.config among them) are the user's own, not an
// administrator's, and are left out of System.
func PathsFor(goos string, b BaseDirs, env map[string]string) Paths {
	p := Paths{
		Config:     filepath.Join(b.ConfigHome, AppDir, "config.toml"),
		TrustDir:   filepath.Join(b.DataHome, AppDir, "trust"),
		StateDir:   filepath.Join(b.StateHome, AppDir),
		CacheDir:   filepath.Join(b.CacheHome, AppDir),
		RuntimeDir: b.RuntimeDir,
	}
	appSupport := filepath.Join(b.Home, "Library", "Application Support")
	if goos == "darwin" && b.RuntimeDir == appSupport {
		// macOS has no runtime directory: the xdg package's stand-in keeps
		// files on disk, where the temp folder (private per user on macOS)
		// is the better place for files that live as long as a run.
		p.RuntimeDir = ""
	}
	if goos == "darwin" && b.ConfigHome == appSupport {
		legacy := filepath.Join(b.Home, ".config", AppDir, "config.toml")
		if _, err := os.Lstat(legacy); err == nil { // a link too: a broken one is reported when read
			p.Config = legacy
		}
	}
	if c := env["CLAUDE_BEDROCK_CONFIG"]; c != "" {
		p.Config, p.ConfigSet = c, true
	}
	for _, d := range b.ConfigDirs {
		if b.Home != "" && b.Home != "/" && (d == b.Home || strings.HasPrefix(d, b.Home+string(filepath.Separator))) {
			continue
		}
		p.System = append(p.System, filepath.Join(d, AppDir, "config.toml"))
	}
	return p
}
