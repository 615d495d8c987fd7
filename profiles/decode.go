package profiles

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// go-toml's Decoder checks for duplicate keys by scanning every key seen
// so far at each new one: a file of N keys costs N² (4,000 profiles took
// 8 s, and a 1 MiB file of short keys would take minutes). The decoder
// here builds the document's tree with maps from go-toml's own parser, so
// a file costs time in proportion to its size, and fills the config's
// structs from it with the same rules: unknown keys and mismatched types
// are errors naming the line and key; a key or table defined twice is an
// error, as TOML says.

// tnode is a table or a value of a TOML document.
type tnode struct {
	kind     tkind
	line     int
	key      []string      // in full, from the root
	vkind    unstable.Kind // a value's kind and text (the parser reuses its nodes)
	vdata    string
	children map[string]*tnode
	order    []string // children's names, as they first appear
}

type tkind int

const (
	tImplicit tkind = iota // named only inside a longer header: [a.b] makes a
	tHeader                // a table with its own [header]
	tDotted                // made by a dotted key: a.b = 1 makes a
	tInline                // an inline table, {…}: complete as written
	tValue
)

func (n *tnode) add(name string, c *tnode) {
	if n.children == nil {
		n.children = map[string]*tnode{}
	}
	n.children[name] = c
	n.order = append(n.order, name)
}

// tdecoder decodes one document.
type tdecoder struct {
	path    string
	data    []byte
	lines   map[string]int // dotted key -> line, for tomlDoc
	line    int            // the line at offset counted
	counted int
	fields  map[reflect.Type]map[string][]int // a struct's fields by TOML key
	root    any                               // what the document decodes into
}

func (d *tdecoder) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", d.path, line, fmt.Sprintf(format, args...))
}

// lineAt returns the line of the byte at off, counting on from the last
// call: offsets mostly come in order, so the whole document is counted once.
func (d *tdecoder) lineAt(off int) int {
	off = min(max(off, 0), len(d.data))
	if off < d.counted {
		d.line, d.counted = 1, 0
	}
	d.line += bytes.Count(d.data[d.counted:off], []byte{'\n'})
	d.counted = off
	return d.line
}

// keyOf returns the parts of a table's or key/value's key, and its line.
func (d *tdecoder) keyOf(n *unstable.Node) ([]string, int) {
	var parts []string
	line := 0
	for it := n.Key(); it.Next(); {
		k := it.Node()
		if line == 0 {
			line = d.lineAt(int(k.Raw.Offset))
		}
		parts = append(parts, string(k.Data))
	}
	return parts, line
}

// decodeTOML decodes data into v (a pointer to a struct whose fields have
// toml tags) and returns the line of each key.
func decodeTOML(path string, data []byte, v any) (map[string]int, error) {
	d := &tdecoder{path: path, data: data, lines: map[string]int{}, line: 1, fields: map[reflect.Type]map[string][]int{}, root: v}
	root := &tnode{kind: tHeader}
	cur := root
	var p unstable.Parser
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			parts, line := d.keyOf(e)
			t, err := d.table(root, parts, line)
			if err != nil {
				return nil, err
			}
			cur = t
		case unstable.ArrayTable:
			parts, line := d.keyOf(e)
			return nil, d.errorf(line, "[[%s]]: an array of tables has no place in this file", strings.Join(parts, "."))
		case unstable.KeyValue:
			if err := d.keyValue(cur, e, 0); err != nil {
				return nil, err
			}
		}
	}
	if err := p.Error(); err != nil {
		if pe, ok := err.(*unstable.ParserError); ok {
			// Highlight is a slice of data: where it starts is the error's place.
			if off := cap(data) - cap(pe.Highlight); pe.Highlight != nil && off >= 0 && off <= len(data) {
				d.line, d.counted = 1, 0
				return nil, d.errorf(d.lineAt(off), "%s", pe.Message)
			}
			return nil, fmt.Errorf("%s: %s", path, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := d.assign(root, reflect.ValueOf(v).Elem()); err != nil {
		return nil, err
	}
	return d.lines, nil
}

// table opens the table of a [header], making the tables it names.
func (d *tdecoder) table(root *tnode, parts []string, line int) (*tnode, error) {
	n := root
	for i, part := range parts {
		c := n.children[part]
		last := i == len(parts)-1
		key := parts[:i+1]
		switch {
		case c == nil:
			c = &tnode{kind: tImplicit, line: line, key: key}
			if last {
				c.kind = tHeader
			}
			n.add(part, c)
		case c.kind == tValue || c.kind == tInline:
			return nil, d.errorf(line, "%s is already set on line %d", strings.Join(key, "."), c.line)
		case last && c.kind == tImplicit:
			c.kind, c.line = tHeader, line
		case last:
			return nil, d.errorf(line, "table [%s] is already defined on line %d", strings.Join(key, "."), c.line)
		}
		n = c
	}
	d.lines[strings.Join(parts, ".")] = line
	return n, nil
}

// keyValue sets the key/value kv in the table t. inline counts the inline
// tables it is in: their keys are not lines of their own.
func (d *tdecoder) keyValue(t *tnode, kv *unstable.Node, inline int) error {
	parts, line := d.keyOf(kv)
	n := t
	for i, part := range parts[:len(parts)-1] {
		c := n.children[part]
		key := append(append([]string{}, t.key...), parts[:i+1]...)
		switch {
		case c == nil:
			c = &tnode{kind: tDotted, line: line, key: key}
			n.add(part, c)
		case c.kind != tDotted:
			return d.errorf(line, "%s is already defined on line %d", strings.Join(key, "."), c.line)
		}
		n = c
	}
	name := parts[len(parts)-1]
	key := append(append([]string{}, t.key...), parts...)
	if c := n.children[name]; c != nil {
		return d.errorf(line, "%s is already set on line %d", strings.Join(key, "."), c.line)
	}
	val := kv.Value()
	c := &tnode{kind: tValue, line: line, key: key, vkind: val.Kind}
	n.add(name, c)
	if inline == 0 {
		d.lines[strings.Join(key, ".")] = line
	}
	switch val.Kind {
	case unstable.String, unstable.Integer, unstable.Bool:
		c.vdata = string(val.Data)
	case unstable.InlineTable:
		c.kind = tInline
		for it := val.Children(); it.Next(); {
			if err := d.keyValue(c, it.Node(), inline+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// assign fills v from n.
func (d *tdecoder) assign(n *tnode, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		e := reflect.New(v.Type().Elem())
		if err := d.assign(n, e.Elem()); err != nil {
			return err
		}
		v.Set(e)
		return nil
	}
	isTable := n.kind != tValue
	switch v.Kind() {
	case reflect.Struct:
		if !isTable {
			return d.mismatch(n, "a table")
		}
		fields := d.fields[v.Type()]
		if fields == nil {
			fields = map[string][]int{}
			for _, f := range reflect.VisibleFields(v.Type()) {
				if tag := f.Tag.Get("toml"); tag != "" && f.IsExported() {
					fields[tag] = f.Index
				}
			}
			d.fields[v.Type()] = fields
		}
		for _, name := range n.order {
			c := n.children[name]
			f, ok := fields[name]
			if !ok {
				return d.errorf(c.line, "unknown key %q: check its spelling (known keys: %s)", strings.Join(c.key, "."), knownKeys(c.key, d.root))
			}
			if err := d.assign(c, v.FieldByIndex(f)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if !isTable {
			return d.mismatch(n, "a table")
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(v.Type(), len(n.order)))
		}
		for _, name := range n.order {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := d.assign(n.children[name], e); err != nil {
				return err
			}
			v.SetMapIndex(reflect.ValueOf(name), e)
		}
	case reflect.String:
		if isTable || n.vkind != unstable.String {
			return d.mismatch(n, "a string in double quotes")
		}
		v.SetString(n.vdata)
	case reflect.Bool:
		if isTable || n.vkind != unstable.Bool {
			return d.mismatch(n, "true or false")
		}
		v.SetBool(n.vdata == "true")
	case reflect.Int64:
		if isTable || n.vkind != unstable.Integer {
			return d.mismatch(n, "a whole number, without quotes")
		}
		i, err := parseTOMLInt(n.vdata)
		if err != nil {
			return d.errorf(n.line, "%s: %v", strings.Join(n.key, "."), err)
		}
		v.SetInt(i)
	default:
		panic("profiles: no TOML decoding for " + v.Type().String())
	}
	return nil
}

// mismatch is the error for a value of the wrong type.
func (d *tdecoder) mismatch(n *tnode, want string) error {
	got := "table"
	if n.kind == tValue {
		got = map[unstable.Kind]string{
			unstable.String: "string", unstable.Integer: "integer", unstable.Float: "float", unstable.Bool: "boolean",
			unstable.Array: "array", unstable.DateTime: "date-time", unstable.LocalDateTime: "date-time",
			unstable.LocalDate: "date", unstable.LocalTime: "time",
		}[n.vkind]
	}
	return d.errorf(n.line, "%s: got a TOML %s, want %s", strings.Join(n.key, "."), got, want)
}

// parseTOMLInt reads an integer the parser has already checked: decimal
// with an optional sign, or 0x, 0o, 0b; underscores between digits.
func parseTOMLInt(s string) (int64, error) {
	s = strings.ReplaceAll(s, "_", "")
	base := 10
	if len(s) > 2 && s[0] == '0' {
		base = map[byte]int{'x': 16, 'o': 8, 'b': 2}[s[1]]
		s = s[2:]
	}
	if base == 0 {
		return 0, fmt.Errorf("%q is not a TOML integer", s)
	}
	i, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		return 0, fmt.Errorf("%s does not fit in a 64-bit integer", s)
	}
	return i, nil
}
