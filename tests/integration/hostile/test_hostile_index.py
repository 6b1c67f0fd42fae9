"""Hostile input: damaged checkpoints.  A catalogue of damaged index and data
files (hand-built with tests/pylib/ckptfmt.py's table writer, and TensorFlow-written corpus
files damaged in place) is run through ``ckptfs ls``, ``ckptfs verify``, ``ckptfs check``,
``ckptfs ls MAPPING`` and the mount form: each must refuse it with a message that names
the file and the problem, never mount half-way, and leave the files as they were.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hostile_lib import PREFIX
from pylib import mounting
from pylib.ckptfmt import (DT_FLOAT, DT_INT64, DT_UINT8, Tensor, block_spans, build_table,
                           data_block_handles, data_filename, encode_entry, encode_header,
                           fix_block_crc, parse_footer, read_index, read_table, varint,
                           write_bundle)
from pylib.mounting import assert_not_mounted, mount_attempt, run_cmd
from pylib.mountio import read_direct
from pylib.sources import CORPUS_SOURCES
from pylib.testenv import CORPUS_DIR
from sourceguard import SourceGuard


def small_tensors() -> list[Tensor]:
    rng = np.random.default_rng(7)
    return [
        Tensor("alpha", DT_FLOAT, [16], rng.standard_normal(16).astype(np.float32).tobytes()),
        Tensor("beta/kernel", DT_FLOAT, [8, 8],
               rng.standard_normal(64).astype(np.float32).tobytes()),
        Tensor("delta", DT_UINT8, [300], rng.integers(0, 256, 300, dtype=np.uint8).tobytes()),
        Tensor("gamma", DT_INT64, [5], rng.integers(-1000, 1000, 5).astype(np.int64).tobytes()),
    ]


# ---------------------------------------------------------------------------------------
# the catalogue: hand-built bundles, each damaged one way

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
        os.truncate(data_filename(prefix, 0, 1), size)
    return damage


def _replace(which: str, kind: str):
    """damage: the index (which == "index") or the data shard deleted ("missing") or
    replaced by a directory or a FIFO."""
    def damage(prefix, table):
        path = prefix + ".index" if which == "index" else data_filename(prefix, 0, 1)
        os.unlink(path)
        if kind == "dir":
            os.mkdir(path)
        elif kind == "fifo":
            os.mkfifo(path)
    return damage


def _data_bitflip(prefix, table):
    path = data_filename(prefix, 0, 1)
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
    kvs = [(k, v) for k, v in read_table(prefix + ".index") if k]
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
    Case("header-big-endian", built(None, header=encode_header(endianness=1)), "index",
         ("big-endian",)),
    Case("header-future-version", built(None, header=encode_header(min_consumer=7)), "index",
         ("unsupported format version", "min_consumer 7")),
    Case("header-num-shards-0", built(None, header=encode_header(num_shards=0)), "index",
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
         built(None, entry_hook=lambda t, p: encode_entry(t.dtype, [-4], size=64, crc=0)
               if t.key == "alpha" else p), "index",
         ("tensor 'alpha'", "invalid tensor shape")),
    Case("size-does-not-match-shape",
         built(None, entry_hook=lambda t, p: encode_entry(t.dtype, [15], size=64, crc=0)
               if t.key == "alpha" else p), "index",
         ("tensor 'alpha'", "invalid size 64")),
    Case("shard-id-out-of-range",
         built(None, entry_hook=lambda t, p: encode_entry(t.dtype, t.dims, shard=3, size=len(t.data),
                                       crc=0)
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
    Case("data-shard-missing", built(_replace("data", "missing")), ".data-00000-of-00001",
         ("cannot open data shard", "No such file or directory")),
    Case("data-shard-missing-of-2", built(None, header=encode_header(num_shards=2)),
         ".data-00000-of-00002", ("cannot open data shard", "No such file or directory")),
    Case("index-missing", built(_replace("index", "missing")), "index",
         ("not a checkpoint", "does not exist")),
    Case("index-is-a-directory", built(_replace("index", "dir")), "index",
         ("directory",)),
    Case("data-shard-is-a-directory", built(_replace("data", "dir")), ".data-00000-of-00001",
         ("directory",)),
    Case("index-is-a-fifo", built(_replace("index", "fifo")), "index", ()),
    Case("data-shard-is-a-fifo", built(_replace("data", "fifo")), ".data-00000-of-00001", ()),
    # tensor bytes: only verify reads them (a mount costs no data reads, by design)
    Case("tensor-bytes-bitflip", built(_data_bitflip), "prefix",
         ("tensor 'beta/kernel'", "checksum mismatch"), verify_only=True),
]


# ---------------------------------------------------------------------------------------
# the catalogue: TensorFlow-written files from the corpus, damaged in place

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
    return lambda prefix: os.truncate(data_filename(prefix, 0, 1), size)


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


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_corrupt_checkpoint_is_refused(tmp_path, ckptfs_bin, corpus_dir, case):
    """Each damaged checkpoint: every command exits 1 with FILE + problem in the message,
    nothing is mounted, no daemon stays, and the damaged files are left as they were."""
    d = str(tmp_path / "ckpt")
    os.makedirs(d)
    prefix = case.build(d)
    fifo = "fifo" in case.id
    good = os.path.join(corpus_dir, CORPUS_SOURCES["d"])
    mapping = tmp_path / "m.conf"
    mapping.write_text(f"# {case.id}\nsource good = {good}\nsource bad = {prefix}\n"
                       "map good:/ -> good/\nmap bad:/ -> bad/\n")
    guard = SourceGuard(d) if not fifo else None  # hashing a FIFO would block
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


# ---------------------------------------------------------------------------------------
# more than the catalogue

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
    with open(data_filename(prefix, 0, 1), "wb"):
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
    guard = SourceGuard(d)
    mapping = tmp_path / "m.conf"
    mapping.write_text(f"source s = {prefix}\nmap s:/ -> /\n")
    with mounting.mounted(ckptfs_bin, str(mapping), str(tmp_path / "mnt")) as m:
        with open(data_filename(prefix, 0, 1), "rb") as f:
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
    assert [e.name for e in read_index(prefix).listed()] == \
        ["alpha", "beta/kernel", "delta", "gamma"]
