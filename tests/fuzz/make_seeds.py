#!/usr/bin/env python3
"""Regenerate the fuzz seed corpora under tests/fuzz/corpus/.

    tests/fuzz/make_seeds.py          (re)writes corpus/{index,mapping,view}/

Everything is derived from the four real TensorFlow checkpoints in
tests/data/corpus/ and from small synthetic tables built here by a minimal,
independent SSTable/BundleEntryProto writer (checkpoint-format.md §2-§5):
valid ones (partitioned variables, Snappy blocks, many small blocks) and
golden bad ones, each broken in exactly one way with every CRC still right,
so the parser's error paths are seeds too. Needs only the standard library.
"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REAL = os.path.join(ROOT, "tests", "data", "corpus")
OUT = os.path.join(HERE, "corpus")

# ------------------------------------------------------------- primitives

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(v):
    v &= (1 << 64) - 1  # int64 negatives: ten bytes, two's complement
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def fixed32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def snappy_compress(data):
    """A small but real Snappy encoder: literals, copy-1 and copy-2."""
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


# ----------------------------------------------------------- table writer

def block(entries, interval=16):
    """entries: [(key, value)] -> block bytes (prefix-compressed)."""
    buf = bytearray()
    restarts = []
    last = b""
    for n, (k, v) in enumerate(entries):
        shared = 0
        if n % interval == 0:
            restarts.append(len(buf))
        else:
            while shared < min(len(k), len(last)) and k[shared] == last[shared]:
                shared += 1
        buf += varint(shared) + varint(len(k) - shared) + varint(len(v))
        buf += k[shared:] + v
        last = k
    if not restarts:
        restarts = [0]
    for r in restarts:
        buf += fixed32(r)
    buf += fixed32(len(restarts))
    return bytes(buf)


class Table:
    """Build an SSTable; hooks let a seed break exactly one thing."""

    def __init__(self, block_size=262144, interval=16, snappy=False):
        self.block_size = block_size
        self.interval = interval
        self.snappy = snappy
        self.kvs = []

    def add(self, key, val):
        self.kvs.append((key, val))
        return self

    @staticmethod
    def put_block(f, data, btype=0):
        if btype == 1:
            data = snappy_compress(data)
        h = (len(f), len(data))
        f += data + bytes([btype]) + fixed32(mask(crc32c(data + bytes([btype]))))
        return h

    def build(self, index_key=None, btype=None, index_extra=b"",
              meta_entries=()):
        btype = (1 if self.snappy else 0) if btype is None else btype
        f = bytearray()
        groups, cur, size = [], [], 0
        for k, v in self.kvs:
            cur.append((k, v))
            size += len(k) + len(v) + 3
            if size >= self.block_size:
                groups.append(cur)
                cur, size = [], 0
        if cur or not groups:
            groups.append(cur)
        index = []
        for g in groups:
            if not g:
                continue
            h = self.put_block(f, block(g, self.interval), btype)
            key = g[-1][0] if index_key is None else index_key(g)
            index.append((key, varint(h[0]) + varint(h[1]) + index_extra))
        meta = self.put_block(f, block(list(meta_entries)), btype)
        idx = self.put_block(f, block(index, 1), btype)
        foot = varint(meta[0]) + varint(meta[1]) + varint(idx[0]) + varint(idx[1])
        foot = foot.ljust(40, b"\0") + fixed32(0x8B80FB57) + fixed32(0xDB477524)
        return bytes(f + foot)


# ------------------------------------------------------ BundleEntryProto

def fv(num, v):
    return varint(num << 3) + varint(v)


def fb(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b


def header(num_shards=1, endianness=0, producer=1, min_consumer=0,
           bad=()):
    ver = (fv(1, producer) if producer else b"") + \
          (fv(2, min_consumer) if min_consumer else b"") + \
          b"".join(fv(3, x) for x in bad)
    return (fv(1, num_shards) if num_shards else b"") + \
           (fv(2, endianness) if endianness else b"") + fb(3, ver)


def entry(dtype, dims, shard=0, offset=0, size=None, crc=0x12345678,
          slices=()):
    esize = {1: 4, 2: 8, 3: 4, 4: 1, 9: 8, 10: 1, 14: 2, 19: 2}.get(dtype)
    n = 1
    for d in dims:
        n *= d
    if size is None:
        size = 0 if slices else (n * esize if esize else 16)
    out = fv(1, dtype) if dtype else b""
    out += fb(2, b"".join(fb(2, fv(1, d) if d else b"") for d in dims))
    if not slices:
        out += (fv(3, shard) if shard else b"") + \
               (fv(4, offset) if offset else b"") + \
               (fv(5, size) if size else b"") + \
               (varint(6 << 3 | 5) + fixed32(crc) if crc else b"")
    for s in slices:
        ext = b""
        for start, length in s:
            e = fv(1, start) if start else b""
            if length >= 0:
                e += fv(2, length)  # a set oneof is written even when 0
            ext += fb(1, e)
        out += fb(7, ext)
    return out


_SNUM_HEADER = [(0, 0), (0x80, 0), (0xC0, 0), (0xE0, 0), (0xF0, 0), (0xF8, 0),
                (0xFC, 0), (0xFE, 0), (0xFF, 0), (0xFF, 0x80), (0xFF, 0xC0)]


def num_inc(u):
    b = u.to_bytes((u.bit_length() + 7) // 8, "big") if u else b""
    return bytes([len(b)]) + b


def snum_inc(v):
    if -64 <= v < 64:
        n = 1
    else:
        x = ~v if v < 0 else v
        n = (x.bit_length() + 1 + 6) // 7
    b = bytearray()
    for i in range(n):
        shift = 8 * (n - 1 - i)
        b.append((0xFF if v < 0 else 0) if shift >= 64 else (v >> shift) & 0xFF)
    h0, h1 = _SNUM_HEADER[n]
    if v >= 0:
        b[0] |= h0
        if n > 1:
            b[1] |= h1
    else:
        b[0] &= ~h0 & 0xFF
        if n > 1:
            b[1] &= ~h1 & 0xFF
    return bytes(b)


def slice_key(name, extents):
    """TensorFlow's EncodeTensorNameSlice; extents: [(start, length|-1)]."""
    s = bytearray()
    for c in name:  # 00 -> 00 FF, FF -> FF 00
        s += {0: b"\x00\xff", 0xFF: b"\xff\x00"}.get(c, bytes([c]))
    s = bytes(s)
    key = num_inc(0) + s + b"\x00\x01" + num_inc(len(extents))
    for start, length in extents:
        key += snum_inc(start) + snum_inc(length)
    return key


def bundle(entries, num_shards=1, hdr=None, **table_kw):
    """entries: {key: value bytes} -> .index bytes (keys sorted)."""
    t = Table(**table_kw)
    t.add(b"", header(num_shards) if hdr is None else hdr)
    for k in sorted(entries):
        t.add(k, entries[k])
    return t


def partitioned_entries():
    """A bundle with scalars, strings, and two partitioned variables."""
    e = {
        b"global_step": entry(9, [], offset=0),
        b"dense/kernel": entry(1, [3, 4], offset=8),
        b"dense/bias": entry(1, [4], offset=56),
        b"words": entry(7, [2], offset=72, size=14),
        b"empty": entry(1, [0], offset=86),
        b"bf": entry(14, [5], shard=1, offset=0),
        b"_CHECKPOINTABLE_OBJECT_GRAPH": entry(7, [], offset=96, size=30),
    }
    # emb [10, 4] in rows 0:6 and 6:4; proj [2, 6] in cols 0:3, 3:3
    e[b"emb"] = entry(1, [10, 4], slices=[[(0, 6), (0, -1)], [(6, 4), (0, -1)]])
    e[slice_key(b"emb", [(0, 6), (0, -1)])] = entry(1, [6, 4], offset=200)
    e[slice_key(b"emb", [(6, 4), (0, -1)])] = entry(1, [4, 4], offset=296)
    e[b"proj"] = entry(1, [2, 6], slices=[[(0, -1), (0, 3)], [(0, -1), (3, 3)]])
    e[slice_key(b"proj", [(0, -1), (0, 3)])] = entry(1, [2, 3], offset=400)
    e[slice_key(b"proj", [(0, -1), (3, 3)])] = entry(1, [2, 3], offset=424)
    # a piece key whose name needs escaping and a 3-byte SNumInc start
    e[b"odd\xffname"] = entry(4, [300], slices=[[(0, 100)], [(100, 200)]])
    e[slice_key(b"odd\xffname", [(0, 100)])] = entry(4, [100], offset=500)
    e[slice_key(b"odd\xffname", [(100, 200)])] = entry(4, [200], offset=600)
    return e


# ------------------------------------------------------------------ index

def patch_crc_of_block(buf, off, size):
    """Recompute the trailer CRC of the block at [off, off+size)."""
    buf = bytearray(buf)
    body = bytes(buf[off:off + size + 1])
    buf[off + size + 1:off + size + 5] = fixed32(mask(crc32c(body)))
    return bytes(buf)


def footer_handles(buf):
    f = buf[-48:]
    vals, p = [], 0
    for _ in range(4):
        v, s = 0, 0
        while True:
            b = f[p]
            p += 1
            v |= (b & 0x7F) << s
            s += 7
            if not b & 0x80:
                break
        vals.append(v)
    return (vals[0], vals[1]), (vals[2], vals[3])


def index_seeds():
    out = {}
    for d in sorted(os.listdir(REAL)):
        p = os.path.join(REAL, d)
        if not os.path.isdir(p):
            continue
        for f in os.listdir(p):
            if f.endswith(".index"):
                out["real_" + d + ".index"] = open(os.path.join(p, f), "rb").read()
    real = out["real_tfx_keras_tf2.index"]
    snappy_real = out["real_serving_half_plus_two_tf2.index"]

    # valid synthetic tables
    pe = partitioned_entries()
    out["gen_partitioned.index"] = bundle(pe, num_shards=2).build()
    out["gen_partitioned_snappy.index"] = bundle(pe, num_shards=2,
                                                 snappy=True).build()
    out["gen_multiblock.index"] = bundle(pe, num_shards=2, block_size=64,
                                         interval=1).build()
    out["gen_multiblock_snappy.index"] = bundle(pe, num_shards=2,
                                                block_size=100, interval=3,
                                                snappy=True).build()
    out["gen_header_only.index"] = bundle({}).build()
    out["gen_header_extras.index"] = bundle(
        {b"x": entry(3, [1])}, hdr=header(3, 0, 1, 0, bad=[7, 9])).build()
    out["gen_big_dims.index"] = bundle({
        b"huge": entry(4, [1 << 31, 1 << 31], offset=(1 << 62), size=1 << 62),
        b"rank8": entry(10, [1] * 8),
        b"str0": entry(7, [0], size=4),
        b"variant": entry(21, [2], size=40),
    }).build()

    # golden bad inputs: each breaks one thing
    out["bad_empty.index"] = b""
    out["bad_47_bytes.index"] = real[-47:]
    out["bad_truncated_footer.index"] = real[:-10]
    b = bytearray(real)
    b[-1] ^= 0x01
    out["bad_magic.index"] = bytes(b)
    b = bytearray(real)
    b[20] ^= 0x40  # inside the first data block
    out["bad_crc_data_block.index"] = bytes(b)
    meta, idx = footer_handles(real)
    b = bytearray(real)
    b[idx[0] + 1] ^= 0x01
    out["bad_crc_index_block.index"] = bytes(b)
    b = bytearray(real)
    b[idx[0] + idx[1]] = 2  # block type 2, CRC fixed up: unknown compression
    out["bad_block_type_2.index"] = patch_crc_of_block(b, idx[0], idx[1])
    b = bytearray(real)
    b[meta[0] + meta[1]] = 1  # raw bytes claimed to be Snappy
    out["bad_snappy_type_on_raw.index"] = patch_crc_of_block(b, meta[0], meta[1])
    # a Snappy data block whose length prefix lies (CRC right)
    smeta, sidx = footer_handles(snappy_real)
    b = bytearray(snappy_real)
    b[0] = (b[0] + 7) & 0x7F
    out["bad_snappy_length.index"] = patch_crc_of_block(b, 0, smeta[0] - 5)
    b = bytearray(snappy_real)
    b[3] ^= 0xFF  # inside the compressed stream
    out["bad_snappy_stream.index"] = patch_crc_of_block(b, 0, smeta[0] - 5)
    # footer handle past the end of the file
    foot = varint(0) + varint(1 << 40) + varint(0) + varint(5)
    out["bad_footer_handle.index"] = real[:-48] + foot.ljust(40, b"\0") + \
        real[-8:]
    # index handle with trailing bytes
    out["bad_index_handle_extra.index"] = bundle(pe).build(index_extra=b"\0")
    # restart count larger than the block
    t = bundle({b"a": entry(1, [1])})
    raw = bytearray(t.build())
    meta, idx = footer_handles(bytes(raw))
    raw[meta[0] - 5 - 4:meta[0] - 5] = fixed32(1000)
    out["bad_restart_count.index"] = patch_crc_of_block(raw, 0, meta[0] - 5)
    # keys out of order / duplicate / no header (Table does not sort)
    t = Table().add(b"", header()).add(b"b", entry(1, [1])).add(b"a", entry(1, [1]))
    out["bad_keys_out_of_order.index"] = t.build()
    t = Table().add(b"", header()).add(b"a", entry(1, [1])).add(b"a", entry(1, [1]))
    out["bad_duplicate_key.index"] = t.build()
    out["bad_no_header.index"] = Table().add(b"a", entry(1, [1])).build()
    out["bad_header_garbage.index"] = bundle({}, hdr=b"\xff\xff\xff").build()
    out["bad_header_big_endian.index"] = bundle({}, hdr=header(1, 1)).build()
    out["bad_header_num_shards_0.index"] = bundle({}, hdr=header(0)).build()
    out["bad_header_min_consumer.index"] = bundle(
        {}, hdr=header(1, 0, 1, 5)).build()
    out["bad_header_bad_consumer.index"] = bundle(
        {}, hdr=header(1, 0, 1, 0, bad=[1])).build()
    out["bad_entry_dtype_99.index"] = bundle({b"x": entry(99, [1], size=4)}).build()
    out["bad_entry_resource.index"] = bundle({b"x": entry(20, [1], size=4)}).build()
    out["bad_entry_negative_dim.index"] = bundle(
        {b"x": entry(1, [-1], size=4)}).build()
    out["bad_entry_dims_overflow.index"] = bundle(
        {b"x": entry(4, [1 << 40, 1 << 40], size=0)}).build()
    out["bad_entry_size_mismatch.index"] = bundle(
        {b"x": entry(1, [3], size=11)}).build()
    out["bad_entry_negative_offset.index"] = bundle(
        {b"x": entry(1, [1], offset=-4)}).build()
    out["bad_entry_shard_range.index"] = bundle(
        {b"x": entry(1, [1], shard=1)}).build()
    out["bad_entry_garbage.index"] = bundle({b"x": b"\x0a\xff"}).build()
    e = dict(pe)
    del e[slice_key(b"emb", [(6, 4), (0, -1)])]
    out["bad_piece_missing.index"] = bundle(e, num_shards=2).build()
    e = dict(pe)
    e[slice_key(b"emb", [(6, 4), (0, -1)])] = entry(1, [5, 4])
    out["bad_piece_shape.index"] = bundle(e, num_shards=2).build()
    e = dict(pe)
    e[slice_key(b"emb", [(6, 4), (0, -1)])] = entry(3, [4, 4])
    out["bad_piece_dtype.index"] = bundle(e, num_shards=2).build()
    e = dict(pe)
    e[b"emb"] = entry(1, [10, 4], slices=[[(0, 6), (0, -1)], [(0, 6), (0, -1)]])
    out["bad_piece_duplicated.index"] = bundle(e, num_shards=2).build()
    e = dict(pe)
    e[b"emb"] = entry(1, [10, 4], slices=[[(0, 6)], [(6, 4), (0, -1)]])
    out["bad_slice_rank.index"] = bundle(e, num_shards=2).build()
    e = dict(pe)
    e[b"emb"] = entry(1, [10, 4], slices=[[(3, -1), (0, -1)]])
    out["bad_slice_extent.index"] = bundle(e, num_shards=2).build()
    out["bad_index_key_below_block.index"] = bundle(pe, block_size=64).build(
        index_key=lambda g: g[0][0])
    out["bad_metaindex.index"] = bundle({b"x": entry(1, [1])}).build(
        meta_entries=[(b"b", b""), (b"a", b"")])
    return out


# ---------------------------------------------------------------- mapping

MAPPING_EXAMPLE = open(os.path.join(ROOT, "..", "shared", "docs", "mapping.md"),
                       encoding="utf-8").read() if os.path.exists(
    os.path.join(ROOT, "..", "shared", "docs", "mapping.md")) else ""


def mapping_seeds():
    ex = []
    take = False
    for line in MAPPING_EXAMPLE.splitlines():
        if line.startswith("## Example"):
            take = True
            continue
        if take and line.startswith("## "):
            break
        if take and line.startswith("    "):
            ex.append(line[4:])
    out = {
        "ok_doc_example.conf": "\n".join(ex) + "\n",
        "ok_minimal.conf": "source a = x\nmap a:/ -> /\n",
        "ok_all.conf": (
            "\ufeff# BOM, comments, blanks\r\n"
            "source s_1.a-b = \"dir with spaces/ck#pt\"\t# comment\r\n"
            "source b = /abs/path\n"
            "  map s_1.a-b:enc/ -> student/enc/\n"
            "map b:\"dense/kernel\" -> \"head \\\"k\\\" \\\\\"\n"
            "map b:/ -> teacher/\n"
            "map b:scope/ -> /\n"
            "exclude b:*/Adam*\n"
            "exclude *:global_step\n"
            "prefix = \"merged.ckpt\"\n"
            "layout = shards\n"
            "map later:x -> y\n"
            "source later = ../rel/ckpt\n"),
        "ok_unicode.conf": "source é = ünïcödé/路径\nmap é:名前 -> 名前2 # ok\n",
        "ok_no_newline.conf": "source a = x\nmap a:t -> u",
        "bad_unknown_directive.conf": "source a = x\nmapp a:/ -> /\n",
        "bad_glued_eq.conf": "source a=x\nmap a:/ -> /\n",
        "bad_glued_prefix.conf": "prefix=m\n",
        "bad_glued_arrow.conf": "source a = x\nmap a:b->c\n",
        "bad_arrow_quoted.conf": "source a = x\nmap a:b \"->\" c\n",
        "bad_missing_path.conf": "source a =\n",
        "bad_empty_path.conf": "source a = \"\"\n",
        "bad_source_name.conf": "source 1a = x\n",
        "bad_dup_source.conf": "source a = x\nsource a = y\nmap a:/ -> /\n",
        "bad_unknown_source.conf": "source a = x\nmap b:/ -> /\n",
        "bad_no_colon.conf": "source a = x\nmap a -> b\n",
        "bad_empty_name.conf": "source a = x\nmap :b -> b\n",
        "bad_empty_from.conf": "source a = x\nmap a: -> b\n",
        "bad_scope_to_tensor.conf": "source a = x\nmap a:s/ -> t\n",
        "bad_tensor_to_scope.conf": "source a = x\nmap a:t -> s/\n",
        "bad_root_to_tensor.conf": "source a = x\nmap a:/ -> t\n",
        "bad_empty_target.conf": "source a = x\nmap a:t -> \"\"\n",
        "bad_trailing_word.conf": "source a = x y\n",
        "bad_unterminated.conf": "source a = \"x\n",
        "bad_escape.conf": "source a = \"x\\n\"\n",
        "bad_after_quote.conf": "source a = \"x\"y\n",
        "bad_backslash_eol.conf": "source a = \"x\\",
        "bad_utf8.conf": b"source a = \xc3\x28\n",
        "bad_overlong.conf": b"source a = \xc0\xaf\n",
        "bad_surrogate.conf": b"source a = \xed\xa0\x80\n",
        "bad_nul.conf": b"source a = x\x00\n",
        "bad_cr.conf": b"source a = x\rmap a:/ -> /\n",
        "bad_control.conf": b"source a = \x01\n",
        "bad_dup_prefix.conf": "prefix = a\nprefix = b\n",
        "bad_prefix_slash.conf": "prefix = a/b\n",
        "bad_prefix_dotdot.conf": "prefix = ..\n",
        "bad_layout.conf": "layout = striped\n",
        "bad_dup_layout.conf": "layout = single\nlayout = shards\n",
        "bad_no_sources.conf": "# nothing\n",
        "bad_no_maps.conf": "source a = x\n",
        "bad_exclude_empty_glob.conf": "source a = x\nexclude a:\n",
    }
    return {k: v if isinstance(v, bytes) else v.encode("utf-8")
            for k, v in out.items()}


# ------------------------------------------------------------------- view

def view_seeds():
    """fuzz_view input: 1 control byte, mapping text, NUL, range bytes."""
    A, AB, ABC = 1, 3, 7          # which fixed `source` lines to emit
    SINGLE, SHARDS = 1 << 3, 2 << 3
    PREFIX = 1 << 5
    ranges = b"\0" + bytes(range(0, 256, 7)) * 2
    s = {
        "root_a.map": (A, "map a:/ -> /\n"),
        "root_all_single.map": (ABC | SINGLE, "map a:/ -> a/\nmap b:/ -> b/\n"
                                "map c:/ -> c/\n"),
        "root_all_shards.map": (ABC | SHARDS, "map a:/ -> a/\nmap b:/ -> b/\n"
                                "map c:/ -> c/\n"),
        "doc_like.map": (ABC | PREFIX,
                         "map a:a -> a\nmap b:b -> b\n"
                         "map b:enc/ -> student/enc/\nmap c:/ -> teacher/\n"
                         "map c:dense/kernel -> head/kernel\n"
                         "exclude c:*/Adam\nexclude c:*/Adam_1\n"
                         "exclude *:global_step\nprefix = model.ckpt\n"),
        "partitioned_rename.map": (AB, "map a:part -> p/a\nmap b:part -> p/b\n"
                                   "map b:dec/ -> /\n"),
        "gap.map": (A, "map a:a -> a\nmap a:b -> b\n"),
        "same_bytes_twice.map": (A | SHARDS, "map a:x -> x1\nmap a:x -> x2\n"
                                 "map a:/ -> all/\n"),
        "extra_sources.map": (0, "source d = a\nsource e = b/model-7\n"
                              "source f = c/variables\nmap d:/ -> d/\n"
                              "map e:/ -> e/\nmap f:/ -> f/\n"),
        "conflict.map": (AB, "map a:b -> z\nmap b:b -> z\n"),
        "hidden.map": (A, "exclude a:x*\nmap a:x -> y\n"),
        "not_found_suggest.map": (A, "map a:enc/W -> w\n"),
        "scope_missing.map": (A, "map a:Enc/ -> e/\n"),
        "all_excluded.map": (A, "exclude a:*\nmap a:/ -> /\n"),
        "empty_name.map": (A, "map a:scope/ -> /\n"),
        "object_graph.map": (ABC, "map a:_CHECKPOINTABLE_OBJECT_GRAPH -> g\n"
                             "map c:/ -> /\n"),
        "warn_exclude.map": (A, "exclude a:nomatch\nmap a:/ -> /\n"),
        "bad_prefix.map": (A, "prefix = checkpoint\nmap a:/ -> /\n"),
    }
    out = {}
    for name, (ctl, text) in s.items():
        out[name] = bytes([ctl]) + text.encode() + ranges
    return out


def main():
    for sub, seeds in (("index", index_seeds()), ("mapping", mapping_seeds()),
                       ("view", view_seeds())):
        d = os.path.join(OUT, sub)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print("%s: %d seeds" % (d, len(seeds)), file=sys.stderr)


if __name__ == "__main__":
    main()
