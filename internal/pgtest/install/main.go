// Command install puts Debian's postgresql on the machine for the tests
// (make deps) without letting its system service start.
package main

import (
	"context"
	"log"

	"github.com/xmppgate/xmppgate/internal/peer"
	"github.com/xmppgate/xmppgate/internal/pgtest"
)

func main() {
	if pgtest.Bin() != "" {
		return
	}
	if err := peer.Ensure(context.Background(), "postgresql"); err != nil {
		log.Fatalf("postgresql: %v (the PostgreSQL store tests will skip)", err)
	}
}
