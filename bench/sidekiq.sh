#!/bin/sh
# The reference Sidekiq host (examples/sidekiq/provision.yaml) as a
# hand-written, idempotent shell script: the baseline provision is measured
# against by bench/run. It does the same job as `provision apply` on that
# example: the deploy user and group, the app's directories and .env, the
# unit file (enabled, not started) and the sudoers drop-in checked by
# visudo. Every item is checked first and changed only when it differs, so
# a second run changes nothing; systemd is reloaded once, and only when the
# unit file changed. The files get the bytes provision renders, so that all
# tools are checked against one expected state.
#
# Prints one line per change and a recap: "sidekiq.sh: N changed".
set -eu
umask 022

changed=0
say() {
	echo "changed  $*"
	changed=$((changed + 1))
}

# ensure_dir PATH OWNER GROUP MODE
ensure_dir() {
	if [ ! -d "$1" ] || [ -L "$1" ]; then
		if [ -e "$1" ] || [ -L "$1" ]; then
			echo "sidekiq.sh: $1 exists and is not a directory" >&2
			exit 1
		fi
		mkdir -m "$4" "$1"
		chown "$2:$3" "$1"
		say "directory $1"
		return
	fi
	fix_owner_mode "$1" "$2" "$3" "$4" "directory"
}

# fix_owner_mode PATH OWNER GROUP MODE KIND
fix_owner_mode() {
	if [ "$(stat -c '%U:%G %a' "$1")" != "$2:$3 ${4#0}" ]; then
		chown "$2:$3" "$1"
		chmod "$4" "$1"
		say "$5 $1 (owner, mode)"
	fi
}

# ensure_content PATH OWNER GROUP MODE VALIDATE < CONTENT
# Replaces PATH atomically when its content differs. The new content goes
# to a temporary file in the same directory, whose name contains a "." so
# that sudo ignores it, and VALIDATE (if not empty) is run on it first.
# Sets content_changed=1 when it wrote the file.
ensure_content() {
	content_changed=0
	content=
	while IFS= read -r line; do
		content="$content$line
"
	done
	if [ -f "$1" ] && [ ! -L "$1" ] && printf '%s' "$content" | cmp -s - "$1"; then
		fix_owner_mode "$1" "$2" "$3" "$4" "file"
		return
	fi
	tmp="$(dirname "$1")/.$(basename "$1").new.$$"
	printf '%s' "$content" > "$tmp"
	if [ -n "$5" ] && ! $5 "$tmp" >/dev/null; then
		rm -f "$tmp"
		echo "sidekiq.sh: $1: rejected by ${5%% *}, not installed" >&2
		exit 1
	fi
	chown "$2:$3" "$tmp"
	chmod "$4" "$tmp"
	mv -f "$tmp" "$1"
	content_changed=1
	say "file $1"
}

# The deploy group and user.
if ! getent group deploy >/dev/null; then
	groupadd deploy
	say "group deploy"
fi
if ! entry=$(getent passwd deploy); then
	useradd -g deploy -s /bin/bash -d /home/deploy -m deploy
	say "user deploy"
else
	IFS=: read -r _ _ _ gid _ home shell <<-EOF
	$entry
	EOF
	IFS=: read -r _ _ want_gid _ <<-EOF
	$(getent group deploy)
	EOF
	if [ "$gid:$home:$shell" != "$want_gid:/home/deploy:/bin/bash" ]; then
		usermod -g deploy -d /home/deploy -s /bin/bash deploy
		say "user deploy (gid $gid, home $home, shell $shell)"
	fi
fi

# The app's directories and its .env, which the deploy tool fills: created
# empty when missing, its content never touched.
ensure_dir /data root root 0755
ensure_dir /data/apps root root 0755
ensure_dir /data/apps/outmuscleme deploy deploy 0755
ensure_dir /data/apps/outmuscleme/shared deploy deploy 0750
env=/data/apps/outmuscleme/shared/.env
if [ ! -e "$env" ] && [ ! -L "$env" ]; then
	install -m 0600 -o deploy -g deploy /dev/null "$env"
	say "file $env"
else
	fix_owner_mode "$env" deploy deploy 0600 "file"
fi

# The sudoers drop-in: checked alone, installed, then the whole
# configuration checked again; on failure the drop-in is removed.
ensure_content /etc/sudoers.d/sidekiq-users root root 0440 "/usr/sbin/visudo -cq -f" <<'EOF'
# Managed by provision. Local changes will be overwritten.
%deploy ALL= NOPASSWD: /bin/systemctl restart sidekiq
%deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP sidekiq
EOF
if [ "$content_changed" = 1 ] && ! /usr/sbin/visudo -cq >/dev/null; then
	rm -f /etc/sudoers.d/sidekiq-users
	echo "sidekiq.sh: sudo configuration rejected with sidekiq-users; removed it" >&2
	exit 1
fi

# The unit: reloaded only when it changed, enabled (not started).
ensure_content /etc/systemd/system/sidekiq.service root root 0644 "" <<'EOF'
# Managed by provision. Local changes will be overwritten.
[Unit]
Description=Outmuscle Me Production Sidekiq
After=syslog.target network.target

[Service]
WorkingDirectory=/data/apps/outmuscleme/current
User=deploy
Group=deploy
Environment=RBENV_ROOT=/usr/local/rbenv
EnvironmentFile=/data/apps/outmuscleme/shared/.env
ExecStart=/usr/local/rbenv/bin/rbenv exec bundle exec sidekiq -e production
RestartSec=1
Restart=on-failure
SyslogIdentifier=sidekiq

[Install]
WantedBy=multi-user.target
EOF
if [ "$content_changed" = 1 ]; then
	systemctl daemon-reload
	say "daemon-reload"
fi
if ! systemctl is-enabled --quiet sidekiq.service; then
	systemctl --no-reload enable --quiet sidekiq.service
	say "enable sidekiq.service"
fi

echo "sidekiq.sh: $changed changed"
