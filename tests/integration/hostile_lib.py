"""Helpers shared by test_hostile.py and test_load.py: a tiny checkpoint writer and the
plumbing to run ckptfs against hostile input.

* ``crc32c`` / ``mask``: CRC32C (Castagnoli) in pure Python and TensorFlow's masking.
* ``build_table(kvs)``: a LevelDB-format table (the ``.index`` file) from (key, value)
  pairs *in the order given* (so duplicate and unsorted keys can be written), every entry a
  restart point, a new data block whenever the current one reaches ``block_size``.  The
  returned ``Table`` records where every block, value and the footer sit, so tests can
  damage exactly one piece and, if they want, repair the block checksum afterwards
  (``fix_block_crc``) so that the damage is what the reader trips over.
* ``write_bundle(prefix, tensors)``: a whole bundle (index + one data file) from
  ``Tensor`` records, with hooks to alter the header or the entries.
* ``run_cmd``: run a command with a timeout that fails the test (instead of hanging it).
* ``Daemon``: a ckptfs daemon that the test may kill -9 (mountlib.mounted insists on a
  clean exit, which is what most tests want but not these).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import signal
import struct
import subprocess
import tempfile
import time


import ckpt_helpers
import mountlib

# ---------------------------------------------------------------------------------------
# CRC32C, varints, protobuf fields

def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    c = crc ^ 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def mask(c: int) -> int:
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283 and mask(0xE3069283) == 0xC78AB0E5


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_varint(field: int, v: int) -> bytes:
    return varint(field << 3) + varint(v & 0xFFFFFFFFFFFFFFFF)


def pb_bytes(field: int, b: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(b)) + b


# DataType values used here
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8, DT_INT64 = 1, 2, 3, 4, 9
TABLE_MAGIC = 0xDB4775248B80FB57


def shape_proto(dims) -> bytes:
    return b"".join(pb_bytes(2, pb_varint(1, d) if d else b"") for d in dims)


def entry_proto(dtype: int, dims, shard: int = 0, offset: int = 0, size: int = 0,
                crc: int = 0) -> bytes:
    """A BundleEntryProto the way TensorFlow writes it (zero fields omitted)."""
    out = pb_varint(1, dtype) + pb_bytes(2, shape_proto(dims))
    if shard:
        out += pb_varint(3, shard)
    if offset:
        out += pb_varint(4, offset)
    if size:
        out += pb_varint(5, size)
    return out + b"\x35" + struct.pack("<I", crc)


def header_proto(num_shards: int = 1, endianness: int = 0, producer: int = 1,
                 min_consumer: int = 0) -> bytes:
    out = pb_varint(1, num_shards) if num_shards else b""
    if endianness:
        out += pb_varint(2, endianness)
    version = pb_varint(1, producer) if producer else b""
    if min_consumer:
        version += pb_varint(2, min_consumer)
    return out + pb_bytes(3, version)


# ---------------------------------------------------------------------------------------
# the table (.index) writer

def block_bytes(entries) -> tuple[bytes, list[int]]:
    """A block of (key, value) pairs, each a restart point; value offsets in the block."""
    body = bytearray()
    restarts, value_offs = [], []
    for k, v in entries:
        restarts.append(len(body))
        body += varint(0) + varint(len(k)) + varint(len(v)) + k
        value_offs.append(len(body))
        body += v
    restarts = restarts or [0]
    body += b"".join(struct.pack("<I", r) for r in restarts)
    body += struct.pack("<I", len(restarts))
    return bytes(body), value_offs


def block_trailer(block: bytes, btype: int = 0) -> bytes:
    return bytes([btype]) + struct.pack("<I", mask(crc32c(block + bytes([btype]))))


@dataclasses.dataclass
class Table:
    data: bytes
    blocks: list          # [(offset, size)] of the data blocks
    values: dict          # key -> [(file offset, length, data block number)]
    meta: tuple           # (offset, size) of the metaindex block
    index: tuple          # (offset, size) of the index block
    footer: int           # offset of the 48-byte footer


def build_table(kvs, block_size: int = 4096) -> Table:
    out = bytearray()
    blocks, values, index, pending = [], {}, [], []

    def flush():
        if not pending:
            return
        blk, offs = block_bytes(pending)
        off = len(out)
        for (k, v), o in zip(pending, offs):
            values.setdefault(k, []).append((off + o, len(v), len(blocks)))
        out.extend(blk + block_trailer(blk))
        blocks.append((off, len(blk)))
        # the block's last key is a valid separator (>= every key of the block)
        index.append((pending[-1][0], varint(off) + varint(len(blk))))
        pending.clear()

    size = 0
    for k, v in kvs:
        pending.append((k, v))
        size += len(k) + len(v) + 3
        if size >= block_size:
            flush()
            size = 0
    flush()
    meta_blk, _ = block_bytes([])
    meta = (len(out), len(meta_blk))
    out += meta_blk + block_trailer(meta_blk)
    index_blk, _ = block_bytes(index)
    index_h = (len(out), len(index_blk))
    out += index_blk + block_trailer(index_blk)
    footer = len(out)
    handles = varint(meta[0]) + varint(meta[1]) + varint(index_h[0]) + varint(index_h[1])
    out += handles + bytes(40 - len(handles)) + struct.pack("<Q", TABLE_MAGIC)
    return Table(bytes(out), blocks, values, meta, index_h, footer)


def fix_block_crc(buf: bytearray, handle: tuple[int, int]):
    """Recompute the trailer checksum of the block at handle, in place."""
    off, size = handle
    blk = bytes(buf[off:off + size])
    btype = buf[off + size]
    buf[off + size + 1:off + size + 5] = struct.pack("<I", mask(crc32c(blk + bytes([btype]))))


# ---------------------------------------------------------------------------------------
# reading real (TensorFlow-written) tables back, to damage them precisely

def parse_footer(data: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    f = data[-48:]
    pos = 0
    vals = []
    for _ in range(4):
        v, pos = ckpt_helpers.get_varint(f, pos)
        vals.append(v)
    return (vals[0], vals[1]), (vals[2], vals[3])


def block_spans(block: bytes) -> list[tuple[bytes, int, int]]:
    """(key, value offset in the block, value length) of every entry of a raw block."""
    n = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * n
    pos, key, out = 0, b"", []
    while pos < limit:
        shared, pos = ckpt_helpers.get_varint(block, pos)
        non_shared, pos = ckpt_helpers.get_varint(block, pos)
        vlen, pos = ckpt_helpers.get_varint(block, pos)
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        out.append((key, pos, vlen))
        pos += vlen
    return out


def data_block_handles(data: bytes) -> list[tuple[int, int]]:
    _meta, (ioff, isize) = parse_footer(data)
    out = []
    for _key, voff, vlen in block_spans(data[ioff:ioff + isize]):
        v = data[ioff + voff:ioff + voff + vlen]
        off, p = ckpt_helpers.get_varint(v, 0)
        size, _ = ckpt_helpers.get_varint(v, p)
        out.append((off, size))
    return out


# ---------------------------------------------------------------------------------------
# whole bundles

@dataclasses.dataclass
class Tensor:
    key: str
    dtype: int
    dims: list
    data: bytes


def write_bundle(prefix: str, tensors: list[Tensor], *, header: bytes | None = None,
                 key_order: list[int] | None = None, block_size: int = 4096,
                 entry_hook=None, data_order: list[int] | None = None) -> Table:
    """Write PREFIX.index and PREFIX.data-00000-of-00001.

    Data is laid out in data_order (default: list order); index entries go in sorted key
    order unless key_order lists the tensor positions to write (repeats allowed).
    entry_hook(tensor, proto) may return replacement entry bytes."""
    data = bytearray()
    where = {}
    for i in (data_order if data_order is not None else range(len(tensors))):
        t = tensors[i]
        where[i] = len(data)
        data += t.data
    entries = []
    for i, t in enumerate(tensors):
        proto = entry_proto(t.dtype, t.dims, 0, where[i], len(t.data), mask(crc32c(t.data)))
        if entry_hook:
            proto = entry_hook(t, proto)
        entries.append((t.key.encode(), proto))
    order = key_order if key_order is not None else sorted(range(len(tensors)),
                                                           key=lambda i: entries[i][0])
    kvs = [(b"", header if header is not None else header_proto())]
    kvs += [entries[i] for i in order]
    table = build_table(kvs, block_size)
    with open(prefix + ".index", "wb") as f:
        f.write(table.data)
    with open(ckpt_helpers.data_filename(prefix, 0, 1), "wb") as f:
        f.write(data)
    return table


# ---------------------------------------------------------------------------------------
# running commands

def exec_prefix() -> list[str]:
    return shlex.split(os.environ.get("EXEC_PREFIX", ""))


def command_timeout(base: float) -> float:
    """valgrind (EXEC_PREFIX) is some 20-50x slower."""
    return base * 10 if exec_prefix() else base


@dataclasses.dataclass
class Run:
    argv: list
    rc: int | None
    stdout: str
    stderr: str
    hung: bool = False

    def describe(self) -> str:
        state = "HUNG (killed after the timeout)" if self.hung else f"exit {self.rc}"
        return (f"$ {shlex.join(self.argv)}\n-> {state}\n--- stdout ---\n{self.stdout[-3000:]}"
                f"\n--- stderr ---\n{self.stderr[-3000:]}")


def run_cmd(argv: list, timeout: float = 20.0) -> Run:
    """Run a command; output via files (a daemon it leaves behind may keep them open).
    A command still running after the timeout is killed and reported as hung."""
    argv = exec_prefix() + [str(a) for a in argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True)
        hung = False
        try:
            rc = p.wait(timeout=command_timeout(timeout))
        except subprocess.TimeoutExpired:
            hung = True
            os.killpg(p.pid, signal.SIGKILL)
            rc = p.wait()
        out.seek(0)
        err.seek(0)
        return Run(argv, None if hung else rc, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"), hung)


def processes_naming(path: str) -> list[tuple[int, str]]:
    """(pid, command line) of every process whose arguments include path."""
    path = os.path.realpath(path)
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if any(a and os.path.realpath(a.decode(errors="replace")) == path for a in args):
            out.append((int(pid), b" ".join(args).decode(errors="replace")))
    return out


def mounts_at(path: str) -> list[tuple[str, str, str]]:
    path = os.path.realpath(path)
    return [r for r in mountlib.mount_table() if r[1] == path]


def force_unmount_all(path: str):
    """Unmount everything stacked on path (a test that found a bug may leave several)."""
    for _ in range(8):
        if not mountlib.is_mounted(path):
            return
        if mountlib.fusermount("-u", path).returncode != 0:
            mountlib.fusermount("-u", "-z", path)


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


# ---------------------------------------------------------------------------------------
# a daemon the test may kill

@contextlib.contextmanager
def daemon(ckptfs_bin: str, mapping: str, mountpoint: str, *options: str):
    """Like mountlib.mounted, but makes no claim about how the daemon ends: the test
    decides (kill -9, SIGTERM, ...).  Always leaves nothing mounted and no daemon."""
    os.makedirs(mountpoint, exist_ok=True)
    log_path = os.path.join(os.path.dirname(os.path.abspath(mountpoint)),
                            os.path.basename(mountpoint) + ".log")
    argv = exec_prefix() + [ckptfs_bin, mapping, mountpoint, "-f", *options]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        mountlib.wait_until_mounted(proc, mountpoint, log_path, argv)
        yield mountlib.Mount(proc, mountpoint, log_path, argv)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        force_unmount_all(mountpoint)


def direct_pread(fd: int, length: int, offset: int) -> bytes:
    """pread through an O_DIRECT fd until length bytes or EOF (the daemon serves each)."""
    out = bytearray()
    while len(out) < length:
        b = os.pread(fd, length - len(out), offset + len(out))
        if not b:
            break
        out += b
    return bytes(out)


def read_file(path: str, chunk: int = 1 << 20) -> bytes:
    parts = []
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(chunk)
            if not b:
                return b"".join(parts)
            parts.append(b)


def read_direct(path: str, chunk: int = 1 << 20) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        return direct_pread(fd, os.fstat(fd).st_size + chunk, 0)
    finally:
        os.close(fd)


def parse_ls_mapping(text: str) -> dict[str, dict]:
    """`ckptfs ls MAPPING` -> {merged name: {dtype, shape, shard, offset, size, source,
    key}}: shard and offset are the merged checkpoint's (in the mapping's layout); source
    and key say where the tensor comes from."""
    out = {}
    for line in text.splitlines():
        name, dtype, shape, shard, off, size, source, key = line.split("\t")
        out[name] = {"dtype": dtype, "shape": shape, "source": source, "key": key,
                     "shard": None if shard == "-" else int(shard),
                     "offset": None if off == "-" else int(off),
                     "size": None if size == "-" else int(size)}
    return out


def wait_for(pred, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()
