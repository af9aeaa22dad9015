// Package bench measures provision: Go benchmarks of the check phase (plan
// and no-op apply on a converged temporary root, with the service manager
// faked), and, in bench/run, wall time and peak memory of provision against
// a hand-written shell script (sidekiq.sh) and an Ansible playbook
// (sidekiq.yml) doing the same job in real systemd containers.
//
// This file holds what both share: the specs of the scaling runs.
package bench

import (
	"fmt"
	"strings"
)

// ScalingSpec returns a spec like the reference example with n services
// instead of one: the deploy user, the app's directories and .env, and
// services worker-001 ... worker-NNN, each with the example's unit fields
// and sudo shorthand, so each service is one unit file and one sudoers
// drop-in.
func ScalingSpec(n int) []byte {
	var b strings.Builder
	b.WriteString(`users:
  - name: deploy
    shell: /bin/bash
directories:
  - {path: /data, mode: "0755"}
  - {path: /data/apps, mode: "0755"}
  - {path: /data/apps/outmuscleme, owner: deploy, group: deploy, mode: "0755"}
  - {path: /data/apps/outmuscleme/shared, owner: deploy, group: deploy, mode: "0750"}
files:
  - {path: /data/apps/outmuscleme/shared/.env, owner: deploy, group: deploy, mode: "0600"}
services:
`)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `  - name: %s
    description: Outmuscle Me worker %d
    after: [syslog.target, network.target]
    working_directory: /data/apps/outmuscleme/current
    user: deploy
    group: deploy
    environment: {RBENV_ROOT: /usr/local/rbenv}
    environment_file: /data/apps/outmuscleme/shared/.env
    exec_start: /usr/local/rbenv/bin/rbenv exec bundle exec sidekiq -e production -q queue%d
    restart_sec: 1
    restart: on-failure
    wanted_by: [multi-user.target]
    sudo: {group: deploy, allow: [restart, quiet]}
`, WorkerName(i), i, i)
	}
	return []byte(b.String())
}

// WorkerName is the name of the i-th service (from 1) of ScalingSpec.
func WorkerName(i int) string { return fmt.Sprintf("worker-%03d", i) }

// ScalingSizes are the numbers of services of the scaling runs. The
// largest spec, some 520 KB, stays under spec.MaxSize (TestScalingSpecFits).
var ScalingSizes = []int{1, 10, 100, 1000}

// GoalServices is the size of the scaling spec that the goals for many
// services are set for.
const GoalServices = 100
