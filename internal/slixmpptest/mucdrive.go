package slixmpptest

import (
	_ "embed"
	"testing"
)

//go:embed mucdrive.py
var mucDriveScript []byte

// DriveMUC starts a client (mucdrive.py) for jid (with resource) and password
// that joins rooms and reports their presences and messages, through
// slixmpp's xep_0045 and xep_0249 plugins; it is ended when the test ends.
func DriveMUC(t testing.TB, jid, password string) *Driver {
	t.Helper()
	return drive(t, "mucdrive.py", mucDriveScript, jid, password)
}
