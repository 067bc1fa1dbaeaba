package loadtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the load tester outside salon: it speaks the protocol
// from the outside, as a browser does, so it imports no salon package and
// cannot lean on salon's internals.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/salonhq/salon/") && dep != "github.com/salonhq/salon/loadtest" {
			t.Errorf("loadtest depends on %s", dep)
		}
	}
}
