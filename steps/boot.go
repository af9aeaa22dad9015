package steps

import "context"

// bootNote says why a start or restart made while the system boots is
// queued and not waited for.
const bootNote = "the system is still booting, and the unit may be ordered after the boot job that runs provision"

// booting reports whether the system is still booting, in which case
// starts and restarts are queued and not waited for.
//
// provision is often run during boot: from cloud-init's runcmd, which runs
// in cloud-final.service, or from a unit of its own. systemd runs a start
// job only once the jobs of the units it is ordered after are done, and
// the boot job provision runs in is done only when provision exits. Waiting
// for the start of a unit ordered after it (After=cloud-final.service,
// After=cloud-init.target, or after anything that waits for them) would
// hang the boot for good: cloud-final.service has no timeout. Which units
// those are cannot be told reliably from their After= lines alone, so
// while systemd's boot transaction is not finished no start is waited for:
// the job is queued, reported as such, and runs when its turn comes. A
// failure then shows in the unit's state and journal, and in the next run
// of provision, which waits again once the system is up.
//
// The system state is read once per run.
func (e *Env) booting(ctx context.Context) (bool, error) {
	if e.run.system == "" {
		st, err := e.Host.Systemd.SystemState(ctx)
		if err != nil {
			return false, err
		}
		e.run.system = st
	}
	return e.run.system.Booting(), nil
}
