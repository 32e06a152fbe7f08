module github.com/xmppgate/xmppgate

go 1.26.8

require (
	github.com/mattn/go-sqlite3 v1.14.24
	github.com/stretchr/testify v1.9.0
	golang.org/x/text v0.43.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
