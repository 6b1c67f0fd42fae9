"""The TensorFlow V2 checkpoint ("tensor bundle") format, read and written in pure Python.

Written from docs/checkpoint-format.md (section numbers below are that document's), not
from ckptfs's C code: a second, independent implementation is what makes it worth
comparing ckptfs against, and what lets tests and the fuzz-seed generator build input
the C code would never write (unsorted or duplicate keys, damage behind a valid block
checksum, hand-picked block boundaries).  Standard library only, so
tests/fuzz/make_seeds.py and scripts/bench.py can use it without TensorFlow or numpy.

* checksums and integers: ``crc32c``, ``mask``, ``varint``, ``get_varint``, ``fixed32``;
* Snappy: ``snappy_compress``, ``snappy_decompress``;
* the ``.index`` SSTable: ``build_table`` (writer, with hooks to break one thing),
  ``table_entries``/``read_table`` (reader), ``parse_footer``, ``block_spans``,
  ``data_block_handles``, ``fix_block_crc``;
* protobufs: ``encode_header``/``decode_header``, ``encode_entry``/``IndexEntry``,
  shapes and slices, ``proto_fields``;
* names: ``data_filename``, ``data_files``, ``encode_slice_key``, ``piece_name``;
* whole bundles: ``BundleIndex``/``read_index`` (reader), ``write_bundle`` (writer);
* tensor encodings: ``decode_tf_strings``.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import struct

# ---------------------------------------------------------------------------------------
# CRC32C and its mask (docs/checkpoint-format.md §2.3)


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
    """CRC32C of data, continuing from crc (the value returned for the bytes before)."""
    c = crc ^ 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def mask(c: int) -> int:
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def unmask(m: int) -> int:
    r = (m - 0xA282EAD8) & 0xFFFFFFFF
    return ((r >> 17) | (r << 15)) & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------
# integers (§2.2: LEB128 varints; fixed-width integers are little-endian)

def varint(v: int) -> bytes:
    """LEB128 of v; a negative v is its 64-bit two's complement (ten bytes), as
    protobuf writes a negative int64."""
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def get_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at buf[pos]."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fixed32(v: int) -> bytes:
    return struct.pack("<I", v & 0xFFFFFFFF)


def to_int64(u: int) -> int:
    """A 64-bit varint read back as protobuf's signed int64."""
    return u - (1 << 64) if u >= 1 << 63 else u


# ---------------------------------------------------------------------------------------
# Snappy, raw (unframed) format (§2.4)

def snappy_compress(data: bytes) -> bytes:
    """A small but real Snappy encoder: literals, copy-1 and copy-2 elements."""
    out = bytearray(varint(len(data)))
    table = {}
    i = lit = 0

    def literal(end):
        n = end - lit
        pos = lit
        while n > 0:
            k = min(n, 65536)
            if k <= 60:
                out.append((k - 1) << 2)
            elif k <= 256:
                out.extend(bytes([60 << 2, k - 1]))
            else:
                out.extend(bytes([61 << 2]) + struct.pack("<H", k - 1))
            out.extend(data[pos:pos + k])
            pos += k
            n -= k

    while i + 4 <= len(data):
        key = bytes(data[i:i + 4])
        cand = table.get(key)
        table[key] = i
        if cand is None or i - cand >= 65536:
            i += 1
            continue
        n = 4
        while i + n < len(data) and data[cand + n] == data[i + n] and n < 64:
            n += 1
        literal(i)
        off = i - cand
        if n <= 11 and off < 2048:
            out += bytes([1 | ((n - 4) << 2) | ((off >> 8) << 5), off & 0xFF])
        else:
            out += bytes([2 | ((n - 1) << 2)]) + struct.pack("<H", off)
        i += n
        lit = i
    literal(len(data))
    return bytes(out)


def snappy_decompress(src: bytes) -> bytes:
    length, pos = get_varint(src, 0)
    out = bytearray()
    while pos < len(src):
        tag = src[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            n = tag >> 2
            if n >= 60:
                nbytes = n - 59
                n = int.from_bytes(src[pos:pos + nbytes], "little")
                pos += nbytes
            n += 1
            out += src[pos:pos + n]
            pos += n
            continue
        if kind == 1:
            n = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | src[pos]
            pos += 1
        elif kind == 2:
            n = (tag >> 2) + 1
            off = int.from_bytes(src[pos:pos + 2], "little")
            pos += 2
        else:
            n = (tag >> 2) + 1
            off = int.from_bytes(src[pos:pos + 4], "little")
            pos += 4
        if off == 0 or off > len(out):
            raise ValueError("bad snappy copy offset")
        start = len(out) - off
        for i in range(n):  # byte-wise: copies may overlap their own output
            out.append(out[start + i])
    if len(out) != length:
        raise ValueError(f"snappy length mismatch {len(out)} != {length}")
    return bytes(out)


# ---------------------------------------------------------------------------------------
# blocks (§2.2) and their trailers (§2.3)

BLOCK_RAW, BLOCK_SNAPPY = 0, 1


def block_bytes(entries, restart_interval: int = 1) -> tuple[bytes, list[int]]:
    """A block of (key, value) pairs in the order given, a restart point every
    restart_interval entries (keys prefix-compressed in between); also the offset of
    every value in the block."""
    body = bytearray()
    restarts, value_offs = [], []
    last = b""
    for n, (k, v) in enumerate(entries):
        shared = 0
        if n % restart_interval == 0:
            restarts.append(len(body))
        else:
            while shared < min(len(k), len(last)) and k[shared] == last[shared]:
                shared += 1
        body += varint(shared) + varint(len(k) - shared) + varint(len(v)) + k[shared:]
        value_offs.append(len(body))
        body += v
        last = k
    restarts = restarts or [0]
    body += b"".join(fixed32(r) for r in restarts) + fixed32(len(restarts))
    return bytes(body), value_offs


def block_trailer(stored: bytes, btype: int = BLOCK_RAW) -> bytes:
    """Type byte and masked CRC of a block's stored (maybe compressed) bytes."""
    return bytes([btype]) + fixed32(mask(crc32c(stored + bytes([btype]))))


def fix_block_crc(buf: bytearray, handle: tuple[int, int]):
    """Recompute, in place, the trailer checksum of the block at handle (offset, size),
    so that damage inside the block is what a reader trips over."""
    off, size = handle
    buf[off + size + 1:off + size + 5] = fixed32(mask(crc32c(bytes(buf[off:off + size + 1]))))


def block_spans(block: bytes) -> list[tuple[bytes, int, int]]:
    """(key, value offset in the block, value length) of every entry of an uncompressed
    block."""
    n = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * n
    pos, key, out = 0, b"", []
    while pos < limit:
        shared, pos = get_varint(block, pos)
        non_shared, pos = get_varint(block, pos)
        vlen, pos = get_varint(block, pos)
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        out.append((key, pos, vlen))
        pos += vlen
    return out


def block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    return [(k, block[off:off + n]) for k, off, n in block_spans(block)]


def read_block(data: bytes, handle: tuple[int, int]) -> bytes:
    """The contents of the block at handle, decompressed; the checksum is not checked."""
    off, size = handle
    contents = data[off:off + size]
    btype = data[off + size]
    if btype == BLOCK_RAW:
        return contents
    if btype == BLOCK_SNAPPY:
        return snappy_decompress(contents)
    raise ValueError(f"unknown block type {btype}")


# ---------------------------------------------------------------------------------------
# the table (§2.1 layout, §2.5 handles, §2.6 footer, §2.7 block sizing)

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48


def encode_handle(handle: tuple[int, int]) -> bytes:
    return varint(handle[0]) + varint(handle[1])


def decode_handle(buf: bytes, pos: int = 0) -> tuple[tuple[int, int], int]:
    """((offset, size), position after the handle)."""
    off, pos = get_varint(buf, pos)
    size, pos = get_varint(buf, pos)
    return (off, size), pos


def encode_footer(meta: tuple[int, int], index: tuple[int, int]) -> bytes:
    handles = encode_handle(meta) + encode_handle(index)
    return handles.ljust(FOOTER_SIZE - 8, b"\0") + struct.pack("<Q", TABLE_MAGIC)


def parse_footer(data: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    """(metaindex handle, index handle) from the last 48 bytes; the magic is not checked."""
    footer = data[-FOOTER_SIZE:]
    meta, pos = decode_handle(footer)
    index, _ = decode_handle(footer, pos)
    return meta, index


def data_block_handles(data: bytes) -> list[tuple[int, int]]:
    """Handles of the data blocks, as the index block lists them."""
    _meta, index = parse_footer(data)
    return [decode_handle(v)[0] for _k, v in block_entries(read_block(data, index))]


def table_entries(data: bytes) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs of a table, in file order (nothing is checked but the size
    and the magic: the tests compare what they read with other readers)."""
    if len(data) < FOOTER_SIZE:
        raise ValueError("too short for a table")
    if struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise ValueError("bad table magic")
    out = []
    for handle in data_block_handles(data):
        out.extend(block_entries(read_block(data, handle)))
    return out


def read_table(path: str) -> list[tuple[bytes, bytes]]:
    with open(path, "rb") as f:
        data = f.read()
    try:
        return table_entries(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


@dataclasses.dataclass
class Table:
    """A table build_table wrote, and where its pieces sit (file offsets)."""
    data: bytes
    blocks: list          # [(offset, size)] of the data blocks
    values: dict          # key -> [(offset, length, data block number)] (raw blocks only)
    meta: tuple           # (offset, size) of the metaindex block
    index: tuple          # (offset, size) of the index block
    footer: int           # offset of the 48-byte footer


def build_table(kvs, *, block_size: int = 4096, restart_interval: int = 1,
                block_type: int = BLOCK_RAW, index_key=None, index_extra: bytes = b"",
                meta_entries=()) -> Table:
    """A table of the (key, value) pairs *in the order given*, so that unsorted and
    duplicate keys can be written.

    A data block ends once the sum of len(key) + len(value) + 3 over its entries reaches
    block_size (a simpler rule than TensorFlow's §2.7, but readers accept any).  Each
    block is Snappy-compressed when block_type is BLOCK_SNAPPY, whatever that saves.  The
    index key of a block is its last key (valid per §2.5), or index_key(entries of the
    block) to write a wrong one; index_extra is appended to every index handle;
    meta_entries go into the metaindex block (empty in every real file)."""
    out = bytearray()
    blocks, values, index, pending = [], {}, [], []

    def put(contents: bytes) -> tuple[int, int]:
        stored = snappy_compress(contents) if block_type == BLOCK_SNAPPY else contents
        handle = (len(out), len(stored))
        out.extend(stored + block_trailer(stored, block_type))
        return handle

    def flush():
        if not pending:
            return
        blk, offs = block_bytes(pending, restart_interval)
        handle = put(blk)
        for (k, v), o in zip(pending, offs):
            values.setdefault(k, []).append((handle[0] + o, len(v), len(blocks)))
        blocks.append(handle)
        key = pending[-1][0] if index_key is None else index_key(list(pending))
        index.append((key, encode_handle(handle) + index_extra))
        pending.clear()

    size = 0
    for k, v in kvs:
        pending.append((k, v))
        size += len(k) + len(v) + 3
        if size >= block_size:
            flush()
            size = 0
    flush()
    meta = put(block_bytes(list(meta_entries), restart_interval)[0])
    index_h = put(block_bytes(index, 1)[0])
    footer = len(out)
    out += encode_footer(meta, index_h)
    return Table(bytes(out), blocks, values, meta, index_h, footer)


# ---------------------------------------------------------------------------------------
# protobuf wire format (§3: proto3, fields in ascending order, zero scalars omitted)

def pb_varint(field: int, v: int) -> bytes:
    return varint(field << 3) + varint(v)


def pb_bytes(field: int, b: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(b)) + b


def pb_fixed32(field: int, v: int) -> bytes:
    return varint(field << 3 | 5) + fixed32(v)


def proto_fields(buf: bytes):
    """Yield (field number, wire type, value) of a serialized protobuf message."""
    pos = 0
    while pos < len(buf):
        tag, pos = get_varint(buf, pos)
        field, wt = tag >> 3, tag & 7
        if wt == 0:
            v, pos = get_varint(buf, pos)
        elif wt == 1:
            v = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wt == 2:
            n, pos = get_varint(buf, pos)
            v = buf[pos:pos + n]
            if len(v) != n:
                raise ValueError("truncated length-delimited field")
            pos += n
        elif wt == 5:
            v = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield field, wt, v


# ---------------------------------------------------------------------------------------
# BundleHeaderProto (§3.1)

def encode_header(num_shards: int = 1, endianness: int = 0, producer: int = 1,
                  min_consumer: int = 0, bad_consumers=()) -> bytes:
    """The header value; bad_consumers are written unpacked (one field each)."""
    version = pb_varint(1, producer) if producer else b""
    if min_consumer:
        version += pb_varint(2, min_consumer)
    version += b"".join(pb_varint(3, x) for x in bad_consumers)
    out = pb_varint(1, num_shards) if num_shards else b""
    if endianness:
        out += pb_varint(2, endianness)
    return out + pb_bytes(3, version)


def decode_header(buf: bytes) -> dict:
    h = {"num_shards": 0, "endianness": 0, "producer": 0, "min_consumer": 0}
    for f, _wt, v in proto_fields(buf):
        if f == 1:
            h["num_shards"] = v
        elif f == 2:
            h["endianness"] = v
        elif f == 3:
            for f2, _wt2, v2 in proto_fields(v):
                if f2 == 1:
                    h["producer"] = v2
                elif f2 == 2:
                    h["min_consumer"] = v2
    return h


# ---------------------------------------------------------------------------------------
# TensorShapeProto (§3.3), TensorSliceProto (§3.4), BundleEntryProto (§3.2)

def encode_shape(dims) -> bytes:
    return b"".join(pb_bytes(2, pb_varint(1, d) if d else b"") for d in dims)


def decode_shape(buf: bytes) -> list[int]:
    dims = []
    for f, _wt, v in proto_fields(buf):
        if f == 2:
            size = 0
            for f2, _wt2, v2 in proto_fields(v):
                if f2 == 1:
                    size = to_int64(v2)
            dims.append(size)
    return dims


def encode_slice(extents) -> bytes:
    """extents: [(start, length)], length -1 (or None) for a whole dimension."""
    out = b""
    for start, length in extents:
        e = pb_varint(1, start) if start else b""
        if length is not None and length >= 0:
            e += pb_varint(2, length)  # a set oneof is written even when 0
        out += pb_bytes(1, e)
    return out


def decode_slice(buf: bytes) -> list[tuple[int, int | None]]:
    """[(start, length or None = whole dimension)]."""
    extents = []
    for f, _wt, v in proto_fields(buf):
        if f == 1:
            start, length = 0, None
            for f2, _wt2, v2 in proto_fields(v):
                if f2 == 1:
                    start = to_int64(v2)
                elif f2 == 2:
                    length = to_int64(v2)
            extents.append((start, length))
    return extents


def slice_extents(extents) -> list[tuple[int, int]]:
    """decode_slice() output -> [(start, length)], length -1 for a whole dimension."""
    return [(start, -1 if length is None else length) for start, length in extents]


def encode_entry(dtype: int, dims, *, shard: int = 0, offset: int = 0, size: int = 0,
                 crc: int | None = None, slices=()) -> bytes:
    """A BundleEntryProto as TensorFlow writes one: zero scalars omitted, the shape always
    present; crc (already masked) is written whenever it is not None, even 0; slices
    holds one extents list per stored piece of a partitioned tensor."""
    out = pb_varint(1, dtype) if dtype else b""
    out += pb_bytes(2, encode_shape(dims))
    if shard:
        out += pb_varint(3, shard)
    if offset:
        out += pb_varint(4, offset)
    if size:
        out += pb_varint(5, size)
    if crc is not None:
        out += pb_fixed32(6, crc)
    return out + b"".join(pb_bytes(7, encode_slice(s)) for s in slices)


# ---------------------------------------------------------------------------------------
# DataType (§3.5)

DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8 = 1, 2, 3, 4
DT_STRING, DT_INT64, DT_BOOL, DT_BFLOAT16 = 7, 9, 10, 14
DT_HALF, DT_RESOURCE, DT_VARIANT = 19, 20, 21

# enum value -> TensorFlow's Python dtype name (tf.as_dtype(v).name)
DTYPE_NAMES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
    7: "string", 8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8",
    13: "qint32", 14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16",
    18: "complex128", 19: "float16", 20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
    24: "float8_e5m2", 25: "float8_e4m3fn", 26: "float8_e4m3fnuz", 27: "float8_e4m3b11fnuz",
    28: "float8_e5m2fnuz", 29: "int4", 30: "uint4", 31: "int2", 32: "uint2", 33: "float4_e2m1fn",
}

# bytes per element of the fixed-size types whose size §3.5 is sure of
DTYPE_SIZES = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 8: 8, 9: 8, 10: 1, 11: 1, 12: 1, 13: 4,
               14: 2, 15: 2, 16: 2, 17: 2, 18: 16, 19: 2, 22: 4, 23: 8,
               24: 1, 25: 1, 26: 1, 27: 1, 28: 1}


def dtype_name(enum_value: int) -> str:
    return DTYPE_NAMES.get(enum_value, f"dtype{enum_value}")


# ---------------------------------------------------------------------------------------
# file names (§1)

def data_filename(prefix: str, shard_id: int, num_shards: int) -> str:
    return "%s.data-%05d-of-%05d" % (prefix, shard_id, num_shards)


def data_files(prefix: str) -> list[str]:
    pat = re.compile(re.escape(os.path.basename(prefix)) + r"\.data-\d{5,}-of-\d{5,}$")
    return sorted(p for p in glob.glob(glob.escape(prefix) + ".data-*")
                  if pat.match(os.path.basename(p)))


def bundle_files(prefix: str) -> list[str]:
    return [prefix + ".index"] + data_files(prefix)


# ---------------------------------------------------------------------------------------
# partitioned-variable piece keys (§5.1: OrderedCode "increasing" encodings)

# the header XORed into the first one or two bytes of an L-byte SNumInc
_SNUM_HEADER = {1: (0x80, 0), 2: (0xC0, 0), 3: (0xE0, 0), 4: (0xF0, 0), 5: (0xF8, 0),
                6: (0xFC, 0), 7: (0xFE, 0), 8: (0xFF, 0), 9: (0xFF, 0x80), 10: (0xFF, 0xC0)}


def _num_inc(u: int) -> bytes:
    n = (u.bit_length() + 7) // 8
    return bytes([n]) + u.to_bytes(n, "big")


def _str_inc(s: bytes) -> bytes:
    out = bytearray()
    for c in s:
        out += {0x00: b"\x00\xff", 0xFF: b"\xff\x00"}.get(c, bytes([c]))
    return bytes(out) + b"\x00\x01"


def _snum_inc(v: int) -> bytes:
    x = ~v if v < 0 else v
    n = 1 if x < 64 else (x.bit_length() + 1 + 6) // 7
    buf = bytearray((v & ((1 << (8 * n)) - 1)).to_bytes(n, "big"))
    h0, h1 = _SNUM_HEADER[n]
    buf[0] ^= h0
    if n > 1:
        buf[1] ^= h1
    return bytes(buf)


def encode_slice_key(name: str | bytes, extents) -> bytes:
    """Index key of one stored piece: extents = [(start, length)], length -1 = whole dim."""
    if isinstance(name, str):
        name = name.encode("utf-8")
    out = _num_inc(0) + _str_inc(name) + _num_inc(len(extents))
    for start, length in extents:
        out += _snum_inc(start) + _snum_inc(length)
    return out


def piece_name(key: bytes) -> str:
    """Variable name inside a piece key (inverse of the name part of encode_slice_key)."""
    assert key.startswith(b"\x00"), key
    i, out = 1, bytearray()
    while True:
        c = key[i]
        if c == 0x00:
            if key[i + 1] == 0x01:
                break
            out.append(0x00)          # 00 FF
        elif c == 0xFF:
            out.append(0xFF)          # FF 00
        else:
            out.append(c)
            i += 1
            continue
        i += 2
    return out.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------
# reading a bundle

class IndexEntry:
    """One non-header index entry (a decoded BundleEntryProto)."""

    def __init__(self, key: bytes, value: bytes):
        self.key = key
        self.raw_value = value
        self.dtype = 0
        self.shape: list[int] = []
        self.shard_id = self.offset = self.size = self.crc32c = 0
        self.slices: list[list[tuple[int, int | None]]] = []
        for f, _wt, v in proto_fields(value):
            if f == 1:
                self.dtype = v
            elif f == 2:
                self.shape = decode_shape(v)
            elif f == 3:
                self.shard_id = v
            elif f == 4:
                self.offset = to_int64(v)
            elif f == 5:
                self.size = to_int64(v)
            elif f == 6:
                self.crc32c = v
            elif f == 7:
                self.slices.append(decode_slice(v))
        self.dtype_name = dtype_name(self.dtype)

    @property
    def is_piece(self) -> bool:
        return self.key.startswith(b"\x00")

    @property
    def is_partitioned(self) -> bool:
        return bool(self.slices)

    @property
    def name(self) -> str:
        return self.key.decode("utf-8", "surrogateescape")

    @property
    def num_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self):
        return (f"IndexEntry({self.key!r}, {self.dtype_name}, {self.shape}, shard={self.shard_id},"
                f" off={self.offset}, size={self.size}, slices={len(self.slices)})")


class BundleIndex:
    """PREFIX.index parsed: the header and every entry, piece entries included (which
    TensorFlow's listing hides)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        pairs = read_table(prefix + ".index")
        keys = [k for k, _ in pairs]
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            raise ValueError(f"{prefix}.index: keys not strictly sorted")
        if not pairs or pairs[0][0] != b"":
            raise ValueError(f"{prefix}.index: no header entry")
        self.header = decode_header(pairs[0][1])
        self.num_shards = self.header["num_shards"]
        self.entries = [IndexEntry(k, v) for k, v in pairs[1:]]
        self.by_key = {e.key: e for e in self.entries}

    def data_path(self, shard_id: int) -> str:
        return data_filename(self.prefix, shard_id, self.num_shards)

    def listed(self) -> list[IndexEntry]:
        """Entries TensorFlow lists: everything but partitioned-variable pieces."""
        return [e for e in self.entries if not e.is_piece]

    def pieces(self) -> list[IndexEntry]:
        return [e for e in self.entries if e.is_piece]

    def raw_bytes(self, entry: IndexEntry) -> bytes:
        with open(self.data_path(entry.shard_id), "rb") as f:
            f.seek(entry.offset)
            return f.read(entry.size)


def read_index(prefix: str) -> BundleIndex:
    return BundleIndex(prefix)


# ---------------------------------------------------------------------------------------
# writing a bundle

@dataclasses.dataclass
class Tensor:
    key: str
    dtype: int
    dims: list
    data: bytes      # the stored bytes (§4)


def write_bundle(prefix: str, tensors: list[Tensor], *, header: bytes | None = None,
                 key_order: list[int] | None = None, block_size: int = 4096,
                 entry_hook=None, data_order: list[int] | None = None) -> Table:
    """Write PREFIX.index and PREFIX.data-00000-of-00001; every index entry a restart
    point, blocks of about block_size bytes.

    Data is laid out in data_order (default: list order); index entries go in sorted key
    order unless key_order lists the tensor positions to write (repeats allowed).
    entry_hook(tensor, entry bytes) may return replacement entry bytes."""
    data = bytearray()
    where = {}
    for i in (data_order if data_order is not None else range(len(tensors))):
        where[i] = len(data)
        data += tensors[i].data
    entries = []
    for i, t in enumerate(tensors):
        entry = encode_entry(t.dtype, t.dims, offset=where[i], size=len(t.data),
                             crc=mask(crc32c(t.data)))
        if entry_hook:
            entry = entry_hook(t, entry)
        entries.append((t.key.encode(), entry))
    order = key_order if key_order is not None else sorted(range(len(tensors)),
                                                           key=lambda i: entries[i][0])
    kvs = [(b"", header if header is not None else encode_header())]
    kvs += [entries[i] for i in order]
    table = build_table(kvs, block_size=block_size)
    with open(prefix + ".index", "wb") as f:
        f.write(table.data)
    with open(data_filename(prefix, 0, 1), "wb") as f:
        f.write(data)
    return table


# ---------------------------------------------------------------------------------------
# DT_STRING tensors (§4.3)

def decode_tf_strings(buf: bytes, n: int) -> list[bytes]:
    """Decode ``n`` elements of TensorFlow's bundle string layout.

    varint64 len[0..n-1] | uint32 masked length checksum | elem[0] .. elem[n-1]
    The whole buffer must be consumed exactly.
    """
    pos = 0
    lens = []
    for _ in range(n):
        ln, pos = get_varint(buf, pos)
        lens.append(ln)
    if pos + 4 > len(buf):
        raise ValueError("string tensor: truncated length checksum")
    pos += 4
    out = []
    for ln in lens:
        if pos + ln > len(buf):
            raise ValueError("string tensor: truncated element")
        out.append(bytes(buf[pos:pos + ln]))
        pos += ln
    if pos != len(buf):
        raise ValueError(f"string tensor: {len(buf) - pos} trailing bytes")
    return out


# The §9.1 vectors, checked on import: a broken checksum here would make every
# hand-built input fail for the wrong reason.
assert crc32c(b"123456789") == 0xE3069283 and mask(0xE3069283) == 0xC78AB0E5
assert unmask(mask(0xE3069283)) == 0xE3069283
assert block_bytes([])[0] + block_trailer(block_bytes([])[0]) == \
    bytes.fromhex("0000000001000000" "00c0f2a1b0")
assert encode_header() == bytes.fromhex("08011a020801")
