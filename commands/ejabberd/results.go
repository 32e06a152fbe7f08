package ejabberd

import (
	"fmt"

	"github.com/xmppgate/xmppgate/commands"
)

// Kind is how mod_http_api's format_result writes a result.
type Kind int

// The result encodings.
const (
	// Rescode: 0 for success, 1 otherwise.
	Rescode Kind = iota
	// Restuple: a JSON string, never wrapped.
	Restuple
	// Integer: a number, wrapped as {"<Name>": n} in API v0.
	Integer
	// String: a string, wrapped as {"<Name>": s} in API v0.
	String
	// List: a JSON array of strings.
	List
	// Tuples: a Table, an array of objects keyed by the columns.
	Tuples
	// Tuple: a Table of one row, one object keyed by the columns, never wrapped.
	Tuple
	// Dict: a Table of two columns, one object whose members are its rows
	// (first column the key), in order: ejabberd writes a list of
	// {name, value} tuples so (get_room_options).
	Dict
)

// Shape is how one command's result is written in one API version.
type Shape struct {
	Kind Kind
	Name string // the result's name: the v0 wrapper key
	// text, if set, makes the restuple from the arguments as given (by wire
	// name) and the handler's result.
	text func(args map[string]string, res any) string
	// join, if set, turns the list cells ([]string) of a Table result into
	// one string with this separator.
	join string
}

// byKind is the shape of each registry result kind, unless shapes says
// otherwise for a command.
var byKind = map[commands.ResultKind]Shape{
	commands.ResultToken:   {Kind: Rescode, Name: "res"},
	commands.ResultStatus:  {Kind: Rescode, Name: "res"},
	commands.ResultMessage: {Kind: Restuple, Name: "res"},
	commands.ResultNumber:  {Kind: Integer},
	commands.ResultString:  {Kind: String},
	commands.ResultList:    {Kind: List},
	commands.ResultTable:   {Kind: Tuples},
	commands.ResultRow:     {Kind: Tuple},
}

// since is a shape from API version Since on.
type since struct {
	Since int
	Shape Shape
}

// shapes are the commands whose result ejabberd writes otherwise than
// their kind says, by ejabberd name; each list is oldest first.
var shapes = map[string][]since{
	"register": {{0, Shape{Kind: Restuple, Name: "res", text: func(a map[string]string, _ any) string {
		return fmt.Sprintf("User %s@%s successfully registered", a["user"], a["host"])
	}}}},
	"unregister": {{0, Shape{Kind: Restuple, Name: "res", text: func(map[string]string, any) string { return "" }}}},
	// 23.01 concatenates the scopes with no separator; ';' is what they were given with.
	"oauth_issue_token": {{0, Shape{Kind: Tuple, Name: "result", join: ";"}}, {1, Shape{Kind: Tuple, Name: "result"}}},
	"get_room_options":  {{0, Shape{Kind: Dict, Name: "options"}}},
	"kick_user": {{2, Shape{Kind: Restuple, Name: "res", text: func(_ map[string]string, res any) string {
		return fmt.Sprintf("Kicked sessions: %d", res)
	}}}},
}

// ShapeOf is how the ejabberd API writes def's result in API version v;
// ok is false for a kind it has no encoding for.
func ShapeOf(def *commands.Def, v int) (Shape, bool) {
	if def == nil {
		return Shape{}, false
	}
	s, ok := byKind[def.Result.Kind]
	if !ok {
		return Shape{}, false
	}
	if s.Name == "" {
		s.Name = def.Result.Name
	}
	for _, l := range shapes[def.Names[commands.Ejabberd]] {
		if l.Since <= v {
			s = l.Shape
		}
	}
	return s, true
}
