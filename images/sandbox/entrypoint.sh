#!/bin/sh
# Prepare cgroups for a nested dockerd without --privileged, then become it.
#
# Environment:
#   DRYDOCK_REGISTRY_MIRROR  http://host:port of the course registry ("" = none)
#   DRYDOCK_SOCKET           second socket, in a folder the host bind-mounts
#   DRYDOCK_STORAGE_DRIVER   overlay2 (needs /var/lib/docker on a volume) or vfs
#   DRYDOCK_IPTABLES         true to let the nested dockerd manage iptables (false)
#   DRYDOCK_LOCAL_HOSTS      Docker Hub names answered with 127.0.0.1
# Arguments are passed on to dockerd.
set -eu

mount_cgroups() {
    # A container sees /sys/fs/cgroup read-only (or not at all); dockerd needs
    # its own writable hierarchies. With --cgroupns private each mount's root
    # is this container's own cgroup, so the nested containers stay inside the
    # sandbox's memory and pids limits.
    if grep -q '^0::' /proc/self/cgroup && [ "$(wc -l < /proc/self/cgroup)" -eq 1 ]; then
        mount_cgroup2
        return
    fi
    mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup /sys/fs/cgroup
    # Lines read "hierarchy-id:controllers:path"; one mount per v1 hierarchy
    # the host has (controllers may be joined, e.g. "cpu,cpuacct").
    while IFS=: read -r id controllers _path; do
        [ "$id" = 0 ] && continue
        [ -n "$controllers" ] || continue
        dir=${controllers#name=}
        mkdir -p "/sys/fs/cgroup/$dir"
        mount -t cgroup -o "nosuid,nodev,noexec,$controllers" cgroup "/sys/fs/cgroup/$dir"
        case $controllers in
            *,*) for one in $(echo "$controllers" | tr , ' '); do
                     [ -e "/sys/fs/cgroup/$one" ] || ln -s "$dir" "/sys/fs/cgroup/$one"
                 done ;;
        esac
    done < /proc/self/cgroup
}

mount_cgroup2() {
    # cgroup v2 host (untested on this cgroup v1 machine): a writable cgroup2
    # mount, this shell moved to a leaf so the controllers can be delegated.
    if ! touch /sys/fs/cgroup/.drydock 2>/dev/null; then
        umount /sys/fs/cgroup 2>/dev/null || true
        mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
    fi
    rm -f /sys/fs/cgroup/.drydock
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control
}

mount_cgroups

# dockerd looks up docker.io on every pull (registry.allowNondistributableArtifacts)
# and Docker Hub's hosts when the mirror lacks an image. On the internal network
# no DNS answer ever comes: each pull would wait 10 s. Answered here, pulls from
# the mirror start at once and pulls of unknown images fail at once.
for name in ${DRYDOCK_LOCAL_HOSTS-docker.io registry-1.docker.io index.docker.io auth.docker.io production.cloudflare.docker.com}; do
    grep -q "[[:space:]]$name\$" /etc/hosts || echo "127.0.0.1 $name" >> /etc/hosts
done

# A restarted sandbox keeps its filesystem: clear what the last dockerd left.
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid "$DRYDOCK_SOCKET"
mkdir -p "$(dirname "$DRYDOCK_SOCKET")"

# --iptables=false: the nested daemon is ready ~0.35 s sooner. Nothing a lab
# needs is lost: -p still works (userland proxy), names resolve on user
# networks; nested containers have no way out of the sandbox anyway.
set -- --host unix:///var/run/docker.sock --host "unix://$DRYDOCK_SOCKET" \
    --storage-driver "$DRYDOCK_STORAGE_DRIVER" \
    --iptables="${DRYDOCK_IPTABLES:-false}" \
    --log-opt max-size=1m --log-opt max-file=2 \
    "$@"
if [ -n "$DRYDOCK_REGISTRY_MIRROR" ]; then
    set -- --registry-mirror "$DRYDOCK_REGISTRY_MIRROR" \
        --insecure-registry "${DRYDOCK_REGISTRY_MIRROR#*://}" "$@"
fi
exec dockerd "$@"
