//go:build race

package detect

// splitStride: under the race detector, which makes the detector some ten
// times slower, TestRecordings tries every 7th two-read split; the normal
// run tries every one.
const splitStride = 7
