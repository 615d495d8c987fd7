package launcher

import (
	"bytes"
	"unicode/utf8"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

// Watch is how the launcher acts on what claude's output shows: Bedrock
// throttling, an unavailable service, a cap too low. The launcher watches
// and draws; what to propose and how to relaunch are the caller's, who
// knows the profile.
type Watch struct {
	// Offer allows offering a relaunch in the terminal. Only for an
	// interactive session; without it the launcher only watches, and calls
	// Report after claude exits.
	Offer bool
	// Propose returns the offer for an incident, or false for none.
	Propose func(detect.Incident) (Proposal, bool)
	// Relaunch returns the command that continues the conversation as the
	// proposal says. sessionID is the session claude named when it exited
	// ("" when it named none).
	Relaunch func(p Proposal, sessionID string) (Command, error)
	// Keep stores the proposal's cap for the profile (the user pressed k).
	Keep func(p Proposal) error
	// Record is told of each incident once: with the user's choice
	// ("relaunch", "keep", "dismiss") when it was offered, else "none".
	Record func(inc detect.Incident, choice string)
	// Report is told, after claude exited, of the last incident of a run
	// that offered nothing, so the caller can print what to do.
	Report func(inc detect.Incident)
}

// Proposal is one offer to the user.
type Proposal struct {
	Text     []string // the banner: what happened and the keys, one line, longest first; the first that fits the width is shown
	Relaunch bool     // y relaunches; false: the banner only informs
	CanKeep  bool     // k relaunches and keeps the change for the profile
	Announce string   // said once when the new session starts
	Cap      int      // the cap the relaunch uses (for Keep and the caller)
}

// shouldOffer reports whether an incident is worth interrupting the user
// for: Claude Code gave up, or it is still retrying after the third attempt.
func shouldOffer(inc detect.Incident) bool {
	return inc.Final || inc.Attempt >= 3
}

// sessionIDIn finds the session claude names in its last words
// ("Resume this session with: claude --resume <id>"): the last "--resume"
// followed by white space and a UUID, read with claude's escape sequences
// taken for spaces. Written out rather than as a regular expression, which
// would put the regexp package's start-up work on every launch.
func sessionIDIn(out []byte) string {
	text := withoutEscapes(out)
	id := ""
	for i := 0; ; {
		j := bytes.Index(text[i:], []byte("--resume"))
		if j < 0 {
			return id
		}
		i += j + len("--resume")
		k := i
		for k < len(text) && isSpace(text[k]) {
			k++
		}
		if k > i && k+36 <= len(text) && isUUID(text[k:k+36]) {
			id = string(text[k : k+36])
			i = k + 36
		}
	}
}

// withoutEscapes returns out with each escape sequence replaced by a space:
// a CSI sequence, an OSC string ended by BEL or ST, or else ESC and the one
// byte after it (not a line feed).
func withoutEscapes(out []byte) []byte {
	text := make([]byte, 0, len(out))
	for i := 0; i < len(out); i++ {
		if out[i] != 0x1b {
			text = append(text, out[i])
			continue
		}
		if n := escapeLen(out[i:]); n > 0 {
			text = append(text, ' ')
			i += n - 1
			continue
		}
		text = append(text, out[i]) // a lone ESC stays
	}
	return text
}

// escapeLen is the length of the escape sequence at the start of b (b[0] is
// ESC), or 0 when none starts there.
func escapeLen(b []byte) int {
	if len(b) < 2 || b[1] == '\n' {
		return 0
	}
	switch b[1] {
	case '[':
		i := 2
		for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == ';' || b[i] == '?' || b[i] == '<' || b[i] == '>' || b[i] == '=') {
			i++
		}
		for i < len(b) && b[i] >= ' ' && b[i] <= '/' {
			i++
		}
		if i < len(b) && b[i] >= '@' && b[i] <= '~' {
			return i + 1
		}
	case ']':
		for i := 2; i < len(b); i++ {
			switch {
			case b[i] == 0x07:
				return i + 1
			case b[i] == 0x1b:
				if i+1 < len(b) && b[i+1] == '\\' {
					return i + 2
				}
				return 2 // not an OSC string after all: ESC ] alone
			}
		}
	}
	_, size := utf8.DecodeRune(b[1:])
	return 1 + size
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// isUUID reports whether b is 8-4-4-4-12 hex digits.
func isUUID(b []byte) bool {
	for i, c := range b {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) {
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
}
