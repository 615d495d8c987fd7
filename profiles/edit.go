package profiles

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// SetDefault makes name the default profile in the config file at path,
// keeping everything else in the file as it was. The write is atomic, and
// locked against other saves: the file is read again under the lock.
func SetDefault(path, name string, env map[string]string) error {
	return lockConfig(path, func() error {
		c, err := LoadConfig(path, env)
		if err != nil {
			return err
		}
		if _, ok := c.Profiles[name]; !ok {
			return fmt.Errorf("no profile %q; %s", name, c.knownList())
		}
		return editConfig(c, env, nil, "default", strconv.Quote(name), func(c *Config) bool { return c.Default == name })
	})
}

// SetCap sets max_output_tokens of the named profile in the config file at
// path, keeping everything else. A built-in or system profile is first
// written out in full, so that it keeps its other values. Locked as
// SetDefault is.
func SetCap(path, name string, cap int, env map[string]string) error {
	return lockConfig(path, func() error { return setCap(path, name, cap, env) })
}

func setCap(path, name string, cap int, env map[string]string) error {
	c, err := LoadConfig(path, env)
	if err != nil {
		return err
	}
	p, ok := c.Profiles[name]
	if !ok {
		return fmt.Errorf("no profile %q; %s", name, c.knownList())
	}
	if err := checkCap(int64(cap)); err != nil {
		return fmt.Errorf("max_output_tokens: %w", err)
	}
	table := []string{"profiles", name}
	if !c.UserDefined[name] {
		// A new [profiles.NAME] replaces the built-in or system one whole:
		// write all of it (the system file itself is never written).
		block := strings.ReplaceAll(profileTOML(p, cap), "\n", lineEnding(c.text))
		return writeChecked(c, env, appendText(c.text, block), func(c *Config) bool { return c.Profiles[name].MaxOutputTokens == cap })
	}
	return editConfig(c, env, table, "max_output_tokens", strconv.Itoa(cap), func(c *Config) bool { return c.Profiles[name].MaxOutputTokens == cap })
}

// appendText appends s to data, ending data's last line first.
func appendText(data []byte, s string) []byte {
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, lineEnding(data)...)
	}
	return append(data, s...)
}

// lineEnding is the line ending data uses, as its first line ends: a line
// an edit adds in a CRLF file ends in CRLF too, or the file would mix both.
func lineEnding(data []byte) string {
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// editConfig sets key = value in table (nil: top level) of the config c,
// editing the text it was read from so that comments and layout stay, then
// checks the result reads back as wanted before it replaces the file.
func editConfig(c *Config, env map[string]string, table []string, key, value string, ok func(*Config) bool) error {
	// A byte-order mark stays where it is, at the very start: the edit
	// works on the text after it.
	bom, data := cutBOM(c.text)
	write := func(edited []byte) error {
		return writeChecked(c, env, append(append([]byte{}, bom...), edited...), ok)
	}
	full := strings.Join(append(append([]string{}, table...), key), ".")
	if edited, found := replaceValue(data, full, value); found {
		return write(edited)
	}
	lines := strings.SplitAfter(string(data), "\n")
	pos := keyLines(data)
	nl := lineEnding(data)
	newLine := key + " = " + value + nl
	switch {
	case table == nil:
		lines = append([]string{newLine}, lines...)
	case pos[strings.Join(table, ".")] > 0:
		i := pos[strings.Join(table, ".")] // insert right after the header line
		lines = append(lines[:i], append([]string{newLine}, lines[i:]...)...)
	default:
		return write(appendText(data, fmt.Sprintf("%s[%s]%s%s", nl, strings.Join(table, "."), nl, newLine)))
	}
	return write([]byte(strings.Join(lines, "")))
}

// replaceValue replaces the value of the dotted key full in the TOML document
// data with value, and reports whether the key was there. Only the value's own
// bytes change, as the parser delimits them, so the key as written, the
// spacing and a comment after the value stay, and a '#' or quote inside a
// string is never taken for the start of a comment.
func replaceValue(data []byte, full, value string) ([]byte, bool) {
	var edited []byte // a parse error was already reported by LoadConfig
	eachEntry(data, func(e tomlEntry) bool {
		if e.node.Kind != unstable.KeyValue || e.key != full {
			return true
		}
		raw := e.node.Value().Raw
		if raw.Length == 0 {
			return false // an array or inline table, never a valid default or cap
		}
		start, end := int(raw.Offset), int(raw.Offset+raw.Length)
		edited = make([]byte, 0, len(data)-(end-start)+len(value))
		edited = append(append(append(edited, data[:start]...), value...), data[end:]...)
		return false
	})
	return edited, edited != nil
}

// writeChecked writes data to the file of c atomically if it parses, over
// the same system layer, as a valid config on which ok holds; otherwise it
// leaves the file alone and says so.
func writeChecked(c *Config, env map[string]string, data []byte, ok func(*Config) bool) error {
	path := c.Path
	if len(data) > MaxFileSize {
		return &tooLargeError{path, "config file", "the change was not made"}
	}
	edited, err := parseConfig(path, data, env, c.System)
	if err != nil || !ok(edited) {
		return fmt.Errorf("could not edit %s automatically (its layout is unusual): make the change by hand", path)
	}
	return writeFileAtomic(path, data, 0o644)
}
