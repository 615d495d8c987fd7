package profiles

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// tomlProfile is a profile as written in TOML: the keys a [profiles.NAME]
// table and a project file may set, in the order error messages list them.
// Pointers tell "not set" from zero.
type tomlProfile struct {
	Model             *string `toml:"model"`
	Region            *string `toml:"region"`
	MaxOutputTokens   *int64  `toml:"max_output_tokens"`
	MinOutputTokens   *int64  `toml:"min_output_tokens"`
	SmallFastModel    *string `toml:"small_fast_model"`
	AWSProfile        *string `toml:"aws_profile"`
	Burndown          *int64  `toml:"burndown"`
	Description       *string `toml:"description"`
	Governor          *bool   `toml:"governor"`
	TokensPerMinute   *int64  `toml:"tokens_per_minute"`
	RequestsPerMinute *int64  `toml:"requests_per_minute"`
}

// tomlDoc is a decoded TOML file with what is needed to name lines in errors.
type tomlDoc struct {
	path  string
	lines map[string]int // dotted key -> line where it is set
}

// utf8BOM is the byte-order mark some Windows editors put at the start of
// a UTF-8 file. TOML does not allow it; it is invisible in an editor, so it
// is skipped rather than reported as a mysterious error on line 1.
const utf8BOM = "\xef\xbb\xbf"

// cutBOM splits a leading UTF-8 byte-order mark off data.
func cutBOM(data []byte) (bom, rest []byte) {
	if bytes.HasPrefix(data, []byte(utf8BOM)) {
		return data[:len(utf8BOM)], data[len(utf8BOM):]
	}
	return nil, data
}

// decodeStrict decodes data into v, refusing unknown keys, and returns
// errors that name the file, the line and the key. A leading UTF-8
// byte-order mark is skipped (it is on line 1, so line numbers stay).
func decodeStrict(path string, data []byte, v any) (*tomlDoc, error) {
	_, data = cutBOM(data)
	lines, err := decodeTOML(path, data, v)
	if err != nil {
		return nil, err
	}
	return &tomlDoc{path: path, lines: lines}, nil
}

// knownKeys lists the keys allowed where the unknown key stands: a profile's
// keys inside [profiles.NAME], else the top-level keys of the file that v
// decodes, read from its toml tags so that the list cannot go stale.
func knownKeys(key []string, v any) string {
	if len(key) >= 2 && key[0] == "profiles" {
		return strings.Join(profileKeys, ", ")
	}
	return strings.Join(tomlKeys(reflect.TypeOf(v)), ", ")
}

// tomlKeys lists the toml tags of a struct type (through pointers and
// embedded structs), in their order.
func tomlKeys(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			keys = append(keys, tomlKeys(f.Type)...)
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("toml"), ","); name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

var profileKeys = tomlKeys(reflect.TypeOf(tomlProfile{}))

// at returns "file:line" for a dotted key, or just the file.
func (d *tomlDoc) at(key ...string) string {
	if n, ok := d.lines[strings.Join(key, ".")]; ok {
		return fmt.Sprintf("%s:%d", d.path, n)
	}
	return d.path
}

// keyLines maps each dotted key set in a TOML document to the line that sets
// it, so that a bad value can be named by line as well as by key.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	eachEntry(data, func(e tomlEntry) bool {
		lines[e.key] = e.line
		return true
	})
	return lines // a parse error was already reported by the decoder
}

// tomlEntry is a table header or a key/value line of a TOML document.
type tomlEntry struct {
	key  string // dotted and in full: a value's table, then its own key
	line int    // where the key starts
	node *unstable.Node
}

// eachEntry calls fn for each table header and key/value of data, in
// order, until fn returns false or the document ends (or stops parsing).
func eachEntry(data []byte, fn func(tomlEntry) bool) {
	var p unstable.Parser
	p.Reset(data)
	var table []string
	// The parser's Shape counts lines from the start of the document at
	// every call, which made a file of N keys cost N² (4,000 profiles:
	// 8 s). Keys come in order, so the count goes on from the last one.
	line, counted := 1, 0
	for p.NextExpression() {
		e := p.Expression()
		var key []string
		at := 0
		for it := e.Key(); it.Next(); {
			n := it.Node()
			if at == 0 {
				off := min(int(n.Raw.Offset), len(data))
				if off < counted { // never seen: keys come in order; count again rather than be wrong
					line, counted = 1, 0
				}
				line += bytes.Count(data[counted:off], []byte{'\n'})
				counted, at = off, line
			}
			key = append(key, string(n.Data))
		}
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = key
		case unstable.KeyValue:
			key = append(append([]string{}, table...), key...)
		default:
			continue
		}
		if !fn(tomlEntry{key: strings.Join(key, "."), line: at, node: e}) {
			return
		}
	}
}
