"""FUSE passthrough: data files that are one source shard whole are read by the kernel
straight from that shard (docs/mounting.md, "Passthrough").

The daemon runs with -d, which logs every request it gets: a file served by passthrough
gets an OPEN but never a READ (-d logs the IOCTLs Python's open() sends as errors, so
those logs are not checked for errors).  The bytes are checked against the source shards
themselves (a 1:1 file *is* its shard), through read(2), mmap and O_DIRECT, and the
promises of the daemon path are checked to hold or to differ only as documented: sources
deleted or replaced after mounting still read the mounted bytes; a shard truncated in
place reads short (passthrough) or fails with EIO (O_DIRECT, the daemon path), never
with other bytes.  These tests choose their path themselves, so CKPTFS_MOUNT_OPTS is
ignored here.
"""

from __future__ import annotations

import errno
import os
import random

import pytest

from datapath_lib import PREFIX, merge_mapping, no_extra_mount_opts, reads_of  # noqa: F401
from pylib import ckptfmt, mounting
from pylib.mountio import data_files, direct_pread, mmap_bytes, read_file
from pylib.sources import random_sources_fixture

SIZES = {"a": 3 * 1024 * 1024 + 123, "b": 700 * 1024 + 5}


# two one-shard sources of random bytes; name -> data shard path
sources = random_sources_fixture(SIZES, seed=12, split=2)


def require_passthrough(m):
    log = m.log()
    if "passthrough unavailable (built with libfuse" in log:
        pytest.skip("this ckptfs is built with a libfuse older than 3.17")
    assert "passthrough unavailable" not in log, m.describe()


def expect_path_log(m, name: str, passthrough: bool):
    line = f"'{name}': passthrough (the kernel reads the source shard)"
    assert (line in m.log()) == passthrough, m.describe()


def test_shard_files_are_read_by_the_kernel(tmp_path, sources, ckptfs_bin):
    mapping = merge_mapping(tmp_path, ["a", "b"], "shards")
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-d",
                          expect_clean_log=False) as m:
        require_passthrough(m)
        names = data_files(m.path)
        assert len(names) == 2
        for name, src in zip(names, [sources["a"], sources["b"]]):
            want = open(src, "rb").read()
            p = m.join(name)
            assert read_file(p) == want
            assert read_file(p, chunk=4096 + 7) == want
            assert mmap_bytes(p) == want
            with open(p, "rb", buffering=0) as f:   # random preads, past EOF too
                rng = random.Random(name)
                for _ in range(50):
                    off, n = rng.randrange(len(want) + 10), rng.choice([1, 4095, 65536, 1 << 20])
                    assert os.pread(f.fileno(), n, off) == want[off:off + n]
            assert reads_of(m, p) == 0, m.describe()
            expect_path_log(m, name, True)
        # the index is the daemon's, as always
        idx = m.join(f"{PREFIX}.index")
        assert ckptfmt.read_index(m.join(PREFIX)).entries
        assert reads_of(m, idx) > 0


def test_single_file_uses_passthrough_only_when_it_is_one_shard(tmp_path, sources,
                                                                ckptfs_bin):
    one = merge_mapping(tmp_path, ["a"], "single")
    with mounting.mounted(ckptfs_bin, one, str(tmp_path / "mnt1"), "-d",
                          expect_clean_log=False) as m:
        require_passthrough(m)
        [name] = data_files(m.path)
        assert read_file(m.join(name)) == open(sources["a"], "rb").read()
        assert reads_of(m, m.join(name)) == 0
        expect_path_log(m, name, True)
    two = merge_mapping(tmp_path, ["a", "b"], "single")
    with mounting.mounted(ckptfs_bin, two, str(tmp_path / "mnt2"), "-d",
                          expect_clean_log=False) as m:
        [name] = data_files(m.path)
        want = open(sources["a"], "rb").read() + open(sources["b"], "rb").read()
        assert read_file(m.join(name)) == want
        assert mmap_bytes(m.join(name)) == want
        assert reads_of(m, m.join(name)) > 0
        expect_path_log(m, name, False)


def test_passthrough_off_serves_every_read(tmp_path, sources, ckptfs_bin):
    mapping = merge_mapping(tmp_path, ["a", "b"], "shards")
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-d",
                          "-o", "passthrough=off", expect_clean_log=False) as m:
        assert "passthrough off (-o passthrough=off)" in m.log()
        for name, src in zip(data_files(m.path), [sources["a"], sources["b"]]):
            want = open(src, "rb").read()
            assert read_file(m.join(name)) == want
            assert mmap_bytes(m.join(name)) == want
            assert reads_of(m, m.join(name)) > 0
            expect_path_log(m, name, False)


def test_bad_passthrough_value_exits_1(tmp_path, sources, ckptfs_bin, run_ckptfs):
    mapping = merge_mapping(tmp_path, ["a"], "shards")
    (tmp_path / "mnt").mkdir()
    r = run_ckptfs(mapping, str(tmp_path / "mnt"), "-o", "passthrough=on")
    assert r.rc == 1, r.describe()
    assert "passthrough=on is not auto or off" in r.stderr, r.describe()
    assert not mounting.is_mounted(str(tmp_path / "mnt"))


@pytest.mark.parametrize("layout", ["shards", "single"])
def test_replaced_and_deleted_sources_read_the_mounted_bytes(tmp_path, sources, ckptfs_bin,
                                                            layout):
    names = ["a"] if layout == "single" else ["a", "b"]
    mapping = merge_mapping(tmp_path, names, layout)
    want = {n: open(sources[n], "rb").read() for n in names}
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        require_passthrough(m)
        # before the first open: the backing file must be the pinned shard, not the path
        new = tmp_path / "new"
        new.write_bytes(bytes(len(want["a"])))
        os.replace(new, sources["a"])
        if "b" in names:
            os.unlink(sources["b"])
        for name, n in zip(data_files(m.path), names):
            assert read_file(m.join(name)) == want[n]
            assert mmap_bytes(m.join(name)) == want[n]
            expect_path_log(m, name, True)


def test_truncated_shard_reads_short_or_eio_never_other_bytes(tmp_path, sources,
                                                             ckptfs_bin):
    mapping = merge_mapping(tmp_path, ["a"], "shards")
    want = open(sources["a"], "rb").read()
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          expect_clean_log=False) as m:
        require_passthrough(m)
        [name] = data_files(m.path)
        p = m.join(name)
        keep = 100_000
        os.truncate(sources["a"], keep)
        # passthrough: the shard's own end of file, as reading the shard would
        got = read_file(p)
        assert got == want[:keep]
        with open(p, "rb", buffering=0) as f:
            assert os.pread(f.fileno(), 10, keep + 5000) == b""
        # O_DIRECT is served by the daemon, which knows the size it mounted: EIO
        fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
        try:
            with pytest.raises(OSError) as e:
                os.pread(fd, 4096, 2 * keep)
            assert e.value.errno == errno.EIO
        finally:
            os.close(fd)
        expect_path_log(m, name, True)


def test_direct_and_passthrough_opens_coexist(tmp_path, sources, ckptfs_bin):
    mapping = merge_mapping(tmp_path, ["a", "b"], "shards")
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        require_passthrough(m)
        name = data_files(m.path)[0]
        want = open(sources["a"], "rb").read()
        with open(m.join(name), "rb", buffering=0) as f:
            fd = os.open(m.join(name), os.O_RDONLY | os.O_DIRECT)
            try:
                # unaligned O_DIRECT reads: the daemon serves any range
                assert direct_pread(fd, 1000, 3) == want[3:1003]
                assert os.pread(f.fileno(), 1000, 3) == want[3:1003]
                assert direct_pread(fd, len(want) + 10, 0) == want
            finally:
                os.close(fd)
            assert f.read() == want
        expect_path_log(m, name, True)


def test_check_says_which_files_can_be_passed_through(tmp_path, sources, run_ckptfs):
    line = "data file(s) are one source shard whole"
    r = run_ckptfs("check", merge_mapping(tmp_path, ["a", "b"], "shards"))
    assert r.rc == 0 and f"  2 of 2 {line}" in r.stdout.decode(), r.describe()
    r = run_ckptfs("check", merge_mapping(tmp_path, ["a"], "single"))
    assert r.rc == 0 and f"  1 of 1 {line}" in r.stdout.decode(), r.describe()
    r = run_ckptfs("check", merge_mapping(tmp_path, ["a", "b"], "single"))
    assert r.rc == 0 and line not in r.stdout.decode(), r.describe()



def test_merge_of_a_mounted_merge_falls_back_with_a_notice(tmp_path, sources, ckptfs_bin):
    """A source that lives on a ckptfs mount with passthrough is on a stacked file
    system as deep as the kernel allows (FUSE_BACKING_STACKED_OVER), so the kernel
    refuses it as a backing file (ELOOP): its data file is served by the daemon, with
    one line saying why, and reads the same bytes."""
    inner = merge_mapping(tmp_path, ["a"], "shards")
    want = open(sources["a"], "rb").read()
    with mounting.mounted(ckptfs_bin, inner, str(tmp_path / "inner")) as m1:
        require_passthrough(m1)
        outer = tmp_path / "outer.conf"
        outer.write_text(f"source m = {m1.join(PREFIX)}\nmap m:/ -> /\nlayout = shards\n")
        with mounting.mounted(ckptfs_bin, str(outer), str(tmp_path / "outer"),
                              expect_clean_log=False) as m2:
            [name] = data_files(m2.path)
            assert read_file(m2.join(name)) == want
            assert mmap_bytes(m2.join(name)) == want
            assert (f"'{name}': served by the daemon: passthrough refused "
                    "(Too many levels of symbolic links)") in m2.log(), m2.describe()
            expect_path_log(m2, name, False)
