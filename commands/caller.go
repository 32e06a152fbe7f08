package commands

// Caller is who is calling, as the dialect resolved it.
type Caller struct {
	Dialect Dialect
	// Account is the account the call acts as; Accounts is it and its
	// sub-accounts, the only accounts whose data the call may see.
	Account  int64
	Accounts []int64
	KeyID    int64 // DreamHost key, 0 otherwise
	// Operator: the caller runs the server, not just an account (the ctl
	// CLI, or an operator account's admin); only it may call Def.Operator
	// commands.
	Operator bool
	Grants   Grants
	Actor    string // for the audit log: "key:12", "admin@example.com", ...
	// Version is the API version the caller speaks (ejabberd's /api/vN;
	// 0 elsewhere): an argument exists only in the versions it is declared
	// for (Arg.EjSince, Arg.EjUntil).
	Version int
	// Permission is the ejabberd API permission of an admin JID (command
	// patterns such as "*", "[tag:session]", "!kick_user"); nil: none.
	// Scopes are its OAuth token's scopes when Bearer is set. The ejabberd
	// front end applies them.
	Permission []string
	Bearer     bool
	Scopes     []string
}

// Owns reports whether account is visible to the caller.
func (c Caller) Owns(account int64) bool {
	for _, a := range c.Accounts {
		if a == account {
			return true
		}
	}
	return false
}
