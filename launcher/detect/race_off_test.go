//go:build !race

package detect

// splitStride: TestRecordings tries every split into two reads (see
// race_on_test.go for the race detector's run).
const splitStride = 1
