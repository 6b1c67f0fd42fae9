#!/usr/bin/env python3
"""Regenerate the fuzz seed corpora under tests/fuzz/corpus/.

    tests/fuzz/make_seeds.py          (re)writes corpus/{index,mapping,view}/

Everything is derived from the four real TensorFlow checkpoints in
tests/data/corpus/, from the example of docs/mapping.md, and from small
synthetic tables built with tests/pylib/ckptfmt.py, a writer of the format
independent of the C code (docs/checkpoint-format.md §2-§5): valid ones
(partitioned variables, Snappy blocks, many small blocks) and golden bad ones,
each broken in exactly one way with every CRC still right, so the parser's
error paths are seeds too. Needs only the standard library.
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REAL = os.path.join(ROOT, "tests", "data", "corpus")
OUT = os.path.join(HERE, "corpus")

sys.path.insert(0, os.path.join(ROOT, "tests"))
from pylib import ckptfmt as fmt  # noqa: E402

# ------------------------------------------------------------- tables

def table(kvs, block_size=262144, interval=16, snappy=False, **hooks):
    """.index bytes of kvs in the order given: TensorFlow's block size and restart
    interval unless told otherwise; hooks as ckptfmt.build_table takes them."""
    return fmt.build_table(kvs, block_size=block_size, restart_interval=interval,
                           block_type=fmt.BLOCK_SNAPPY if snappy else fmt.BLOCK_RAW,
                           **hooks).data


def entry(dtype, dims, shard=0, offset=0, size=None, crc=0x12345678,
          slices=()):
    """A BundleEntryProto; size defaults to what dims need (16 for a dtype without a
    fixed size); a partitioned entry (slices) has no location or checksum."""
    esize = fmt.DTYPE_SIZES.get(dtype)
    n = 1
    for d in dims:
        n *= d
    if slices:
        return fmt.encode_entry(dtype, dims, slices=slices)
    if size is None:
        size = n * esize if esize else 16
    return fmt.encode_entry(dtype, dims, shard=shard, offset=offset, size=size,
                            crc=crc or None)


def header(num_shards=1, endianness=0, producer=1, min_consumer=0, bad=()):
    return fmt.encode_header(num_shards, endianness, producer, min_consumer, bad)


slice_key = fmt.encode_slice_key


def bundle(entries, num_shards=1, hdr=None):
    """entries: {key: value bytes} -> kvs with the header first, keys sorted."""
    kvs = [(b"", header(num_shards) if hdr is None else hdr)]
    return kvs + [(k, entries[k]) for k in sorted(entries)]


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
    """buf with the trailer CRC of the block at [off, off+size) recomputed."""
    buf = bytearray(buf)
    fmt.fix_block_crc(buf, (off, size))
    return bytes(buf)


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
    out["gen_partitioned.index"] = table(bundle(pe, num_shards=2))
    out["gen_partitioned_snappy.index"] = table(bundle(pe, num_shards=2),
                                                snappy=True)
    out["gen_multiblock.index"] = table(bundle(pe, num_shards=2), block_size=64,
                                        interval=1)
    out["gen_multiblock_snappy.index"] = table(bundle(pe, num_shards=2),
                                               block_size=100, interval=3,
                                               snappy=True)
    out["gen_header_only.index"] = table(bundle({}))
    out["gen_header_extras.index"] = table(bundle(
        {b"x": entry(3, [1])}, hdr=header(3, 0, 1, 0, bad=[7, 9])))
    out["gen_big_dims.index"] = table(bundle({
        b"huge": entry(4, [1 << 31, 1 << 31], offset=(1 << 62), size=1 << 62),
        b"rank8": entry(10, [1] * 8),
        b"str0": entry(7, [0], size=4),
        b"variant": entry(21, [2], size=40),
    }))

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
    meta, idx = fmt.parse_footer(real)
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
    smeta, sidx = fmt.parse_footer(snappy_real)
    b = bytearray(snappy_real)
    b[0] = (b[0] + 7) & 0x7F
    out["bad_snappy_length.index"] = patch_crc_of_block(b, 0, smeta[0] - 5)
    b = bytearray(snappy_real)
    b[3] ^= 0xFF  # inside the compressed stream
    out["bad_snappy_stream.index"] = patch_crc_of_block(b, 0, smeta[0] - 5)
    # footer handle past the end of the file
    out["bad_footer_handle.index"] = real[:-48] + fmt.encode_footer((0, 1 << 40), (0, 5))
    # index handle with trailing bytes
    out["bad_index_handle_extra.index"] = table(bundle(pe), index_extra=b"\0")
    # restart count larger than the block
    raw = bytearray(table(bundle({b"a": entry(1, [1])})))
    meta, idx = fmt.parse_footer(bytes(raw))
    raw[meta[0] - 5 - 4:meta[0] - 5] = fmt.fixed32(1000)
    out["bad_restart_count.index"] = patch_crc_of_block(raw, 0, meta[0] - 5)
    # keys out of order / duplicate / no header (table() does not sort)
    out["bad_keys_out_of_order.index"] = table(
        [(b"", header()), (b"b", entry(1, [1])), (b"a", entry(1, [1]))])
    out["bad_duplicate_key.index"] = table(
        [(b"", header()), (b"a", entry(1, [1])), (b"a", entry(1, [1]))])
    out["bad_no_header.index"] = table([(b"a", entry(1, [1]))])
    out["bad_header_garbage.index"] = table(bundle({}, hdr=b"\xff\xff\xff"))
    out["bad_header_big_endian.index"] = table(bundle({}, hdr=header(1, 1)))
    out["bad_header_num_shards_0.index"] = table(bundle({}, hdr=header(0)))
    out["bad_header_min_consumer.index"] = table(bundle(
        {}, hdr=header(1, 0, 1, 5)))
    out["bad_header_bad_consumer.index"] = table(bundle(
        {}, hdr=header(1, 0, 1, 0, bad=[1])))
    out["bad_entry_dtype_99.index"] = table(bundle({b"x": entry(99, [1], size=4)}))
    out["bad_entry_resource.index"] = table(bundle({b"x": entry(20, [1], size=4)}))
    out["bad_entry_negative_dim.index"] = table(bundle(
        {b"x": entry(1, [-1], size=4)}))
    out["bad_entry_dims_overflow.index"] = table(bundle(
        {b"x": entry(4, [1 << 40, 1 << 40], size=0)}))
    out["bad_entry_size_mismatch.index"] = table(bundle(
        {b"x": entry(1, [3], size=11)}))
    out["bad_entry_negative_offset.index"] = table(bundle(
        {b"x": entry(1, [1], offset=-4)}))
    out["bad_entry_shard_range.index"] = table(bundle(
        {b"x": entry(1, [1], shard=1)}))
    out["bad_entry_garbage.index"] = table(bundle({b"x": b"\x0a\xff"}))
    e = dict(pe)
    del e[slice_key(b"emb", [(6, 4), (0, -1)])]
    out["bad_piece_missing.index"] = table(bundle(e, num_shards=2))
    e = dict(pe)
    e[slice_key(b"emb", [(6, 4), (0, -1)])] = entry(1, [5, 4])
    out["bad_piece_shape.index"] = table(bundle(e, num_shards=2))
    e = dict(pe)
    e[slice_key(b"emb", [(6, 4), (0, -1)])] = entry(3, [4, 4])
    out["bad_piece_dtype.index"] = table(bundle(e, num_shards=2))
    e = dict(pe)
    e[b"emb"] = entry(1, [10, 4], slices=[[(0, 6), (0, -1)], [(0, 6), (0, -1)]])
    out["bad_piece_duplicated.index"] = table(bundle(e, num_shards=2))
    e = dict(pe)
    e[b"emb"] = entry(1, [10, 4], slices=[[(0, 6)], [(6, 4), (0, -1)]])
    out["bad_slice_rank.index"] = table(bundle(e, num_shards=2))
    e = dict(pe)
    e[b"emb"] = entry(1, [10, 4], slices=[[(3, -1), (0, -1)]])
    out["bad_slice_extent.index"] = table(bundle(e, num_shards=2))
    out["bad_index_key_below_block.index"] = table(bundle(pe), block_size=64,
                                                   index_key=lambda g: g[0][0])
    out["bad_metaindex.index"] = table(bundle({b"x": entry(1, [1])}),
                                       meta_entries=[(b"b", b""), (b"a", b"")])
    return out


# ---------------------------------------------------------------- mapping

MAPPING_EXAMPLE = open(os.path.join(ROOT, "docs", "mapping.md"), encoding="utf-8").read()


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
