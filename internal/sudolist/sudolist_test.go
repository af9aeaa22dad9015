package sudolist

import "testing"

// The listing as sudo 1.9 prints it.
const listing = `Matching Defaults entries for deploy on vm:
    env_reset, secure_path=/usr/local/sbin\:/usr/local/bin\:/usr/sbin\:/usr/bin\:/sbin\:/bin

User deploy may run the following commands on vm:

Sudoers entry:
    RunAsUsers: root
    Commands:
	/bin/true

Sudoers entry:
    RunAsUsers: root
    Options: !authenticate
    Commands:
	/bin/systemctl restart sidekiq
	/bin/systemctl kill -s TSTP sidekiq
`

func TestParseAndFind(t *testing.T) {
	entries := Parse(listing)
	if len(entries) != 2 || entries[0].NoPassword || !entries[1].NoPassword || len(entries[1].Commands) != 2 || entries[1].RunAs[0] != "root" {
		t.Fatalf("entries %+v", entries)
	}
	if !Literal(entries) {
		t.Error("literal commands read as not literal")
	}
	if e, ok := Find(entries, []string{"/bin/systemctl", "kill", "-s", "TSTP", "sidekiq"}, ""); !ok || !e.NoPassword {
		t.Errorf("kill: %+v %v", e, ok)
	}
	if _, ok := Find(entries, []string{"/bin/systemctl", "stop", "sidekiq"}, ""); ok {
		t.Error("stop found")
	}
	if _, ok := Find(entries, []string{"/bin/true"}, "postgres"); ok {
		t.Error("found for another run-as user")
	}
	for _, c := range []string{"!/bin/systemctl kill -s TSTP sidekiq", "ALL", "/bin/systemctl restart *"} {
		if Literal(append(Parse(listing), Entry{RunAs: []string{"root"}, Commands: []string{c}})) {
			t.Errorf("%q read as literal", c)
		}
	}
}
