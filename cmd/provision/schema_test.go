package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/provision-dev/provision/spec"
)

func TestSchemaCommand(t *testing.T) {
	code, out, errOut := runCmd(t, "", "schema")
	if code != exitOK || errOut != "" {
		t.Fatalf("schema = %d, stderr %q", code, errOut)
	}
	if !bytes.Equal([]byte(out), spec.Schema()) {
		t.Errorf("schema does not print spec.Schema()")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", doc["$schema"])
	}

	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout or stderr
	}{
		{[]string{"schema", "-h"}, exitOK, "yaml-language-server: $schema="},
		{[]string{"schema", "-f", example}, exitInvalid, `unexpected argument "-f"`},
		{[]string{"--help"}, exitOK, "schema    print the JSON Schema of the spec"},
	} {
		code, out, errOut := runCmd(t, "", tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("provision %q = %d, %q %q; want %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}
