"""PREFIX.safetensors (docs/mapping.md, "format"), with the `safetensors` package as the
reader and TensorFlow as the oracle of the values.

For each checkpoint (the generated all-dtypes and partitioned ones, the four corpus
checkpoints, the seed example) a mapping with ``format = both`` is mounted and
``safetensors.safe_open(path, framework="np")`` and ``safetensors.numpy.load_file`` must
return exactly the tensors safetensors can hold, each equal (dtype, shape, bytes) to
``tf.train.load_checkpoint(...).get_tensor`` on the same mount; the left-out ones (strings,
complex, variant) are named in the one
warning of ``ckptfs check``. The file itself is checked against the format's rules: header
length a multiple of 8, data contiguous from 0, the file exactly 8 + header + data, every
tensor aligned to its element size, tensors in the reference writer's order (dtype
alignment descending, then name). Also: merges with renames and excludes, ``format =
safetensors`` (only the one file), ``-o format=``, ``materialize --format safetensors``,
``strict``-less warnings. PyTorch is not installed in the test venv (its CPU wheel is a
large download): numpy only.
"""

from __future__ import annotations

import gc
import json
import os
import struct

import numpy as np
import pytest

from pylib import mounting
from pylib.mapfile import write_mapping

safetensors = pytest.importorskip("safetensors")
import safetensors.numpy as stnp  # noqa: E402

PREFIX = "model.ckpt"

# the reference writer's Dtype order (safetensors/src/tensor.rs) and element sizes
ORDER = {"BOOL": 0, "U8": 4, "I8": 5, "F8_E5M2": 6, "F8_E4M3": 7, "I16": 11, "U16": 12,
         "F16": 13, "BF16": 14, "I32": 15, "U32": 16, "F32": 17, "F64": 19, "I64": 20,
         "U64": 21}
SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
        "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
REPRESENTABLE = {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
                 "int64", "uint8", "uint16", "uint32", "uint64", "bool", "float8_e5m2",
                 "float8_e4m3fn"}


def check_file_rules(path: str) -> dict:
    """The format's invariants, read independently of the package; returns the header."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        raw = f.read(n)
    assert n % 8 == 0, f"header length {n} not a multiple of 8"
    header = json.loads(raw.decode("utf-8"))
    header.pop("__metadata__", None)
    items = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    at = 0
    for name, info in items:
        b, e = info["data_offsets"]
        assert b == at, f"{name!r}: gap or overlap at {b} (expected {at})"
        assert e - b == int(np.prod(info["shape"], dtype=np.int64)) * SIZE[info["dtype"]], name
        assert b % SIZE[info["dtype"]] == 0, f"{name!r} not aligned"
        at = e
    assert size == 8 + n + at, f"file is {size} bytes, header says {8 + n + at}"
    keys = [(-ORDER[i["dtype"]], k.encode()) for k, i in items]
    assert keys == sorted(keys), "not in the reference writer's order"
    return header


def tf_reader(prefix: str):
    import tensorflow as tf
    return tf.train.load_checkpoint(prefix)


def expected_names(reader, left_out: set) -> set:
    return {k for k, dt in reader.get_variable_to_dtype_map().items()
            if dt.name in REPRESENTABLE and k != "_CHECKPOINTABLE_OBJECT_GRAPH"} - left_out


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def compare(path: str, reader, names: set, rename=lambda k: k) -> list[str]:
    """Problems found reading `path` both ways against reader.get_tensor(rename(name))."""
    problems = []
    header = check_file_rules(path)
    if set(header) != names:
        problems.append(f"names: missing {sorted(names - set(header))[:5]}, "
                        f"extra {sorted(set(header) - names)[:5]}")
    loaded = stnp.load_file(path)
    with safetensors.safe_open(path, framework="np") as f:
        for k in f.keys():
            want = np.asarray(reader.get_tensor(rename(k)))
            for how, got in (("safe_open", f.get_tensor(k)), ("load_file", loaded[k])):
                if not same(got, want):
                    problems.append(f"{how} {k!r}: {got.dtype}{got.shape} != "
                                    f"{want.dtype}{want.shape}")
    # the reference writer, given the same tensors, writes the very same bytes
    with open(path, "rb") as f:
        if stnp.save(loaded) != f.read():
            problems.append("not byte-identical to safetensors.numpy.save of its tensors")
    del loaded, got
    gc.collect()  # the arrays may map the file: the mount must be free to go
    return problems


def check_warning(run_ckptfs, mapping: str, left_out: set):
    rc, out, err = run_ckptfs("check", mapping)
    assert rc == 0, err
    assert f"  {PREFIX}.safetensors  " in out.decode(), out
    if not left_out:
        assert "left out" not in err, err
        return
    assert err.count("left out of the .safetensors file") == 1, err
    for name in sorted(left_out)[:8]:
        assert f"'{name}'" in err, (name, err)


CASES = ["all_dtypes", "partitioned", "tf1_saver", "corpus/serving_half_plus_two_tf1",
         "corpus/serving_half_plus_two_tf2", "corpus/tfx_estimator_tf1",
         "corpus/tfx_keras_tf2"]


@pytest.mark.parametrize("fid", CASES)
def test_both_matches_tf_on_the_same_mount(fid, all_checkpoints, ckptfs_bin, run_ckptfs,
                                           tmp_path):
    fx = all_checkpoints[fid]
    src = tf_reader(fx.prefix)
    lines = ["map s:/ -> /", "format = both"]
    if "_CHECKPOINTABLE_OBJECT_GRAPH" in src.get_variable_to_dtype_map():
        # only an exact rule carries it (mapping.md); safetensors cannot
        lines.append("map s:_CHECKPOINTABLE_OBJECT_GRAPH -> _CHECKPOINTABLE_OBJECT_GRAPH")
    mapping = write_mapping(tmp_path / "st.conf", {"s": fx.prefix}, lines)
    unrepresentable = {k for k, dt in src.get_variable_to_dtype_map().items()
                       if dt.name not in REPRESENTABLE}
    check_warning(run_ckptfs, mapping, unrepresentable)
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt, expect_clean_log=False) as m:
        files = sorted(os.listdir(mnt))
        assert f"{PREFIX}.safetensors" in files and f"{PREFIX}.index" in files, files
        reader = tf_reader(m.join(PREFIX))
        names = expected_names(reader, set())
        assert names, "nothing to compare"
        problems = compare(m.join(f"{PREFIX}.safetensors"), reader, names)
        del reader
        gc.collect()
    fx.guard.check(fid)
    assert not problems, problems


def test_partitioned_variables_are_one_tensor(all_checkpoints, ckptfs_bin, tmp_path):
    """`part` is split along its first dimension (3 pieces), `emb/cols` along its second."""
    fx = all_checkpoints["partitioned"]
    mapping = write_mapping(tmp_path / "st.conf", {"s": fx.prefix},
                            ["map s:/ -> /", "format = safetensors"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt, expect_clean_log=False) as m:
        assert os.listdir(mnt) == [f"{PREFIX}.safetensors"]
        got = {k: v.copy() for k, v in stnp.load_file(m.join(f"{PREFIX}.safetensors")).items()}
        gc.collect()
    assert not any(k.startswith("\0") for k in got), sorted(got)
    for name in ("part", "emb/cols"):
        assert same(got[name], fx.expected[name].astype(np.float32)), name


def test_renames_and_excludes(all_checkpoints, ckptfs_bin, tmp_path):
    a, p = all_checkpoints["all_dtypes"], all_checkpoints["partitioned"]
    mapping = write_mapping(tmp_path / "st.conf", {"a": a.prefix, "p": p.prefix}, [
        "map a:vec/ -> moved/", "map a:scalar/bool -> flag", "exclude a:vec/int8",
        "exclude a:vec/complex*", "map p:part -> renamed/part", "format = both"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        reader = tf_reader(m.join(PREFIX))
        names = expected_names(reader, set())
        listed = reader.get_variable_to_dtype_map()
        problems = compare(m.join(f"{PREFIX}.safetensors"), reader, names)
        del reader
        gc.collect()
    assert "moved/bfloat16" in names and "renamed/part" in names and "flag" in names
    assert "moved/int8" not in listed and "vec/float32" not in listed
    assert not problems, problems


def test_format_safetensors_and_mount_option(all_checkpoints, ckptfs_bin, tmp_path):
    fx = all_checkpoints["all_dtypes"]
    src = tf_reader(fx.prefix)
    names = expected_names(src, set())
    for lines, opts in ((["map s:/ -> /", "format = safetensors"], ()),
                        (["map s:/ -> /"], ("-o", "format=safetensors"))):
        d = tmp_path / str(len(opts))
        d.mkdir()
        mapping = write_mapping(d / "st.conf", {"s": fx.prefix}, lines)
        mnt = str(d / "mnt")
        os.mkdir(mnt)
        with mounting.mounted(ckptfs_bin, mapping, mnt, *opts, expect_clean_log=False) as m:
            assert os.listdir(mnt) == [f"{PREFIX}.safetensors"]
            problems = compare(m.join(f"{PREFIX}.safetensors"), src, names)
        assert not problems, (opts, problems)


def test_mount_option_format_invalid(all_checkpoints, run_ckptfs, tmp_path):
    fx = all_checkpoints["tf1_saver"]
    mapping = write_mapping(tmp_path / "st.conf", {"s": fx.prefix}, ["map s:/ -> /"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    rc, _out, err = run_ckptfs(mapping, mnt, "-o", "format=onnx")
    assert rc != 0 and "invalid format 'onnx'" in err, err
    assert not mounting.is_mounted(mnt)


def test_materialize_format_safetensors(all_checkpoints, run_ckptfs, tmp_path):
    a, p = all_checkpoints["all_dtypes"], all_checkpoints["partitioned"]
    mapping = write_mapping(tmp_path / "st.conf", {"a": a.prefix, "p": p.prefix},
                            ["map a:/ -> a/", "map p:/ -> p/"])
    out = str(tmp_path / "out" / "merged")
    os.mkdir(os.path.dirname(out))
    rc, _o, err = run_ckptfs("materialize", "--format", "safetensors", mapping, out)
    assert rc == 0, err
    assert os.listdir(os.path.dirname(out)) == ["merged.safetensors"]
    path = out + ".safetensors"
    ra, rp = tf_reader(a.prefix), tf_reader(p.prefix)
    names = ({"a/" + k for k in expected_names(ra, set())}
             | {"p/" + k for k in expected_names(rp, set())})

    class Both:
        @staticmethod
        def get_tensor(k):
            return (ra if k.startswith("a/") else rp).get_tensor(k[2:])

    problems = compare(path, Both, names)
    assert not problems, problems
    rc, _o, err = run_ckptfs("materialize", "--format", "safetensors", mapping, out)
    assert rc != 0 and "exists" in err, err


def test_seed_example(tmp_path, ckptfs_bin):
    import tensorflow as tf
    v1 = tf.compat.v1
    d = str(tmp_path)
    for name, value in (("a", 3.0), ("b", 4.0)):
        with tf.Graph().as_default():
            v = v1.get_variable(name, initializer=np.float32(value))
            with v1.Session() as sess:
                sess.run(v.initializer)
                v1.train.Saver([v]).save(sess, os.path.join(d, f"model_{name}", f"model-{name}"))
    mapping = write_mapping(os.path.join(d, "st.conf"),
                            {"a": "model_a/model-a", "b": "model_b"},
                            ["map a:a -> a", "map b:b -> b", "format = both"])
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        reader = tf_reader(m.join(PREFIX))
        problems = compare(m.join(f"{PREFIX}.safetensors"), reader, {"a", "b"})
        got = {k: v.copy() for k, v in stnp.load_file(m.join(f"{PREFIX}.safetensors")).items()}
        del reader
        gc.collect()
    assert not problems, problems
    assert got["a"] == np.float32(3) and got["b"] == np.float32(4)


def test_hostile_names(tmp_path, ckptfs_bin):
    """Names JSON must escape, written by TensorFlow itself."""
    import tensorflow as tf
    names = ['a "quoted" name', "back\\slash", "tab\there", "new\nline", "ctrl\x01\x1f",
             "ünï/çødé/😀", "dél\x7f", "z"]
    prefix = str(tmp_path / "src" / "ckpt")
    values = [np.arange(i + 1, dtype=np.float32) * (i + 1) for i in range(len(names))]
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=values)
    mapping = write_mapping(tmp_path / "st.conf", {"s": prefix},
                            ["map s:/ -> /", "format = safetensors"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        problems = compare(m.join(f"{PREFIX}.safetensors"), tf_reader(prefix), set(names))
    assert not problems, problems


def test_ls_reads_safetensors_files(all_checkpoints, run_ckptfs, tmp_path):
    """`ckptfs ls FILE.safetensors`: every tensor with its dtype, shape, file offset and size,
    as the header says; hostile headers are errors."""
    import numpy as np
    d = str(tmp_path)
    path = os.path.join(d, "t.safetensors")
    stnp.save_file({"w": np.zeros((2, 3), np.float32), "b\\n": np.arange(3, dtype=np.int8)},
                   path)
    rc, out, err = run_ckptfs("ls", path)
    assert rc == 0, err
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
    # F32 sorts before I8; offsets count from the file's start
    assert out.decode().splitlines() == [f"w\tfloat32\t[2,3]\t0\t{8 + n}\t24",
                                         f"b\\\\n\tint8\t[3]\t0\t{8 + n + 24}\t3"]
    for name, raw in (("short", b"\x01\x00"),
                      ("huge", struct.pack("<Q", 2**63) + b"{}"),
                      ("gap", b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}'),
                      ("overlap", b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                                  b'"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}'),
                      ("json", b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}')):
        p = os.path.join(d, name + ".safetensors")
        with open(p, "wb") as f:
            f.write(raw if name in ("short", "huge") else struct.pack("<Q", len(raw)) + raw + b"xyz")
        rc, out, err = run_ckptfs("ls", p)
        assert rc == 1 and out == b"" and "safetensors" in err, (name, err)


def test_strict_refuses_what_safetensors_cannot_hold(all_checkpoints, run_ckptfs, tmp_path):
    fx = all_checkpoints["all_dtypes"]
    mapping = write_mapping(tmp_path / "st.conf", {"s": fx.prefix},
                            ["map s:/ -> /", "format = safetensors"])
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    rc, _out, err = run_ckptfs(mapping, mnt, "-o", "strict")
    assert rc == 1 and "cannot be stored in safetensors: " in err and "(string)" in err, err
    assert not mounting.is_mounted(mnt)
    out = str(tmp_path / "out")
    rc, _out, err = run_ckptfs("materialize", "--format=safetensors", "--strict", mapping, out)
    assert rc == 1 and "cannot be stored in safetensors" in err, err
    assert not os.path.exists(out + ".safetensors")
    # only what it can hold: strict has nothing to say
    mapping = write_mapping(tmp_path / "st.conf", {"s": fx.prefix},
                            ["map s:vec/ -> /", "exclude s:vec/complex*"])
    rc, _out, err = run_ckptfs("materialize", "--format=safetensors", "--strict", mapping, out)
    assert rc == 0, err
    assert len(stnp.load_file(out + ".safetensors")) == 13
