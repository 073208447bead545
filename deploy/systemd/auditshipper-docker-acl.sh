#!/bin/sh
# Let the auditshipper user list Docker's container directories and read their json-file
# logs, and nothing else there. Run as root by auditshipper-docker-acl.service, at start
# and whenever a container directory appears (auditshipper-docker-acl.path).
#
# Why ACLs: Docker creates /var/lib/docker/containers and every <id>/ directory in it
# 0710 root:root, and the logs 0640 root:root (moby daemon/daemon.go, daemon/create.go,
# daemon/logger/jsonfilelog). The root group may traverse but not list the directories,
# so no group membership lets a non-root user find the logs. Named-user ACL entries do:
#   - rx on the containers directory and on each <id>/ directory (list and traverse);
#   - r on the existing <id>-json.log* files;
#   - a default entry r on each <id>/, so files Docker creates later (a rotated log) are
#     readable too; it is masked by the mode Docker creates them with, so config.v2.json
#     (0600, which holds the container's environment) stays unreadable.
# Root owns all of it, so this needs no capability.
#
# Usage: auditshipper-docker-acl [USER] [CONTAINERS_DIR]
set -eu
user="${1:-auditshipper}"
root="${2:-/var/lib/docker/containers}"
[ -d "$root" ] || exit 0

dirs() {
  for d in "$root"/*/; do
    if [ -d "$d" ]; then printf '%s\n' "${d%/}"; fi
  done
}

# Split the directory list on newlines only.
IFS='
'
setfacl -m "u:${user}:rx" "$root"
# A directory created while a pass runs would be missed (the path unit merges a trigger
# that arrives while this runs), so pass again until no new directory appeared.
seen=""
while :; do
  now="$(dirs)"
  [ "$now" = "$seen" ] && break
  for d in $now; do
    setfacl -m "u:${user}:rx" -m "d:u:${user}:r" "$d"
    for f in "$d"/*-json.log*; do
      if [ -f "$f" ]; then setfacl -m "u:${user}:r" "$f"; fi
    done
  done
  seen="$now"
done
