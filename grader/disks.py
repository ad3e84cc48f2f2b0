"""A disk of its own for each sandbox: a sparse ext4 image, loop-mounted on the host.

The sandbox's /var/lib/docker and /root live on it, so what a learner writes
(images, containers, volumes, files) stops at its size with "no space left on
device" inside the sandbox, and the host's disk and the other sandboxes are
untouched. An image is made once per size and owner (mkfs takes ~250 ms),
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
HOME = "home"


class DiskError(Exception):
    """The sandbox's disk could not be made, mounted or removed; the message says why."""


def _run(cmd):
    result = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
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
    """Give the sandbox whose folder this is its disk, mounted at folder/disk; return the mount point."""
    folder = Path(folder)
    target = mount_point(folder)
    if target.is_mount():
        return target
    image = folder / IMAGE
    if not image.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _run(["cp", "--sparse=always", template(templates, size_gb=size_gb, owner=owner), image])
    target.mkdir(parents=True, exist_ok=True)
    _run(["mount", "-o", "loop,nodev,nosuid", image, target])
    home = target / HOME
    if not home.exists():
        home.mkdir()
        os.chown(home, owner, owner)
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
    if target.exists() and not target.is_mount():
        shutil.rmtree(target, ignore_errors=True)


def usage_bytes(folder):
    """Bytes written to the sandbox's disk (what it costs on the host), or None without one."""
    image = Path(folder) / IMAGE
    try:
        return image.stat().st_blocks * 512
    except FileNotFoundError:
        return None
