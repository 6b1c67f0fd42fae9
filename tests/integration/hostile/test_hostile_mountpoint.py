"""Hostile conditions: bad mountpoints (missing, a regular file, a symlink to one,
already a ckptfs mount, a dead mount left by kill -9) are refused with a clear message,
never by stacking a second mount, and no source changes."""

from __future__ import annotations

import errno
import os

import pytest

from pylib import mounting
from pylib.mounting import assert_not_mounted, run_cmd
from pylib.mountio import snapshot
from pylib.sources import CORPUS_SOURCES
from sourceguard import SourceGuard


@pytest.mark.parametrize("kind", ["missing", "regular-file", "symlink-to-file"])
def test_bad_mountpoint(tmp_path, ckptfs_bin, mapping, sources, kind):
    guard = SourceGuard(sources)
    mnt = tmp_path / "mnt"
    if kind == "regular-file":
        mnt.write_text("precious\n")
    elif kind == "symlink-to-file":
        (tmp_path / "target").write_text("precious\n")
        mnt.symlink_to(tmp_path / "target")
    for args in ([], ["-f"]):
        r = run_cmd([ckptfs_bin, mapping, str(mnt), *args])
        assert r.rc == 2, r.describe()
        want = "does not exist" if kind == "missing" else "is not a directory"
        assert f"mountpoint '{mnt}' {want}" in r.stderr, r.describe()
        assert_not_mounted(str(mnt), kind)
    if kind != "missing":
        assert (tmp_path / ("mnt" if kind == "regular-file" else "target")).read_text() == \
            "precious\n"
    guard.check(kind)


def test_mountpoint_already_a_ckptfs_mount(tmp_path, ckptfs_bin, mapping, sources,
                                           corpus_dir):
    """Mounting on a directory that already is a ckptfs mountpoint must fail with a
    clear message, not stack a second mount that hides the first."""
    guard = SourceGuard(sources)
    other = tmp_path / "other.conf"
    other.write_text(f"source x = {os.path.join(corpus_dir, CORPUS_SOURCES['c'])}\n"
                     "map x:/ -> other/\n")
    mnt = str(tmp_path / "mnt")
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        before = snapshot(m)
        try:
            r = run_cmd([ckptfs_bin, str(other), mnt])
            stacked = len(mounting.mounts_at(mnt))
            listing = sorted(os.listdir(mnt))
        finally:
            # take off anything stacked on the first mount, newest first
            for _ in range(5):
                if len(mounting.mounts_at(mnt)) > 1:
                    mounting.fusermount("-u", mnt)
        assert r.rc not in (0, None) and mnt in r.stderr, (
            f"a second ckptfs mounted over a live ckptfs mount ({stacked} mounts at "
            f"{mnt}; the directory then showed {listing})\n{r.describe()}")
        assert stacked == 1
        assert snapshot(m) == before
    guard.check("the stacked mount attempt")

def test_mount_on_a_dead_mountpoint_is_refused(tmp_path, ckptfs_bin, mapping, sources):
    """After kill -9 the directory is a dead mount: mounting there again must fail with
    the hint to run `fusermount3 -u` (mount.c has that message), not stack a second
    mount on the dead one."""
    guard = SourceGuard(sources)
    mnt = str(tmp_path / "mnt")
    with mounting.daemon(ckptfs_bin, mapping, mnt) as m:
        assert "checkpoint" in os.listdir(mnt)
        m.proc.kill()
        m.proc.wait(timeout=30)
        with pytest.raises(OSError) as e:
            os.listdir(mnt)
        assert e.value.errno == errno.ENOTCONN
        try:
            r = run_cmd([ckptfs_bin, mapping, mnt])
            stacked = len(mounting.mounts_at(mnt))
        finally:
            mounting.force_unmount_all(mnt)
        assert r.rc == 2 and f"fusermount3 -u '{mnt}'" in r.stderr and stacked == 1, (
            f"{stacked} mount(s) at {mnt} after mounting on the dead mount\n{r.describe()}")
    guard.check("a mount on a dead mountpoint")
