"""Two removers of one sandbox (a removal task and the reaper, or a test's teardown) both finish without error.

Plain files: the mount is stood in for; real disks are attached and detached by every sandbox the integration
tests start.
"""

import shutil
from pathlib import Path

import pytest

from grader import disks


def test_a_disk_folder_deleted_by_another_remover_meanwhile_is_not_an_error(tmp_path, monkeypatch):
    target = disks.mount_point(tmp_path)
    target.mkdir()
    (tmp_path / disks.IMAGE).write_bytes(b"")
    real_rmtree = shutil.rmtree

    def the_other_remover_first(path, *args, **kwargs):
        Path(path).rmdir()  # the reaper got there between detach's look and its delete
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(disks.shutil, "rmtree", the_other_remover_first)
    disks.detach(tmp_path)
    assert not target.exists() and not (tmp_path / disks.IMAGE).exists()


def test_an_unmount_done_by_another_remover_meanwhile_is_not_an_error(tmp_path, monkeypatch):
    disks.mount_point(tmp_path).mkdir()
    mounted = iter([True, False])
    monkeypatch.setattr(disks.Path, "is_mount", lambda self: next(mounted, False))

    def umount(cmd):
        raise disks.DiskError(f"`{' '.join(map(str, cmd))}` failed: not mounted")

    monkeypatch.setattr(disks, "_run", umount)
    disks.detach(tmp_path)
    assert not disks.mount_point(tmp_path).exists()


def test_an_unmount_that_failed_on_a_disk_still_mounted_is_reported(tmp_path, monkeypatch):
    disks.mount_point(tmp_path).mkdir()
    monkeypatch.setattr(disks.Path, "is_mount", lambda self: True)

    def umount(cmd):
        raise disks.DiskError("`umount` failed: target is busy")

    monkeypatch.setattr(disks, "_run", umount)
    with pytest.raises(disks.DiskError, match="busy"):
        disks.detach(tmp_path)
    assert disks.mount_point(tmp_path).exists()  # nothing deleted into a mounted disk
