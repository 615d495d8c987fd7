// Package release holds the test of release.sh, the script that cross-builds
// the release archives: it builds them, checks SHA256SUMS with its own
// hashing, reads each binary's header for its platform, and installs from
// an unpacked archive with neither Go nor git on PATH.
package release
