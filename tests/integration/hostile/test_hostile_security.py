"""Hostile conditions: security.  Every write is EROFS; without allow_other other
users are shut out; with allow_other the kernel enforces the 0444/0555 modes
(default_permissions)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from hostile_lib import LAYOUTS, PREFIX, merge_sources, mount_in_layout
from pylib import mounting
from pylib.mountio import data_files, read_direct, snapshot
from sourceguard import SourceGuard

NOBODY = 65534


def write_attempts(f: str, root: str) -> dict:
    """Every kind of change, on file f and directory root of a mount."""
    return {
        "open O_WRONLY": lambda: os.open(f, os.O_WRONLY),
        "open O_RDWR": lambda: os.open(f, os.O_RDWR),
        "open O_APPEND": lambda: os.open(f, os.O_WRONLY | os.O_APPEND),
        "open O_TRUNC": lambda: os.open(f, os.O_RDONLY | os.O_TRUNC),
        "create": lambda: os.open(os.path.join(root, "new"), os.O_WRONLY | os.O_CREAT, 0o644),
        "mknod": lambda: os.mknod(os.path.join(root, "fifo"), 0o644 | 0o010000),
        "mkdir": lambda: os.mkdir(os.path.join(root, "dir")),
        "unlink": lambda: os.unlink(f),
        "rename": lambda: os.rename(f, os.path.join(root, "renamed")),
        "rename onto": lambda: os.rename(os.path.join(root, "checkpoint"), f),
        "truncate": lambda: os.truncate(f, 0),
        "chmod": lambda: os.chmod(f, 0o666),
        "chmod root": lambda: os.chmod(root, 0o777),
        "chown": lambda: os.chown(f, 1, 1),
        "utime": lambda: os.utime(f),
        "utime explicit": lambda: os.utime(f, (0, 0)),
        "setxattr": lambda: os.setxattr(f, "user.x", b"1"),
        "removexattr": lambda: os.removexattr(f, "user.x"),
        "symlink": lambda: os.symlink("checkpoint", os.path.join(root, "link")),
        "link": lambda: os.link(f, os.path.join(root, "hard")),
    }


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_write_is_erofs(tmp_path, ckptfs_bin, mapping, sources, layout):
    guard = SourceGuard(sources)
    with mount_in_layout(ckptfs_bin, mapping, tmp_path, layout) as m:
        before = snapshot(m)
        for target in [f"{PREFIX}.index", data_files(m.path)[-1], "checkpoint"]:
            for what, attempt in write_attempts(m.join(target), m.path).items():
                with pytest.raises(OSError) as e:
                    attempt()
                assert e.value.errno == errno.EROFS, f"{what} on {target}: {e.value}"
        with open(m.join("checkpoint"), "rb") as f:  # a read-only fd cannot write
            with pytest.raises(OSError) as e:
                os.write(f.fileno(), b"x")
            assert e.value.errno == errno.EBADF
        assert snapshot(m) == before
    guard.check("write attempts")


AS_OTHER = r"""
import errno, json, os, sys
root = sys.argv[1]
out = {}
def t(what, fn):
    try:
        r = fn()
        out[what] = ["ok", r]
    except OSError as e:
        out[what] = ["err", errno.errorcode.get(e.errno, str(e.errno))]
def read(p, direct=False):
    fd = os.open(p, os.O_RDONLY | (os.O_DIRECT if direct else 0))
    try:
        parts = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            parts.append(b)
        return __import__("hashlib").sha256(b"".join(parts)).hexdigest()
    finally:
        os.close(fd)
t("stat root", lambda: oct(os.stat(root).st_mode))
t("listdir", lambda: sorted(os.listdir(root)))
names = sorted(os.listdir(root)) if out["listdir"][0] == "ok" else sys.argv[2:]
for n in names:
    p = os.path.join(root, n)
    t("stat " + n, lambda: oct(os.stat(p).st_mode))
    t("read " + n, lambda: read(p))
    t("read direct " + n, lambda: read(p, True))
    t("open wr " + n, lambda: os.open(p, os.O_WRONLY))
    t("access W " + n, lambda: os.access(p, os.W_OK))
    t("access X " + n, lambda: os.access(p, os.X_OK))
    t("exec " + n, lambda: os.execv(p, [p]))
    t("chmod " + n, lambda: os.chmod(p, 0o777))
    t("unlink " + n, lambda: os.unlink(p))
    t("utime " + n, lambda: os.utime(p))
t("create", lambda: os.open(os.path.join(root, "new"), os.O_WRONLY | os.O_CREAT, 0o644))
t("mkdir", lambda: os.mkdir(os.path.join(root, "d")))
print(json.dumps(out))
"""


def as_nobody(mnt: str, names: list[str]) -> dict:
    """Run AS_OTHER as user nobody (uid/gid 65534, no supplementary groups)."""
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "/usr/bin/python3", "-c", AS_OTHER, mnt, *names]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def mount_options(mnt: str) -> set[str]:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == os.path.realpath(mnt):
                return set(fields[-1].split(",")) | set(fields[5].split(","))
    raise AssertionError(f"{mnt} is not in mountinfo")


def test_other_users_shut_out_without_allow_other(pub, ckptfs_bin, mapping, sources):
    guard = SourceGuard(sources)
    mnt = os.path.join(pub, "mnt")
    os.makedirs(mnt)
    # control: before mounting, nobody can reach the directory
    res = as_nobody(mnt, [])
    assert res["stat root"][0] == "ok" and res["listdir"] == ["ok", []], res
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        names = sorted(os.listdir(mnt))
        assert "allow_other" not in mount_options(mnt)
        res = as_nobody(mnt, names)
        denied = {k: v for k, v in res.items() if not k.startswith("access")}
        assert all(v == ["err", "EACCES"] for v in denied.values()), res
        assert all(v == ["ok", False] for k, v in res.items() if k.startswith("access")), res
        # root still reads
        assert read_direct(m.join("checkpoint"))
    guard.check("another user")


def test_allow_other_enforces_modes(pub, ckptfs_bin, sources):
    # an allow_other mount opens only sources every user could read: pytest's tmp
    # dirs are 0700 (and copytree keeps modes), so the sources move to the public dir
    sources = shutil.copytree(sources, os.path.join(pub, "src"))
    for d, _dirs, _files in os.walk(sources):
        os.chmod(d, 0o755)
    mapping = merge_sources(os.path.join(pub, "merge.conf"), sources)
    guard = SourceGuard(sources)
    mnt = os.path.join(pub, "mnt")
    with mounting.mounted(ckptfs_bin, mapping, mnt, "-o", "allow_other") as m:
        opts = mount_options(mnt)
        assert {"allow_other", "default_permissions", "ro"} <= opts, opts
        want = {n: hashlib.sha256(b).hexdigest() for n, b in snapshot(m).items()}
        res = as_nobody(mnt, [])
        assert res["listdir"] == ["ok", sorted(want)], res
        assert res["stat root"] == ["ok", oct(0o40555)], res
        for n, digest in want.items():
            assert res[f"stat {n}"] == ["ok", oct(0o100444)], (n, res)
            assert res[f"read {n}"] == ["ok", digest], n
            assert res[f"read direct {n}"] == ["ok", digest], n
            # writes: refused (read-only mount first, the 0444 mode anyway)
            for op in ("open wr", "chmod", "unlink", "utime"):
                assert res[f"{op} {n}"][0] == "err" and \
                    res[f"{op} {n}"][1] in ("EROFS", "EACCES", "EPERM"), (op, n, res)
            assert res[f"access W {n}"] == ["ok", False], res
            # no x bit: the kernel's mode check (default_permissions) refuses exec
            assert res[f"access X {n}"] == ["ok", False], res
            assert res[f"exec {n}"] == ["err", "EACCES"], res
        for op in ("create", "mkdir"):
            assert res[op][0] == "err" and res[op][1] in ("EROFS", "EACCES"), res
    guard.check("allow_other")
