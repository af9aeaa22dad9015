package steps

import (
	"context"
	"testing"
	"time"
)

// slowStep takes a while to check, and finds nothing to change.
type slowStep struct{ deps }

func (slowStep) ID() string { return "slow" }
func (slowStep) Check(context.Context, *Host) ([]Change, error) {
	time.Sleep(2 * time.Millisecond)
	return nil, nil
}
func (s slowStep) Apply(ctx context.Context, h *Host) ([]Change, error) { return s.Check(ctx, h) }

// Each result carries how long its step took.
func TestRunRecordsDuration(t *testing.T) {
	h, _ := testHost(t)
	res, err := Run(context.Background(), h, []Step{slowStep{}}, ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Duration < 2*time.Millisecond {
		t.Errorf("duration %v, want at least 2ms", res[0].Duration)
	}
}
