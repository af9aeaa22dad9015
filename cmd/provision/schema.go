package main

import (
	"fmt"
	"io"

	"github.com/provision-dev/provision/spec"
)

const schemaHelp = `Usage: provision schema

Print the JSON Schema (draft 2020-12) of the spec, for editors that check
provision.yaml as it is written. With the YAML language server (VS Code's
YAML extension, and others), save it and name it at the top of the spec:

  provision schema > provision.schema.json

  # yaml-language-server: $schema=provision.schema.json

The schema states types, allowed values, patterns and required fields;
"provision validate" checks everything.
`

// printSchema is "provision schema": it takes no flags or arguments.
func printSchema(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			fmt.Fprint(stdout, schemaHelp)
			return exitOK
		}
		fmt.Fprintf(stderr, "provision schema: unexpected argument %q\n\n%s", args[0], schemaHelp)
		return exitInvalid
	}
	if _, err := stdout.Write(spec.Schema()); err != nil {
		fmt.Fprintf(stderr, "provision schema: %v\n", err)
		return exitFailed
	}
	return exitOK
}
