package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	_ "image/gif" // the image headers estimateInput reads
	_ "image/jpeg"
	_ "image/png"
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

// Input estimates. Text is taken at about four bytes of JSON body per token
// (an 85 KB first turn is about 22k input tokens). Base64 data is not text:
// Anthropic counts an image at about width × height / 750 tokens, after
// resizing any image whose long edge passes 1568 pixels (or about 1.15
// megapixels), so no image costs much more than 1,600 tokens; a 1 MB
// screenshot counted as text would hold some 250k tokens and block the
// queue for nothing. So:
//   - an image (media_type image/…) counts width × height / 750, read from
//     its PNG, JPEG or GIF header, at most maxImageTokens; when its size
//     cannot be read, maxImageTokens;
//   - other base64 data (a PDF document) counts its decoded size at four
//     bytes per token: a PDF's pages are read as text and seen as images,
//     and no cheaper rule is sure.
//
// Either way the real count from the answer's message_start replaces the
// estimate as soon as the answer starts.
const (
	bytesPerToken  = 4
	pixelsPerToken = 750
	maxImageTokens = 1600
	// minData is the shortest "data" string read as base64: shorter ones
	// count as text, whatever they hold.
	minData = 1024
)

// dataKey is how the key of a base64 source's data begins, written as
// Claude Code writes it: {"type":"base64","media_type":"image/png","data":"…"}.
var dataKey = []byte(`"data":"`)

// estimateInput returns the input tokens a request body is taken to hold
// until its answer says (see the rules above). It scans the body once and
// decodes nothing but an image's header.
func estimateInput(body []byte) int {
	text, tokens := len(body), 0
	for rest := body; ; {
		i := bytes.Index(rest, dataKey)
		if i < 0 {
			break
		}
		start := i + len(dataKey)
		n := bytes.IndexByte(rest[start:], '"') // base64 holds no quote, nor any escape
		if n < 0 {
			break
		}
		// A quote with a backslash before it is inside a string: text.
		if data := rest[start : start+n]; n >= minData && (i == 0 || rest[i-1] != '\\') {
			around := rest[max(0, i-200):i]
			if after := rest[start+n:]; !bytes.Contains(around, []byte(`"media_type"`)) {
				around = after[:min(len(after), 200)] // written after the data
			}
			text -= n
			tokens += dataTokens(around, data)
		}
		rest = rest[start+n:]
	}
	return text/bytesPerToken + tokens
}

// dataTokens estimates the tokens of one base64 data string; around is the
// JSON next to it, where its media_type is.
func dataTokens(around, data []byte) int {
	if !bytes.Contains(around, []byte(`"media_type":"image/`)) {
		return base64.StdEncoding.DecodedLen(len(data)) / bytesPerToken
	}
	cfg, _, err := image.DecodeConfig(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(data)))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return maxImageTokens
	}
	return min(cfg.Width*cfg.Height/pixelsPerToken, maxImageTokens)
}
