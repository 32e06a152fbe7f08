package commands

import "context"

// LiveS2S is the running server's federation as the s2s commands see it.
// The server behind Live implements it; domains nil means every domain.
type LiveS2S interface {
	// S2SCountsFor counts the incoming streams authenticated for one of
	// domains and the outgoing streams from one of them.
	S2SCountsFor(domains []string) (in, out int)
	// StopS2SFor closes those streams and says how many.
	StopS2SFor(domains []string) int
}

// StopS2SConnections is ejabberd's stop_s2s_connections.
var StopS2SConnections = &Def{
	Name: "stop_s2s_connections",
	Doc: "Operator only. Closes every incoming and outgoing server-to-server stream; federation goes on with new streams " +
		"at the next stanza (docs/federation.md).",
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "stop_s2s_connections"},
	Handle:   stopS2S,
}

// s2sScope returns the federation and the domains a caller's s2s commands
// cover (nil for the operator: all).
func s2sScope(ctx context.Context, c *Call) (LiveS2S, []string, error) {
	ls, _ := c.Env.Live.(LiveS2S)
	if ls == nil || c.Caller.Operator {
		return ls, nil, nil
	}
	ds, err := statDomains(ctx, c)
	if ds == nil {
		ds = []string{} // an account without domains sees nothing, not everything
	}
	return ls, ds, err
}

func s2sCount(ctx context.Context, c *Call, incoming bool) (any, error) {
	ls, ds, err := s2sScope(ctx, c)
	if err != nil || ls == nil {
		return int64(0), err
	}
	in, out := ls.S2SCountsFor(ds)
	if incoming {
		return int64(in), nil
	}
	return int64(out), nil
}

func s2sIncoming(ctx context.Context, c *Call) (any, error) { return s2sCount(ctx, c, true) }
func s2sOutgoing(ctx context.Context, c *Call) (any, error) { return s2sCount(ctx, c, false) }

func stopS2S(ctx context.Context, c *Call) (any, error) {
	if ls, ds, err := s2sScope(ctx, c); err != nil {
		return nil, err
	} else if ls != nil {
		ls.StopS2SFor(ds)
	}
	return StatusOK, nil
}
