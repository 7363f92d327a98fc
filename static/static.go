// Package static embeds the console's assets — the stylesheet, the script and
// the images — and names them with cache-busting URLs.
//
// Serve FS under /static/ (for example with http.FileServerFS after
// stripping the prefix) and link assets with URL, whose "?v=" query changes
// whenever a file's content changes, so responses can be cached for a long
// time.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"strings"
	"sync"
)

// FS holds the embedded assets: css/, js/ and img/, at the root of the file
// system (for example "css/portico.css").
//
//go:embed css js img
var FS embed.FS

var (
	versionsOnce sync.Once
	versions     map[string]string
)

// URL returns the public URL of the embedded asset at path (relative to FS,
// for example "css/portico.css"): "/static/" + path + "?v=" + the first 10
// hex digits of the SHA-256 of the file's content. The digests are computed
// once, on first use. A path that names no embedded file gets no version.
func URL(path string) string {
	versionsOnce.Do(computeVersions)
	path = strings.TrimPrefix(path, "/")
	if v, ok := versions[path]; ok {
		return "/static/" + path + "?v=" + v
	}
	return "/static/" + path
}

// computeVersions hashes every embedded file.
func computeVersions() {
	versions = make(map[string]string)
	// The embedded file system cannot fail to walk or read; errors are
	// skipped so that URL never panics.
	_ = fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := FS.ReadFile(path)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		versions[path] = hex.EncodeToString(sum[:])[:10]
		return nil
	})
}
