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
import threading
import time
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
    # Unique per process and thread: two threads of one worker making the first template at once must
    # not truncate each other's file (mkfs then saw a size of zero).
    partial = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
    with open(partial, "wb") as image:
        image.truncate(size_gb * 1024**3)
    # No reserved blocks (nothing of root's to protect in there); its root directory belongs to the sandbox's root.
    _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", f"lazy_itable_init=1,lazy_journal_init=1,root_owner={owner}:{owner}", partial])
    partial.replace(path)
    return path


def mount_point(folder):
    return Path(folder) / MOUNT


def attach(folder, *, templates, size_gb, owner, image=None):
    """Give the sandbox whose folder this is its disk, mounted at folder/disk; return the mount point.

    Without `image`, always a new one: a disk an earlier try left (a task delivered again) may
    hold what a learner put there, links included, and is not reused. With `image` (a
    playground's kept disk, outside the folder), that image is mounted as it is, made from the
    template the first time: what the learner left in its folders is theirs to find again, and
    the folders themselves (which the sandbox never sees) are checked to be folders.
    """
    folder = Path(folder)
    detach(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if image is None:
        source = folder / IMAGE
        _run(["cp", "--sparse=always", template(templates, size_gb=size_gb, owner=owner), source])
    else:
        source = Path(image)
        _make_kept(source, templates=templates, size_gb=size_gb, owner=owner)
        _wait_until_free(source)
    target = mount_point(folder)
    target.mkdir()
    _run(["mount", "-o", "loop,nodev,nosuid", source, target])
    for name in (DOCKER, HOME, RUN):
        path = target / name
        if image is not None and (path.is_symlink() or (path.exists() and not path.is_dir())):
            _run(["umount", target])
            raise DiskError(f"{source}: {name} is not a folder")
        path.mkdir(exist_ok=image is not None)
        os.chown(path, owner, owner)
    return target


def _make_kept(image, *, templates, size_gb, owner):
    if image.exists():
        return
    image.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = image.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
    _run(["cp", "--sparse=always", template(templates, size_gb=size_gb, owner=owner), partial])
    partial.replace(image)


def in_use(image):
    """Whether a loop device holds the image (a sandbox has it mounted, or its lazy unmount is not done)."""
    return bool(_run(["losetup", "-j", Path(image)]).stdout.strip())


def _wait_until_free(image, seconds=20):
    """An ext4 disk is mounted once at a time: wait for the previous sandbox's unmount to finish."""
    deadline = time.monotonic() + seconds
    while in_use(image):
        if time.monotonic() > deadline:
            raise DiskError(f"{image} is still in use by an earlier sandbox")
        time.sleep(0.2)


def detach(folder):
    """Unmount and delete the sandbox's disk; a disk already gone is fine."""
    folder = Path(folder)
    target = mount_point(folder)
    if target.is_mount():
        # Lazy: a process of a container being removed may still hold a file open; the kernel
        # frees the loop device (autoclear) once nothing does.
        try:
            _run(["umount", "--lazy", target])
        except DiskError:
            if target.is_mount():
                raise
            # Another remover (the reaper, a removal task) unmounted it between the test and the umount.
    (folder / IMAGE).unlink(missing_ok=True)
    if target.is_mount():
        raise DiskError(f"{target} is still mounted")
    # Unmounted, it is an empty folder of the host's (everything the learner wrote was on the disk).
    # A concurrent remover may delete it first: gone is what both wanted.
    try:
        shutil.rmtree(target)
    except FileNotFoundError:
        pass


def image_usage_bytes(image):
    """Bytes written to a kept disk image (what it costs on the host), or None without one."""
    try:
        return Path(image).stat().st_blocks * 512
    except FileNotFoundError:
        return None


def usage_bytes(folder):
    """Bytes written to the sandbox's disk (what it costs on the host), or None without one."""
    image = Path(folder) / IMAGE
    try:
        return image.stat().st_blocks * 512
    except FileNotFoundError:
        return None
