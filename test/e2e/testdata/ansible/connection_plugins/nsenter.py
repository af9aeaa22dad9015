# An Ansible connection plugin for the end-to-end tests: it runs every
# command and copies every file inside a container, through nsenter into
# all the namespaces of the container's init, as the tests' own Exec does.
# Ansible then drives the containers as it drives hosts over SSH: modules
# are copied in and run there by the container's python3, and become runs
# the container's sudo.
from __future__ import annotations

import subprocess

from ansible.errors import AnsibleError
from ansible.plugins.connection import ConnectionBase

DOCUMENTATION = """
    name: nsenter
    short_description: run tasks inside a container with nsenter
    description:
      - Runs commands in the namespaces of a process (a container's init) on the controller.
    options:
      init_pid:
        description: The PID, on the controller, of the container's init.
        required: true
        vars:
          - name: ansible_nsenter_pid
"""

# The environment of everything run inside: nothing of the controller's.
ENV = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"]


class Connection(ConnectionBase):
    transport = "nsenter"
    has_pipelining = True

    def _argv(self, *args):
        return ["nsenter", "-t", str(self.get_option("init_pid")), "-a", "--"] + ENV + list(args)

    def _connect(self):
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        p = subprocess.run(self._argv("/bin/sh", "-c", cmd), input=in_data, capture_output=True)
        return p.returncode, p.stdout, p.stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        with open(in_path, "rb") as f:
            p = subprocess.run(self._argv("/bin/sh", "-c", 'cat > "$1"', "sh", out_path), stdin=f, capture_output=True)
        if p.returncode != 0:
            raise AnsibleError(f"put {in_path} to {out_path}: {p.stderr.decode(errors='replace')}")

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        p = subprocess.run(self._argv("cat", in_path), capture_output=True)
        if p.returncode != 0:
            raise AnsibleError(f"fetch {in_path}: {p.stderr.decode(errors='replace')}")
        with open(out_path, "wb") as f:
            f.write(p.stdout)

    def close(self):
        self._connected = False
