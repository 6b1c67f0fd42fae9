"""Small, independent readers used by the TensorFlow-oracle tests.

Nothing here imports TensorFlow (pytest collection stays fast, and the index reader is
independent of TensorFlow's own code); protobuf entries are decoded by hand.

* ``read_index(prefix)``: parse ``PREFIX.index`` (LevelDB table, Snappy or raw blocks) into
  raw (key bytes, BundleEntryProto) pairs, including partitioned-variable piece keys that
  TensorFlow's listing hides.  It is a second reference for the shard/offset/size columns
  of ``ckptfs ls`` and lets the tests find a tensor's bytes to corrupt.
* ``decode_tf_strings(buf, n)``: decode TensorFlow's DT_STRING bundle layout.
* ``tree_digest(dir)``: sha256 of every file below a directory.
* ``ls_name(field)``: a name as ``ckptfs ls`` shows it back to the name.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import struct

import numpy as np

_LS_ESCAPE = re.compile(rb"\\(\\|n|t|r|x[0-9a-f]{2})")
_LS_SIMPLE = {b"\\": b"\\", b"n": b"\n", b"t": b"\t", b"r": b"\r"}


def ls_name(field: str) -> str:
    """Undo the escaping `ckptfs ls` applies to names (docs/mapping.md, "Errors"):
    \\n \\t \\r \\xNN and \\\\. Works on bytes, so that an escaped C1 control or a byte
    that is not UTF-8 comes back as it was; str in and out with surrogateescape."""
    raw = field.encode("utf-8", "surrogateescape")
    out = _LS_ESCAPE.sub(lambda m: _LS_SIMPLE.get(m.group(1))
                         or bytes([int(m.group(1)[1:], 16)]), raw)
    return out.decode("utf-8", "surrogateescape")


TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48

# DataType enum value -> TensorFlow Python dtype name (tf.as_dtype(v).name), for the
# values the fixtures use; anything else is looked up through TensorFlow.
_DTYPE_NAMES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
    7: "string", 8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8",
    13: "qint32", 14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16",
    18: "complex128", 19: "float16", 20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
    24: "float8_e5m2", 25: "float8_e4m3fn", 26: "float8_e4m3fnuz", 27: "float8_e4m3b11fnuz",
    28: "float8_e5m2fnuz", 29: "int4", 30: "uint4", 31: "int2", 32: "uint2", 33: "float4_e2m1fn",
}

DT_STRING = 7
DT_VARIANT = 21


def dtype_name(enum_value: int) -> str:
    return _DTYPE_NAMES.get(enum_value, f"dtype{enum_value}")


# ---------------------------------------------------------------------------------------
# varints, snappy, blocks

def get_varint(buf: bytes, pos: int) -> tuple[int, int]:
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


def snappy_decompress(src: bytes) -> bytes:
    """Raw (unframed) Snappy decompression, enough for index blocks."""
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


def _read_block(data: bytes, offset: int, size: int) -> bytes:
    contents = data[offset:offset + size]
    btype = data[offset + size]
    if btype == 0:
        return contents
    if btype == 1:
        return snappy_decompress(contents)
    raise ValueError(f"unknown block type {btype}")


def _block_entries(block: bytes):
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * num_restarts
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = get_varint(block, pos)
        non_shared, pos = get_varint(block, pos)
        vlen, pos = get_varint(block, pos)
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        yield key, block[pos:pos + vlen]
        pos += vlen


def read_table(path: str) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs of a LevelDB-format table file, in file order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < FOOTER_SIZE:
        raise ValueError(f"{path}: too short for a table")
    footer = data[-FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
        raise ValueError(f"{path}: bad table magic")
    pos = 0
    _meta_off, pos = get_varint(footer, pos)
    _meta_size, pos = get_varint(footer, pos)
    idx_off, pos = get_varint(footer, pos)
    idx_size, pos = get_varint(footer, pos)
    out = []
    for _sep, handle in _block_entries(_read_block(data, idx_off, idx_size)):
        off, p = get_varint(handle, 0)
        size, _ = get_varint(handle, p)
        out.extend(_block_entries(_read_block(data, off, size)))
    return out


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


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_shape(buf: bytes) -> list[int]:
    dims = []
    for f, _wt, v in proto_fields(buf):
        if f == 2:
            size = 0
            for f2, _wt2, v2 in proto_fields(v):
                if f2 == 1:
                    size = _int64(v2)
            dims.append(size)
    return dims


def parse_slice(buf: bytes) -> list[tuple[int, int | None]]:
    """TensorSliceProto -> [(start, length or None = whole dimension)]."""
    extents = []
    for f, _wt, v in proto_fields(buf):
        if f == 1:
            start, length = 0, None
            for f2, _wt2, v2 in proto_fields(v):
                if f2 == 1:
                    start = _int64(v2)
                elif f2 == 2:
                    length = _int64(v2)
            extents.append((start, length))
    return extents


def parse_header(buf: bytes) -> dict:
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
                self.shape = parse_shape(v)
            elif f == 3:
                self.shard_id = v
            elif f == 4:
                self.offset = _int64(v)
            elif f == 5:
                self.size = _int64(v)
            elif f == 6:
                self.crc32c = v
            elif f == 7:
                self.slices.append(parse_slice(v))
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
    def __init__(self, prefix: str):
        self.prefix = prefix
        pairs = read_table(prefix + ".index")
        keys = [k for k, _ in pairs]
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            raise ValueError(f"{prefix}.index: keys not strictly sorted")
        if not pairs or pairs[0][0] != b"":
            raise ValueError(f"{prefix}.index: no header entry")
        self.header = parse_header(pairs[0][1])
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


def data_filename(prefix: str, shard_id: int, num_shards: int) -> str:
    return "%s.data-%05d-of-%05d" % (prefix, shard_id, num_shards)


def data_files(prefix: str) -> list[str]:
    pat = re.compile(re.escape(os.path.basename(prefix)) + r"\.data-\d{5,}-of-\d{5,}$")
    return sorted(p for p in glob.glob(glob.escape(prefix) + ".data-*")
                  if pat.match(os.path.basename(p)))


def bundle_files(prefix: str) -> list[str]:
    return [prefix + ".index"] + data_files(prefix)


# ---------------------------------------------------------------------------------------
# DT_STRING layout

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


# ---------------------------------------------------------------------------------------
# "sources are never modified"

def tree_digest(root: str) -> dict[str, tuple[int, str]]:
    """{relative path: (size, sha256 hex)} for every file below root (or root itself)."""
    out = {}
    if os.path.isfile(root):
        paths = [root]
        base = os.path.dirname(root)
    else:
        base = root
        paths = []
        for d, _dirs, files in os.walk(root):
            paths.extend(os.path.join(d, f) for f in files)
    for p in sorted(paths):
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        out[os.path.relpath(p, base)] = (os.path.getsize(p), h.hexdigest())
    return out


def diff_digests(before: dict, after: dict) -> list[str]:
    problems = []
    for k in sorted(set(before) | set(after)):
        if k not in after:
            problems.append(f"removed: {k}")
        elif k not in before:
            problems.append(f"added: {k}")
        elif before[k] != after[k]:
            problems.append(f"changed: {k}")
    return problems


# ---------------------------------------------------------------------------------------
# comparing ckptfs output / rewritten bundles with TensorFlow's values

def numeric_bytes(value) -> bytes:
    """Little-endian bytes of a numeric value as TensorFlow returned it (numpy / ml_dtypes;
    bfloat16 and the float8/int4 types are ml_dtypes arrays and tobytes() works on them)."""
    a = np.asarray(value)
    if a.dtype.byteorder == ">":
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return np.ascontiguousarray(a).tobytes()


def string_elements(value) -> list[bytes]:
    """Flat list of bytes from TF's get_tensor of a string tensor (bytes for a scalar)."""
    if isinstance(value, bytes):
        return [value]
    return [bytes(x) for x in np.asarray(value, dtype=object).reshape(-1)]


def assert_same_value(name: str, dtype: str, got, want):
    if dtype == "string":
        assert string_elements(got) == string_elements(want), f"{name}: string values differ"
    else:
        g, w = np.asarray(got), np.asarray(want)
        assert g.shape == w.shape, f"{name}: shape {g.shape} != {w.shape}"
        assert numeric_bytes(g) == numeric_bytes(w), f"{name}: {dtype} bytes differ"


# ---------------------------------------------------------------------------------------
# partitioned-variable piece keys (OrderedCode "increasing" encodings, TF's
# EncodeTensorNameSlice), written independently of the C code

_SIGNED_HEADER = {2: (0xC0, 0), 3: (0xE0, 0), 4: (0xF0, 0), 5: (0xF8, 0), 6: (0xFC, 0),
                  7: (0xFE, 0), 8: (0xFF, 0), 9: (0xFF, 0x80), 10: (0xFF, 0xC0)}


def _num_inc(u: int) -> bytes:
    n = (u.bit_length() + 7) // 8
    return bytes([n]) + u.to_bytes(n, "big") if n else b"\x00"


def _str_inc(s: bytes) -> bytes:
    return s.replace(b"\xff", b"\xff\x00").replace(b"\x00", b"\x00\xff") + b"\x00\x01"


def _snum_inc(v: int) -> bytes:
    x = ~v if v < 0 else v
    if x < 64:
        return bytes([(0x80 ^ v) & 0xFF])
    length = (x.bit_length() + 1 + 6) // 7
    buf = bytearray((v & ((1 << (8 * length)) - 1)).to_bytes(length, "big"))
    h0, h1 = _SIGNED_HEADER[length]
    buf[0] ^= h0
    buf[1] ^= h1
    return bytes(buf)


def encode_slice_key(name: str, extents) -> bytes:
    """Index key of one stored piece: extents = [(start, length)], length -1 = whole dim."""
    out = _num_inc(0) + _str_inc(name.encode("utf-8")) + _num_inc(len(extents))
    for start, length in extents:
        out += _snum_inc(start) + _snum_inc(length)
    return out


def slice_extents(extents) -> list[tuple[int, int]]:
    """parse_slice() output -> [(start, length)], length -1 for a whole dimension."""
    return [(start, -1 if length is None else length) for start, length in extents]


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
