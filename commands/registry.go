// Package commands is xmppgate's command registry: one declarative Def per
// command, from which every front end, the CLI and docs/ are driven. The
// Defs are filed by noun (users.go, roster.go, groups.go, domains.go, ...).
//
// A front end authenticates its caller through the door (auth.go), turns its
// request into a command name and an Input, asks the registry for the Def,
// binds the arguments (Bind checks presence, types and normalisation once
// for all dialects) and calls the handler. Handlers answer what the Def's
// Result kind says (a Table, a Receipt, a Status, a record such as
// DomainInfo, ...), which each front end spells in its own format, and
// *Error values, which each maps to its own codes.
package commands

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// All is the command table, in documentation order. Each family of
// commands is listed in the file of its noun.
func All() []*Def {
	return slices.Concat(userDefs, domainDefs, keyDefs, progressDefs, rosterDefs, groupDefs, sessionDefs, stanzaDefs,
		vcardDefs, userdataDefs, purgeDefs, pushDefs, archiveDefs, pubsubDefs, roomDefs, openfireRoomDefs, openfireSystemDefs, serverDefs, clusterDefs, backupDefs, transferDefs, oauthDefs, docDefs,
		certificateDefs, batchDefs, auditDefs)
}

// Registry is the immutable command table.
type Registry struct {
	defs   []*Def
	byName map[string]*Def
	byWire map[Dialect]map[string]*Def
}

// New builds a registry, rejecting duplicate or malformed definitions.
func New(defs ...*Def) (*Registry, error) {
	r := &Registry{byName: map[string]*Def{}, byWire: map[Dialect]map[string]*Def{}}
	for _, d := range defs {
		if d.Name == "" || d.Handle == nil {
			return nil, fmt.Errorf("commands: definition %q lacks a name or handler", d.Name)
		}
		if _, dup := r.byName[d.Name]; dup {
			return nil, fmt.Errorf("commands: duplicate command %q", d.Name)
		}
		if d.Mutates != (d.Apply != nil) {
			return nil, fmt.Errorf("commands: %q: a mutating command needs Apply, and only it", d.Name)
		}
		seen := map[string]bool{}
		for _, a := range d.Args {
			if seen[a.Name] {
				return nil, fmt.Errorf("commands: %q: duplicate argument %q", d.Name, a.Name)
			}
			seen[a.Name] = true
		}
		r.byName[d.Name] = d
		for dialect, wire := range d.Names {
			m := r.byWire[dialect]
			if m == nil {
				m = map[string]*Def{}
				r.byWire[dialect] = m
			}
			if _, dup := m[wire]; dup {
				return nil, fmt.Errorf("commands: duplicate %s command %q", dialect, wire)
			}
			m[wire] = d
		}
		r.defs = append(r.defs, d)
	}
	return r, nil
}

// MustNew is New that panics: the table is static, so an error is a bug.
func MustNew(defs ...*Def) *Registry {
	r, err := New(defs...)
	if err != nil {
		panic(err)
	}
	return r
}

// Lookup finds a command by its name in dialect d.
func (r *Registry) Lookup(d Dialect, wire string) (*Def, bool) {
	def, ok := r.byWire[d][wire]
	return def, ok
}

// Dialect lists the commands offered in dialect d, sorted by wire name.
func (r *Registry) Dialect(d Dialect) []*Def {
	var out []*Def
	for _, def := range r.defs {
		if _, ok := def.Names[d]; ok {
			out = append(out, def)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Names[d] < out[j].Names[d] })
	return out
}

// Defs lists every definition in table order.
func (r *Registry) Defs() []*Def { return r.defs }

// Appliers returns the worker's appliers, keyed by change command.
func (r *Registry) Appliers(env *Env) map[string]queue.Applier {
	m := map[string]queue.Applier{}
	for _, d := range r.defs {
		if d.Apply == nil {
			continue
		}
		a := queue.Applier{Atomic: d.ApplyAtomic, Apply: func(ctx context.Context, tx *store.Tx, w *queue.Work) error { return d.Apply(ctx, env, tx, w) }}
		if d.Prepare != nil {
			a.Prepare = func(ctx context.Context, w *queue.Work) error { return d.Prepare(ctx, env, w) }
		}
		if d.Derive != nil {
			a.Derive = func(ctx context.Context, w *queue.Work) ([]byte, error) { return d.Derive(ctx, env, w) }
		}
		if d.ApplyRun != nil {
			a.ApplyRun = func(ctx context.Context, tx *store.Tx, run []*queue.Work) ([]error, error) {
				return d.ApplyRun(ctx, env, tx, run)
			}
		}
		m[d.Name] = a
	}
	return m
}
