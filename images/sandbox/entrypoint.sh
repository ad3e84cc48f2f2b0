#!/bin/sh
# Prepare cgroups for the sandbox's own dockerd, then become it: at once, or
# at the first connection to its sockets (DRYDOCK_ON_DEMAND_MARK).
#
# The sandbox runs in a user namespace (root here is an unprivileged user on
# the host) with Docker's default capabilities plus SYS_ADMIN and NET_ADMIN, a
# read-only root filesystem, /var/lib/docker and /root on a size-limited disk
# of its own, and the Docker Hub names answered with 127.0.0.1 (--add-host).
# dockerd runs with --rootless: inside a user namespace it must not try to
# manage cgroups of its own (cgroup v1 cannot be delegated to it), so nested
# containers share the sandbox's limits, which the sandbox cannot change.
#
# Environment:
#   DRYDOCK_REGISTRY_MIRROR  http://host:port of the course registry ("" = none)
#   DRYDOCK_SOCKET           second socket, in a folder the host bind-mounts
#   DRYDOCK_ISOLATED_MARK    a file the host makes once this sandbox's network port is
#                            isolated: nothing starts before it exists ("" = no wait)
#   DRYDOCK_ON_DEMAND_MARK   a file made once the daemon's sockets listen, its daemon then
#                            started by the first client to connect (drydock-on-demand:
#                            an idle sandbox holds no daemon); "" = started at once
#   DRYDOCK_STARTED_MARK     a file made as the daemon starts (the host's sandbox watcher
#                            waits for it before it follows the daemon's events)
#   DRYDOCK_STORAGE_DRIVER   overlay2 (needs /var/lib/docker on its own disk) or vfs
#   DRYDOCK_IPTABLES         true to let the nested dockerd manage iptables (false)
#   DRYDOCK_DRY_RUN          1: print the cgroup steps instead of doing them, and
#                            stop there (the tests of these decisions use it)
#   DRYDOCK_PROC_CGROUP      what /proc/self/cgroup holds (tests; default: the file)
#   DRYDOCK_CGROUP_ROOT      where the cgroup filesystems go (tests; /sys/fs/cgroup)
#   DRYDOCK_CGROUP_WRITABLE  with DRYDOCK_DRY_RUN: 1 if the cgroup2 mount is writable
# Arguments are passed on to dockerd.
set -eu

PROC_CGROUP=${DRYDOCK_PROC_CGROUP:-/proc/self/cgroup}
CG=${DRYDOCK_CGROUP_ROOT:-/sys/fs/cgroup}

act() {
    if [ -n "${DRYDOCK_DRY_RUN:-}" ]; then
        echo "$*"
    else
        "$@"
    fi
}

cgroup_version() {
    # A pure cgroup v2 host lists one line, "0::<path>". A hybrid host lists v1
    # hierarchies and a "0::" line: dockerd uses v1 there.
    if grep -q '^0::' "$PROC_CGROUP" && [ "$(grep -c . "$PROC_CGROUP")" -eq 1 ]; then
        echo 2
    else
        echo 1
    fi
}

mount_cgroup_v1() {
    # A container sees /sys/fs/cgroup read-only (or not at all). With
    # --cgroupns private each hierarchy mounted here has this container's own
    # cgroup as its root, so what runs inside stays under the sandbox's limits.
    act mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup "$CG"
    # Lines read "hierarchy-id:controllers:path"; one mount per v1 hierarchy
    # the host has (controllers may be joined, e.g. "cpu,cpuacct").
    while IFS=: read -r id controllers _path; do
        [ "$id" = 0 ] && continue
        [ -n "$controllers" ] || continue
        dir=${controllers#name=}
        act mkdir -p "$CG/$dir"
        act mount -t cgroup -o "nosuid,nodev,noexec,$controllers" cgroup "$CG/$dir"
        case $controllers in
            *,*) for one in $(echo "$controllers" | tr , ' '); do
                     [ -e "$CG/$one" ] || act ln -s "$dir" "$CG/$one"
                 done ;;
        esac
    done < "$PROC_CGROUP"
}

cgroup_v2_writable() {
    if [ -n "${DRYDOCK_DRY_RUN:-}" ]; then
        [ "${DRYDOCK_CGROUP_WRITABLE:-0}" = 1 ]
        return
    fi
    touch "$CG/.drydock" 2>/dev/null && rm -f "$CG/.drydock"
}

mount_cgroup_v2() {
    # As docker:dind does on cgroup v2. runc mounts the container's cgroup2
    # read-only; with --cgroupns private a fresh cgroup2 mount shows this
    # container's own cgroup, which runc hands to the container's root in a
    # user namespace. Processes leave the root of it for a leaf ("init"),
    # otherwise enabling controllers for children fails with EBUSY; then every
    # controller this cgroup has is enabled for the nested daemon's cgroups.
    if ! cgroup_v2_writable; then
        act umount "$CG" || true
        act mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$CG"
    fi
    act mkdir -p "$CG/init"
    if [ -n "${DRYDOCK_DRY_RUN:-}" ]; then
        echo "move $CG/cgroup.procs $CG/init/cgroup.procs"
        echo "write $CG/cgroup.subtree_control $(sed -e 's/ / +/g' -e 's/^/+/' < "$CG/cgroup.controllers")"
        return
    fi
    # A process gone in the meantime (this xargs's own children) is not an error.
    xargs -rn1 < "$CG/cgroup.procs" > "$CG/init/cgroup.procs" 2>/dev/null || true
    sed -e 's/ / +/g' -e 's/^/+/' < "$CG/cgroup.controllers" > "$CG/cgroup.subtree_control"
}

start_daemon() {
    # Run by drydock-on-demand in its place (its pid, the listening sockets as descriptors 3 and 4), or at once.
    # Whatever the learner left at its path (a folder, a FIFO that would block the write) goes first; a mark
    # that cannot be made is not worth the daemon (only the watcher waits for it).
    if [ -n "${DRYDOCK_STARTED_MARK:-}" ]; then
        rm -rf "$DRYDOCK_STARTED_MARK" 2>/dev/null || true
        : > "$DRYDOCK_STARTED_MARK" 2>/dev/null || true
    fi
    # containerd first: dockerd 26 waits about a second for the one it would start
    # itself, and is ready in half that with one already listening (DESIGN.md).
    # The daemon's listening sockets are not containerd's to hold.
    CONTAINERD_SOCKET=/run/containerd/containerd.sock
    containerd --address "$CONTAINERD_SOCKET" --root /var/lib/docker/containerd/daemon --state /run/containerd/state 3>&- 4>&- &
    waited=0
    while [ ! -S "$CONTAINERD_SOCKET" ] && [ "$waited" -lt 200 ]; do
        sleep 0.01
        waited=$((waited + 1))
    done
    if [ -n "${LISTEN_FDS:-}" ]; then
        set -- --host fd:// "$@"
    else
        set -- --host unix:///var/run/docker.sock --host "unix://$DRYDOCK_SOCKET" "$@"
    fi
    # --iptables=false: the nested daemon is ready ~0.35 s sooner. Nothing a lab
    # needs is lost: -p still works (userland proxy), names resolve on user
    # networks; nested containers have no way out of the sandbox anyway.
    set -- --rootless --containerd "$CONTAINERD_SOCKET" \
        --storage-driver "$DRYDOCK_STORAGE_DRIVER" \
        --iptables="${DRYDOCK_IPTABLES:-false}" \
        --log-opt max-size=1m --log-opt max-file=2 \
        "$@"
    if [ -n "$DRYDOCK_REGISTRY_MIRROR" ]; then
        set -- --registry-mirror "$DRYDOCK_REGISTRY_MIRROR" \
            --insecure-registry "${DRYDOCK_REGISTRY_MIRROR#*://}" "$@"
    fi
    exec dockerd "$@"
}

if [ "${1:-}" = --start-daemon ]; then
    shift
    start_daemon "$@"
fi

if [ "$(cgroup_version)" = 2 ]; then
    mount_cgroup_v2
else
    mount_cgroup_v1
fi
[ -z "${DRYDOCK_DRY_RUN:-}" ] || exit 0

# Nothing starts before the host has isolated this sandbox's port on the network (grader/engine.py makes
# the mark right after): between the container's start and that, it could reach the other sandboxes.
waited=0
while [ -n "${DRYDOCK_ISOLATED_MARK:-}" ] && [ ! -e "$DRYDOCK_ISOLATED_MARK" ]; do
    if [ "$waited" -ge 6000 ]; then
        echo "entrypoint: the host did not isolate this sandbox's network port within 60 s" >&2
        exit 1
    fi
    sleep 0.01
    waited=$((waited + 1))
done

# A restarted sandbox keeps its disk: clear what the last dockerd left there.
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid "$DRYDOCK_SOCKET" \
    ${DRYDOCK_ON_DEMAND_MARK:+"$DRYDOCK_ON_DEMAND_MARK"} ${DRYDOCK_STARTED_MARK:+"$DRYDOCK_STARTED_MARK"}
mkdir -p "$(dirname "$DRYDOCK_SOCKET")" /var/run

if [ -n "${DRYDOCK_ON_DEMAND_MARK:-}" ]; then
    exec drydock-on-demand "$DRYDOCK_ON_DEMAND_MARK" /var/run/docker.sock "$DRYDOCK_SOCKET" -- "$0" --start-daemon "$@"
fi
start_daemon "$@"
