"""FUSE over io_uring (docs/mounting.md, "io_uring"): with -o io_uring=auto requests come
through io_uring queues where libfuse (>= 3.18) and the kernel (the fuse module's
enable_uring) offer them, else through /dev/fuse; -o io_uring=off, and the default, always
take /dev/fuse. The log says which, once. Either way the bytes are the sources': the
concatenated data file through direct I/O and the page cache, mmap, random preads, and a
TensorFlow restore.

Where this build or kernel has no io_uring, the tests of the io_uring path check the bytes
of the /dev/fuse fallback and its log line instead (scripts/test fails on a skip, and the
default build's libfuse, 3.17, has no io_uring); with CKPTFS_REQUIRE_URING=1 (CI's uring
stage) they fail. These tests choose their path
themselves, so CKPTFS_MOUNT_OPTS is ignored here.
"""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

import tfgen
from datapath_lib import PREFIX, merge_mapping, no_extra_mount_opts  # noqa: F401
from pylib import mounting
from pylib.mountio import data_files, mmap_bytes, read_file
from pylib.sources import random_sources_fixture

# larger than one 1 MiB request, with odd ends, so requests straddle shards
SIZES = {"a": 3 * 1024 * 1024 + 123, "b": 700 * 1024 + 5}
IN_USE = "io_uring in use: requests come through io_uring queues"
OFF = "io_uring off (-o io_uring=off): requests come through /dev/fuse"
DEFAULT_OFF = ("io_uring off (the default; -o io_uring=auto asks for it): "
               "requests come through /dev/fuse")
NO_LIBFUSE = "io_uring unavailable (built with libfuse"
NO_KERNEL = "io_uring unavailable (the kernel does not offer it"

sources = random_sources_fixture(SIZES, seed=23, split=2)


def uring_lines(m) -> list[str]:
    return [ln for ln in m.log().splitlines() if "io_uring" in ln]


def uring_used(m) -> bool:
    """Whether a mount with -o io_uring=auto got io_uring queues: where this build or
    kernel has none, the log must say so (and CKPTFS_REQUIRE_URING=1 fails the test)."""
    log = m.log()
    if IN_USE in log:
        return True
    why = ("this ckptfs is built with a libfuse older than 3.18" if NO_LIBFUSE in log
           else "this kernel does not offer FUSE over io_uring "
                "(/sys/module/fuse/parameters/enable_uring is off?)" if NO_KERNEL in log
           else None)
    assert why, f"neither io_uring in use nor why not:\n{m.describe()}"
    if os.environ.get("CKPTFS_REQUIRE_URING") == "1":
        pytest.fail(f"{why}, and CKPTFS_REQUIRE_URING=1\n{m.describe()}")
    return False


def check_bytes(p: str, want: bytes):
    assert read_file(p) == want
    assert read_file(p, chunk=4096 + 7) == want
    assert mmap_bytes(p) == want
    with open(p, "rb", buffering=0) as f:   # random preads, past EOF too
        rng = random.Random(5)
        for _ in range(40):
            off = rng.randrange(len(want) + 10)
            n = rng.choice([1, 4095, 65536, 1 << 20, 3 << 20])
            assert os.pread(f.fileno(), n, off) == want[off:off + n]


@pytest.mark.parametrize("cache", ["direct", "page"])
def test_io_uring_serves_the_sources_bytes(tmp_path, sources, ckptfs_bin, cache):
    names = ["a", "b"]
    mapping = merge_mapping(tmp_path, names, "single")
    want = b"".join(open(sources[n], "rb").read() for n in names)
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-f",
                          "-o", f"cache={cache}", "-o", "io_uring=auto") as m:
        [name] = data_files(m.path)
        check_bytes(m.join(name), want)
        uring_used(m)
        assert len(uring_lines(m)) == 1, m.describe()


def test_io_uring_off_takes_dev_fuse(tmp_path, sources, ckptfs_bin):
    names = ["a", "b"]
    mapping = merge_mapping(tmp_path, names, "single")
    want = b"".join(open(sources[n], "rb").read() for n in names)
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-f",
                          "-o", "io_uring=off") as m:
        [name] = data_files(m.path)
        check_bytes(m.join(name), want)
        assert uring_lines(m) == [f"ckptfs: {OFF}"], m.describe()


def test_io_uring_is_off_by_default(tmp_path, sources, ckptfs_bin):
    mapping = merge_mapping(tmp_path, ["a"], "single")
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-f") as m:
        [name] = data_files(m.path)
        assert read_file(m.join(name)) == open(sources["a"], "rb").read()
        assert uring_lines(m) == [f"ckptfs: {DEFAULT_OFF}"], m.describe()


def test_io_uring_auto_says_once_what_it_does(tmp_path, sources, ckptfs_bin):
    """Whatever this build and kernel offer, -o io_uring=auto logs one io_uring line."""
    mapping = merge_mapping(tmp_path, ["a"], "single")
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-f",
                          "-o", "io_uring=auto") as m:
        [name] = data_files(m.path)
        assert read_file(m.join(name)) == open(sources["a"], "rb").read()
        lines = uring_lines(m)
    assert len(lines) == 1, m.describe()
    assert any(s in lines[0] for s in (IN_USE, NO_LIBFUSE, NO_KERNEL)), m.describe()


def test_bad_io_uring_value_exits_1(tmp_path, sources, run_ckptfs):
    mapping = merge_mapping(tmp_path, ["a"], "single")
    (tmp_path / "mnt").mkdir()
    r = run_ckptfs(mapping, str(tmp_path / "mnt"), "-o", "io_uring=on")
    assert r.rc == 1, r.describe()
    assert "io_uring=on is not auto or off" in r.stderr, r.describe()
    assert not mounting.is_mounted(str(tmp_path / "mnt"))


@pytest.fixture(scope="module")
def tf_saver(tmp_path_factory):
    """A TF1 Saver checkpoint."""
    return tfgen.make_tf1_saver(str(tmp_path_factory.mktemp("uring_tf")))[0]


@pytest.mark.parametrize("uring", ["auto", "off"])
def test_tf_saver_restores_through_io_uring(tmp_path, tf_saver, ckptfs_bin, uring):
    mapping = tmp_path / "tf.conf"
    mapping.write_text(f"source s = {tf_saver.prefix}\nmap s:/ -> /\nlayout = single\n")
    with mounting.mounted(ckptfs_bin, str(mapping), str(tmp_path / "mnt"), "-f",
                          "-o", f"io_uring={uring}") as m:
        got = tfgen.tf1_restore_values(m.join(PREFIX))
        if uring == "auto":
            uring_used(m)
    assert sorted(got) == sorted(tf_saver.expected)
    for k, v in tf_saver.expected.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)
