package spec

import (
	"errors"
	"os"
	"testing"

	"github.com/hashicorp/go-multierror"
)

// FuzzLoad feeds Load any input. It must not panic; its errors are *Error
// in a *multierror.Error; and when a spec loads, what it renders reads back:
// each unit through go-systemd's parser to the same options, each sudoers
// file with one rule line per command, and visudo -cf accepts every sudoers
// file (when visudo is installed).
func FuzzLoad(f *testing.F) {
	sidekiq, err := os.ReadFile("testdata/sidekiq.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sidekiq)
	for _, spec := range validSpecs {
		if spec != "" {
			f.Add([]byte(spec))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load("fuzz.yaml", data)
		if err != nil {
			if s != nil {
				t.Fatal("Load returned a spec with its errors")
			}
			var merr *multierror.Error
			if !errors.As(err, &merr) || len(merr.Errors) == 0 {
				t.Fatalf("Load error is %T: %v", err, err)
			}
			for _, e := range merr.Errors {
				var se *Error
				if !errors.As(e, &se) || se.Msg == "" {
					t.Fatalf("Load error %q is %T", e, e)
				}
			}
			return
		}
		checkRendered(t, s)
		checkVisudo(t, s)
	})
}
