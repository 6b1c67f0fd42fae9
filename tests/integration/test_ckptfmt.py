"""tests/pylib/ckptfmt.py, the Python reader/writer the other tests and the fuzz seeds are
built with, against the vectors of docs/checkpoint-format.md §9.1 and §5.1 and against the
TensorFlow-written files of tests/data/corpus.  If it were wrong, hand-built damage would
fail for the wrong reason and the tests comparing ckptfs with it would compare with a
broken reference."""

from __future__ import annotations

import glob
import os
import random

import pytest

from pylib import ckptfmt as F

CORPUS_INDEXES = sorted(glob.glob(os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "corpus", "*",
    "*.index")))


def test_crc32c_vectors():
    assert F.crc32c(bytes(32)) == 0x8A9136AA
    assert F.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert F.crc32c(bytes(range(32))) == 0x46DD794E
    assert F.crc32c(b"") == 0 and F.mask(0) == 0xA282EAD8
    assert F.crc32c(bytes(4)) == 0x48674BC7 and F.mask(0x48674BC7) == 0x3A117BA6
    assert F.mask(F.crc32c(bytes.fromhex("0000803f"))) == 0x2BDAA581
    # continuing a CRC over a second piece equals one CRC over both
    assert F.crc32c(b"6789", F.crc32c(b"12345")) == F.crc32c(b"123456789")


def test_varints():
    for v, enc in [(0, "00"), (127, "7f"), (128, "8001"), (300, "ac02"),
                   (-1, "ffffffffffffffffff01")]:
        assert F.varint(v).hex() == enc
        assert F.to_int64(F.get_varint(bytes.fromhex(enc), 0)[0]) == v
    with pytest.raises(ValueError):
        F.get_varint(b"\x80", 0)


def test_string_tensor_vectors():
    """§4.3: the length checksum covers the lengths as 4-byte integers."""
    hello = bytes.fromhex("05d9c69c4368656c6c6f")
    assert F.decode_tf_strings(hello, 1) == [b"hello"]
    assert F.fixed32(F.mask(F.crc32c(F.fixed32(5)))) == hello[1:5]
    assert F.decode_tf_strings(bytes.fromhex("00 02 77 51 99 C4 61 62"), 2) == [b"", b"ab"]
    with pytest.raises(ValueError):
        F.decode_tf_strings(hello + b"x", 1)


def test_minimal_bundle_is_byte_exact():
    """§9.1's 117-byte index: one float32 scalar 1.0 under key "a" (TensorFlow's index key
    for the block is "b", the successor of "a")."""
    want = bytes.fromhex(
        "00 00 06  08 01 1A 02 08 01"
        "00 01 0B  61  08 01 12 00 28 04 35 81 A5 DA 2B"
        "00 00 00 00  01 00 00 00"
        "00  74 EF 79 B2"
        "00 00 00 00 01 00 00 00  00 C0 F2 A1 B0"
        "00 01 02 62 00 20  00 00 00 00  01 00 00 00"
        "00 30 D3 69 1C"
        "25 08 32 0E" + " 00" * 36 + " 57 FB 80 8B 24 75 47 DB")
    one = bytes.fromhex("0000803f")
    entry = F.encode_entry(F.DT_FLOAT, [], size=4, crc=F.mask(F.crc32c(one)))
    table = F.build_table([(b"", F.encode_header()), (b"a", entry)], restart_interval=16,
                          index_key=lambda _entries: b"b")
    assert table.data == want
    assert F.table_entries(want) == [(b"", F.encode_header()), (b"a", entry)]


def short_successor(key: bytes) -> bytes:
    """§2.5 FindShortSuccessor: the first byte that is not 0xFF, plus one, ends the key."""
    for i, c in enumerate(key):
        if c != 0xFF:
            return key[:i] + bytes([c + 1])
    return key


@pytest.mark.parametrize("path", CORPUS_INDEXES, ids=[os.path.basename(os.path.dirname(p))
                                                      for p in CORPUS_INDEXES])
def test_corpus_index_reads_and_rebuilds(path):
    """Each real index reads back to sane entries (Snappy blocks included); one that is a
    single uncompressed data block is rebuilt byte for byte from them by TensorFlow's rules
    (block size 262144, restart interval 16, the successor of the last key as its index
    key: the multi-block sizing of §2.7 is not modelled)."""
    with open(path, "rb") as f:
        data = f.read()
    kvs = F.table_entries(data)
    assert kvs[0][0] == b"" and [k for k, _ in kvs] == sorted({k for k, _ in kvs})
    idx = F.read_index(path[:-len(".index")])
    assert idx.num_shards >= 1 and idx.entries
    assert all(e.dtype in F.DTYPE_NAMES for e in idx.entries)
    (off, size), = F.data_block_handles(data)
    if data[off + size] == F.BLOCK_SNAPPY:
        # TensorFlow's Snappy encoder is not ours: compare what the blocks hold instead
        ours = F.build_table(kvs, block_size=262144, restart_interval=16,
                             block_type=F.BLOCK_SNAPPY).data
        assert F.table_entries(ours) == kvs
        return
    rebuilt = F.build_table(kvs, block_size=262144, restart_interval=16,
                            index_key=lambda entries: short_successor(entries[-1][0]))
    assert rebuilt.data == data


def test_slice_key_vectors():
    """§5.1, including the escaping of 0x00 and 0xFF in names."""
    snum = {0: "80", 5: "85", 63: "bf", -1: "7f", -64: "40", 64: "c040", 100: "c064",
            1000: "c3e8", 8192: "e02000", 2 ** 31: "f880000000", -65: "3fbf", -2048: "3800",
            0x424242: "f0424242", 2 ** 63 - 1: "ffc07fffffffffffffff"}
    for v, enc in snum.items():
        assert F.encode_slice_key("", [(v, 0)])[5:-1].hex() == enc, v
    assert F.encode_slice_key("foo", [(0, 2), (0, -1)]) == \
        bytes.fromhex("00 66 6F 6F 00 01 01 02 80 82 80 7F")
    assert F.encode_slice_key("a/b", [(100, 100)]) == \
        bytes.fromhex("00 61 2F 62 00 01 01 01 C0 64 C0 64")
    for name in [b"a\xffb", b"\x00x\xff\x00", "名前".encode()]:
        key = F.encode_slice_key(name, [(1, 2)])
        assert F.piece_name(key).encode("utf-8", "surrogateescape") == name


def test_snappy_round_trip():
    rng = random.Random(3)
    samples = [b"", b"a", b"abcd" * 1000, bytes(rng.randrange(256) for _ in range(5000)),
               bytes(rng.choice(b"ab") for _ in range(70000))]
    for data in samples:
        assert F.snappy_decompress(F.snappy_compress(data)) == data
    with pytest.raises(ValueError):
        F.snappy_decompress(F.varint(10) + b"\x00a")


def test_written_bundle_reads_back(tmp_path):
    tensors = [F.Tensor("w", F.DT_FLOAT, [2], bytes.fromhex("0000803f00000040")),
               F.Tensor("b", F.DT_UINT8, [3], b"xyz"), F.Tensor("e", F.DT_INT64, [0], b"")]
    prefix = str(tmp_path / "ckpt")
    table = F.write_bundle(prefix, tensors, data_order=[2, 1, 0], block_size=16)
    assert len(table.blocks) > 1
    idx = F.read_index(prefix)
    assert [e.key for e in idx.entries] == [b"b", b"e", b"w"]
    for t in tensors:
        e = idx.by_key[t.key.encode()]
        assert (e.dtype, e.shape, e.size) == (t.dtype, t.dims, len(t.data))
        assert idx.raw_bytes(e) == t.data and F.unmask(e.crc32c) == F.crc32c(t.data)
