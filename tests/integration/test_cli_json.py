"""`ckptfs ls --json` and `ckptfs check --json`: one JSON document each, the same data as
the text forms, names of any bytes given back exactly (through Python's surrogateescape),
mapping errors as file, line, column and message, and exit statuses as without --json."""

from __future__ import annotations

import json
import struct

import pytest

from pylib import ckptfmt as F

# every byte but NUL and '/', in one name: the text ones, controls, C1 as UTF-8, and
# bytes that are no UTF-8 at all
ALL_BYTES = bytes(b for b in range(1, 256) if b != 0x2f) + "/é\u0085".encode()


class RawKey(str):
    """A key of these exact bytes (pylib's write_bundle calls .encode() on keys)."""

    def __new__(cls, raw: bytes):
        k = super().__new__(cls, raw.decode("utf-8", "surrogateescape"))
        k.raw = raw
        return k

    def encode(self, *a, **kw) -> bytes:  # noqa: ARG002
        return self.raw


def floats(*v: float) -> bytes:
    return struct.pack(f"<{len(v)}f", *v)


@pytest.fixture
def src(tmp_path):
    F.write_bundle(str(tmp_path / "a"), [
        F.Tensor("enc/w", F.DT_FLOAT, [2, 3], floats(*range(6))),
        F.Tensor(RawKey(ALL_BYTES), F.DT_INT64, [], struct.pack("<q", 1)),
    ])
    return tmp_path


def ls_json(run_ckptfs, path) -> list[dict]:
    r = run_ckptfs("ls", "--json", str(path))
    assert r.rc == 0, r.describe()
    assert r.stdout.isascii() or r.stdout.decode("utf-8"), "the output is UTF-8"
    assert b"\x1b" not in r.stdout and r.stdout.count(b"\n") == r.stdout.strip().count(b"\n") + 1
    return json.loads(r.stdout)["tensors"]


def test_ls_json_checkpoint_names_round_trip(run_ckptfs, src):
    tensors = ls_json(run_ckptfs, src / "a")
    names = [t["name"].encode("utf-8", "surrogateescape") for t in tensors]
    assert sorted(names) == sorted([b"enc/w", ALL_BYTES])
    w = next(t for t in tensors if t["name"] == "enc/w")
    assert w == {"name": "enc/w", "dtype": "float32", "shape": [2, 3], "shard": 0,
                 "offset": 0, "size": 24}


def test_ls_json_agrees_with_text_form(run_ckptfs, src):
    text = run_ckptfs("ls", str(src / "a"))
    assert text.rc == 0, text.describe()
    rows = [line.split(b"\t") for line in text.stdout.splitlines()]
    tensors = ls_json(run_ckptfs, src / "a")
    assert len(rows) == len(tensors)
    for row, t in zip(rows, tensors):
        assert row[1].decode() == t["dtype"]
        assert row[2].decode() == "[" + ",".join(map(str, t["shape"])) + "]"
        assert [int(x) for x in row[3:6]] == [t["shard"], t["offset"], t["size"]]


def test_ls_json_mapping_sources(run_ckptfs, src):
    conf = src / "m.conf"
    conf.write_text("source s = a\nmap s:/ -> new/\n")
    tensors = ls_json(run_ckptfs, conf)
    by_name = {t["name"].encode("utf-8", "surrogateescape"): t for t in tensors}
    odd = by_name[b"new/" + ALL_BYTES]
    assert odd["source"] == "s"
    assert odd["source_name"].encode("utf-8", "surrogateescape") == ALL_BYTES
    assert by_name[b"new/enc/w"]["source_name"] == "enc/w"


def test_ls_json_safetensors(run_ckptfs, tmp_path):
    header = json.dumps({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + floats(1, 2))
    assert ls_json(run_ckptfs, path) == [{"name": "x", "dtype": "float32", "shape": [2],
                                          "shard": 0, "offset": 8 + len(header), "size": 8}]


def test_ls_json_and_objects_is_a_usage_error(run_ckptfs, src):
    r = run_ckptfs("ls", "--json", "--objects", str(src / "a"))
    assert r.rc == 1 and "--json does not apply to --objects" in r.stderr, r.describe()


def test_check_json_ok_with_warning(run_ckptfs, src):
    conf = src / "m.conf"
    conf.write_text("source s = a\nexclude s:nothing*\nmap s:enc/ -> e/\n")
    r = run_ckptfs("check", "--json", str(conf))
    assert r.rc == 0, r.describe()
    d = json.loads(r.stdout)
    assert d["ok"] is True and d["mapping"] == str(conf)
    assert d["prefix"] == "model.ckpt" and d["layout"] == "single"
    assert d["tensors"] == 1 and d["data_bytes"] == 24
    assert d["sources"] == [{"name": "s", "tensors": 1, "checkpoint": str(src / "a")}]
    assert sorted(f["kind"] for f in d["files"]) == ["checkpoint", "data", "index"]
    assert len(d["warnings"]) == 1 and d["warnings"][0].startswith(f"{conf}:2:"), d
    assert ": warning: " in d["warnings"][0]


@pytest.mark.parametrize("text, line, column, message", [
    ("source s = a\nmap s:enc/W -> x\n", 2, 5, "source 's' has no tensor 'enc/W'"),
    ("source s = a\n", None, None, "no 'map' lines: nothing to mount"),
    ("source s = a\nmap s:enc/ -> \"\xff\"\n", 2, 16, "invalid UTF-8 byte 0xff"),
])
def test_check_json_error(run_ckptfs, src, text, line, column, message):
    conf = src / "m.conf"
    conf.write_bytes(text.encode("latin-1"))
    r = run_ckptfs("check", "--json", str(conf))
    assert r.rc == 1, r.describe()
    d = json.loads(r.stdout)
    assert d["ok"] is False and d["warnings"] == []
    e = d["error"]
    assert e["file"] == str(conf), e
    assert e["line"] == line
    assert e["column"] == column
    assert e["message"].startswith(message), e
    where = f"{conf}:{e['line']}:{e['column']}" if e["line"] else str(conf)
    assert f"{where}: error: " in r.stderr, "the error is on stderr as well"
