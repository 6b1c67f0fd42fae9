"""Safetensors files and Hugging Face model directories as sources (issue 21; mapping.md,
"Sources").

The sources are written by the ``safetensors`` package (numpy): a sharded directory
(``model.safetensors.index.json`` and two shards), a directory with one
``model.safetensors`` and a bare ``FILE.safetensors``. A layer-stacking merge is mounted
and read back with ``safetensors.numpy`` and, for the TensorFlow output, with
``tf.train.load_checkpoint``: each tensor must equal (dtype, shape, values) the source
array it was mapped from. The error cases check the exact message.
"""

from __future__ import annotations

import gc
import json
import os

import numpy as np
import pytest

from pylib import mounting
from pylib.mapfile import write_mapping

safetensors = pytest.importorskip("safetensors")
import safetensors.numpy as stnp  # noqa: E402

LAYERS = 4


def model(seed: int) -> dict:
    """A tiny decoder-shaped model: embeddings, LAYERS layers of two tensors, a norm."""
    rng = np.random.default_rng(seed)
    t = {"model.embed_tokens.weight": rng.standard_normal((7, 4)).astype(np.float16),
         "model.norm.weight": rng.standard_normal(4).astype(np.float32)}
    for i in range(LAYERS):
        t[f"model.layers.{i}.mlp.weight"] = rng.standard_normal((4, 4)).astype(np.float32)
        t[f"model.layers.{i}.ln.bias"] = rng.integers(-9, 9, 3).astype(np.int64)
    return t


def write_sharded(d, tensors: dict, n_shards: int = 2) -> str:
    """A Hugging Face sharded directory: model-0000N-of-0000M.safetensors + index.json."""
    os.makedirs(d, exist_ok=True)
    names = sorted(tensors)
    weight_map = {}
    for s in range(n_shards):
        part = names[s::n_shards]
        fname = f"model-{s + 1:05d}-of-{n_shards:05d}.safetensors"
        stnp.save_file({k: tensors[k] for k in part}, os.path.join(d, fname))
        weight_map.update({k: fname for k in part})
    total = sum(v.nbytes for v in tensors.values())
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    return str(d)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check_all(got: dict, expected: dict):
    assert sorted(got) == sorted(expected)
    bad = [k for k in expected if not same(np.asarray(got[k]), expected[k])]
    assert not bad, bad


@pytest.fixture
def two_models(tmp_path):
    a, b = model(1), model(2)
    bfile = str(tmp_path / "b.safetensors")
    stnp.save_file(b, bfile)
    return (write_sharded(tmp_path / "a", a), a, bfile, b)


def stacking_lines():
    """a's layers 0-1, then b's layers 1-3 as 2-4, then a's layer 0 again as 5."""
    lines = ["map a:model.embed_tokens.weight -> model.embed_tokens.weight",
             "map a:model.norm.weight -> model.norm.weight"]
    for src, dst, s in ((0, 0, "a"), (1, 1, "a"), (1, 2, "b"), (2, 3, "b"), (3, 4, "b"),
                        (0, 5, "a")):
        for t in ("mlp.weight", "ln.bias"):
            lines.append(f"map {s}:model.layers.{src}.{t} -> model.layers.{dst}.{t}")
    return lines


def stacking_expected(a: dict, b: dict) -> dict:
    src = {"a": a, "b": b}
    exp = {"model.embed_tokens.weight": a["model.embed_tokens.weight"],
           "model.norm.weight": a["model.norm.weight"]}
    for s_i, d_i, s in ((0, 0, "a"), (1, 1, "a"), (1, 2, "b"), (2, 3, "b"), (3, 4, "b"),
                        (0, 5, "a")):
        for t in ("mlp.weight", "ln.bias"):
            exp[f"model.layers.{d_i}.{t}"] = src[s][f"model.layers.{s_i}.{t}"]
    return exp


def test_ls_a_sharded_directory(two_models, run_ckptfs):
    adir, a, _, _ = two_models
    rc, out, err = run_ckptfs("ls", adir)
    assert rc == 0, err
    rows = [line.split("\t") for line in out.decode().splitlines()]
    assert [r[0] for r in rows] == sorted(a)
    shard_of = {k: v for k, v in json.load(
        open(os.path.join(adir, "model.safetensors.index.json")))["weight_map"].items()}
    for r in rows:
        assert r[1] == str(a[r[0]].dtype), r
        assert r[2] == "[" + ",".join(map(str, a[r[0]].shape)) + "]", r
        assert r[3] == shard_of[r[0]], r
        assert len(r) == 6, r


@pytest.mark.parametrize("layout", ["single", "shards"])
def test_stacking_merge_as_safetensors_and_tensorflow(two_models, ckptfs_bin, tmp_path, layout):
    """In the shards layout a data file is a safetensors file whole, its header included:
    the index's offsets count from the start of the file."""
    adir, a, bfile, b = two_models
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile},
                            stacking_lines() + ["format = both", f"layout = {layout}"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    exp = stacking_expected(a, b)
    tf = pytest.importorskip("tensorflow")
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        got = {k: v.copy() for k, v in stnp.load_file(m.join("model.safetensors")).items()}
        reader = tf.train.load_checkpoint(m.join("model"))
        tf_got = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
        del reader
        gc.collect()
    check_all(got, exp)
    check_all(tf_got, exp)


def test_single_file_directory_and_root_rule(tmp_path, ckptfs_bin):
    a = model(3)
    os.mkdir(tmp_path / "d")
    stnp.save_file(a, str(tmp_path / "d" / "model.safetensors"))
    mapping = write_mapping(tmp_path / "m.conf", {"a": str(tmp_path / "d")},
                            ["map a:/ -> /", "format = safetensors"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        with safetensors.safe_open(m.join("model.safetensors"), "np") as f:
            got = {k: f.get_tensor(k) for k in f.keys()}
    check_all(got, a)


def index_error(tmp_path, run_ckptfs, edit) -> str:
    a = model(4)
    d = write_sharded(tmp_path / "a", a)
    ix_path = os.path.join(d, "model.safetensors.index.json")
    ix = json.load(open(ix_path))
    edit(d, ix)
    json.dump(ix, open(ix_path, "w"))
    mapping = write_mapping(tmp_path / "m.conf", {"a": d}, ["map a:/ -> /"])
    rc, out, err = run_ckptfs("check", mapping)
    assert rc != 0, out
    return err


def test_index_naming_a_missing_shard(tmp_path, run_ckptfs):
    def edit(d, ix):
        ix["weight_map"]["model.norm.weight"] = "model-00003-of-00003.safetensors"
    err = index_error(tmp_path, run_ckptfs, edit)
    d = tmp_path / "a"
    assert f"m.conf:1:12: error: source 'a': '{d}/model.safetensors.index.json' names " \
           f"shard 'model-00003-of-00003.safetensors': " in err, err
    assert "No such file" in err, err


def test_index_disagreeing_with_a_header(tmp_path, run_ckptfs):
    def edit(d, ix):
        del ix["weight_map"]["model.layers.2.ln.bias"]
    err = index_error(tmp_path, run_ckptfs, edit)
    d = tmp_path / "a"
    assert f"'{d}/model.safetensors.index.json' does not name tensor " \
           f"'model.layers.2.ln.bias' of '{d}/model-0000" in err, err


def test_index_naming_a_tensor_no_header_has(tmp_path, run_ckptfs):
    def edit(d, ix):
        ix["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors"
    err = index_error(tmp_path, run_ckptfs, edit)
    d = tmp_path / "a"
    assert f"'{d}/model.safetensors.index.json' names tensor 'lm_head.weight' in " \
           f"'{d}/model-00001-of-00002.safetensors', whose header has no such tensor" in err, err


def test_index_shard_escaping_the_directory(tmp_path, run_ckptfs):
    def edit(d, ix):
        ix["weight_map"]["model.norm.weight"] = "../b.safetensors"
    err = index_error(tmp_path, run_ckptfs, edit)
    assert "shard '../b.safetensors' is not a file name of the model's directory" in err, err


def test_prefix_rules_and_ranges(two_models, ckptfs_bin, tmp_path):
    """The same stacking written with '.' prefixes and ranges, a layer repeated."""
    adir, a, bfile, b = two_models
    lines = ["map a:model.embed_tokens. -> model.embed_tokens.",
             "map a:model.norm. -> model.norm.",
             "map a:model.layers.{0..1}. -> model.layers.{0..1}.",
             "map b:model.layers.{1..3}. -> model.layers.{2..4}.",
             "map a:model.layers.0. -> model.layers.5.",
             "format = both"]
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile}, lines)
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    tf = pytest.importorskip("tensorflow")
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        got = {k: v.copy() for k, v in stnp.load_file(m.join("model.safetensors")).items()}
        reader = tf.train.load_checkpoint(m.join("model"))
        tf_got = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
        del reader
        gc.collect()
    exp = stacking_expected(a, b)
    check_all(got, exp)
    check_all(tf_got, exp)


def test_range_of_another_length_is_an_error(two_models, run_ckptfs, tmp_path):
    adir, _, bfile, _ = two_models
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile},
                            ["map b:model.layers.{1..3}. -> model.layers.{2..5}."])
    rc, out, err = run_ckptfs("check", mapping)
    assert rc != 0, out
    assert f"{mapping}:3:44: error: range {{2..5}} has 4 numbers, FROM's {{1..3}} has 3" \
        in err, err


def load_hf_dir(d: str) -> dict:
    """What transformers does with a sharded directory: the index.json names the shards."""
    ix = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    out = {}
    for fname in sorted(set(ix["weight_map"].values())):
        with safetensors.safe_open(os.path.join(d, fname), "np") as f:
            for k in f.keys():
                assert ix["weight_map"][k] == fname, k
                out[k] = f.get_tensor(k)
    assert sorted(out) == sorted(ix["weight_map"])
    assert ix["metadata"]["total_size"] == sum(v.nbytes for v in out.values())
    return out


def test_sharded_output(two_models, ckptfs_bin, tmp_path):
    """max_shard_size cuts the output into Hugging Face's layout, read through its index."""
    adir, a, bfile, b = two_models
    exp = stacking_expected(a, b)
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile},
                            stacking_lines() + ["format = safetensors",
                                                "max_shard_size = 100B"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        files = sorted(os.listdir(mnt))
        got = load_hf_dir(mnt)
        gc.collect()
    shards = [f for f in files if f.endswith(".safetensors")]
    n = len(shards)
    assert n > 2, files
    assert files == sorted(["model.safetensors.index.json"] +
                           [f"model-{k:05d}-of-{n:05d}.safetensors" for k in range(1, n + 1)])
    check_all(got, exp)


def test_one_shard_and_explicit_prefix(two_models, ckptfs_bin, tmp_path):
    adir, a, bfile, b = two_models
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile},
                            stacking_lines() + ["format = both", "prefix = merged"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        files = sorted(os.listdir(mnt))
        got = {k: v.copy() for k, v in stnp.load_file(m.join("merged.safetensors")).items()}
        gc.collect()
    assert files == ["checkpoint", "merged.data-00000-of-00001", "merged.index",
                     "merged.safetensors"], files
    check_all(got, stacking_expected(a, b))


def test_file_lines(two_models, ckptfs_bin, tmp_path):
    """config.json from a source directory and an edited one next to the mapping, served
    unchanged; what the mount shows is what was there when it started."""
    adir, a, bfile, b = two_models
    config = b'{"num_hidden_layers": 4, "model_type": "llama"}\n'
    with open(os.path.join(adir, "config.json"), "wb") as f:
        f.write(config)
    edited = b'{"num_hidden_layers": 6, "model_type": "llama"}\n'
    (tmp_path / "merged-config.json").write_bytes(edited)
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile},
                            stacking_lines() + ["format = safetensors",
                                                "file original-config.json = a:config.json",
                                                "file config.json = merged-config.json"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        (tmp_path / "merged-config.json").write_bytes(b"changed")
        files = sorted(os.listdir(mnt))
        got_cfg = open(m.join("config.json"), "rb").read()
        got_orig = open(m.join("original-config.json"), "rb").read()
        assert os.stat(m.join("config.json")).st_size == len(edited)
    assert files == ["config.json", "model.safetensors", "original-config.json"], files
    assert got_cfg == edited
    assert got_orig == config


@pytest.mark.parametrize("line,col,message", [
    ("file config.json = a:../b.safetensors", 20,
     "file 'config.json': '../b.safetensors' is not a path inside source 'a''s directory"),
    ("file config.json = a:missing.json", 20, "file 'config.json': '{adir}/missing.json': "
     "cannot open file: No such file or directory"),
    ("file model.safetensors = a:model.safetensors.index.json", 1,
     "file 'model.safetensors' would hide a file of the merge of that name"),
])
def test_file_line_errors(two_models, run_ckptfs, tmp_path, line, col, message):
    adir, _, bfile, _ = two_models
    lines = stacking_lines() + ["format = safetensors", line]
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile}, lines)
    rc, out, err = run_ckptfs("check", mapping)
    assert rc != 0, out
    want = f"{mapping}:{len(lines) + 2}:{col}: error: " + message.format(adir=adir)
    assert want in err, err


PLUGIN_CHILD = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
tf.experimental.register_filesystem_plugin(sys.argv[1])
base = "ckptfs://" + sys.argv[2]
reader = tf.train.load_checkpoint(base + "/model")
got = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
with tf.io.gfile.GFile(base + "/model.safetensors", "rb") as f:
    st = f.read()
np.savez(sys.argv[3], **got)
open(sys.argv[4], "wb").write(st)
"""


def test_tensorflow_plugin_serves_the_merge(two_models, plugin_path, tmp_path):
    """The same merge through ckptfs:// (no mount): TensorFlow restores the values (and
    checks the CRC32Cs computed from the safetensors bytes); the .safetensors reads back."""
    import subprocess
    import sys
    adir, a, bfile, b = two_models
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile},
                            stacking_lines() + ["format = both"])
    out, st = str(tmp_path / "tf.npz"), str(tmp_path / "copy.safetensors")
    p = subprocess.run([sys.executable, "-c", PLUGIN_CHILD, plugin_path, mapping, out, st],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr[-4000:]
    exp = stacking_expected(a, b)
    check_all(dict(np.load(out)), exp)
    check_all(stnp.load_file(st), exp)


def test_materialize_a_model_directory(two_models, run_ckptfs, tmp_path):
    """materialize writes a real model directory: the shards, the index.json and the
    `file` lines; as a TensorFlow checkpoint, the checkpoint and the files."""
    adir, a, bfile, b = two_models
    (tmp_path / "config.json").write_text('{"num_hidden_layers": 6}\n')
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile},
                            stacking_lines() + ["max_shard_size = 100B",
                                                "file config.json = config.json"])
    out = tmp_path / "out"
    out.mkdir()
    rc, stdout, err = run_ckptfs("materialize", "--format", "safetensors", mapping,
                                 str(out / "model"))
    assert rc == 0, err
    check_all(load_hf_dir(str(out)), stacking_expected(a, b))
    assert (out / "config.json").read_text() == '{"num_hidden_layers": 6}\n'
    tf_out = tmp_path / "tf"
    tf_out.mkdir()
    rc, stdout, err = run_ckptfs("materialize", mapping, str(tf_out / "merged"))
    assert rc == 0, err
    assert sorted(os.listdir(tf_out)) == ["checkpoint", "config.json",
                                          "merged.data-00000-of-00001", "merged.index"]
    tf = pytest.importorskip("tensorflow")
    reader = tf.train.load_checkpoint(str(tf_out / "merged"))
    check_all({k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()},
              stacking_expected(a, b))


def test_check_summarizes_a_sharded_output(two_models, run_ckptfs, tmp_path):
    adir, _, bfile, _ = two_models
    (tmp_path / "config.json").write_text("{}\n")
    mapping = write_mapping(tmp_path / "m.conf", {"a": adir, "b": bfile},
                            stacking_lines() + ["format = safetensors", "max_shard_size = 100B",
                                                "file config.json = config.json"])
    rc, out, err = run_ckptfs("check", mapping)
    assert rc == 0, err
    text = out.decode()
    assert "  source a                 8 tensors  " in text, text
    assert "merged: model  14 tensors, 600 B of data\n" in text, text
    lines = [ln.split("  ")[1] for ln in text.splitlines() if ln.startswith("  model")]
    assert lines[0].startswith("model-00001-of-"), text
    assert "more shard(s)" in text and "(Hugging Face's sharded layout)" in text, text
    assert "  model.safetensors.index.json  " in text and "  config.json  3 B" in text, text


def test_verify_says_safetensors_has_no_checksums(two_models, run_ckptfs):
    adir, a, _, _ = two_models
    rc, out, err = run_ckptfs("verify", adir)
    assert rc == 0, err
    total = sum(v.nbytes for v in a.values())
    assert out.decode() == (f"{adir}: {len(a)} tensors, {total} bytes in 2 file(s): all "
                            "readable (safetensors stores no checksums)\n")


def test_a_dot_prefix_on_an_object_source_is_an_error(run_ckptfs, tmp_path):
    """A TF2 checkpoint merged by object names objects by '/' paths: a '.' prefix is
    refused rather than taken for a scope."""
    from pylib.testenv import CORPUS_DIR
    src = os.path.join(CORPUS_DIR, "serving_half_plus_two_tf2")
    mapping = write_mapping(tmp_path / "m.conf", {"s": src}, ["map s:/ -> x."])
    rc, out, err = run_ckptfs("check", mapping)
    assert rc != 0, out
    assert (f"{mapping}:2:12: error: 'x.' ends in '.', a prefix of tensor names, but source "
            "'s' is read by object paths: end a scope of objects with '/'") in err, err


def test_every_dtype_restores_in_tensorflow(tmp_path, ckptfs_bin):
    """Every dtype a safetensors source may hold is one TensorFlow restores (float8 and the
    unsigned ones included), with the CRC32C computed from the bytes."""
    import struct
    ml_dtypes = pytest.importorskip("ml_dtypes")
    tf = pytest.importorskip("tensorflow")
    arrays = {"BOOL": np.array([True, False]), "U8": np.array([1, 255], np.uint8),
              "I8": np.array([-1, 7], np.int8),
              "F8_E5M2": np.array([1.0, -2.0], ml_dtypes.float8_e5m2),
              "F8_E4M3": np.array([0.5, 3.0], ml_dtypes.float8_e4m3fn),
              "I16": np.array([-3, 9], np.int16), "U16": np.array([1, 65535], np.uint16),
              "F16": np.array([1.5, -2.0], np.float16),
              "BF16": np.array([1.0, 3.0], ml_dtypes.bfloat16),
              "I32": np.array([-5, 6], np.int32), "U32": np.array([7, 2**32 - 1], np.uint32),
              "F32": np.array([0.25, 8.0], np.float32), "F64": np.array([1e300, -1], np.float64),
              "I64": np.array([-2**62, 3], np.int64), "U64": np.array([2**64 - 1, 1], np.uint64)}
    header, data = {}, b""
    for name, a in arrays.items():
        header[name.lower()] = {"dtype": name, "shape": [2],
                                "data_offsets": [len(data), len(data) + a.nbytes]}
        data += a.tobytes()
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    src = tmp_path / "all.safetensors"
    src.write_bytes(struct.pack("<Q", len(h)) + h + data)
    mapping = write_mapping(tmp_path / "m.conf", {"s": str(src)}, ["map s:/ -> /"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        reader = tf.train.load_checkpoint(m.join("model"))
        got = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
        del reader
        gc.collect()
    assert sorted(got) == sorted(n.lower() for n in arrays)
    for name, a in arrays.items():
        g = np.asarray(got[name.lower()])
        assert g.dtype == a.dtype and g.tobytes() == a.tobytes(), name
