"""Hostile conditions: the sources change under a live mount (deleted, replaced by
rename, truncated in place).  The mount keeps serving the bytes it mounted, and a read that
needs bytes that are gone fails with EIO, never with short or wrong data."""

from __future__ import annotations

import errno
import os
import shutil

import pytest

from hostile_lib import LAYOUTS, PREFIX, assert_random_reads, mount_in_layout
from pylib.ckptfmt import data_filename, read_index, write_bundle
from pylib.lsout import parse_ls_mapping
from pylib.mountio import data_files, direct_pread, read_direct, snapshot
from pylib.sources import BIG_DATA_ORDER, CORPUS_SOURCES, SOURCE_PATHS, big_tensors
from sourceguard import SourceGuard


def tensor_locations(m, run_ckptfs, mapping: str, srcdir: str) -> list[dict]:
    """Per merged tensor: data file, merged offset, size, source prefix, key, source
    offset and source shard file."""
    r = run_ckptfs("ls", mapping)
    assert r.rc == 0, r.describe()
    listed = parse_ls_mapping(r.stdout.decode())
    idx = read_index(m.join(PREFIX))
    names = data_files(m.path)
    src_idx = {}
    out = []
    for e in idx.listed():
        if e.is_partitioned:
            continue
        info = listed[e.name]
        if info["source"] == "-":  # the rewritten object graph: in memory, no source's
            continue
        sprefix = os.path.join(srcdir, SOURCE_PATHS[info["source"]])
        if sprefix not in src_idx:
            src_idx[sprefix] = read_index(sprefix)
        se = src_idx[sprefix].by_key[info["key"].encode()]
        out.append({"name": e.name, "file": names[e.shard_id], "offset": e.offset,
                    "size": e.size, "source": info["source"], "prefix": sprefix,
                    "key": info["key"], "src_offset": se.offset,
                    "src_file": src_idx[sprefix].data_path(se.shard_id)})
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sources_deleted_after_mounting(tmp_path, ckptfs_bin, mapping, sources, layout):
    with mount_in_layout(ckptfs_bin, mapping, tmp_path, layout) as m:
        want = snapshot(m)
        shutil.rmtree(sources)
        assert snapshot(m) == want
        assert_random_reads(m, want, 300, seed=3)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sources_replaced_by_rename(tmp_path, ckptfs_bin, run_ckptfs, mapping, sources,
                                    layout):
    """New content renamed over every source file (as a trainer's next save would):
    the mount keeps serving the bytes it was mounted with."""
    with mount_in_layout(ckptfs_bin, mapping, tmp_path, layout) as m:
        want = snapshot(m)
        big = os.path.join(sources, SOURCE_PATHS["big"])
        before_cat = run_ckptfs("cat", big, "big/emb").stdout
        # a valid bundle with other bytes, renamed over the big source's two files
        tmp = os.path.join(sources, "big", "next")
        write_bundle(tmp, big_tensors(invert=True), data_order=BIG_DATA_ORDER)
        os.rename(data_filename(tmp, 0, 1),
                  data_filename(big, 0, 1))
        os.rename(tmp + ".index", big + ".index")
        # every corpus data file: same size, every byte inverted
        for name in CORPUS_SOURCES:
            path = data_filename(os.path.join(sources, SOURCE_PATHS[name]), 0, 1)
            with open(path, "rb") as f:
                data = f.read()
            with open(path + ".tmp", "wb") as f:
                f.write(bytes(b ^ 0xFF for b in data))
            os.rename(path + ".tmp", path)
        after_cat = run_ckptfs("cat", big, "big/emb")
        assert after_cat.rc == 0 and after_cat.stdout != before_cat, \
            "the replacement did not take effect for a fresh reader"
        assert snapshot(m) == want
        assert_random_reads(m, want, 300, seed=4)



@pytest.mark.parametrize("layout", LAYOUTS)
def test_source_truncated_in_place(tmp_path, ckptfs_bin, run_ckptfs, mapping, sources,
                                   layout):
    """Cutting a source shard in half: reads that need the lost bytes fail with EIO
    (never short or wrong data), everything else keeps being served exactly."""
    guard = SourceGuard(os.path.join(sources, "corpus"))
    with mount_in_layout(ckptfs_bin, mapping, tmp_path, layout,
                         expect_clean_log=False) as m:
        want = snapshot(m)
        locs = tensor_locations(m, run_ckptfs, mapping, sources)
        big_file = data_filename(os.path.join(sources, SOURCE_PATHS["big"]), 0, 1)
        cut = os.path.getsize(big_file) // 2
        os.truncate(big_file, cut)
        lost, kept = [], []
        for loc in locs:
            if loc["size"] == 0:
                continue  # nothing to read, nothing to lose
            gone = loc["src_file"] == big_file and loc["src_offset"] + loc["size"] > cut
            (lost if gone else kept).append(loc)
        assert lost and len(kept) > len(lost)
        for _round in range(2):  # the failures leave the daemon serving
            for loc in lost + kept:
                fd = os.open(m.join(loc["file"]), os.O_RDONLY | os.O_DIRECT)
                try:
                    if loc in lost:
                        with pytest.raises(OSError) as e:
                            direct_pread(fd, loc["size"], loc["offset"])
                        assert e.value.errno == errno.EIO, (loc, e.value)
                    else:
                        got = direct_pread(fd, loc["size"], loc["offset"])
                        assert got == want[loc["file"]][loc["offset"]:
                                                        loc["offset"] + loc["size"]], loc
                finally:
                    os.close(fd)
        # whole files that do not touch the cut source are intact
        affected = {loc["file"] for loc in lost}
        for name, ref in want.items():
            if name not in affected:
                assert read_direct(m.join(name)) == ref, name
        assert m.proc.poll() is None, m.describe()
        assert m.unmount() == 0, m.describe()
        failed = [ln for ln in m.log().splitlines() if "failed" in ln]
        assert failed and all(any(f in ln for f in affected) for ln in failed), m.log()
    guard.check("a mount whose other source was truncated")
