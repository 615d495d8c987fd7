package profiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// SystemLayer is a config file an administrator put in a system config
// directory (/etc/xdg/claude-bedrock/config.toml; on macOS /Library/Application
// Support/claude-bedrock/config.toml) for everyone on the machine. It is read
// beneath the user's: a user profile of the same name replaces a system one
// whole, and the user's default, claude_path and process_wrapper win over the
// system's. claude-bedrock never writes to it.
type SystemLayer struct {
	Path    string  // the system file found
	Config  *Config // its profiles over the built-in ones; nil when it could not be read
	Warning string  // why it could not be read, for stderr; "" when it was
}

// LoadSystem reads the first of the system config files in paths (most
// important first) that exists, with the same checks as the user's, its path
// naming each error. No file is no layer (nil). A file that exists but cannot
// be read (permissions, a folder, a broken link) is a layer that only warns:
// it is the administrator's to fix, and must not stop anyone's work.
func LoadSystem(paths []string, env map[string]string) (*SystemLayer, error) {
	for _, path := range paths {
		if _, err := os.Lstat(path); err != nil {
			continue
		}
		l := &SystemLayer{Path: path}
		data, err := readLimited(path, "system config file", "ask the administrator to shorten it")
		var tooLarge *tooLargeError
		switch {
		case errors.As(err, &tooLarge):
			return nil, err // its content is wrong, as a bad value would be
		case errors.Is(err, fs.ErrNotExist):
			err = errors.New("a symbolic link to nothing")
			fallthrough
		case err != nil:
			l.Warning = fmt.Sprintf("system config %s is not read: %v (ask the administrator to fix it; the built-in and your own profiles apply)", path, unwrapPath(err))
			return l, nil
		}
		c, err := parseConfig(path, data, env, nil)
		if err != nil {
			return nil, err
		}
		l.Config = c
		return l, nil
	}
	return nil, nil
}

// unwrapPath drops the path an *fs.PathError repeats: the warning names it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// config starts the Config of the user file at path: the built-in profiles
// with the system file's over them, and the system's top-level values until
// the user's file sets its own.
func (l *SystemLayer) config(path string) *Config {
	c := &Config{Path: path, Profiles: Builtins(), UserDefined: map[string]bool{}, System: l}
	if l == nil || l.Config == nil {
		return c
	}
	for name := range l.Config.UserDefined {
		c.Profiles[name] = l.Config.Profiles[name]
	}
	c.Default, c.ClaudePath, c.ProcessWrapper = l.Config.Default, l.Config.ClaudePath, l.Config.ProcessWrapper
	return c
}

// FromSystem reports whether the profile name is the system file's (and not
// replaced by the user's).
func (c *Config) FromSystem(name string) bool {
	return !c.UserDefined[name] && c.System != nil && c.System.Config != nil && c.System.Config.UserDefined[name]
}

// DefinedIn returns the file that defines the profile name, "" for a
// built-in one.
func (c *Config) DefinedIn(name string) string {
	switch {
	case c.UserDefined[name]:
		return c.Path
	case c.FromSystem(name):
		return c.System.Path
	}
	return ""
}

// DefaultFrom returns the file whose default is in force, "" when neither
// file sets one.
func (c *Config) DefaultFrom() string {
	switch {
	case c.doc != nil && c.doc.lines["default"] > 0:
		return c.Path
	case c.Default != "" && c.System != nil && c.System.Config != nil:
		return c.System.Path
	}
	return ""
}

// profileTOML is the table that copies p into the user's file with the cap
// max: everything p sets, since a user profile replaces a built-in or system
// one whole.
func profileTOML(p Profile, max int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n[profiles.%s]\n", p.Name)
	if p.Description != "" {
		fmt.Fprintf(&b, "description = %s\n", strconv.Quote(p.Description))
	}
	fmt.Fprintf(&b, "model = %s\nregion = %s\nmax_output_tokens = %d\n", strconv.Quote(p.Model), strconv.Quote(p.Region), max)
	if p.MinOutputTokens != DefaultMinOutputTokens {
		fmt.Fprintf(&b, "min_output_tokens = %d\n", p.MinOutputTokens)
	}
	if p.SmallFastModel != "" {
		fmt.Fprintf(&b, "small_fast_model = %s\n", strconv.Quote(p.SmallFastModel))
	}
	if p.AWSProfile != "" {
		fmt.Fprintf(&b, "aws_profile = %s\n", strconv.Quote(p.AWSProfile))
	}
	if p.Burndown != 0 {
		fmt.Fprintf(&b, "burndown = %d\n", p.Burndown)
	}
	return b.String()
}

// Files names the config files in use, a line each, for +profiles and
// +doctor: the user's (and whether it exists) and the system's, if one was
// read (SystemWarning says why one was not).
func (c *Config) Files() []string {
	user := "config " + c.Path
	if !c.Exists {
		user += " (none yet: the built-in profiles apply)"
		if c.System != nil && c.System.Config != nil {
			user = "config " + c.Path + " (none yet: the built-in and system profiles apply)"
		}
	}
	lines := []string{user}
	if l := c.System; l != nil && l.Config != nil {
		lines = append(lines, "system config "+l.Path)
	}
	return lines
}

// SystemWarning says why a system config file that exists was not read, ""
// when there is none or it was.
func (c *Config) SystemWarning() string {
	if c.System == nil {
		return ""
	}
	return c.System.Warning
}
