//go:build !race

package backendsig

const raceBuild = false
