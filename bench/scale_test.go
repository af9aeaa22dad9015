package bench

import (
	"fmt"
	"slices"
	"testing"

	"github.com/provision-dev/provision/spec"
)

// TestScalingSpecFits loads the scaling spec of each size: every one must
// be under spec.MaxSize and valid, with the services it names; the goals'
// size must be one of them.
func TestScalingSpecFits(t *testing.T) {
	if !slices.Contains(ScalingSizes, GoalServices) {
		t.Errorf("ScalingSizes %v do not include GoalServices (%d)", ScalingSizes, GoalServices)
	}
	for _, n := range ScalingSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := ScalingSpec(n)
			if len(data) > spec.MaxSize {
				t.Fatalf("%d services: %d bytes, over spec.MaxSize (%d)", n, len(data), spec.MaxSize)
			}
			sp, err := spec.Load("scaling.yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			if len(sp.Services) != n || sp.Services[n-1].Name != WorkerName(n) {
				t.Fatalf("%d services: loaded %d", n, len(sp.Services))
			}
			if got := len(sp.SudoersFiles()); got != n {
				t.Errorf("%d services: %d sudoers drop-ins, want one each", n, got)
			}
		})
	}
}
