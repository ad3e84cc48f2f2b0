"""A disk of its own for each sandbox: a sparse ext4 image, loop-mounted on the host.

The sandbox's /var/lib/docker, /root and the folder of its daemon's socket
(/run/drydock) live on it, each a folder of the disk (`DOCKER`, `HOME`,
`RUN`), so whatever a learner writes (images, containers, volumes, files)
stops at its size with "no space left on device" inside the sandbox, and the
host's disk and the other sandboxes are untouched. The disk's root is never
shown to the sandbox: a learner can change what is in those folders, never
the folders themselves. An image is made once per size and owner (mkfs takes ~250 ms),
then copied sparsely for each sandbox (~10 ms); it holds only what was
written to it. Everything lives in the sandbox's folder, so removing the
folder's disk is all the clean-up there is, and a crash leaves nothing a
sweep of the folders cannot find.
"""

import os
import shutil
import subprocess
from pathlib import Path

IMAGE = "disk.img"
MOUNT = "disk"
DOCKER = "docker"
HOME = "home"
RUN = "run"


class DiskError(Exception):
    """The sandbox's disk could not be made, mounted or removed; the message says why."""


def _run(cmd):
    try:
        result = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DiskError(f"`{' '.join(str(c) for c in cmd)}` did not run: {exc}") from exc
    if result.returncode != 0:
        raise DiskError(f"`{' '.join(str(c) for c in cmd)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def template(templates, *, size_gb, owner):
    """The empty formatted image for this size and owner (uid of root in the sandbox), made once."""
    path = Path(templates) / f"ext4-{size_gb}g-{owner}.img"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with open(partial, "wb") as image:
        image.truncate(size_gb * 1024**3)
    # No reserved blocks (nothing of root's to protect in there); its root directory belongs to the sandbox's root.
    _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", f"lazy_itable_init=1,lazy_journal_init=1,root_owner={owner}:{owner}", partial])
    partial.replace(path)
    return path


def mount_point(folder):
    return Path(folder) / MOUNT


def attach(folder, *, templates, size_gb, owner):
    """Give the sandbox whose folder this is a fresh disk, mounted at folder/disk; return the mount point.

    Always a new one: a disk an earlier try left (a task delivered again) may
    hold what a learner put there, links included, and is not reused.
    """
    folder = Path(folder)
    detach(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _run(["cp", "--sparse=always", template(templates, size_gb=size_gb, owner=owner), folder / IMAGE])
    target = mount_point(folder)
    target.mkdir()
    _run(["mount", "-o", "loop,nodev,nosuid", folder / IMAGE, target])
    for name in (DOCKER, HOME, RUN):
        (target / name).mkdir()
        os.chown(target / name, owner, owner)
    return target


def detach(folder):
    """Unmount and delete the sandbox's disk; a disk already gone is fine."""
    folder = Path(folder)
    target = mount_point(folder)
    if target.is_mount():
        # Lazy: a process of a container being removed may still hold a file open; the kernel
        # frees the loop device (autoclear) once nothing does.
        _run(["umount", "--lazy", target])
    (folder / IMAGE).unlink(missing_ok=True)
    if target.is_mount():
        raise DiskError(f"{target} is still mounted")
    # Unmounted, it is an empty folder of the host's (everything the learner wrote was on the disk).
    if target.exists():
        shutil.rmtree(target)


def usage_bytes(folder):
    """Bytes written to the sandbox's disk (what it costs on the host), or None without one."""
    image = Path(folder) / IMAGE
    try:
        return image.stat().st_blocks * 512
    except FileNotFoundError:
        return None
