// Package depcheck holds no code: its test enforces the dependency
// direction of DESIGN.md ("sfu imports no project package", "web never
// imports sfu or signaling", …) with `go list`, so the layout stays true.
package depcheck
