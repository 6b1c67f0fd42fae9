"""Hostile input and hostile conditions (issue #6): ckptfs must refuse damaged input with
a message that names the file and the problem, never mount half-way, keep serving the
bytes it mounted whatever happens to the sources afterwards, end cleanly on signals,
recover from a killed daemon, and never write anywhere.

Sections:
* corrupt checkpoints: a catalogue of damaged index and data files (hand-built with
  hostile_lib's SSTable writer, and TensorFlow-written corpus files damaged in place),
  each run through ``ckptfs ls``, ``ckptfs verify``, ``ckptfs check``, ``ckptfs ls MAPPING``
  and the mount form;
* broken mappings;
* bad mountpoints (missing, a regular file, already a ckptfs mount, a dead mount);
* sources changing under a live mount (deleted, replaced by rename, truncated in place),
  SIGTERM under heavy reads, kill -9 and recovery;
* security: EROFS for every write, other users shut out without allow_other, and with
  allow_other the kernel enforcing the 0444/0555 modes (default_permissions).

Every test checks that the files it did not mean to change are bit-identical afterwards.
The 60 s load test lives in test_load.py.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ckpt_helpers
import mountlib
from hostile_lib import (DT_DOUBLE, DT_FLOAT, DT_INT32, DT_INT64, DT_UINT8, Tensor,
                         block_spans, build_table, daemon, data_block_handles, direct_pread,
                         entry_proto, fix_block_crc, force_unmount_all, header_proto,
                         mounts_at, parse_footer, parse_ls_mapping, processes_naming,
                         read_direct, run_cmd, varint, write_bundle)

PREFIX = "model.ckpt"
CORPUS = {  # mapping source name -> prefix below tests/data/corpus
    "a": "serving_half_plus_two_tf1/variables",
    "b": "serving_half_plus_two_tf2/variables",
    "c": "tfx_estimator_tf1/model.ckpt-1000",
    "d": "tfx_keras_tf2/variables",
}
NOBODY = 65534
CORPUS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "data", "corpus")


# ---------------------------------------------------------------------------------------
# guards: "nothing lost"

class Guard:
    """sha256 of every file below root now; check() asserts nothing changed."""

    def __init__(self, root: str):
        self.root = root
        self.before = ckpt_helpers.tree_digest(root)

    def check(self, what: str):
        bad = ckpt_helpers.diff_digests(self.before, ckpt_helpers.tree_digest(self.root))
        assert not bad, f"files under {self.root} changed by {what}: {bad}"


# ---------------------------------------------------------------------------------------
# sources

def small_tensors() -> list[Tensor]:
    rng = np.random.default_rng(7)
    return [
        Tensor("alpha", DT_FLOAT, [16], rng.standard_normal(16).astype(np.float32).tobytes()),
        Tensor("beta/kernel", DT_FLOAT, [8, 8],
               rng.standard_normal(64).astype(np.float32).tobytes()),
        Tensor("delta", DT_UINT8, [300], rng.integers(0, 256, 300, dtype=np.uint8).tobytes()),
        Tensor("gamma", DT_INT64, [5], rng.integers(-1000, 1000, 5).astype(np.int64).tobytes()),
    ]


def big_tensors(seed: int = 11, invert: bool = False) -> list[Tensor]:
    """About 1.4 MB in tensors of many sizes (several max_read pieces, tiny ones too)."""
    rng = np.random.default_rng(seed)
    specs = [("big/emb", DT_FLOAT, [256, 256]), ("big/bytes", DT_UINT8, [700001]),
             ("big/f64", DT_DOUBLE, [50000]), ("big/ids", DT_INT32, [3]),
             ("big/one", DT_UINT8, [1]), ("big/zero", DT_FLOAT, [0]),
             ("big/mid", DT_INT64, [4099])]
    out = []
    for key, dt, dims in specs:
        n = int(np.prod(dims)) * {DT_FLOAT: 4, DT_DOUBLE: 8, DT_INT32: 4, DT_UINT8: 1,
                                  DT_INT64: 8}[dt]
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        if invert:
            data = bytes(b ^ 0xFF for b in data) if n < 4096 else \
                (np.frombuffer(data, np.uint8) ^ 0xFF).tobytes()
        out.append(Tensor(key, dt, dims, data))
    return out


BIG_DATA_ORDER = [2, 0, 6, 3, 1, 5, 4]   # data file order differs from key order


@pytest.fixture(scope="module")
def big_source_template(tmp_path_factory) -> str:
    """A hand-built bundle of ~1.4 MB (made once; tests copy it)."""
    d = tmp_path_factory.mktemp("big")
    prefix = str(d / "big")
    write_bundle(prefix, big_tensors(), data_order=BIG_DATA_ORDER)
    return str(d)


@pytest.fixture
def sources(tmp_path, corpus_dir, big_source_template) -> str:
    """A private copy of the corpus plus the big bundle: tests change these files."""
    dst = tmp_path / "src"
    shutil.copytree(corpus_dir, dst / "corpus")
    shutil.copytree(big_source_template, dst / "big")
    return str(dst)


SOURCE_PATHS = dict({k: os.path.join("corpus", v) for k, v in CORPUS.items()},
                    big=os.path.join("big", "big"))


def write_mapping(path, srcdir: str) -> str:
    lines = [f"source {n} = {os.path.join(srcdir, rel)}" for n, rel in SOURCE_PATHS.items()]
    lines += [f"map {n}:/ -> {n}/" for n in SOURCE_PATHS]
    lines += [f"prefix = {PREFIX}"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def mapping(tmp_path, sources) -> str:
    return write_mapping(tmp_path / "merge.conf", sources)


def data_files_of(mnt_path: str) -> list[str]:
    return sorted(n for n in os.listdir(mnt_path) if ".data-" in n)


def snapshot(m) -> dict[str, bytes]:
    """Every file of the mount, read through O_DIRECT (the daemon serves each byte)."""
    return {n: read_direct(m.join(n)) for n in sorted(os.listdir(m.path))}


def tensor_locations(m, run_ckptfs, mapping: str, srcdir: str) -> list[dict]:
    """Per merged tensor: data file, merged offset, size, source prefix, key, source
    offset and source shard file."""
    r = run_ckptfs("ls", mapping)
    assert r.rc == 0, r.describe()
    listed = parse_ls_mapping(r.stdout.decode())
    idx = ckpt_helpers.read_index(m.join(PREFIX))
    names = data_files_of(m.path)
    src_idx = {}
    out = []
    for e in idx.listed():
        if e.is_partitioned:
            continue
        info = listed[e.name]
        sprefix = os.path.join(srcdir, SOURCE_PATHS[info["source"]])
        if sprefix not in src_idx:
            src_idx[sprefix] = ckpt_helpers.read_index(sprefix)
        se = src_idx[sprefix].by_key[info["key"].encode()]
        out.append({"name": e.name, "file": names[e.shard_id], "offset": e.offset,
                    "size": e.size, "source": info["source"], "prefix": sprefix,
                    "key": info["key"], "src_offset": se.offset,
                    "src_file": src_idx[sprefix].data_path(se.shard_id)})
    return out


# ---------------------------------------------------------------------------------------
# 1. corrupt checkpoints

@dataclasses.dataclass
class Case:
    id: str
    build: object             # build(dir) -> prefix; damages what it made
    file: str                 # which file the message must name: "index" or a data suffix
    fragments: tuple          # further pieces of the message
    verify_only: bool = False  # check/mount legitimately accept it (data is not read)


def _good(d: str, **kw) -> tuple[str, object]:
    prefix = os.path.join(d, "ckpt")
    table = write_bundle(prefix, small_tensors(), block_size=kw.pop("block_size", 64), **kw)
    return prefix, table


def _patch_index(prefix: str, fn):
    path = prefix + ".index"
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    buf = fn(buf)
    with open(path, "wb") as f:
        f.write(bytes(buf))


def _flip(off: int, bit: int = 0):
    def fn(buf):
        buf[off] ^= 1 << bit
        return buf
    return fn


def built(damage, **kw):
    """A case on the hand-built bundle: damage(prefix, table) alters it."""
    def build(d):
        prefix, table = _good(d, **kw)
        if damage:
            damage(prefix, table)
        return prefix
    return build


def index_patch(make_fn):
    """damage that patches the index bytes: make_fn(table) -> fn(buf) -> buf."""
    return lambda prefix, table: _patch_index(prefix, make_fn(table))


def entry_value_patch(key: bytes, change):
    """Alter one entry's value bytes in place, then fix its block's CRC, so the block
    is intact and the entry itself is what fails to parse."""
    def make_fn(table):
        def fn(buf):
            off, n, blk = table.values[key][0]
            new = change(bytes(buf[off:off + n]))
            assert len(new) == n
            buf[off:off + n] = new
            fix_block_crc(buf, table.blocks[blk])
            return buf
        return fn
    return index_patch(make_fn)


def block_patch(which, change):
    """Alter a block (which(table) -> handle) with change(block bytes), fix the CRC."""
    def make_fn(table):
        def fn(buf):
            off, size = which(table)
            blk = change(bytearray(buf[off:off + size]))
            assert len(blk) == size
            buf[off:off + size] = blk
            fix_block_crc(buf, (off, size))
            return buf
        return fn
    return index_patch(make_fn)


def _set_block_type(btype):
    def make_fn(table):
        def fn(buf):
            off, size = table.blocks[0]
            buf[off + size] = btype
            fix_block_crc(buf, table.blocks[0])
            return buf
        return fn
    return index_patch(make_fn)


def _value_len_overrun(blk):
    # entry 0 of block 0 is the header: 00 00 <vlen> <value>; claim 127 bytes
    assert blk[0] == 0 and blk[1] == 0
    blk[2] = 0x7F
    return blk


def _restart_count_huge(blk):
    blk[-4:] = (0x7FFFFFFF).to_bytes(4, "little")
    return blk


def _data_truncate(size):
    def damage(prefix, table):
        os.truncate(ckpt_helpers.data_filename(prefix, 0, 1), size)
    return damage


def _data_replace(kind):
    def damage(prefix, table):
        path = ckpt_helpers.data_filename(prefix, 0, 1)
        os.unlink(path)
        if kind == "dir":
            os.mkdir(path)
        elif kind == "fifo":
            os.mkfifo(path)
    return damage


def _index_replace(kind):
    def damage(prefix, table):
        path = prefix + ".index"
        os.unlink(path)
        if kind == "dir":
            os.mkdir(path)
        elif kind == "fifo":
            os.mkfifo(path)
    return damage


def _data_bitflip(prefix, table):
    path = ckpt_helpers.data_filename(prefix, 0, 1)
    with open(path, "r+b") as f:
        f.seek(70)  # inside beta/kernel (offset 64, 256 bytes)
        b = f.read(1)
        f.seek(70)
        f.write(bytes([b[0] ^ 0x10]))


def _footer_index_size_flip(table):
    # footer = varint(meta off) varint(meta size) varint(index off) varint(index size)
    pos = table.footer + len(varint(table.meta[0])) + len(varint(table.meta[1])) \
        + len(varint(table.index[0]))
    return _flip(pos, 6)


def _footer_meta_size_flip(table):
    return _flip(table.footer + len(varint(table.meta[0])), 0)


def _no_header(d):
    """A table whose first entry is a tensor, not the header (key "")."""
    prefix = os.path.join(d, "ckpt")
    tensors = small_tensors()
    write_bundle(prefix, tensors, header=b"", block_size=4096)
    # rewrite the index without the header entry
    kvs = [(k, v) for k, v in ckpt_helpers.read_table(prefix + ".index") if k]
    with open(prefix + ".index", "wb") as f:
        f.write(build_table(kvs).data)
    return prefix


HDR = b""  # the header entry's key
BUILT_CASES = [
    # truncated / extended index files
    Case("index-empty", built(index_patch(lambda t: lambda b: b[:0])), "index",
         ("file is too short to be an sstable",)),
    Case("index-truncated-to-47", built(index_patch(lambda t: lambda b: b[:47])), "index",
         ("file is too short to be an sstable",)),
    Case("index-truncated-by-1", built(index_patch(lambda t: lambda b: b[:-1])), "index",
         ("bad magic number",)),
    Case("index-truncated-in-data-block", built(index_patch(lambda t: lambda b: b[:60])),
         "index", ("bad magic number",)),
    Case("index-truncated-in-index-block",
         built(index_patch(lambda t: lambda b: b[:t.index[0] + 5])), "index",
         ("bad magic number",)),
    Case("index-trailing-garbage", built(index_patch(lambda t: lambda b: b + b"\0" * 7)),
         "index", ("bad magic number",)),
    # bit flips, block checksums left as they were
    Case("footer-magic-bitflip", built(index_patch(lambda t: _flip(len(t.data) - 3, 2))),
         "index", ("bad magic number",)),
    Case("footer-index-handle-bitflip", built(index_patch(_footer_index_size_flip)), "index",
         ("bad block handle for index block",)),
    Case("footer-metaindex-handle-bitflip", built(index_patch(_footer_meta_size_flip)),
         "index", ("metaindex block",)),
    Case("data-block-0-bitflip", built(index_patch(lambda t: _flip(t.blocks[0][0] + 9, 3))),
         "index", ("block checksum mismatch in data block 0",)),
    Case("data-block-1-bitflip", built(index_patch(lambda t: _flip(t.blocks[1][0] + 5))),
         "index", ("block checksum mismatch in data block 1",)),
    Case("data-block-trailer-bitflip",
         built(index_patch(lambda t: _flip(t.blocks[1][0] + t.blocks[1][1] + 2, 5))),
         "index", ("block checksum mismatch in data block 1",)),
    Case("index-block-bitflip", built(index_patch(lambda t: _flip(t.index[0] + 4, 1))),
         "index", ("block checksum mismatch in index block",)),
    Case("metaindex-block-bitflip", built(index_patch(lambda t: _flip(t.meta[0] + 1))),
         "index", ("block checksum mismatch in metaindex block",)),
    # damage behind a valid block checksum: the parse is what must fail
    Case("block-type-unknown", built(_set_block_type(2)), "index",
         ("unknown block compression type 2", "data block 0")),
    Case("block-snappy-garbage", built(_set_block_type(1)), "index",
         ("corrupt snappy data", "data block 0")),
    Case("block-entry-overruns-block",
         built(block_patch(lambda t: t.blocks[0], _value_len_overrun)), "index",
         ("data block 0", "runs past the end of the block")),
    Case("block-restart-count-huge",
         built(block_patch(lambda t: t.blocks[0], _restart_count_huge)), "index",
         ("data block 0", "restart")),
    Case("entry-proto-bad-wire-type",
         built(entry_value_patch(b"beta/kernel", lambda v: b"\x0f" + v[1:])), "index",
         ("tensor 'beta/kernel'", "entry is not a parseable BundleEntryProto")),
    Case("entry-proto-length-overrun",
         built(entry_value_patch(b"beta/kernel", lambda v: v[:3] + b"\x7f" + v[4:])), "index",
         ("tensor 'beta/kernel'", "entry is not a parseable BundleEntryProto")),
    Case("entry-proto-truncated-crc-field",
         built(entry_value_patch(b"delta", lambda v: v[:-5] + b"\x36" + v[-4:])), "index",
         ("tensor 'delta'", "entry is not a parseable BundleEntryProto")),
    Case("header-proto-garbage",
         built(entry_value_patch(HDR, lambda v: b"\xff" * len(v))), "index",
         ("header is not a parseable BundleHeaderProto",)),
    # well-formed tables holding bad bundles
    Case("header-big-endian", built(None, header=header_proto(endianness=1)), "index",
         ("big-endian",)),
    Case("header-future-version", built(None, header=header_proto(min_consumer=7)), "index",
         ("unsupported format version", "min_consumer 7")),
    Case("header-num-shards-0", built(None, header=header_proto(num_shards=0)), "index",
         ("num_shards 0",)),
    Case("header-missing", _no_header, "index", ("no header entry",)),
    Case("dtype-unknown-99",
         built(None, entry_hook=lambda t, p: b"\x08\x63" + p[2:] if t.key == "delta" else p),
         "index",
         ("tensor 'delta'", "unknown dtype 99")),
    Case("dtype-invalid-0",
         built(None, entry_hook=lambda t, p: p[2:] if t.key == "gamma" else p), "index",
         ("tensor 'gamma'", "dtype 0")),
    Case("shape-negative-dim",
         built(None, entry_hook=lambda t, p: entry_proto(t.dtype, [-4], 0, 0, 64)
               if t.key == "alpha" else p), "index",
         ("tensor 'alpha'", "invalid tensor shape")),
    Case("size-does-not-match-shape",
         built(None, entry_hook=lambda t, p: entry_proto(t.dtype, [15], 0, 0, 64)
               if t.key == "alpha" else p), "index",
         ("tensor 'alpha'", "invalid size 64")),
    Case("shard-id-out-of-range",
         built(None, entry_hook=lambda t, p: entry_proto(t.dtype, t.dims, 3, 0, len(t.data))
               if t.key == "gamma" else p), "index",
         ("tensor 'gamma'", "shard_id 3 out of range")),
    Case("keys-duplicate", built(None, key_order=[0, 1, 1, 2, 3], block_size=4096), "index",
         ("data block 0", "duplicate key")),
    Case("keys-duplicate-across-blocks", built(None, key_order=[0, 1, 1, 2, 3]), "index",
         ("data block 1", "first key is not above the previous index key")),
    Case("keys-unsorted", built(None, key_order=[0, 2, 1, 3], block_size=4096), "index",
         ("data block 0", "keys out of order")),
    Case("keys-unsorted-across-blocks", built(None, key_order=[0, 1, 3, 2]), "index",
         ("data block 1", "keys out of order")),
    # the data side
    Case("data-shard-short", built(_data_truncate(600)), "index",
         ("tensor 'delta'", "runs past the end of data shard 0", "600 bytes")),
    Case("data-shard-empty", built(_data_truncate(0)), "index",
         ("runs past the end of data shard 0", "0 bytes")),
    Case("data-shard-missing", built(_data_replace("missing")), ".data-00000-of-00001",
         ("cannot open data shard", "No such file or directory")),
    Case("data-shard-missing-of-2", built(None, header=header_proto(num_shards=2)),
         ".data-00000-of-00002", ("cannot open data shard", "No such file or directory")),
    Case("index-missing", built(_index_replace("missing")), "index",
         ("not a checkpoint", "does not exist")),
    Case("index-is-a-directory", built(_index_replace("dir")), "index",
         ("directory",)),
    Case("data-shard-is-a-directory", built(_data_replace("dir")), ".data-00000-of-00001",
         ("directory",)),
    Case("index-is-a-fifo", built(_index_replace("fifo")), "index", ()),
    Case("data-shard-is-a-fifo", built(_data_replace("fifo")), ".data-00000-of-00001", ()),
    # tensor bytes: only verify reads them (a mount costs no data reads, by design)
    Case("tensor-bytes-bitflip", built(_data_bitflip), "prefix",
         ("tensor 'beta/kernel'", "checksum mismatch"), verify_only=True),
]


# TensorFlow-written files from the corpus, damaged in place
def corpus_case(rel: str, damage):
    def build(d):
        src = os.path.join(CORPUS_DIR, os.path.dirname(rel))
        dst = os.path.join(d, "tf")
        shutil.copytree(src, dst)
        prefix = os.path.join(dst, os.path.basename(rel))
        damage(prefix)
        return prefix
    return build


TFX = "tfx_estimator_tf1/model.ckpt-1000"
SNAPPY = "serving_half_plus_two_tf1/variables"


def _tf_patch(fn):
    """fn(buf) -> buf on the real index bytes."""
    return lambda prefix: _patch_index(prefix, fn)


def _tf_data_block_bitflip(buf):
    off, size = data_block_handles(bytes(buf))[0]
    buf[off + size // 2] ^= 0x04
    return buf


def _tf_index_block_bitflip(buf):
    _meta, (off, size) = parse_footer(bytes(buf))
    buf[off + 3] ^= 0x01
    return buf


def _tf_footer_bitflip(buf):
    _meta, (ioff, isize) = parse_footer(bytes(buf))
    pos = len(buf) - 48 + len(varint(_meta[0])) + len(varint(_meta[1]))
    buf[pos] ^= 0x40  # the index block's offset
    return buf


def _tf_entry_bitflip(key: bytes):
    def fn(buf):
        handle = data_block_handles(bytes(buf))[0]
        off, size = handle
        assert buf[off + size] == 0, "expected a raw block"
        spans = {k: (voff, vlen) for k, voff, vlen in block_spans(bytes(buf[off:off + size]))}
        voff, _vlen = spans[key]
        assert buf[off + voff] == 0x08  # the dtype tag
        buf[off + voff] = 0x0F          # field 1, wire type 7: not protobuf
        fix_block_crc(buf, handle)
        return buf
    return fn


def _tf_snappy_length(buf):
    """The Snappy block's uncompressed-length varint, off by one (CRC fixed)."""
    handle = data_block_handles(bytes(buf))[0]
    off, size = handle
    assert buf[off + size] == 1, "expected a snappy block"
    assert buf[off] < 0x7F
    buf[off] += 1
    fix_block_crc(buf, handle)
    return buf


def _tf_truncate_data(size):
    return lambda prefix: os.truncate(ckpt_helpers.data_filename(prefix, 0, 1), size)


TF_CASES = [
    Case("tf-index-truncated-half", corpus_case(TFX, _tf_patch(lambda b: b[:len(b) // 2])),
         "index", ("bad magic number",)),
    Case("tf-index-truncated-footer", corpus_case(TFX, _tf_patch(lambda b: b[:-20])),
         "index", ("bad magic number",)),
    Case("tf-footer-bitflip", corpus_case(TFX, _tf_patch(_tf_footer_bitflip)), "index",
         ("index block",)),
    Case("tf-data-block-bitflip", corpus_case(TFX, _tf_patch(_tf_data_block_bitflip)),
         "index", ("block checksum mismatch in data block 0",)),
    Case("tf-index-block-bitflip", corpus_case(TFX, _tf_patch(_tf_index_block_bitflip)),
         "index", ("block checksum mismatch in index block",)),
    Case("tf-entry-proto-bitflip",
         corpus_case(TFX, _tf_patch(_tf_entry_bitflip(b"dnn/hiddenlayer_1/kernel"))),
         "index", ("tensor 'dnn/hiddenlayer_1/kernel'",
                   "entry is not a parseable BundleEntryProto")),
    Case("tf-snappy-block-corrupt", corpus_case(SNAPPY, _tf_patch(_tf_snappy_length)),
         "index", ("corrupt snappy data in data block 0",)),
    Case("tf-data-shard-short", corpus_case(TFX, _tf_truncate_data(1000)), "index",
         ("runs past the end of data shard 0", "1000 bytes")),
]

ALL_CASES = BUILT_CASES + TF_CASES


def named_file(prefix: str, case: Case) -> str:
    if case.file == "index":
        return prefix + ".index"
    if case.file == "prefix":
        return prefix
    return prefix + case.file


def assert_not_mounted(mnt: str, what: str):
    assert not mountlib.is_mounted(mnt), f"{what}: left a mount at {mnt}: {mounts_at(mnt)}"
    strays = processes_naming(mnt)
    assert not strays, f"{what}: left processes behind: {strays}"


def mount_attempt(ckptfs_bin: str, mapping: str, mnt: str, *args: str, timeout=20):
    """The mount form, the way a user runs it (it daemonizes if it mounts)."""
    os.makedirs(mnt, exist_ok=True)
    try:
        return run_cmd([ckptfs_bin, mapping, mnt, *args], timeout=timeout)
    finally:
        mounted = mountlib.is_mounted(mnt)
        force_unmount_all(mnt)
        if mounted:
            # make the finding visible even if the caller's asserts come later
            print(f"NOTE: {mapping} mounted at {mnt}")


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_corrupt_checkpoint_is_refused(tmp_path, ckptfs_bin, corpus_dir, case):
    """Each damaged checkpoint: every command exits 1 with FILE + problem in the message,
    nothing is mounted, no daemon stays, and the damaged files are left as they were."""
    d = str(tmp_path / "ckpt")
    os.makedirs(d)
    prefix = case.build(d)
    fifo = "fifo" in case.id
    good = os.path.join(corpus_dir, CORPUS["d"])
    mapping = tmp_path / "m.conf"
    mapping.write_text(f"# {case.id}\nsource good = {good}\nsource bad = {prefix}\n"
                       "map good:/ -> good/\nmap bad:/ -> bad/\n")
    guard = Guard(d) if not fifo else None  # hashing a FIFO would block
    want_file = f"'{named_file(prefix, case)}'"
    mnt = str(tmp_path / "mnt")
    timeout = 5 if fifo else 60  # a FIFO with no writer: waiting longer proves nothing
    jobs = {"verify": lambda: run_cmd([ckptfs_bin, "verify", prefix], timeout),
            "ls": lambda: run_cmd([ckptfs_bin, "ls", prefix], timeout)}
    if not case.verify_only:
        jobs["check"] = lambda: run_cmd([ckptfs_bin, "check", str(mapping)], timeout)
        jobs["ls MAPPING"] = lambda: run_cmd([ckptfs_bin, "ls", str(mapping)], timeout)
        jobs["mount"] = lambda: mount_attempt(ckptfs_bin, str(mapping), mnt, timeout=timeout)
    with ThreadPoolExecutor(len(jobs)) as pool:  # independent commands: run at once
        futures = {what: pool.submit(job) for what, job in jobs.items()}
        runs = {what: f.result() for what, f in futures.items()}
    problems = []
    for what, r in runs.items():
        if what == "ls" and case.verify_only:
            continue  # listing does not read tensor bytes
        if r.hung:
            problems.append(f"{what}: hung\n{r.describe()}")
            continue
        if r.rc != 1:
            problems.append(f"{what}: exit {r.rc}, want 1\n{r.describe()}")
            continue
        msg = r.stderr
        missing = [f for f in (want_file, *case.fragments) if f not in msg]
        if what in ("check", "ls MAPPING", "mount"):
            # FILE:LINE:COL of the offending source line (line 3), naming the source
            if f"{mapping}:3:" not in msg or "source 'bad'" not in msg:
                missing.append(f"{mapping}:3: ... source 'bad'")
        if missing:
            problems.append(f"{what}: message lacks {missing}\n{r.describe()}")
    if not case.verify_only:
        assert_not_mounted(mnt, case.id)
    if guard:
        guard.check(case.id)
    assert not problems, "\n\n".join(problems)


# Runs argv[1:] and prints the child's peak RSS (KiB) last on stdout.
_MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(argv: list, timeout: float = 120) -> tuple[int, str, int]:
    """(exit status, stderr, peak RSS in KiB) of one command.

    Measured by a small launcher: a child forked from this process (which
    may hold TensorFlow, ~1.6 GB) starts with our memory high-water mark,
    and exec carries it into ru_maxrss, so the command would be charged
    for our memory. The launcher's own high-water mark is small."""
    r = subprocess.run([sys.executable, "-c", _MEASURE, *argv], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    rss = int(r.stdout.decode().split()[-1])
    return r.returncode, r.stderr.decode(errors="replace"), rss


def test_huge_index_is_not_read_into_memory(tmp_path, ckptfs_bin):
    """A 1 GiB (sparse) file named .index is rejected by its footer, without reading
    the whole file into memory first (a 20 GB one would need 20 GB of RAM)."""
    d = tmp_path / "ckpt"
    d.mkdir()
    prefix = str(d / "huge")
    with open(prefix + ".index", "wb") as f:
        f.truncate(1 << 30)
    with open(ckpt_helpers.data_filename(prefix, 0, 1), "wb"):
        pass
    mapping = tmp_path / "m.conf"
    mapping.write_text(f"source s = {prefix}\nmap s:/ -> /\n")
    results = {}
    for what, argv in [("verify", [ckptfs_bin, "verify", prefix]),
                       ("check", [ckptfs_bin, "check", str(mapping)])]:
        results[what] = run_measured(argv)
    for what, (rc, err, rss_kib) in results.items():
        assert rc == 1 and f"'{prefix}.index'" in err and "bad magic number" in err, \
            (what, rc, err)
        assert rss_kib < 128 * 1024, (
            f"{what}: peak RSS {rss_kib // 1024} MiB to reject a 1 GiB index whose last "
            f"48 bytes already say it is not an sstable")


def test_bitflipped_tensor_is_served_as_stored(tmp_path, ckptfs_bin):
    """A flipped tensor byte is not the mount's business (it never reads data up front,
    and TensorFlow checks each tensor's CRC itself): the mount serves exactly the stored
    bytes, and `ckptfs verify` of the source names the tensor."""
    d = str(tmp_path / "ckpt")
    os.makedirs(d)
    prefix = built(_data_bitflip)(d)
    guard = Guard(d)
    mapping = tmp_path / "m.conf"
    mapping.write_text(f"source s = {prefix}\nmap s:/ -> /\n")
    with mountlib.mounted(ckptfs_bin, str(mapping), str(tmp_path / "mnt")) as m:
        with open(ckpt_helpers.data_filename(prefix, 0, 1), "rb") as f:
            assert read_direct(m.join(f"{PREFIX}.data-00000-of-00001")) == f.read()
        r = run_cmd([ckptfs_bin, "verify", m.join(PREFIX)])
        assert r.rc == 1 and "tensor 'beta/kernel': checksum mismatch" in r.stderr, \
            r.describe()
    guard.check("the mount")


def test_hand_built_bundle_is_valid(tmp_path, ckptfs_bin):
    """The writer the catalogue damages produces bundles ckptfs accepts whole."""
    d = str(tmp_path / "ckpt")
    os.makedirs(d)
    prefix, table = _good(d)
    assert len(table.blocks) >= 2
    r = run_cmd([ckptfs_bin, "verify", prefix])
    assert r.rc == 0 and "4 tensors, 660 bytes" in r.stdout and "all checksums match" in \
        r.stdout, r.describe()
    assert [e.name for e in ckpt_helpers.read_index(prefix).listed()] == \
        ["alpha", "beta/kernel", "delta", "gamma"]


# ---------------------------------------------------------------------------------------
# 2. broken mappings

MAPPING_CASES = [
    ("unknown-directive", "source a = {S}\nmap a:/ -> a/\nfrobnicate everything\n",
     3, ("unknown directive 'frobnicate'",)),
    ("unknown-source", "source a = {S}\nmap z:/ -> a/\n", 2, ("unknown source 'z'",)),
    ("map-matches-no-tensor", "source a = {S}\nmap a:global_stepp -> g\n", 2,
     ("no tensor 'global_stepp'", "did you mean 'global_step'")),
    ("map-matches-no-scope", "source a = {S}\nmap a:nosuch/ -> g/\n", 2,
     ("no scope 'nosuch/'",)),
    ("target-conflict",
     "source a = {S}\nsource b = {S2}\nmap a:global_step -> x\nmap b:/ -> /\n"
     "map b:a2 -> x\n", 5, ("target 'x'", "line 3")),
    ("target-conflict-scope", "source a = {S}\nmap a:/ -> /\nmap a:global_step -> global_step\n",
     3, ("target 'global_step'", "line 2")),
    ("duplicate-source", "source a = {S}\nsource a = {S2}\nmap a:/ -> /\n", 2,
     ("duplicate source 'a'",)),
    ("source-missing", "source a = {S}\nsource m = {MISSING}\nmap a:/ -> /\n", 2,
     ("source 'm'", "does not exist")),
    ("malformed-arrow", "source a = {S}\nmap a:/ => /\n", 2, ("expected '->'",)),
    ("scope-to-tensor", "source a = {S}\nmap a:dnn/ -> x\n", 2, ("scope 'dnn/'",)),
    ("bad-prefix", "source a = {S}\nmap a:/ -> /\nprefix = a/b\n", 3, ("prefix 'a/b'",)),
    ("bad-layout", "source a = {S}\nmap a:/ -> /\nlayout = diagonal\n", 3,
     ("unknown layout 'diagonal'",)),
    ("no-map-lines", "source a = {S}\n", None, ("no 'map' lines",)),
    ("empty-file", "", None, ("no 'source' lines",)),
    ("unterminated-quote", "source a = \"{S}\nmap a:/ -> /\n", 1,
     ("unterminated quoted word",)),
]


@pytest.mark.parametrize("text, line, fragments",
                         [c[1:] for c in MAPPING_CASES], ids=[c[0] for c in MAPPING_CASES])
def test_broken_mapping_is_refused(tmp_path, ckptfs_bin, corpus_copy, text, line,
                                   fragments):
    s = os.path.join(corpus_copy, CORPUS["c"])
    s2 = os.path.join(corpus_copy, CORPUS["a"])
    guard = Guard(corpus_copy)
    mapping = tmp_path / "broken.conf"
    mapping.write_text(text.format(S=s, S2=s2, MISSING=tmp_path / "nowhere" / "m"))
    where = f"{mapping}:{line}:" if line else f"{mapping}: error:"
    mnt = str(tmp_path / "mnt")
    runs = {"check": run_cmd([ckptfs_bin, "check", mapping]),
            "ls": run_cmd([ckptfs_bin, "ls", mapping]),
            "mount": mount_attempt(ckptfs_bin, str(mapping), mnt),
            "mount -f": mount_attempt(ckptfs_bin, str(mapping), mnt, "-f")}
    for what, r in runs.items():
        assert r.rc == 1, f"{what}\n{r.describe()}"
        assert where in r.stderr and " error: " in r.stderr, f"{what}\n{r.describe()}"
        for f in fragments:
            assert f in r.stderr, f"{what}: no {f!r}\n{r.describe()}"
        assert r.stdout == "", f"{what}\n{r.describe()}"
    assert_not_mounted(mnt, "a broken mapping")
    guard.check("a broken mapping")


# ---------------------------------------------------------------------------------------
# 3. bad mountpoints

@pytest.mark.parametrize("kind", ["missing", "regular-file", "symlink-to-file"])
def test_bad_mountpoint(tmp_path, ckptfs_bin, mapping, sources, kind):
    guard = Guard(sources)
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
    guard = Guard(sources)
    other = tmp_path / "other.conf"
    other.write_text(f"source x = {os.path.join(corpus_dir, CORPUS['c'])}\n"
                     "map x:/ -> other/\n")
    mnt = str(tmp_path / "mnt")
    with mountlib.mounted(ckptfs_bin, mapping, mnt) as m:
        before = snapshot(m)
        try:
            r = run_cmd([ckptfs_bin, str(other), mnt])
            stacked = len(mounts_at(mnt))
            listing = sorted(os.listdir(mnt))
        finally:
            # take off anything stacked on the first mount, newest first
            for _ in range(5):
                if len(mounts_at(mnt)) > 1:
                    mountlib.fusermount("-u", mnt)
        assert r.rc not in (0, None) and mnt in r.stderr, (
            f"a second ckptfs mounted over a live ckptfs mount ({stacked} mounts at "
            f"{mnt}; the directory then showed {listing})\n{r.describe()}")
        assert stacked == 1
        assert snapshot(m) == before
    guard.check("the stacked mount attempt")


# ---------------------------------------------------------------------------------------
# 4. the sources change under a live mount; signals; kill -9

@pytest.mark.parametrize("layout", ["single", "shards"])
def test_sources_deleted_after_mounting(tmp_path, ckptfs_bin, mapping, sources, layout):
    with mountlib.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={layout}") as m:
        want = snapshot(m)
        shutil.rmtree(sources)
        assert snapshot(m) == want
        assert_random_reads(m, want, 300, seed=3)


@pytest.mark.parametrize("layout", ["single", "shards"])
def test_sources_replaced_by_rename(tmp_path, ckptfs_bin, run_ckptfs, mapping, sources,
                                    layout):
    """New content renamed over every source file (as a trainer's next save would):
    the mount keeps serving the bytes it was mounted with."""
    with mountlib.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={layout}") as m:
        want = snapshot(m)
        big = os.path.join(sources, SOURCE_PATHS["big"])
        before_cat = run_ckptfs("cat", big, "big/emb").stdout
        # a valid bundle with other bytes, renamed over the big source's two files
        tmp = os.path.join(sources, "big", "next")
        write_bundle(tmp, big_tensors(invert=True), data_order=BIG_DATA_ORDER)
        os.rename(ckpt_helpers.data_filename(tmp, 0, 1),
                  ckpt_helpers.data_filename(big, 0, 1))
        os.rename(tmp + ".index", big + ".index")
        # every corpus data file: same size, every byte inverted
        for name in CORPUS:
            path = ckpt_helpers.data_filename(os.path.join(sources, SOURCE_PATHS[name]), 0, 1)
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


def assert_random_reads(m, want: dict[str, bytes], n: int, seed: int):
    rng = random.Random(seed)
    names = [x for x in want if ".data-" in x]
    for _ in range(n):
        name = rng.choice(names)
        ref = want[name]
        off = rng.randrange(0, len(ref) + 1)
        length = rng.choice([1, 4095, 4097, 65536, 300000, 1 << 20])
        fd = os.open(m.join(name), os.O_RDONLY | os.O_DIRECT)
        try:
            got = direct_pread(fd, length, off)
        finally:
            os.close(fd)
        assert got == ref[off:off + length], (name, off, length)


@pytest.mark.parametrize("layout", ["single", "shards"])
def test_source_truncated_in_place(tmp_path, ckptfs_bin, run_ckptfs, mapping, sources,
                                   layout):
    """Cutting a source shard in half: reads that need the lost bytes fail with EIO
    (never short or wrong data), everything else keeps being served exactly."""
    guard = Guard(os.path.join(sources, "corpus"))
    with mountlib.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={layout}", expect_clean_log=False) as m:
        want = snapshot(m)
        locs = tensor_locations(m, run_ckptfs, mapping, sources)
        big_file = ckpt_helpers.data_filename(os.path.join(sources, SOURCE_PATHS["big"]), 0, 1)
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


class Readers:
    """n threads doing random O_DIRECT reads of the mount against want until stopped."""

    def __init__(self, m, want: dict[str, bytes], n: int, seed: int):
        self.m, self.want = m, want
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.reads = 0
        self.mismatches: list = []
        self.errors: list = []
        self.stopped_at = None
        self.threads = [threading.Thread(target=self.run, args=(seed + i,), daemon=True)
                        for i in range(n)]

    def run(self, seed):
        rng = random.Random(seed)
        names = [x for x in self.want if ".data-" in x]
        while not self.stop.is_set():
            name = rng.choice(names)
            ref = self.want[name]
            off = rng.randrange(0, len(ref))
            length = rng.choice([4096, 65536, 131072 + 7, 524288, 1 << 20])
            try:
                fd = os.open(self.m.join(name), os.O_RDONLY | os.O_DIRECT)
                try:
                    got = direct_pread(fd, length, off)
                finally:
                    os.close(fd)
            except OSError as e:
                with self.lock:  # when it failed: reads in flight at a signal may fail
                    self.errors.append((time.monotonic(), name, off, length, e.errno))
                if self.stopped_at is not None:
                    return
                continue
            ok = got == ref[off:off + length]
            with self.lock:
                self.reads += 1
                if not ok and not (self.stopped_at is not None and
                                   ref[off:off + length].startswith(got)):
                    self.mismatches.append((name, off, length, len(got)))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a reader is stuck"


@pytest.mark.parametrize("layout", ["single", "shards"])
def test_sigterm_during_heavy_reads(tmp_path, ckptfs_bin, mapping, sources, layout):
    guard = Guard(sources)
    with mountlib.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={layout}") as m:
        want = snapshot(m)
        with Readers(m, want, 12, seed=100) as readers:
            time.sleep(2.0)
            assert readers.reads > 20 and not readers.errors and not readers.mismatches, (
                readers.reads, readers.errors[:5], readers.mismatches[:5])
            readers.stopped_at = time.monotonic()
            t0 = time.monotonic()
            rc = m.signal(signal.SIGTERM)
            took = time.monotonic() - t0
        after = [e for e in readers.errors if e[0] >= readers.stopped_at]
        print(f"layout={layout}: {readers.reads} reads before/while SIGTERM; "
              f"{len(after)} reads failed once it came "
              f"({sorted({errno.errorcode[e[4]] for e in after})}); stopped in {took:.2f}s")
        assert rc == 0, m.describe()
        assert took < 10, f"the daemon took {took:.1f}s to stop"
        assert not mountlib.is_mounted(m.path), m.describe()
        before = [e for e in readers.errors if e[0] < readers.stopped_at]
        assert not before and not readers.mismatches, (before[:5], readers.mismatches[:5])
        # what readers saw once the daemon was gone: errors, never wrong bytes
        assert {e[4] for e in readers.errors} <= {errno.ENOTCONN, errno.ENOENT, errno.EIO,
                                                  errno.ECONNABORTED, errno.EINTR}, \
            readers.errors[:10]
    guard.check("SIGTERM under load")


def test_kill_9_then_recover(tmp_path, ckptfs_bin, mapping, sources):
    """kill -9: every read of the dead mount fails with ENOTCONN (old fds included),
    `fusermount3 -u` clears it, and a new mount on the same directory serves the same
    bytes."""
    guard = Guard(sources)
    mnt = str(tmp_path / "mnt")
    with daemon(ckptfs_bin, mapping, mnt) as m:
        want = snapshot(m)
        name = data_files_of(mnt)[0]
        fd = os.open(m.join(name), os.O_RDONLY | os.O_DIRECT)
        try:
            assert direct_pread(fd, 4096, 0) == want[name][:4096]
            m.proc.kill()
            assert m.proc.wait(timeout=30) == -signal.SIGKILL
            # (stat may still answer from the kernel's attribute cache: not a read)
            for what, op in [("listdir", lambda: os.listdir(mnt)),
                             ("open", lambda: os.open(m.join(name), os.O_RDONLY)),
                             ("open the index", lambda: os.open(m.join(f"{PREFIX}.index"),
                                                                os.O_RDONLY)),
                             ("pread on an open fd", lambda: os.pread(fd, 4096, 0)),
                             ("pread again", lambda: os.pread(fd, 1 << 20, 12345))]:
                with pytest.raises(OSError) as e:
                    op()
                assert e.value.errno == errno.ENOTCONN, (what, e.value)
        finally:
            os.close(fd)
        assert mountlib.is_mounted(mnt), "the dead mount vanished by itself"
        assert len(mounts_at(mnt)) == 1
        u = mountlib.fusermount("-u", mnt)
        assert u.returncode == 0, u.stderr
        assert not mountlib.is_mounted(mnt)
    with mountlib.mounted(ckptfs_bin, mapping, mnt) as m2:
        assert snapshot(m2) == want
        assert_random_reads(m2, want, 100, seed=9)
    guard.check("kill -9 and a new mount")


def test_mount_on_a_dead_mountpoint_is_refused(tmp_path, ckptfs_bin, mapping, sources):
    """After kill -9 the directory is a dead mount: mounting there again must fail with
    the hint to run `fusermount3 -u` (mount.c has that message), not stack a second
    mount on the dead one."""
    guard = Guard(sources)
    mnt = str(tmp_path / "mnt")
    with daemon(ckptfs_bin, mapping, mnt) as m:
        assert "checkpoint" in os.listdir(mnt)
        m.proc.kill()
        m.proc.wait(timeout=30)
        with pytest.raises(OSError) as e:
            os.listdir(mnt)
        assert e.value.errno == errno.ENOTCONN
        try:
            r = run_cmd([ckptfs_bin, mapping, mnt])
            stacked = len(mounts_at(mnt))
        finally:
            force_unmount_all(mnt)
        assert r.rc == 2 and f"fusermount3 -u '{mnt}'" in r.stderr and stacked == 1, (
            f"{stacked} mount(s) at {mnt} after mounting on the dead mount\n{r.describe()}")
    guard.check("a mount on a dead mountpoint")


# ---------------------------------------------------------------------------------------
# 5. security

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


@pytest.mark.parametrize("layout", ["single", "shards"])
def test_every_write_is_erofs(tmp_path, ckptfs_bin, mapping, sources, layout):
    guard = Guard(sources)
    with mountlib.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={layout}") as m:
        before = snapshot(m)
        for target in [f"{PREFIX}.index", data_files_of(m.path)[-1], "checkpoint"]:
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


@pytest.fixture
def public_dir():
    """A directory user nobody can reach (pytest's tmp dirs are 0700)."""
    d = tempfile.mkdtemp(prefix="ckptfs-hostile-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    force_unmount_all(os.path.join(d, "mnt"))
    shutil.rmtree(d)


def mount_options(mnt: str) -> set[str]:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == os.path.realpath(mnt):
                return set(fields[-1].split(",")) | set(fields[5].split(","))
    raise AssertionError(f"{mnt} is not in mountinfo")


def test_other_users_shut_out_without_allow_other(public_dir, ckptfs_bin, mapping,
                                                  sources):
    guard = Guard(sources)
    mnt = os.path.join(public_dir, "mnt")
    os.makedirs(mnt)
    # control: before mounting, nobody can reach the directory
    res = as_nobody(mnt, [])
    assert res["stat root"][0] == "ok" and res["listdir"] == ["ok", []], res
    with mountlib.mounted(ckptfs_bin, mapping, mnt) as m:
        names = sorted(os.listdir(mnt))
        assert "allow_other" not in mount_options(mnt)
        res = as_nobody(mnt, names)
        denied = {k: v for k, v in res.items() if not k.startswith("access")}
        assert all(v == ["err", "EACCES"] for v in denied.values()), res
        assert all(v == ["ok", False] for k, v in res.items() if k.startswith("access")), res
        # root still reads
        assert read_direct(m.join("checkpoint"))
    guard.check("another user")


def test_allow_other_enforces_modes(public_dir, ckptfs_bin, sources):
    # an allow_other mount opens only sources every user could read: pytest's tmp
    # dirs are 0700 (and copytree keeps modes), so the sources move to the public dir
    sources = shutil.copytree(sources, os.path.join(public_dir, "src"))
    for d, _dirs, _files in os.walk(sources):
        os.chmod(d, 0o755)
    mapping = write_mapping(pathlib.Path(public_dir) / "merge.conf", sources)
    guard = Guard(sources)
    mnt = os.path.join(public_dir, "mnt")
    with mountlib.mounted(ckptfs_bin, mapping, mnt, "-o", "allow_other") as m:
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
