package detect_test

import (
	"fmt"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

// The proxy copies claude's output to the terminal, then to the detector,
// and reads incidents without ever blocking the copy.
func Example() {
	det := detect.New()
	det.Resize(80, 30)

	// What Claude Code draws while it retries, then when it gives up
	// (abridged: the real output moves the cursor for every space).
	frames := []string{
		"\x1b[H\x1b[25;1H✻ 429 Too many tokens, please wait before tryi… · retrying in 4s · attempt 3/10\x1b[30;1H",
		"\x1b[H\x1b[14;1H● API Error: Request rejected (429) · Too many tokens, please wait before trying again.\x1b[25;1H\x1b[K" +
			"\x1b[28;1H❯ Resend your message to try again\x1b[30;1H",
	}
	for _, f := range frames {
		det.Write([]byte(f)) // after os.Stdout.Write of the same bytes
		for len(det.Incidents()) > 0 {
			inc := <-det.Incidents()
			fmt.Printf("incident %d: %s, attempt %d of %d, final %v\n", inc.Seq, inc.Kind, inc.Attempt, inc.Of, inc.Final)
		}
	}

	// claude -p into a pipe: plain lines.
	plain := detect.NewPlain()
	plain.Write([]byte(strings.Repeat("some answer\n", 3) + "API Error: Claude's response exceeded the 4096 output token maximum. To configure this behavior, set the CLAUDE_CODE_MAX_OUTPUT_TOKENS environment variable.\n"))
	plain.Flush()
	inc := <-plain.Incidents()
	fmt.Printf("plain: %s, cap %d\n", inc.Kind, inc.Cap)
	// Output:
	// incident 1: tokens_per_minute, attempt 3 of 10, final false
	// incident 1: tokens_per_minute, attempt 3 of 10, final true
	// plain: cap_too_low, cap 4096
}
