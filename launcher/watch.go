package launcher

import (
	"regexp"
	"sync"

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

// The expressions that find the session id are compiled when a relaunch
// first needs them, not on every launch.
var (
	escapeRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|.)`)
	})
	sessionRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`--resume\s+([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})`)
	})
)

// sessionIDIn finds the session claude names in its last words
// ("Resume this session with: claude --resume <id>").
func sessionIDIn(out []byte) string {
	text := escapeRE().ReplaceAll(out, []byte(" "))
	m := sessionRE().FindAllSubmatch(text, -1)
	if len(m) == 0 {
		return ""
	}
	return string(m[len(m)-1][1])
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
