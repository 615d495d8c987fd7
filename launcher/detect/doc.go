// Package detect watches a copy of Claude Code's terminal output for
// Bedrock throttling and related failures.
package detect
