package mail

import (
	"os"
	"testing"

	"github.com/salonhq/salon/internal/testpg"
)

// TestMain stops the PostgreSQL server the outbox tests start.
func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }
