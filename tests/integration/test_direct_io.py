"""Direct I/O for the data files the daemon serves (docs/mounting.md, "Direct I/O").

With -o cache=direct (and where it is possible, -o cache=auto) the daemon answers the open
of a data file it serves (the concatenated `layout = single` file over several shards, every
data file with -o passthrough=off) with FOPEN_DIRECT_IO: no FUSE page cache, every read(2)
reaches the daemon, which splices from the sources' page cache.  These tests mount with -d,
whose log names every request, so they can tell the paths apart: on the direct path a
second read of a file sends READs again, on the page cache path it does not.  The bytes are
checked against the sources through read(2), mmap (FUSE_DIRECT_IO_ALLOW_MMAP) and a TF1
Saver.restore; the daemon path's promises must hold: a source shard truncated in place
gives EIO (never short or other bytes), and sources deleted or replaced after mounting
still read the mounted bytes.  These tests choose their path themselves, so
CKPTFS_MOUNT_OPTS is ignored here.
"""

from __future__ import annotations

import errno
import os
import random

import numpy as np
import pytest

import tfgen
from datapath_lib import PREFIX, merge_mapping, no_extra_mount_opts, reads_of  # noqa: F401
from pylib import ckptfmt, mounting
from pylib.mountio import data_files, mmap_bytes, read_file, splice_max_read
from pylib.sources import random_sources_fixture

# larger than one 1 MiB request, with odd ends, so requests straddle shards
SIZES = {"a": 3 * 1024 * 1024 + 123, "b": 700 * 1024 + 5, "c": 2 * 1024 * 1024 + 77}
DIRECT_LINE = "data files the daemon serves use direct I/O"
PAGE_LINE = "data files the daemon serves go through the FUSE page cache"


# three one-shard sources of random bytes; name -> data shard path
sources = random_sources_fixture(SIZES, seed=7, split=3)


def require_direct(m):
    """Skip where this build or kernel cannot keep mmap working on direct I/O."""
    log = m.log()
    if "cannot ask for FUSE_DIRECT_IO_ALLOW_MMAP" in log:
        pytest.skip("this ckptfs is built with a libfuse older than 3.16")
    if "the kernel does not offer FUSE_DIRECT_IO_ALLOW_MMAP" in log:
        pytest.skip("this kernel cannot mmap a direct-I/O FUSE file (Linux < 6.6)")
    assert DIRECT_LINE in log, m.describe()


def concatenation(sources, names) -> bytes:
    return b"".join(open(sources[n], "rb").read() for n in names)


def test_concatenated_file_reads_the_sources_without_the_page_cache(tmp_path, sources,
                                                                    ckptfs_bin):
    names = ["a", "b", "c"]
    mapping = merge_mapping(tmp_path, names, "single")
    want = concatenation(sources, names)
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-d",
                          "-o", "cache=direct", expect_clean_log=False) as m:
        require_direct(m)
        [name] = data_files(m.path)
        p = m.join(name)
        assert read_file(p) == want
        first = reads_of(m, p)
        assert first > 0
        # nothing cached by FUSE: the same read reaches the daemon again
        assert read_file(p, chunk=4096 + 7) == want
        assert reads_of(m, p) > first, m.describe()
        assert mmap_bytes(p) == want
        with open(p, "rb", buffering=0) as f:   # random preads, past EOF too
            rng = random.Random(3)
            for _ in range(60):
                off = rng.randrange(len(want) + 10)
                n = rng.choice([1, 4095, 65536, 1 << 20, 3 << 20])
                assert os.pread(f.fileno(), n, off) == want[off:off + n]
        # the index is served from memory, through the page cache as always
        assert ckptfmt.read_index(m.join(PREFIX)).entries


def test_requests_are_as_large_as_the_splice_pipe_allows(tmp_path, sources, ckptfs_bin):
    mapping = merge_mapping(tmp_path, ["a", "b"], "single")
    size = splice_max_read()
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-f",
                          "-o", "cache=direct", expect_clean_log=False) as m:
        require_direct(m)
        assert f"{size}-byte requests" in m.log(), m.describe()
        assert os.statvfs(m.path).f_bsize == size
    # the page cache path keeps the request size it was tuned with
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-f",
                          "-o", "cache=page", expect_clean_log=False) as m:
        assert os.statvfs(m.path).f_bsize == 512 << 10


def test_passthrough_off_files_use_direct_io(tmp_path, sources, ckptfs_bin):
    mapping = merge_mapping(tmp_path, ["a", "b"], "shards")
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-d",
                          "-o", "passthrough=off", "-o", "cache=direct",
                          expect_clean_log=False) as m:
        require_direct(m)
        for name, src in zip(data_files(m.path), [sources["a"], sources["b"]]):
            want = open(src, "rb").read()
            p = m.join(name)
            assert read_file(p) == want
            first = reads_of(m, p)
            assert read_file(p) == want
            assert reads_of(m, p) > first
            assert mmap_bytes(p) == want


def test_cache_page_keeps_the_fuse_page_cache(tmp_path, sources, ckptfs_bin):
    names = ["a", "b"]
    mapping = merge_mapping(tmp_path, names, "single")
    want = concatenation(sources, names)
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-d",
                          "-o", "cache=page", expect_clean_log=False) as m:
        assert f"{PAGE_LINE} (-o cache=page)" in m.log(), m.describe()
        [name] = data_files(m.path)
        p = m.join(name)
        assert read_file(p) == want
        first = reads_of(m, p)
        assert first > 0
        # served from the FUSE page cache: no request reaches the daemon
        assert read_file(p) == want
        assert mmap_bytes(p) == want
        assert reads_of(m, p) == first, m.describe()


def test_bad_cache_value_exits_1(tmp_path, sources, run_ckptfs):
    mapping = merge_mapping(tmp_path, ["a"], "single")
    (tmp_path / "mnt").mkdir()
    r = run_ckptfs(mapping, str(tmp_path / "mnt"), "-o", "cache=none")
    assert r.rc == 1, r.describe()
    assert "cache=none is not auto, page or direct" in r.stderr, r.describe()
    assert not mounting.is_mounted(str(tmp_path / "mnt"))


def test_truncated_source_gives_eio_on_plain_reads(tmp_path, sources, ckptfs_bin):
    """On the page cache path only O_DIRECT is sure to reach the daemon; with direct I/O
    every read does, so a plain read(2) of the cut-off range fails with EIO."""
    names = ["a", "b"]
    mapping = merge_mapping(tmp_path, names, "single")
    want = concatenation(sources, names)
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-f",
                          "-o", "cache=direct", expect_clean_log=False) as m:
        require_direct(m)
        [name] = data_files(m.path)
        p = m.join(name)
        keep = 100_000
        os.truncate(sources["a"], keep)
        a_end = SIZES["a"]
        with open(p, "rb", buffering=0) as f:
            assert os.pread(f.fileno(), 4096, 0) == want[:4096]   # still inside a
            assert os.pread(f.fileno(), 4096, a_end + 10) == want[a_end + 10:a_end + 4106]
            for n, off in ((4096, 2 * keep), (1 << 20, 0)):   # past a's new end
                with pytest.raises(OSError) as e:
                    os.pread(f.fileno(), n, off)
                assert e.value.errno == errno.EIO
        assert m.unmount() == 0
        assert "(a source shard was changed after mounting?)" in m.log(), m.log()


def test_replaced_and_deleted_sources_read_the_mounted_bytes(tmp_path, sources, ckptfs_bin):
    names = ["a", "b", "c"]
    mapping = merge_mapping(tmp_path, names, "single")
    want = concatenation(sources, names)
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-f",
                          "-o", "cache=direct") as m:
        require_direct(m)
        new = tmp_path / "new"
        new.write_bytes(bytes(SIZES["a"]))
        os.replace(new, sources["a"])
        os.unlink(sources["b"])
        [name] = data_files(m.path)
        assert read_file(m.join(name)) == want
        assert mmap_bytes(m.join(name)) == want


@pytest.fixture(scope="module")
def tf_sources(tmp_path_factory):
    """A TF1 Saver checkpoint and TensorFlow's own two-shard checkpoint."""
    out = str(tmp_path_factory.mktemp("direct_tf"))
    saver = tfgen.make_tf1_saver(out)[0]
    multi = tfgen.make_multishard(out)
    return saver, multi


def test_tf_saver_restores_from_the_direct_path(tmp_path, tf_sources, ckptfs_bin):
    saver, multi = tf_sources
    mapping = tmp_path / "tf.conf"
    # three shards in one data file: the concatenation the daemon serves
    mapping.write_text(f"source s = {saver.prefix}\nsource m = {multi.prefix}\n"
                       "map s:/ -> /\nmap m:/ -> extra/\nlayout = single\n")
    with mounting.mounted(ckptfs_bin, str(mapping), str(tmp_path / "mnt"), "-f",
                          "-o", "cache=direct") as m:
        require_direct(m)
        [name] = data_files(m.path)
        assert ".data-00000-of-00001" in name
        got = tfgen.tf1_restore_values(m.join(PREFIX))
    assert sorted(got) == sorted(saver.expected)
    for k, v in saver.expected.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)
