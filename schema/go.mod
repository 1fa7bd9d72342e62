module github.com/rbee-keeper/daemoncontract/schema

go 1.27.0

toolchain go1.27.3

require (
	github.com/rbee-keeper/daemoncontract v0.0.0
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
)

require golang.org/x/text v0.14.0 // indirect

replace github.com/rbee-keeper/daemoncontract => ../
