package commands

import (
	"regexp"
)

// Reference is what a front end says about its own API, for the commands
// that are about that API: OAuth scopes name its commands and tags, and the
// documentation commands write its reference. The ejabberd front end sets
// Call.Reference; a call without one knows only the scopes every API has.
type Reference interface {
	// Scope reports whether s names one of the API's commands or tags.
	Scope(s string) bool
	// Document renders the reference of the commands matching re (nil:
	// all), with JSON examples if asked (skipped names the example
	// languages it cannot show), or the index of tags.
	Document(kind DocKind, re *regexp.Regexp, examples bool, skipped []string) []byte
}

// DocKind is a document of a Reference.
type DocKind int

// The documents.
const (
	DocCommandsMarkdown DocKind = iota
	DocCommandsHTML
	DocTagsMarkdown
)

// document renders a document of the calling front end's reference.
func (c *Call) document(kind DocKind, re *regexp.Regexp, examples bool, skipped []string) ([]byte, error) {
	if c.Reference == nil {
		return nil, Errorf(NotImplemented, "", "", "%s documents an API, and this one has no reference", c.Def.Name)
	}
	return c.Reference.Document(kind, re, examples, skipped), nil
}
