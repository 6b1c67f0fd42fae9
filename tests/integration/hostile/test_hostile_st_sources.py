"""Hostile safetensors sources (issue 21): headers that lie about their offsets, tensors
that overlap or run out of the file, a header length past any reader's limit, names that
are not UTF-8 or cannot be checkpoint keys, a name given twice, a shard truncated under a
live mount.  Every one is refused with its message at the source line (or, for the
truncation, a read fails with EIO rather than returning short or wrong data)."""

from __future__ import annotations

import errno
import json
import os
import struct

import numpy as np
import pytest

from pylib import mounting
from pylib.mapfile import write_mapping

stnp = pytest.importorskip("safetensors.numpy")


def raw_file(path, header: bytes, data: bytes, length: int | None = None) -> str:
    """A .safetensors file with exactly this header JSON and data (no checks)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header) if length is None else length))
        f.write(header)
        f.write(data)
    return str(path)


def check_fails(run_ckptfs, tmp_path, src: str) -> str:
    mapping = write_mapping(tmp_path / "m.conf", {"a": src}, ["map a:/ -> /"])
    rc, out, err = run_ckptfs("check", mapping)
    assert rc != 0, out
    assert f"{mapping}:1:12: error: source 'a': " in err, err
    return err


def tensor(name: str, begin: int, end: int, shape=(2,)) -> str:
    return (f'"{name}": {{"dtype": "F32", "shape": {list(shape)}, '
            f'"data_offsets": [{begin}, {end}]}}')


@pytest.mark.parametrize("header,data,message", [
    ("{" + tensor("w", 0, 8) + "}", b"\0" * 4,
     "the tensors cover 8 bytes of data, the file has 4"),
    ("{" + tensor("w", 0, 8) + ", " + tensor("v", 4, 12) + "}", b"\0" * 12,
     "data_offsets [4, 12) leave a gap or overlap (expected to begin at 8)"),
    ("{" + tensor("w", 0, 12) + "}", b"\0" * 12,
     "tensor 0: data_offsets [0, 12) do not hold its shape"),
    ("{" + tensor("w", 0, 8) + ", " + tensor("w", 8, 16) + "}", b"\0" * 16,
     "a tensor name appears twice"),
    ("{" + tensor("", 0, 8) + "}", b"\0" * 8,
     "tensor '': a name that is empty or begins with a NUL byte cannot be a checkpoint key"),
    ("{" + tensor("\\u0000x", 0, 8) + "}", b"\0" * 8,
     "a name that is empty or begins with a NUL byte cannot be a checkpoint key"),
])
def test_lying_headers(tmp_path, run_ckptfs, header, data, message):
    src = raw_file(tmp_path / "x.safetensors", header.encode(), data)
    err = check_fails(run_ckptfs, tmp_path, src)
    assert message in err, err


def test_name_not_utf8(tmp_path, run_ckptfs):
    header = b'{"\xff": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}'
    src = raw_file(tmp_path / "x.safetensors", header, b"\0" * 8)
    err = check_fails(run_ckptfs, tmp_path, src)
    assert f"'{src}': safetensors header, byte 0: not UTF-8" in err, err


@pytest.mark.parametrize("length,message", [
    (100_000_001, "not a safetensors file (a header of 100000001 bytes, over the "
                  "100000000 readers accept)"),
    (5000, "not a safetensors file (a header of 5000 bytes in a file of"),
])
def test_header_lengths(tmp_path, run_ckptfs, length, message):
    src = raw_file(tmp_path / "x.safetensors", b"{}", b"", length=length)
    err = check_fails(run_ckptfs, tmp_path, src)
    assert f"'{src}': {message}" in err, err


def test_shard_in_another_file_than_the_index_says(tmp_path, run_ckptfs):
    d = tmp_path / "m"
    d.mkdir()
    stnp.save_file({"a": np.ones(2, np.float32)}, str(d / "model-00001-of-00002.safetensors"))
    stnp.save_file({"b": np.ones(2, np.float32)}, str(d / "model-00002-of-00002.safetensors"))
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors"}}))
    err = check_fails(run_ckptfs, tmp_path, str(d))
    assert (f"'{d}/model.safetensors.index.json' names tensor 'a' in "
            f"'{d}/model-00002-of-00002.safetensors', but it is in "
            f"'{d}/model-00001-of-00002.safetensors'") in err, err


def test_a_tensor_in_two_shards(tmp_path, run_ckptfs):
    d = tmp_path / "m"
    d.mkdir()
    for k in (1, 2):
        stnp.save_file({"a": np.ones(2, np.float32)},
                       str(d / f"model-0000{k}-of-00002.safetensors"))
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    err = check_fails(run_ckptfs, tmp_path, str(d))
    assert (f"tensor 'a' is in both '{d}/model-00001-of-00002.safetensors' and "
            f"'{d}/model-00002-of-00002.safetensors'") in err, err


def test_index_json_not_json(tmp_path, run_ckptfs):
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.safetensors.index.json").write_text('{"weight_map": {"a": "x"}, "extra": 1}')
    err = check_fails(run_ckptfs, tmp_path, str(d))
    assert (f"'{d}/model.safetensors.index.json', byte 27: unknown member (expected "
            f"metadata, weight_map)") in err, err


@pytest.mark.parametrize("fmt", ["safetensors", "tensorflow"])
def test_source_truncated_under_a_live_mount(tmp_path, ckptfs_bin, fmt):
    """The mount pinned the file; a read of bytes that are gone is EIO, never short."""
    w = np.arange(1 << 16, dtype=np.float32)
    src = str(tmp_path / "x.safetensors")
    stnp.save_file({"w": w, "v": np.ones(4, np.float32)}, src)
    mapping = write_mapping(tmp_path / "m.conf", {"a": src},
                            ["map a:/ -> /", f"format = {fmt}"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt, expect_clean_log=False) as m:
        name = "model.safetensors" if fmt == "safetensors" else "model.data-00000-of-00001"
        size = os.path.getsize(m.join(name))
        os.truncate(src, 1000)
        fd = os.open(m.join(name), os.O_RDONLY | os.O_DIRECT)
        try:
            with pytest.raises(OSError) as e:
                os.pread(fd, 1 << 20, 0)
                os.pread(fd, size, 0)
            assert e.value.errno == errno.EIO
        finally:
            os.close(fd)
