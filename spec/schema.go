package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// fieldDoc is what the JSON Schema says about one yaml key of the model,
// beyond its type, which comes from the Go field: what it means, its
// default, and the constraints of validate that a schema can state.
type fieldDoc struct {
	desc string
	// def is the JSON default, for a default that does not depend on
	// other fields; others are told in desc.
	def      any
	required bool
	// value holds keywords added to the value's schema, items those
	// added to the schema of a list's items.
	value, items map[string]any
}

// Shared definitions: the patterns are those of the matchers validate
// uses (RE2 and ECMA-262 read them alike), so a schema and Load agree.
// The schema's maps are made when it is asked for, not at every start.
const (
	// pathPart is a path component other than "." and "..", written
	// without look-ahead, which RE2 lacks.
	pathPart    = `([^/.][^/]*|\.[^/.][^/]*|\.\.[^/]+)`
	absPathBody = `/(` + pathPart + `(/` + pathPart + `)*)?$`
)

func sharedDefs() map[string]any {
	nameDef := map[string]any{
		"type": "string", "pattern": namePattern, "maxLength": maxNameLen,
		"description": "a user or group name: a lowercase letter or _, then lowercase letters, digits, _ and -, optionally ending in $; at most 32 characters",
	}
	absPathDef := map[string]any{
		"type": "string", "pattern": "^" + absPathBody, "maxLength": maxPathLen,
		"description": "an absolute, clean path: no . or .. components, no doubled or trailing /",
	}
	unitNameDef := map[string]any{
		"type": "string", "pattern": unitNamePattern, "maxLength": maxUnitNameLen,
		"description": "a systemd unit name with its type, such as network.target or redis-server.service",
	}
	modeDef := map[string]any{
		"type":        []string{"string", "integer"},
		"pattern":     `^(0[oO])?[0-7]{3,4}$`,
		"not":         map[string]any{"type": "string", "pattern": `^(0[oO])?0+$`},
		"minimum":     1,
		"maximum":     7777,
		"description": `an octal mode of three or four digits, such as "0640"; the digits are octal whether quoted or not and with or without the leading 0 (0640, "0640", 640 and 0o640 are one mode). Quote it: YAML readers differ on unquoted 0640`,
	}
	return map[string]any{"name": nameDef, "absolutePath": absPathDef, "unitName": unitNameDef, "mode": modeDef}
}

// textValue is a value written as given: Load reads any YAML scalar as
// the text it is written with (3000, true, 1.10).
func textValue() map[string]any {
	return map[string]any{"type": []string{"string", "number", "boolean"}}
}

func ref(def string) map[string]any { return map[string]any{"$ref": "#/$defs/" + def} }

// fieldDocs documents every yaml key of the model, as TYPE.KEY; a test
// checks that it names each key and nothing else.
var fieldDocs = sync.OnceValue(func() map[string]fieldDoc {
	return map[string]fieldDoc{
		"Spec.users":       {desc: "local accounts, each created with its primary group"},
		"Spec.directories": {desc: "directories with owner, group and mode; parents are not created unless listed (in any order)"},
		"Spec.files":       {desc: "regular files with owner, group, mode and optionally content"},
		"Spec.services":    {desc: "systemd services written to /etc/systemd/system/NAME.service"},
		"Spec.sudoers":     {desc: "drop-in files written to /etc/sudoers.d/NAME, checked with visudo"},
		"Spec.dropins":     {desc: "drop-ins for units, written to /etc/systemd/system/UNIT.d/NAME.conf: for units provision does not own (redis-server.service) or for its services"},

		"Dropin.unit":    {desc: "the unit the drop-in is for, with its type", required: true, value: ref("unitName")},
		"Dropin.name":    {desc: "the drop-in's file name, without .conf", required: true},
		"Dropin.options": {desc: "its settings, as {section, name, value}, written in order of section"},
		"Dropin.content": {desc: "its whole text, verbatim, instead of options"},
		"Dropin.state":   presenceDoc("the drop-in"),
		"Dropin.restart": {desc: "restart the unit, if it runs, when the drop-in changed (false: only reload systemd)", def: true},

		"User.name":            {desc: "the account name", required: true, value: ref("name")},
		"User.group":           {desc: "primary group, created if missing; default: the user's name", value: ref("name")},
		"User.groups":          {desc: "supplementary groups, which must exist or be created by the spec; the list is exact (other memberships are removed); left out, an existing account keeps its own", value: map[string]any{"uniqueItems": true}, items: ref("name")},
		"User.home":            {desc: "home directory, created as useradd -m does (also when it is missing) and never moved; left out, an existing account keeps its own, a new one gets /home/NAME (a system user: none)", value: ref("absolutePath")},
		"User.shell":           {desc: "login shell; left out, an existing account keeps its own, a new one gets /bin/bash (a system user: /usr/sbin/nologin)", value: ref("absolutePath")},
		"User.system":          {desc: "a system account (useradd --system)", def: false},
		"User.state":           presenceDoc("the account (absent: userdel, refused while the user has processes; the home stays unless remove_home)"),
		"User.remove_home":     {desc: "with state: absent, remove the home too (userdel -r)", def: false},
		"User.authorized_keys": {desc: "when given, the whole of ~/.ssh/authorized_keys, one public key line each; [] leaves no key (the file is emptied); left out, the file is not managed", items: map[string]any{"pattern": `\S+\s+\S+`}},

		"Directory.path":  {desc: "the directory", required: true, value: ref("absolutePath")},
		"Directory.owner": {desc: "owning user; it must exist or be created by the spec", def: DefaultOwner, value: ref("name")},
		"Directory.group": {desc: "owning group; it must exist or be created by the spec", def: DefaultOwner, value: ref("name")},
		"Directory.mode":  {desc: "permissions; setgid and sticky allowed, setuid not", def: DefaultDirMode.String()},
		"Directory.state": presenceDoc("the directory (absent: removed when empty, never recursively)"),

		"File.path":    {desc: "the file; its directory must exist or be listed", required: true, value: ref("absolutePath")},
		"File.owner":   {desc: "owning user; it must exist or be created by the spec", def: DefaultOwner, value: ref("name")},
		"File.group":   {desc: "owning group; it must exist or be created by the spec", def: DefaultOwner, value: ref("name")},
		"File.mode":    {desc: "permissions; no setuid, setgid or sticky bit", def: DefaultFileMode.String()},
		"File.content": {desc: "the whole content; when left out, the file is created empty if missing and its content never touched (for a .env another tool fills)"},
		"File.state":   presenceDoc("the file"),

		"Service.name":              {desc: "the unit name without .service", required: true, value: map[string]any{"pattern": serviceNamePattern, "maxLength": maxUnitNameLen - len(".service"), "not": map[string]any{"type": "string", "pattern": unitNamePattern}}},
		"Service.description":       {desc: "[Unit] Description=", value: textValue()},
		"Service.after":             {desc: "[Unit] After=", items: ref("unitName")},
		"Service.wants":             {desc: "[Unit] Wants=", items: ref("unitName")},
		"Service.type":              {desc: "[Service] Type=; systemd's default is simple. A Sidekiq 6+ worker wants notify", value: map[string]any{"enum": typeValues}},
		"Service.working_directory": {desc: "[Service] WorkingDirectory=", value: ref("absolutePath")},
		"Service.user":              {desc: "[Service] User=", value: ref("name")},
		"Service.group":             {desc: "[Service] Group=", value: ref("name")},
		"Service.environment":       {desc: "[Service] Environment=, one line per variable, quoted so that systemd reads back the value as written", value: map[string]any{"propertyNames": map[string]any{"pattern": envNamePattern}, "additionalProperties": textValue()}},
		"Service.environment_file":  {desc: "[Service] EnvironmentFile=; prefix it with - to allow a missing file", value: map[string]any{"pattern": "^-?" + absPathBody, "maxLength": maxPathLen + 1}},
		"Service.exec_start":        {desc: "[Service] ExecStart=; required unless unit is given"},
		"Service.restart":           {desc: "[Service] Restart=", value: map[string]any{"enum": restartValues}},
		"Service.restart_sec":       {desc: "[Service] RestartSec=: a number of seconds or a systemd time span such as 500ms or 1min 30s", value: map[string]any{"type": []string{"string", "number"}, "pattern": timeSpanPattern, "minimum": 0}},
		"Service.syslog_identifier": {desc: "[Service] SyslogIdentifier="},
		"Service.wanted_by":         {desc: "[Install] WantedBy=", def: []string{DefaultWantedBy}, items: ref("unitName")},
		"Service.options":           {desc: "other unit settings, each one line of its section, written after the fields above"},
		"Service.unit":              {desc: "the whole unit file, verbatim, instead of the structured fields"},
		"Service.allow_dropins":     {desc: "let drop-ins the spec does not write (NAME.service.d/*.conf, from systemctl edit or a package) change the service; without it they are drift and apply fails on them", def: false},
		"Service.privileged_exec":   {desc: "allow Exec*= command lines that start with +, ! or !!, which systemd runs as root whatever user says", def: false},
		"Service.instances":         {desc: "run the unit as a template NAME@.service with the instances NAME@1 to NAME@N (%i is the instance number); left out, a plain NAME.service", value: map[string]any{"minimum": 1, "maximum": MaxInstances}},
		"Service.enabled":           {desc: "enabled at boot, or disabled", def: true},
		"Service.state":             {desc: "the runtime state to keep; left out, the service is neither started nor stopped (but restarted when its unit changed while it runs)", value: map[string]any{"enum": states}},
		"Service.sudo":              {desc: "a sudoers drop-in letting a user or group run fixed systemctl commands on this service without a password"},

		"UnitOption.section": {desc: "Unit, Service, Install, or X-NAME for a section systemd ignores", required: true, value: map[string]any{"pattern": "^(" + sectionUnit + "|" + sectionService + "|" + sectionInstall + "|X-" + strings.Trim(unitKeyPattern, "^$") + ")$"}},
		"UnitOption.name":    {desc: "the setting, such as LimitNOFILE", required: true, value: map[string]any{"pattern": unitKeyPattern}},
		"UnitOption.value":   {desc: "the value, written as given", value: textValue()},

		"ServiceSudo.file":  {desc: "the drop-in's name under /etc/sudoers.d; default: NAME-users", value: map[string]any{"pattern": sudoersNamePattern, "maxLength": maxSudoersNameLen}},
		"ServiceSudo.user":  {desc: "the user who may run the commands (set user or group, not both)", value: ref("name")},
		"ServiceSudo.group": {desc: "the group whose members may run the commands (set user or group, not both)", value: ref("name")},
		"ServiceSudo.allow": {desc: "the commands, as root without password: start, stop, restart, status, reload (/bin/systemctl VERB NAME) and quiet (/bin/systemctl kill -s TSTP NAME); sudo allows exactly these arguments. Required unless for is given", value: map[string]any{"minItems": 1, "uniqueItems": true}, items: map[string]any{"enum": sudoVerbs}},
		"ServiceSudo.for":   {desc: "a deploy tool whose commands to allow as it spells them: capistrano-sidekiq (releases 2.3 and 3.x in system mode); combines with allow", value: map[string]any{"enum": sudoPresets}},

		"Sudoers.name":  {desc: "the file name under /etc/sudoers.d: letters, digits, _ and - (sudo skips names with a dot or ending in ~)", required: true, value: map[string]any{"pattern": sudoersNamePattern, "maxLength": maxSudoersNameLen}},
		"Sudoers.rules": {desc: "the rules, one line per command; required unless state is absent", value: map[string]any{"minItems": 1}},
		"Sudoers.state": presenceDoc("the drop-in (absent: removed, and put back if sudo's configuration is invalid without it)"),

		"SudoersRule.who":       {desc: "a user name, or %group", required: true, value: map[string]any{"pattern": "^%?" + strings.TrimPrefix(namePattern, "^")}},
		"SudoersRule.run_as":    {desc: "the user the commands run as; default: root", value: ref("name")},
		"SudoersRule.nopasswd":  {desc: "run without asking for a password", def: false},
		"SudoersRule.unchecked": {desc: "allow programs provision does not know to be safe as root (it knows systemctl, systemd-cgls and journalctl); warned about on every run. Programs known to run others or to write any file are refused regardless", def: false},
		"SudoersRule.exec":      {desc: "let the commands run other programs: without it each line has sudo's NOEXEC tag", def: false},
		"SudoersRule.commands":  {desc: "absolute program paths with their exact arguments (letters, digits, spaces and _ . / @ % + - ~); a command without arguments is allowed only without arguments. The program is judged as the binary it resolves to: shells, editors, pagers, interpreters, programs that run others or write files are refused, unknown ones need unchecked", required: true, value: map[string]any{"minItems": 1}, items: map[string]any{"pattern": `^ */[A-Za-z0-9_./@%+~ -]*$`}},
	}
})

// unitKeys are the Service keys that may go with a verbatim unit; every
// other key is a structured field (see structuredFields).
var unitKeys = []string{"name", "unit", "instances", "enabled", "state", "sudo", "privileged_exec", "allow_dropins"}

// presenceDoc documents the state of something that is to exist or not.
func presenceDoc(what string) fieldDoc {
	return fieldDoc{desc: "present (the default) or absent: " + what + " is removed", value: map[string]any{"enum": []string{"present", "absent"}}}
}

var modelType = reflect.TypeFor[Spec]()

// Schema returns the JSON Schema (draft 2020-12) of a spec, indented and
// ending in a newline, for editors to check provision.yaml as it is
// written, for instance with the YAML language server's
//
//	# yaml-language-server: $schema=provision.schema.json
//
// It is made from the model's types, the yaml keys provision reads, and
// the constraints Load checks that a schema can express: types, enums,
// patterns, required fields, no unknown keys. Load checks more (names
// defined elsewhere in the spec, duplicates, sudoers commands that give a
// root shell); and where Load reads a key with no value (null) as left
// out, the schema wants it left out.
func Schema() []byte {
	defs := sharedDefs()
	root := objectSchema(modelType, defs)
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["title"] = "provision spec"
	root["description"] = "The YAML spec provision converges a host to: users, directories, files, systemd services and sudoers drop-ins."
	root["$defs"] = defs
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		panic(fmt.Sprintf("spec: encode schema: %v", err))
	}
	return b.Bytes()
}

// objectSchema is the schema of a struct of the model: an object with one
// property per yaml key and no other.
func objectSchema(t reflect.Type, defs map[string]any) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		doc, ok := fieldDocs()[t.Name()+"."+key]
		if !ok {
			panic(fmt.Sprintf("spec: %s.%s has no fieldDocs entry", t.Name(), key))
		}
		s := typeSchema(f.Type, defs)
		if doc.items != nil {
			maps.Copy(s["items"].(map[string]any), doc.items)
		}
		maps.Copy(s, doc.value)
		s["description"] = doc.desc
		if doc.def != nil {
			s["default"] = doc.def
		}
		props[key] = s
		if doc.required {
			required = append(required, key)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	switch t {
	case reflect.TypeFor[Service]():
		// Either the verbatim unit or the structured fields, with
		// exec_start.
		structured := map[string]any{}
		for key := range props {
			if !slices.Contains(unitKeys, key) {
				structured[key] = false
			}
		}
		absent := map[string]any{"required": []string{"state"}, "properties": map[string]any{"state": map[string]any{"const": "absent"}}}
		s["if"] = map[string]any{"required": []string{"unit"}}
		s["then"] = map[string]any{"properties": structured}
		s["else"] = map[string]any{"if": absent, "else": map[string]any{"required": []string{"exec_start"}}}
	case reflect.TypeFor[Sudoers]():
		absent := map[string]any{"required": []string{"state"}, "properties": map[string]any{"state": map[string]any{"const": "absent"}}}
		s["if"] = absent
		s["else"] = map[string]any{"required": []string{"rules"}}
	case reflect.TypeFor[ServiceSudo]():
		s["oneOf"] = []any{
			map[string]any{"required": []string{"user"}},
			map[string]any{"required": []string{"group"}},
		}
		s["anyOf"] = []any{
			map[string]any{"required": []string{"allow"}},
			map[string]any{"required": []string{"for"}},
		}
	}
	return s
}

// typeSchema is the schema of a Go type of the model; structs go to defs
// and are referred to.
func typeSchema(t reflect.Type, defs map[string]any) map[string]any {
	if t == modeType {
		return ref("mode")
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem(), defs)
	case reflect.Struct:
		if _, ok := defs[t.Name()]; !ok {
			defs[t.Name()] = nil // a placeholder while it is made
			defs[t.Name()] = objectSchema(t, defs)
		}
		return ref(t.Name())
	case reflect.Slice:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), defs)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), defs)}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	}
	panic(fmt.Sprintf("spec: no schema for %s", t))
}
