package detect

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The words the detector looks for, as they read once blanks are removed:
// the TUI wraps and pads with cursor jumps, so spaces are unreliable and
// ignoring them makes a phrase wrapped at any width read the same.
var (
	wordAttempt    = []byte("ttempt") // "attempt 2/10", rare in other text
	wordResend     = []byte("esend")  // the input box's "Resend your message…"
	wordRror       = []byte("rror:")  // "API Error:"
	sqAttempt      = []byte("attempt")
	sqRetrying     = []byte("retryingin")
	sqHint         = []byte("Resendyour")
	sqAPIError     = []byte("APIError:")
	sqTooMany      = []byte("Toomany")
	sqTokens       = []byte("tokens")
	sqRequests     = []byte("requests")
	sqPerDay       = []byte("perday")
	sqRateTooHigh  = []byte("requestrateistoohigh")
	sqUnable       = []byte("unabletoprocess")
	sqServiceUnav  = []byte("ServiceUnavailable")
	sq503          = []byte("503")
	sq429          = []byte("429")
	sqExceededThe  = []byte("exceededthe")
	sqOutputTokenM = []byte("outputtokenmaximum")
)

// anchors reports whether row holds wordAttempt and wordResend. The
// detector asks it of every row a frame touched, so it tests eight places at
// a time for a pair of letters that every occurrence has ("mp" of
// "ttempt", "s?n" of "esend", rare elsewhere) and confirms only those hits.
func anchors(row []byte) (attempt, resend bool) {
	text := row
	if len(row) < 10 {
		var pad [10]byte // zeros: no letter of a pair
		copy(pad[:], row)
		text = pad[:]
	}
	// Pairs starting at i..i+7 are tested; no word ends in the last two
	// columns with its pair starting there, so the words need pairs at
	// 0..n-3, and the last round overlaps the one before.
	n := len(text)
	for i := 0; i < n-2; i += 8 {
		i = min(i, n-10)
		v0 := binary.LittleEndian.Uint64(text[i:])
		v1 := binary.LittleEndian.Uint64(text[i+1:])
		v2 := binary.LittleEndian.Uint64(text[i+2:])
		hits := (byteIs(v0, 'm')&byteIs(v1, 'p') | byteIs(v0, 's')&byteIs(v2, 'n')) & highBits
		for ; hits != 0; hits &= hits - 1 {
			at := i + bits.TrailingZeros64(hits)/8
			attempt = attempt || at >= 3 && bytes.HasPrefix(row[at-3:], wordAttempt)
			resend = resend || at >= 1 && bytes.HasPrefix(row[at-1:], wordResend)
		}
	}
	return attempt, resend
}

const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// byteIs sets the high bit of each byte of v that equals c, and possibly of
// some other bytes (above one that equals c): a filter, never a miss.
func byteIs(v uint64, c byte) uint64 {
	t := v ^ lowBits*uint64(c)
	return (t - lowBits) &^ t
}

// squeeze appends the cells of row without blanks to dst.
func squeeze(dst, row []byte) []byte {
	for _, c := range row {
		if c != cellBlank {
			dst = append(dst, c)
		}
	}
	return dst
}

// digits parses a decimal number at the start of b (at most 9 digits).
func digits(b []byte) (n, used int) {
	for used < len(b) && used < 9 && b[used] >= '0' && b[used] <= '9' {
		n = n*10 + int(b[used]-'0')
		used++
	}
	return n, used
}

// parseProgress reads a spinner line such as
// "429 Too many tokens, please wait… · retrying in 3s · attempt 2/10"
// (blanks removed). complete is false when the line stops inside the
// "attempt a/b" part, so the caller can join the next row.
func parseProgress(sq []byte) (kind Kind, attempt, of int, ok, complete bool) {
	i := bytes.Index(sq, sqAttempt)
	if i < 0 {
		return KindNone, 0, 0, false, true
	}
	r := bytes.Index(sq[:i], sqRetrying)
	if r < 0 {
		return KindNone, 0, 0, false, true
	}
	rest := sq[i+len(sqAttempt):]
	a, n := digits(rest)
	if n == len(rest) || (n > 0 && n+1 == len(rest) && rest[n] == '/') {
		return KindNone, 0, 0, false, false
	}
	if n == 0 || rest[n] != '/' {
		return KindNone, 0, 0, false, true
	}
	b, m := digits(rest[n+1:])
	if m == 0 || a < 1 || a > b {
		return KindNone, 0, 0, false, true
	}
	return classify(sq[:r], false), a, b, true, true
}

// classify names the failure a message describes, or KindNone when it names
// none or was truncated ("…") before the words that tell the kinds apart.
// bare429 lets a 429 without Bedrock's words count as tokens per minute;
// only a whole final error line may, never a retrying line, whose cells
// may still hold an earlier text ("429 error · retrying" mid-redraw).
func classify(t []byte, bare429 bool) Kind {
	if i := bytes.Index(t, sqTooMany); i >= 0 {
		rest := t[i+len(sqTooMany):]
		if end := bytes.IndexByte(rest, cellEllipsis); end >= 0 {
			rest = rest[:end]
			// Truncated: only a word that is whole, or a prefix that
			// cannot belong to another message, decides.
			switch {
			case bytes.HasPrefix(rest, sqTokens):
				after := rest[len(sqTokens):]
				switch {
				case bytes.HasPrefix(after, sqPerDay):
					return TokensPerDay
				case len(after) > 0 && !bytes.HasPrefix(sqPerDay, after):
					return TokensPerMinute
				}
				return KindNone
			case len(rest) > 0 && bytes.HasPrefix(sqRequests, rest[:min(len(rest), len(sqRequests))]) && rest[0] == 'r':
				return RequestsPerMinute
			}
			return KindNone
		}
		switch {
		case bytes.HasPrefix(rest, sqRequests):
			return RequestsPerMinute
		case bytes.HasPrefix(rest, sqTokens):
			if bytes.HasPrefix(rest[len(sqTokens):], sqPerDay) {
				return TokensPerDay
			}
			return TokensPerMinute
		}
	}
	if bytes.Contains(t, sqRateTooHigh) {
		return RequestsPerMinute
	}
	if bytes.Contains(t, sqUnable) || bytes.Contains(t, sqServiceUnav) || bytes.Contains(t, sq503) {
		return ServiceUnavailable
	}
	if bare429 && bytes.Contains(t, sq429) && bytes.IndexByte(t, cellEllipsis) < 0 {
		// A 429 whose words are missing: Bedrock's usual one is tokens.
		return TokensPerMinute
	}
	return KindNone
}

// classifyFinal reads the text after "API Error:" (blanks removed).
func classifyFinal(t []byte) (Kind, int) {
	if i := bytes.Index(t, sqExceededThe); i >= 0 {
		n, used := digits(t[i+len(sqExceededThe):])
		if used > 0 && bytes.HasPrefix(t[i+len(sqExceededThe)+used:], sqOutputTokenM) {
			return CapTooLow, n
		}
	}
	return classify(t, true), 0
}
