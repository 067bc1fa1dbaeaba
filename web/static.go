package web

import (
	"embed"
	"io/fs"
)

// The room UI, home page and their assets, written without a build step.
//
//go:embed static
var embedded embed.FS

// embeddedStatic returns the embedded static folder as the root of an FS.
func embeddedStatic() fs.FS {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		// fs.Sub fails only for an invalid path, and "static" is valid.
		panic(err)
	}
	return sub
}
