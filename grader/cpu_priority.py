"""Who gets the cores when a class starts together: the platform, then the sandbox being started, then the rest.

A class of 30 clicking Start within 10 s asks more of this 2-core machine than
it has: each learner's first `docker run` costs its sandbox ~0.75 core-s
(the nested daemon's start 0.21, the pull 0.18, the run 0.32, measured in a
sandbox), 22 core-s for the class, beside the starts themselves. Whatever the
cores do first is what the learners wait for. So:

- Every sandbox runs in one CPU group of its own (SANDBOX_CPU_GROUP, under the
  cgroup root), weighed against each of the platform's processes (the web,
  the workers, the host's engine, 1024 each) at SANDBOX_CPU_GROUP_SHARES (256):
  the sandboxes' work waits for the platform's when both want the cores, and
  takes all of them when the platform is idle. A sandbox's own CPU limit
  (SANDBOX_CPU_PERCENT) is unchanged.
- In that group, a sandbox being started weighs STARTING_SHARES, the most
  the kernel allows, and every started one RUNNING_SHARES (Docker's
  default): its runc init, its entrypoint and the lab's set-up steps run
  before the running sandboxes' work. Its start is over once it is ready
  (Engine.settle_sandbox), before the learner's first command. A sandbox
  with a kept disk (a playground's) never weighs more: its daemon starts with
  it and brings the learner's containers back at once. Nor does one the
  group could not hold: beside the platform's own containers, it would weigh
  more than they do.

Measured with bench/class_start.py's cold class (30 learners, no pool) on
2026-12-07, runs interleaved: click -> ready p95 1.9-4.5 s, against 4.7-7.0 s
with every sandbox in Docker's group at the same weight; neither half alone
made a difference (the group's weight alone: 5.1-6.4 s, the starting weight
alone: 5.7-6.0 s). With the starts first, more of them overlap their waits:
four provisioning workers, p95 1.4-1.6 s (CELERY_PROVISION_CONCURRENCY). Checks
answered sooner too (p95 0.11-0.22 s, against 0.22-0.36 s): grading is the
platform's work.

The group is made, and weighed, by the engine's host (this module, when the
engine runs on this machine with Docker's cgroupfs driver: bin/drydock's);
an engine with the systemd driver keeps its containers where it puts them.

Standard library only.
"""

from pathlib import Path

# The kernel's bounds on cgroup v1's cpu.shares; Docker's default for a container.
MOST_SHARES = 262144
LEAST_SHARES = 2
STARTING_SHARES = MOST_SHARES
RUNNING_SHARES = 1024

CGROUP_ROOT = Path("/sys/fs/cgroup")


class CpuPriorityError(Exception):
    """The sandboxes' CPU group could not be made or weighed; the message says why."""


def starting_shares(*, in_group, kept_disk):
    """A sandbox's CpuShares at its creation: the most in the sandboxes' group, where only its start competes with
    the started sandboxes. Outside the group (the engine's default place, the platform's own containers beside it)
    and with a kept disk (its daemon starts with it and restarts the learner's containers: the learner's work), the
    weight every started sandbox has."""
    return STARTING_SHARES if in_group and not kept_disk else RUNNING_SHARES


def cpu_cgroup(text):
    """The cgroup of a process's CPU, from its /proc/<pid>/cgroup as this process sees it: v1's cpu hierarchy, or v2's."""
    unified = None
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return path
        if controllers == "":
            unified = path
    return unified


def check_placed(text, parent):
    """The group is named from the host's cgroup root, as the engine reads CgroupParent, and weighed where this
    process sees it: a process with a cgroup namespace of its own (a worker in a container) would weigh another
    group than the sandboxes'. A sandbox started in the group shows where it really is."""
    seen = cpu_cgroup(text)
    if not (seen or "").startswith(f"{parent}/"):
        raise CpuPriorityError(f"a sandbox created in {parent} is in {seen} as this process sees cgroups: "
                               "the group weighed here is not the sandboxes'")


def weight_of(shares):
    """cgroup v2's cpu.weight for v1's cpu.shares, as runc converts them (2..262144 -> 1..10000)."""
    return 1 + ((shares - LEAST_SHARES) * 9999) // (MOST_SHARES - LEAST_SHARES)


def cgroup_parent(group, driver):
    """The CgroupParent a sandbox is created with, for the engine's cgroup driver ("" : the engine's default place)."""
    if not group or driver != "cgroupfs":
        return ""
    return f"/{group}"


def weigh_group(group, shares, *, version, root=None):
    """Make the sandboxes' group if need be and give it `shares` (v1) or their weight (v2)."""
    root = Path(root or CGROUP_ROOT)
    if version == "2":
        folder, setting, value = root / group, "cpu.weight", weight_of(shares)
    else:
        # cgroup v1: the cpu controller's own hierarchy (Debian mounts it as cpu and cpu,cpuacct, one hierarchy).
        hierarchy = next((root / name for name in ("cpu", "cpu,cpuacct") if (root / name / "cpu.shares").exists()), None)
        if hierarchy is None:
            raise CpuPriorityError(f"no cgroup v1 cpu hierarchy under {root}")
        folder, setting, value = hierarchy / group, "cpu.shares", shares
    try:
        folder.mkdir(exist_ok=True)
        (folder / setting).write_text(str(value))
    except OSError as exc:
        raise CpuPriorityError(f"{folder / setting} could not be set to {value}: {exc.strerror}") from exc
    return folder
