// Command claude-bedrock starts Claude Code on Amazon Bedrock with a chosen
// profile: model, region and a deliberate output-token cap.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
