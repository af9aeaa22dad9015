package spec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// modelKeys lists TYPE.KEY for every yaml key of every struct reachable
// from Spec.
func modelKeys() []string {
	var keys []string
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" {
				continue
			}
			keys = append(keys, t.Name()+"."+key)
			walk(f.Type)
		}
	}
	walk(modelType)
	sort.Strings(keys)
	return keys
}

// The schema is made from the Go types, so its properties are the keys
// Load reads; what it says about each comes from fieldDocs, which must
// name every key, and no key that is gone.
func TestSchemaDocumentsEveryKey(t *testing.T) {
	keys := modelKeys()
	for _, k := range keys {
		doc, ok := fieldDocs()[k]
		if !ok {
			t.Errorf("fieldDocs has no entry for %s", k)
		} else if doc.desc == "" {
			t.Errorf("fieldDocs[%q] has no description", k)
		}
	}
	for k := range fieldDocs() {
		if !slices.Contains(keys, k) {
			t.Errorf("fieldDocs documents %s, which is not a key of the model", k)
		}
	}
	// And the schema holds them all, every object closed.
	var doc map[string]any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	defs := doc["$defs"].(map[string]any)
	for _, k := range keys {
		typ, key, _ := strings.Cut(k, ".")
		obj := doc
		if typ != "Spec" {
			obj = defs[typ].(map[string]any)
		}
		if obj["additionalProperties"] != false {
			t.Errorf("%s allows unknown keys", typ)
		}
		if _, ok := obj["properties"].(map[string]any)[key]; !ok {
			t.Errorf("the schema of %s lacks %s", typ, key)
		}
	}
}

// The schema's "unit or structured fields" rule uses unitKeys; validate
// uses structuredFields. Every Service key is in exactly one of them.
func TestSchemaUnitKeys(t *testing.T) {
	var s Service
	v := reflect.ValueOf(&s).Elem()
	var all []string
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		all = append(all, key)
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
			f.SetMapIndex(reflect.ValueOf("X"), reflect.ValueOf("x"))
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Int:
			f.SetInt(1)
		case reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("set %s: unexpected kind %s", key, f.Kind())
		}
	}
	got := append(structuredFields(s), unitKeys...)
	sort.Strings(got)
	sort.Strings(all)
	if !slices.Equal(got, all) {
		t.Errorf("structuredFields and unitKeys give %q, want each Service key once: %q", got, all)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("provision.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("provision.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile (or does not meet the 2020-12 meta-schema): %v", err)
	}
	return sch
}

// yamlInstance reads YAML as an editor's YAML support hands it to a JSON
// Schema validator: as JSON values.
func yamlInstance(t *testing.T, input string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(input), &v); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// Every spec Load accepts in the tests, the shipped example included, is
// valid against the schema.
func TestSchemaAcceptsValidSpecs(t *testing.T) {
	sch := compileSchema(t)
	inputs := map[string]string{}
	for _, file := range []string{"../examples/sidekiq/provision.yaml", "testdata/sidekiq.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		inputs[file] = string(data)
	}
	for name, input := range validSpecs {
		if input != "" {
			inputs[name] = input
		}
	}
	for name, input := range inputs {
		if _, err := Load(name, []byte(input)); err != nil {
			t.Fatalf("%s does not load: %v", name, err)
		}
		if err := sch.Validate(yamlInstance(t, input)); err != nil {
			t.Errorf("%s is invalid against the schema: %v", name, err)
		}
	}
}

// Specs Load refuses for a reason a schema can state are refused by the
// schema too.
func TestSchemaRefusesInvalidSpecs(t *testing.T) {
	sch := compileSchema(t)
	for _, tt := range []struct {
		name, input string
	}{
		// A typo is an unknown key, at every level.
		{"unknown top key", "user: []\n"},
		{"unknown service key", svc + "    WorkingDirectory: /srv\n"},
		{"unknown option key", svc + "    options: [{section: Service, name: A, valeu: b}]\n"},
		// Enums.
		{"restart", svc + "    restart: sometimes\n"},
		{"type", svc + "    type: daemon\n"},
		{"state", svc + "    state: running\n"},
		{"sudo verb", svc + "    sudo: {group: deploy, allow: [edit]}\n"},
		// Required fields and the unit/structured split.
		{"no exec_start", "services:\n  - name: web\n"},
		{"no user name", "users: [{shell: /bin/sh}]\n"},
		{"unit and exec_start", "services:\n  - name: web\n    exec_start: /bin/web\n    unit: \"[Service]\\nExecStart=/bin/web\\n\"\n"},
		{"sudo without who", svc + "    sudo: {allow: [restart]}\n"},
		{"sudo user and group", svc + "    sudo: {user: a, group: b, allow: [restart]}\n"},
		{"sudo allow empty", svc + "    sudo: {group: deploy, allow: []}\n"},
		{"sudoers without rules", "sudoers: [{name: x, rules: []}]\n"},
		// Patterns.
		{"user name", "users: [{name: Deploy}]\n"},
		{"relative path", "directories: [{path: srv/app}]\n"},
		{"dot dot path", "directories: [{path: /srv/../etc}]\n"},
		{"trailing slash", "files: [{path: /srv/app/}]\n"},
		{"mode digits", "files: [{path: /srv/a, mode: \"0789\"}]\n"},
		{"mode zero", "files: [{path: /srv/a, mode: \"0000\"}]\n"},
		{"mode too big", "files: [{path: /srv/a, mode: 77777}]\n"},
		{"service suffix", "services: [{name: web.service, exec_start: /bin/web}]\n"},
		{"template", "services: [{name: \"web@1\", exec_start: /bin/web}]\n"},
		{"unit name", svc + "    after: [network]\n"},
		{"env name", svc + "    environment: {1X: a}\n"},
		{"restart_sec", svc + "    restart_sec: soon\n"},
		{"negative restart_sec", svc + "    restart_sec: -1\n"},
		{"section", svc + "    options: [{section: service, name: A, value: b}]\n"},
		{"sudoers file", svc + "    sudo: {group: deploy, allow: [restart], file: web.conf}\n"},
		{"who", "sudoers: [{name: x, rules: [{who: \"@ops\", commands: [/bin/true]}]}]\n"},
		{"relative command", "sudoers: [{name: x, rules: [{who: ops, commands: [systemctl restart web]}]}]\n"},
		{"command with a wildcard", "sudoers: [{name: x, rules: [{who: ops, commands: [\"/bin/systemctl restart *\"]}]}]\n"},
		// Types.
		{"list for a string", svc + "    description: [a, b]\n"},
		{"string for a list", svc + "    after: network.target\n"},
		{"string for a bool", svc + "    enabled: \"yes\"\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load("t.yaml", []byte(tt.input)); err == nil {
				t.Fatalf("Load accepts the spec; the case is wrong")
			}
			if err := sch.Validate(yamlInstance(t, tt.input)); err == nil {
				t.Errorf("the schema accepts:\n%s", tt.input)
			}
		})
	}
}

// spec/schema.json is Schema's output, kept for editors that point at a
// file; go test ./spec -update rewrites it.
func TestSchemaFile(t *testing.T) {
	const file = "schema.json"
	if *update {
		if err := os.WriteFile(file, Schema(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, Schema()) {
		t.Errorf("%s is not Schema()'s output: run go test ./spec -run TestSchemaFile -update", file)
	}
}
