//go:build race

package backendsig

// raceBuild: the race detector makes sync.Pool drop items at random, so
// allocation counts do not hold.
const raceBuild = true
