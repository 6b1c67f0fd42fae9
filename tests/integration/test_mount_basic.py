"""Mount the four real corpus checkpoints merged under a/ b/ c/ d/ and check the mount.

Covers: the listing (readdir with . and ..), attributes, the synthesized index (parsed by
ckptfs and by the independent Python reader), every tensor's bytes against
``ckptfs cat SOURCE KEY``, random (offset, length) reads that bypass the page cache
(O_DIRECT, so the daemon translates each one) including boundary straddles and reads past
EOF, mmap, EROFS for every kind of write, SIGTERM/SIGINT/fusermount3 -u ending the daemon
with status 0, bad input and a missing mountpoint failing with nothing mounted, sources
deleted or truncated after mounting, and both layouts.

Binaries come from $CKPTFS_BUILD (default <repo>/build); fixtures from conftest.py.
"""

from __future__ import annotations

import errno
import mmap
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

from pylib import ckptfmt, mounting
from pylib.lsout import parse_ls
from pylib.mountio import direct_pread, read_file, splice_max_read
from pylib.sources import CORPUS_SOURCES, SOURCE_PATHS, sources_mapping

LAYOUTS = ["single", "shards"]
PREFIX = "model.ckpt"
OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"
# the merge: the corpus checkpoints of `sources` (a private copy; some tests delete or
# truncate source files), under a/ b/ c/ d/
SOURCES = tuple(CORPUS_SOURCES)
MAX_READ = 512 * 1024
# b and d are TF2 (object-based): the merge carries one rewritten object graph, whose
# bytes are the one data file no source has (layout=shards), and a slot variable's key
# names the optimizer by its new path (mapping.md, "Object paths")
TF2_SOURCES = {"b", "d"}
SLOT = "/.OPTIMIZER_SLOT/"


# ---------------------------------------------------------------------------------------
# set-up

@pytest.fixture
def mapping(tmp_path, sources) -> str:
    return sources_mapping(tmp_path / "merge.conf", sources, SOURCES, [f"prefix = {PREFIX}"])


@pytest.fixture(params=LAYOUTS)
def mnt(request, tmp_path, mapping, ckptfs_bin):
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={request.param}") as m:
        m.layout = request.param
        yield m


def source_prefix(srcdir: str, name: str) -> tuple[str, str]:
    """Merged name 'c/global_step' -> (source prefix, key in that source)."""
    src, key = name.split("/", 1)
    return os.path.join(srcdir, SOURCE_PATHS[src]), key.replace(f"{SLOT}{src}/", SLOT)


def expected_names(run_ckptfs, srcdir: str) -> set[str]:
    names = set()
    for src in SOURCES:
        r = run_ckptfs("ls", os.path.join(srcdir, SOURCE_PATHS[src]))
        assert r.rc == 0, r.describe()
        names |= {f"{src}/{row[0]}".replace(SLOT, f"{SLOT}{src}/")
                  for row in parse_ls(r.stdout, columns=6) if row[0] != OBJECT_GRAPH}
    return names | {OBJECT_GRAPH}


def data_names(layout: str) -> list[str]:
    # each source has one shard, and the rewritten object graph its own file
    n = 1 if layout == "single" else len(SOURCES) + 1
    return [f"{PREFIX}.data-{i:05d}-of-{n:05d}" for i in range(n)]


def merged_index(m) -> ckptfmt.BundleIndex:
    return ckptfmt.read_index(m.join(PREFIX))


# ---------------------------------------------------------------------------------------
# the tree

def test_readdir_lists_the_checkpoint(mnt):
    want = ["checkpoint", *data_names(mnt.layout), f"{PREFIX}.index"]
    assert sorted(os.listdir(mnt.path)) == sorted(want)
    out = subprocess.run(["ls", "-a1", mnt.path], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == [".", ".."]
    assert sorted(out.stdout.split()) == sorted([".", "..", *want])
    kinds = {e.name: (e.is_file(), e.is_dir()) for e in os.scandir(mnt.path)}
    assert all(v == (True, False) for v in kinds.values()), kinds


def test_lookup_of_missing_names(mnt):
    for name in ["nope", f"{PREFIX}.data-00009-of-00010", "checkpoint/x"]:
        with pytest.raises(OSError) as e:
            os.stat(mnt.join(name))
        assert e.value.errno in (errno.ENOENT, errno.ENOTDIR), name
    with pytest.raises(FileNotFoundError):
        os.stat(mnt.join("nope"))  # twice: a cached negative entry


def test_attributes(mnt):
    now = time.time()
    root = os.stat(mnt.path)
    assert stat.S_ISDIR(root.st_mode) and stat.S_IMODE(root.st_mode) == 0o555
    assert root.st_nlink == 2 and root.st_ino == 1
    assert (root.st_uid, root.st_gid) == (os.getuid(), os.getgid())
    assert abs(root.st_mtime - now) < 300
    inodes = set()
    for name in os.listdir(mnt.path):
        st = os.stat(mnt.join(name))
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o444, name
        assert st.st_nlink == 1 and (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
        assert st.st_mtime == root.st_mtime  # all times are the mount time
        assert st.st_size == len(read_file(mnt.join(name))), name
        inodes.add(st.st_ino)
    assert len(inodes) == len(os.listdir(mnt.path)) and 1 not in inodes
    sv = os.statvfs(mnt.path)
    assert sv.f_flag & os.ST_RDONLY and sv.f_namemax == 255


def test_mount_table(mnt):
    rows = mounting.mounts_at(mnt.path)
    assert len(rows) == 1, rows
    src, _mnt, fstype = rows[0]
    assert (src, fstype) == ("ckptfs", "fuse.ckptfs")
    with open("/proc/self/mountinfo") as f:
        line = next(ln for ln in f if f" {os.path.realpath(mnt.path)} " in ln)
    # 512 KiB on the page cache path; direct I/O takes what a splice pipe can hold
    sizes = {524288, splice_max_read()}
    assert " ro," in line and any(f"max_read={n}" in line for n in sizes), line


def test_checkpoint_state_file(mnt):
    with open(mnt.join("checkpoint")) as f:
        text = f.read()
    assert f'model_checkpoint_path: "{PREFIX}"' in text


# ---------------------------------------------------------------------------------------
# the index and the tensors

def test_index_parses_and_lists_every_tensor(mnt, run_ckptfs, sources):
    r = run_ckptfs("ls", mnt.join(PREFIX))
    assert r.rc == 0, r.describe()
    # name -> (dtype, shape, shard, offset, size)
    listed = {row[0]: tuple(row[1:]) for row in parse_ls(r.stdout, columns=6)}
    assert set(listed) == expected_names(run_ckptfs, sources)
    # a second, independent parser of the same bytes agrees on every location
    idx = merged_index(mnt)
    assert idx.num_shards == len(data_names(mnt.layout))
    for e in idx.listed():
        assert listed[e.name][2:] == (str(e.shard_id), str(e.offset), str(e.size)), e
    r = run_ckptfs("verify", mnt.join(PREFIX))
    assert r.rc == 0 and b"all checksums match" in r.stdout, r.describe()


def test_index_reads_at_any_offset(mnt):
    path = mnt.join(f"{PREFIX}.index")
    whole = read_file(path)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        rng = random.Random(7)
        for _ in range(100):
            off = rng.randrange(0, len(whole) + 100)
            n = rng.choice([1, 13, 512, 4096, len(whole)])
            assert direct_pread(fd, n, off) == whole[off:off + n], (off, n)
    finally:
        os.close(fd)


def test_every_tensor_matches_ckptfs_cat(mnt, run_ckptfs, sources):
    idx = merged_index(mnt)
    data = {i: read_file(mnt.join(name)) for i, name in enumerate(data_names(mnt.layout))}
    for e in idx.listed():
        if e.name == OBJECT_GRAPH:
            continue  # synthesized; `ckptfs verify` checked its CRC
        prefix, key = source_prefix(sources, e.name)
        r = run_ckptfs("cat", prefix, key)
        assert r.rc == 0, r.describe()
        got = data[e.shard_id][e.offset:e.offset + e.size]
        assert got == r.stdout, f"{e.name}: {len(got)} bytes differ from {prefix} {key}"


def test_shard_files_are_the_source_files(tmp_path, mapping, sources, ckptfs_bin):
    """layout=shards serves each source data file byte for byte."""
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", "layout=shards") as m:
        idx = merged_index(m)
        for i, name in enumerate(data_names("shards")):
            users = {e.name.split("/")[0] for e in idx.listed() if e.shard_id == i}
            assert len(users) == 1, (name, users)
            if users == {OBJECT_GRAPH}:
                continue
            src = os.path.join(sources, SOURCE_PATHS[users.pop()])
            with open(src + ".data-00000-of-00001", "rb") as f:
                assert read_file(m.join(name)) == f.read(), name


def boundaries(idx: ckptfmt.BundleIndex, shard: int) -> list[int]:
    out = set()
    for e in idx.listed():
        if e.shard_id == shard:
            out |= {e.offset, e.offset + e.size}
    return sorted(out)


def test_random_reads_agree(mnt):
    """Sequential reads in several chunk sizes, mmap and O_DIRECT preads at random
    offsets, at tensor boundaries and past EOF all return the same bytes."""
    idx = merged_index(mnt)
    rng = random.Random(1234)
    lengths = [1, 3, 4095, 4096, 4097, 65536, 131072 + 13, MAX_READ, MAX_READ + 4097]
    for shard, name in enumerate(data_names(mnt.layout)):
        path = mnt.join(name)
        whole = read_file(path)
        size = os.stat(path).st_size
        assert len(whole) == size
        for chunk in (4096, 65536 + 7, 3 * 1024 * 1024):
            assert read_file(path, chunk) == whole, chunk
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
            assert mm[:] == whole
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        try:
            cuts = boundaries(idx, shard)
            reads = [(rng.randrange(0, size + 1), rng.choice(lengths)) for _ in range(150)]
            reads += [(max(0, c + d), rng.choice(lengths)) for c in cuts for d in (-3, 0, 1)]
            reads += [(size - 10, 100), (size, 1), (size + 1, 4096), (size + 10**9, 10),
                      (0, size + MAX_READ)]
            for off, n in reads:
                assert direct_pread(fd, n, off) == whole[off:off + n], (name, off, n)
        finally:
            os.close(fd)


def test_concurrent_readers(mnt):
    """Several threads reading different ranges at once (the daemon is multithreaded)."""
    from concurrent.futures import ThreadPoolExecutor

    name = data_names(mnt.layout)[-1]
    path = mnt.join(name)
    whole = read_file(path)
    rng = random.Random(99)
    jobs = [(rng.randrange(0, len(whole)), rng.randrange(1, 200000)) for _ in range(200)]

    def check(job):
        off, n = job
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        try:
            return direct_pread(fd, n, off) == whole[off:off + n]
        finally:
            os.close(fd)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(check, jobs))


# ---------------------------------------------------------------------------------------
# writes

def test_writes_fail_with_erofs(mnt):
    f = mnt.join(f"{PREFIX}.index")
    attempts = {
        "open O_WRONLY": lambda: os.open(f, os.O_WRONLY),
        "open O_RDWR": lambda: os.open(f, os.O_RDWR),
        "open O_TRUNC": lambda: os.open(f, os.O_RDONLY | os.O_TRUNC),
        "create": lambda: os.open(mnt.join("new"), os.O_WRONLY | os.O_CREAT, 0o644),
        "touch": lambda: os.utime(f),
        "mkdir": lambda: os.mkdir(mnt.join("dir")),
        "rename": lambda: os.rename(f, mnt.join("renamed")),
        "truncate": lambda: os.truncate(f, 0),
        "unlink": lambda: os.unlink(f),
        "rmdir": lambda: os.rmdir(mnt.path),
        "symlink": lambda: os.symlink("checkpoint", mnt.join("link")),
        "link": lambda: os.link(f, mnt.join("hard")),
        "chmod": lambda: os.chmod(f, 0o644),
        "setxattr": lambda: os.setxattr(f, "user.x", b"1"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(OSError) as e:
            attempt()
        want = (errno.EROFS, errno.EBUSY) if what == "rmdir" else (errno.EROFS,)
        assert e.value.errno in want, f"{what}: {e.value}"
    assert not os.access(f, os.W_OK)
    assert os.access(f, os.R_OK)
    assert sorted(os.listdir(mnt.path)) == sorted(
        ["checkpoint", *data_names(mnt.layout), f"{PREFIX}.index"])


def test_xattrs_are_empty(mnt):
    f = mnt.join("checkpoint")
    assert os.listxattr(f) == []
    with pytest.raises(OSError) as e:
        os.getxattr(f, "user.x")
    assert e.value.errno in (errno.ENODATA, errno.EOPNOTSUPP)


# ---------------------------------------------------------------------------------------
# the daemon's life

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_daemon_with_status_0(tmp_path, mapping, ckptfs_bin, sig):
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        assert os.listdir(m.path)
        assert m.signal(sig) == 0, m.describe()
        assert not mounting.is_mounted(m.path), m.describe()


def test_fusermount_u_ends_daemon_with_status_0(tmp_path, mapping, ckptfs_bin):
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        with open(m.join(f"{PREFIX}.index"), "rb") as f:
            assert f.read(8)
        assert m.unmount() == 0, m.describe()
        assert not mounting.is_mounted(m.path)


def test_daemonizes_after_mounting(tmp_path, mapping, ckptfs_bin):
    """Without -f the command returns 0 once mounted and the daemon keeps serving."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        r = mounting.run_cmd([ckptfs_bin, mapping, str(mnt)], timeout=60)
        assert r.rc == 0, r.describe()
        assert mounting.is_mounted(str(mnt))
        assert "checkpoint" in os.listdir(mnt)
        assert mounting.fusermount("-u", str(mnt)).returncode == 0
        assert not mounting.is_mounted(str(mnt))
    finally:
        if mounting.is_mounted(str(mnt)):
            mounting.fusermount("-u", "-z", str(mnt))


def assert_nothing_mounted_at(path):
    assert not mounting.is_mounted(str(path)), mounting.mounts_at(str(path))


def test_bad_mapping_exits_1_with_position(tmp_path, sources, ckptfs_bin):
    bad = tmp_path / "bad.conf"
    bad.write_text(f"source a = {os.path.join(sources, SOURCE_PATHS['a'])}\n"
                   "map a:/ -> a/\n"
                   "frobnicate everything\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        r = mounting.run_cmd([ckptfs_bin, str(bad), str(mnt)], timeout=60)
        assert r.rc == 1, r.describe()
        assert re.search(r"^(?!ckptfs: ).*bad\.conf:3:1: error: ", r.stderr, re.M), r.stderr
        assert_nothing_mounted_at(mnt)
    finally:
        if mounting.is_mounted(str(mnt)):
            mounting.fusermount("-u", "-z", str(mnt))


def test_missing_source_exits_1(tmp_path, ckptfs_bin):
    bad = tmp_path / "bad.conf"
    bad.write_text(f"source a = {tmp_path}/nowhere/model\nmap a:/ -> a/\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = mounting.run_cmd([ckptfs_bin, str(bad), str(mnt), "-f"], timeout=60)
    assert r.rc == 1, r.describe()
    assert re.search(r"^(?!ckptfs: ).*bad\.conf:1:\d+: error: ", r.stderr, re.M), r.stderr
    assert_nothing_mounted_at(mnt)


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_bad_mountpoint_fails_first(tmp_path, ckptfs_bin, kind):
    """The mountpoint is checked before the mapping (which is broken here too)."""
    bad = tmp_path / "bad.conf"
    bad.write_text("nonsense\n")
    mnt = tmp_path / "mnt"
    if kind == "file":
        mnt.write_text("")
    r = mounting.run_cmd([ckptfs_bin, str(bad), str(mnt), "-f"], timeout=60)
    assert r.rc != 0, r.describe()
    want = "does not exist" if kind == "missing" else "is not a directory"
    assert f"ckptfs: mountpoint '{mnt}' {want}" in r.stderr, r.stderr
    assert "bad.conf" not in r.stderr
    assert_nothing_mounted_at(mnt)


@pytest.mark.parametrize("args, message", [
    (["-o", "layout=diagonal"], "invalid layout 'diagonal'"),
    (["-o", "prefix=a/b"], "invalid prefix 'a/b'"),
    (["-o", "no_such_option"], "unknown option"),
    (["extra"], "unexpected argument 'extra'"),
])
def test_bad_options_exit_1(tmp_path, mapping, ckptfs_bin, args, message):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = mounting.run_cmd([ckptfs_bin, mapping, str(mnt), "-f", *args], timeout=60)
    assert r.rc == 1, r.describe()
    assert message in r.stderr, r.stderr
    assert_nothing_mounted_at(mnt)


def test_options_prefix_and_max_read(tmp_path, mapping, ckptfs_bin, run_ckptfs):
    """-o prefix= renames the checkpoint; -o max_read= reaches the kernel and init()
    alike (libfuse 3.14 fails the mount with EPROTO when they differ)."""
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", "prefix=merged,max_read=65536") as m:
        assert sorted(os.listdir(m.path)) == sorted(
            ["checkpoint", "merged.data-00000-of-00001", "merged.index"])
        with open("/proc/self/mountinfo") as f:
            assert any(f" {os.path.realpath(m.path)} " in ln and "max_read=65536" in ln
                       for ln in f)
        r = run_ckptfs("verify", m.join("merged"))
        assert r.rc == 0, r.describe()
        path = m.join("merged.data-00000-of-00001")
        whole = read_file(path)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        try:
            assert direct_pread(fd, len(whole), 0) == whole
        finally:
            os.close(fd)


def test_default_layout_comes_from_the_mapping(tmp_path, sources, ckptfs_bin):
    mapping = sources_mapping(tmp_path / "m.conf", sources, SOURCES,
                              [f"prefix = {PREFIX}", "layout = shards"])
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        assert sorted(os.listdir(m.path)) == sorted(
            ["checkpoint", *data_names("shards"), f"{PREFIX}.index"])
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", "layout=single") as m:
        assert sorted(os.listdir(m.path)) == sorted(
            ["checkpoint", *data_names("single"), f"{PREFIX}.index"])


# ---------------------------------------------------------------------------------------
# the sources change under the mount

@pytest.mark.parametrize("layout", LAYOUTS)
def test_deleted_sources_keep_reads_exact(tmp_path, mapping, sources, ckptfs_bin, layout):
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={layout}") as m:
        names = data_names(layout)
        want = {n: read_file(m.join(n)) for n in names}
        index = read_file(m.join(f"{PREFIX}.index"))
        shutil.rmtree(sources)
        for n in names:  # O_DIRECT: the daemon reads its open source fds again
            fd = os.open(m.join(n), os.O_RDONLY | os.O_DIRECT)
            try:
                assert direct_pread(fd, len(want[n]) + 10, 0) == want[n], n
                assert direct_pread(fd, 1000, len(want[n]) // 3) == \
                    want[n][len(want[n]) // 3:len(want[n]) // 3 + 1000]
            finally:
                os.close(fd)
        assert read_file(m.join(f"{PREFIX}.index")) == index


@pytest.mark.parametrize("layout", LAYOUTS)
def test_truncated_source_gives_eio_logged_once(tmp_path, mapping, sources, ckptfs_bin,
                                                layout):
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={layout}", expect_clean_log=False) as m:
        idx = merged_index(m)
        victim = max((e for e in idx.listed() if e.name.startswith("c/")),
                     key=lambda e: e.size)
        prefix, _key = source_prefix(sources, victim.name)
        os.truncate(prefix + ".data-00000-of-00001", 0)
        path = m.join(data_names(layout)[victim.shard_id])
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        try:
            for _ in range(5):
                with pytest.raises(OSError) as e:
                    os.pread(fd, victim.size, victim.offset)
                assert e.value.errno == errno.EIO
        finally:
            os.close(fd)
        assert m.unmount() == 0
        lines = [ln for ln in m.log().splitlines() if "failed" in ln]
        assert len(lines) == 1 and os.path.basename(path) in lines[0], m.log()


# ---------------------------------------------------------------------------------------
# a read made of more pieces than one splice reply may carry

SAVE_SCRIPT = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
prefix, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(5)
names, vals = [], []
for i in range(n):
    # sorted names alternate small (kept) and big (excluded) tensors, so the kept ones
    # are separated in the source by more than the view's gap limit (64 KiB)
    names += [f"t{i:04d}/a_small", f"t{i:04d}/b_big"]
    vals += [rng.integers(0, 256, 4096, dtype=np.uint8),
             rng.integers(0, 256, 70000, dtype=np.uint8)]
tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                  tensors=[tf.constant(v) for v in vals])
"""


def test_many_pieces_are_copied_not_spliced(tmp_path, ckptfs_bin, run_ckptfs):
    """A 512 KiB read over 128 scattered 4 KiB tensors needs more pieces than the
    daemon splices in one reply (CKPTFS_MAX_PIECES = 64): it must fall back to
    view_read and still return exact bytes; smaller reads are still spliced. Splicing
    is /dev/fuse's: on io_uring queues (CKPTFS_MOUNT_OPTS="-o io_uring=auto") every
    reply is copied and libfuse logs no reply sizes, so only the bytes are checked."""
    import sys

    src = tmp_path / "src"
    src.mkdir()
    prefix = str(src / "ckpt")
    r = subprocess.run([sys.executable, "-c", SAVE_SCRIPT, prefix, "128"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    mapping = tmp_path / "m.conf"
    mapping.write_text(f"source s = {prefix}\nmap s:/ -> /\nexclude s:*/b_big\n")
    with mounting.mounted(ckptfs_bin, str(mapping), str(tmp_path / "mnt"), "-d",
                          expect_clean_log=False) as m:
        idx = merged_index(m)
        small = sorted(idx.listed(), key=lambda e: e.offset)
        assert len(small) == 128 and all(e.size == 4096 for e in small)
        want = bytearray()
        for e in small:
            r = run_ckptfs("cat", prefix, e.name)
            assert r.rc == 0, r.describe()
            assert len(r.stdout) == 4096
            want[e.offset:e.offset + e.size] = r.stdout
        path = m.join(data_names("single")[0])
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        try:
            for e in small[::2]:  # two pieces, 8 KiB: large enough to be spliced
                assert os.pread(fd, 8192, e.offset) == want[e.offset:e.offset + 8192]
            seen = len(m.log())
            on_uring = "io_uring in use" in m.log()
            assert on_uring or "(splice)" in m.log(), "no read reply was spliced"
            assert os.pread(fd, MAX_READ, 0) == want[:MAX_READ]
            # the kernel may split the read at the user buffer's page boundaries
            replies = re.findall(r"success, outsize: (\d+)(.*)", m.log()[seen:])
            assert on_uring or any(int(n) > 64 * 4096 for n, _ in replies), replies
            assert not any("splice" in rest for _, rest in replies), replies
        finally:
            os.close(fd)
