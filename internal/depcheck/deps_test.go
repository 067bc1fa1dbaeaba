package depcheck

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/salonhq/salon/"

// allowed lists, per package prefix, the project packages it may import
// directly. A prefix ending in "/" matches a whole tree.
var allowed = map[string][]string{
	"sfu":       {},
	"mail":      {"internal/"},
	"signaling": {"sfu", "internal/roomstate", "internal/auth", "internal/meeting"},
	"calendar":  {"mail", "internal/"},
	"web":       {"calendar", "mail", "internal/"},
	"internal/": {"internal/"},
	"e2e":       {"internal/"},
}

// forbidden lists packages that must not be reached even indirectly.
var forbidden = map[string][]string{
	"web":       {"sfu", "signaling"},
	"sfu":       {"signaling", "web", "calendar", "mail", "internal/"},
	"mail":      {"calendar"},
	"internal/": {"sfu", "signaling", "web", "calendar", "mail"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func matches(rel, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(rel, prefix)
	}
	return rel == prefix || strings.HasPrefix(rel, prefix+"/")
}

// top is the first folder of a package path.
func top(rel string) string {
	t, _, _ := strings.Cut(rel, "/")
	return t
}

func rules(rel string, table map[string][]string) ([]string, bool) {
	for prefix, list := range table {
		if matches(rel, prefix) {
			return list, true
		}
	}
	return nil, false
}

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if strings.HasPrefix(dep, "cmd/") {
				t.Errorf("%s imports %s: nothing imports a command", rel, dep)
			}
			list, ok := rules(rel, allowed)
			if !ok {
				continue // cmd/salon wires everything
			}
			if top(dep) == top(rel) && !strings.HasPrefix(rel, "internal/") {
				continue // a feature's own sub-packages (calendar/ical, calendar/sqlstore)
			}
			okImport := false
			for _, a := range list {
				if matches(dep, a) {
					okImport = true
				}
			}
			if !okImport {
				t.Errorf("%s imports %s, which DESIGN.md's dependency direction forbids", rel, dep)
			}
		}
		if list, ok := rules(rel, forbidden); ok {
			for _, d := range p.Deps {
				for _, f := range list {
					if strings.HasPrefix(d, module) && matches(strings.TrimPrefix(d, module), f) {
						t.Errorf("%s depends (indirectly) on %s", rel, strings.TrimPrefix(d, module))
					}
				}
			}
		}
	}
	if seen < 5 {
		t.Fatalf("go list saw only %d packages", seen)
	}
}

func TestRulesCatchAViolation(t *testing.T) {
	// The checker itself must be able to fail.
	list, _ := rules("web", allowed)
	for _, a := range list {
		if matches("sfu", a) {
			t.Fatal("web would be allowed to import sfu")
		}
	}
	if f, _ := rules("internal/auth", forbidden); len(f) == 0 {
		t.Fatal("no forbidden list for internal packages")
	}
}
