package gateway

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// maxTokens returns the integer value of the top-level "max_tokens" key of a
// JSON object (the last one, as encoding/json would), and whether there is
// one. It scans the body once without decoding it: a turn's body is
// around 85 KB and decoding it whole would cost a good part of a millisecond
// on the path to claude's first byte. The key is looked for at the top level
// only: a tool's input or schema may hold a max_tokens of its own. For
// anything that is not a well-formed object it answers false.
func maxTokens(b []byte) (int, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, false
	}
	n, found := 0, false
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		end, ok := skipString(b, i)
		if !ok {
			return 0, false
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipSpace(b, i+1)
		vend, ok := skipValue(b, i)
		if !ok {
			return 0, false
		}
		if isMaxTokens(key) {
			n, found = 0, false
			if v, err := strconv.ParseInt(string(b[i:vend]), 10, 32); err == nil && v >= 0 {
				n, found = int(v), true
			} else if f, err := strconv.ParseFloat(string(b[i:vend]), 64); err == nil && f >= 0 && f < 1<<31 && f == float64(int(f)) {
				n, found = int(f), true
			}
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return n, found
		default:
			return 0, false
		}
	}
}

// isMaxTokens reports whether a raw JSON key (between its quotes) is
// max_tokens, escapes decoded.
func isMaxTokens(key []byte) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key) == "max_tokens"
	}
	var s string
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	return json.Unmarshal(q, &s) == nil && s == "max_tokens"
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] == '"'.
func skipString(b []byte, i int) (int, bool) {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, false
		}
		i += j
		// The quote is escaped when an odd number of backslashes precede it.
		bs := 0
		for k := i - 1; k >= 0 && b[k] == '\\'; k-- {
			bs++
		}
		i++
		if bs%2 == 0 {
			return i, true
		}
	}
}

// skipValue returns the index after the JSON value that starts at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	start := i
scalar:
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			break scalar
		}
	}
	return i, i > start
}
