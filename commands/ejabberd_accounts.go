package commands

import "context"

// RegisteredVhosts is ejabberd's registered_vhosts: the caller's domains.
var RegisteredVhosts = &Def{
	Name:   "registered_vhosts",
	Doc:    "Lists the enabled domains of the caller's account, sorted.",
	Result: Result{Kind: ResultList, Name: "vhosts"},
	Names:  map[Dialect]string{Ejabberd: "registered_vhosts"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ds, err := c.Env.Store.Domains(ctx, c.Caller.Accounts)
		out := []string{}
		for _, d := range ds {
			if d.Enabled {
				out = append(out, d.FQDN)
			}
		}
		return out, err
	},
}
