package web

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the dependency direction of DESIGN.md: the browser talks
// to the signalling WebSocket itself, so web never imports sfu or signaling.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, forbidden := range []string{"github.com/salonhq/salon/sfu", "github.com/salonhq/salon/signaling"} {
			if dep == forbidden || strings.HasPrefix(dep, forbidden+"/") {
				t.Errorf("web depends on %s", dep)
			}
		}
	}
}
