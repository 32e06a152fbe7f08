// Command gendocs writes docs/commands.md from the command registry.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/xmppgate/xmppgate/commands"
)

func main() {
	out := flag.String("o", "docs/commands.md", "output file")
	flag.Parse()
	reg := commands.MustNew(commands.All()...)
	if err := os.WriteFile(*out, commands.Markdown(reg), 0o644); err != nil {
		log.Fatal(err)
	}
}
