"""The sandbox entrypoint's cgroup decisions, for cgroup v1, hybrid and v2 hosts (run dry: it prints its steps).

This machine is cgroup v1: the v2 steps are checked here as decisions, not run (README, "cgroup v2").
"""

import os
import subprocess

from tests.conftest import BASE_DIR

ENTRYPOINT = BASE_DIR / "images" / "sandbox" / "entrypoint.sh"
V1 = "12:pids:/docker/abc\n11:cpu,cpuacct:/docker/abc\n10:memory:/docker/abc\n1:name=systemd:/docker/abc\n"


def steps(tmp_path, proc_cgroup, *, controllers="", writable=False):
    (tmp_path / "proc-cgroup").write_text(proc_cgroup)
    root = tmp_path / "cgroup"
    root.mkdir(exist_ok=True)
    (root / "cgroup.controllers").write_text(controllers + "\n")
    env = {
        **os.environ, "DRYDOCK_DRY_RUN": "1", "DRYDOCK_PROC_CGROUP": str(tmp_path / "proc-cgroup"),
        "DRYDOCK_CGROUP_ROOT": str(root), "DRYDOCK_CGROUP_WRITABLE": "1" if writable else "0",
    }
    result = subprocess.run(["sh", str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    return [line.replace(str(root), "CG") for line in result.stdout.splitlines()]


def test_on_cgroup_v1_each_hierarchy_is_mounted_on_a_tmpfs_with_links_for_joined_controllers(tmp_path):
    assert steps(tmp_path, V1) == [
        "mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup CG",
        "mkdir -p CG/pids", "mount -t cgroup -o nosuid,nodev,noexec,pids cgroup CG/pids",
        "mkdir -p CG/cpu,cpuacct", "mount -t cgroup -o nosuid,nodev,noexec,cpu,cpuacct cgroup CG/cpu,cpuacct",
        "ln -s cpu,cpuacct CG/cpu", "ln -s cpu,cpuacct CG/cpuacct",
        "mkdir -p CG/memory", "mount -t cgroup -o nosuid,nodev,noexec,memory cgroup CG/memory",
        "mkdir -p CG/systemd", "mount -t cgroup -o nosuid,nodev,noexec,name=systemd cgroup CG/systemd",
    ]


def test_a_hybrid_host_with_a_v2_line_beside_v1_hierarchies_is_treated_as_v1(tmp_path):
    assert steps(tmp_path, V1 + "0::/docker/abc\n")[0] == "mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup CG"


def test_on_cgroup_v2_a_read_only_mount_is_replaced_then_controllers_are_delegated_from_a_leaf(tmp_path):
    assert steps(tmp_path, "0::/\n", controllers="cpuset cpu io memory pids") == [
        "umount CG",
        "mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 CG",
        "mkdir -p CG/init",
        "move CG/cgroup.procs CG/init/cgroup.procs",
        "write CG/cgroup.subtree_control +cpuset +cpu +io +memory +pids",
    ]


def test_on_cgroup_v2_a_writable_mount_is_kept(tmp_path):
    planned = steps(tmp_path, "0::/\n", controllers="memory pids", writable=True)
    assert planned == ["mkdir -p CG/init", "move CG/cgroup.procs CG/init/cgroup.procs", "write CG/cgroup.subtree_control +memory +pids"]
