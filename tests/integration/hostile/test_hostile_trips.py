"""Hostile input, third round: files that are not what they seem, and what a new user trips
on, with TensorFlow, Keras 3 and the `safetensors` package as the oracles.

* Keras 3's own files (``model.save_weights`` writes HDF5 ``.weights.h5``, ``model.save``
  a ZIP ``.keras``) given to ``ls``, ``verify``, ``check`` or a ``source`` line are named
  for what they are, with the way to write a TensorFlow checkpoint instead;
* a safetensors header with ``__metadata__`` twice is refused, as the reference reader
  refuses it; a header length over the readers' limit is refused from the 8-byte prefix
  (a sparse file: nothing is read), and a merge's header over it from its length, before
  it is built;
* an object graph of millions of empty nodes (two bytes each) is refused before it is
  expanded, in a few MiB of memory (it took 820 MiB);
* ``materialize`` into a missing directory says so; it writes the ``checkpoint`` state
  file, so ``tf.train.latest_checkpoint(OUT_DIR)`` finds the merge, but never over the
  state file a directory source is read through;
* layers a Keras 3 model holds in a plain Python list are reachable only through the
  optimizer (docs/mapping.md): ``exclude *:model/optimizer`` drops them, silently for
  TensorFlow's assertions, and the documented mapping restores them.
"""

from __future__ import annotations

import os
import struct
import subprocess

import numpy as np
import pytest

from pylib import mounting
from pylib.ckptfmt import DT_FLOAT, DT_STRING, DT_UINT8, Tensor, crc32c, encode_entry, mask, \
    varint, write_bundle

KERAS_HINT = "tf.train.Checkpoint(model=model).write(PATH) saves one ckptfs reads"
H5 = "an HDF5 file (Keras 3 weights, as model.save_weights writes them)"
ZIP = "a ZIP archive (a Keras 3 model, as model.save writes it)"


TIME = "/usr/bin/time"


def run_measured(argv: list, tmp_path) -> tuple[int, str, int]:
    """(exit status, stderr, peak RSS in KiB) of one command of ours. GNU time measures it:
    a child of this (TensorFlow-sized) process would inherit its peak RSS at fork."""
    if not os.access(TIME, os.X_OK):
        pytest.skip(f"{TIME} (GNU time) is needed to measure memory")
    rss_file = tmp_path / "rss"
    p = subprocess.run([TIME, "-f", "%M", "-o", rss_file] + mounting.exec_prefix() +
                       [str(a) for a in argv], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    rss = int(rss_file.read_text().split()[-1])
    return p.returncode, p.stderr.decode("utf-8", "replace"), rss


# ---------------------------------------------------------------------------------------
# Keras 3's files

def small_keras_model():
    import keras

    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    m.compile(optimizer="adam", loss="mse")
    return m


def test_keras3_files_are_named_for_what_they_are(run_ckptfs, tmp_path):
    m = small_keras_model()
    weights = tmp_path / "model.weights.h5"
    whole = tmp_path / "model.keras"
    m.save_weights(str(weights))
    m.save(str(whole))
    for path, what in ((weights, H5), (whole, ZIP)):
        for cmd in (["ls", path], ["check", path], ["ls", "--objects", path]):
            r = run_ckptfs(*cmd)
            assert r.rc == 1, r.describe()
            assert r.stderr == (f"{path}: error: not a ckptfs mapping file, but {what}, and not "
                                f"a TensorFlow checkpoint either: {KERAS_HINT}\n"), r.describe()
        r = run_ckptfs("verify", path)
        assert r.rc == 1 and r.stderr == \
            f"ckptfs: '{path}' is {what}, not a TensorFlow checkpoint: {KERAS_HINT}\n", r.describe()
        conf = tmp_path / "m.conf"
        conf.write_text(f"source a = {path.name}\nmap a:/ -> /\n")
        r = run_ckptfs("check", conf)
        assert r.rc == 1 and r.stderr == (f"{conf}:1:12: error: source 'a': '{path}' is {what}, "
                                          f"not a TensorFlow checkpoint: {KERAS_HINT}\n"), \
            r.describe()


# ---------------------------------------------------------------------------------------
# safetensors headers

def write_st(path, header: bytes, data: bytes = b""):
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)


def test_safetensors_metadata_twice_is_refused_as_the_reference_refuses_it(run_ckptfs,
                                                                         tmp_path):
    import safetensors.numpy as stnp

    t = b'"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}'
    once = tmp_path / "once.safetensors"
    write_st(once, b'{"__metadata__":{"a":"b"},' + t + b"}", b"\x07")
    assert stnp.load_file(str(once))["x"].tolist() == [7]
    assert run_ckptfs("ls", once).rc == 0
    twice = tmp_path / "twice.safetensors"
    write_st(twice, b'{"__metadata__":{"a":"b"},' + t + b',"__metadata__":{}}', b"\x07")
    with pytest.raises(Exception, match="duplicate field `__metadata__`"):
        stnp.load_file(str(twice))
    r = run_ckptfs("ls", twice)
    assert r.rc == 1 and r.stderr == (f"ckptfs: '{twice}': safetensors header, byte 78: "
                                      f"'__metadata__' given twice\n"), r.describe()


def test_safetensors_header_over_the_limit_is_refused_from_its_length(tmp_path, ckptfs_bin):
    big = tmp_path / "big.safetensors"
    n = 100_000_001
    with open(big, "wb") as f:  # sparse: a header of zeros the size the length claims
        f.write(struct.pack("<Q", n))
        f.truncate(8 + n + 8)
    rc, err, rss = run_measured([ckptfs_bin, "ls", big], tmp_path)
    assert rc == 1 and err == (f"ckptfs: '{big}': not a safetensors file (a header of {n} bytes, "
                               f"over the 100000000 readers accept)\n"), err
    assert rss < 64 * 1024, f"{rss} KiB to refuse it"


def test_merged_safetensors_header_over_the_limit_is_refused_before_it_is_built(tmp_path,
                                                                               ckptfs_bin):
    """170 tensors whose names are 100,000 control bytes: 17 MB of names, but 6 bytes of JSON
    each (\\u0001), a 102 MB header. `check` refuses it from its length, counted first, in
    no more memory than the same merge without a .safetensors file (building it took 94 MiB
    more)."""
    prefix = str(tmp_path / "s")
    write_bundle(prefix, [Tensor("%04d" % i + "\x01" * 100_000, DT_UINT8, [1], bytes([i]))
                          for i in range(170)])
    rss = {}
    for fmt in ("tensorflow", "safetensors"):
        conf = tmp_path / f"{fmt}.conf"
        conf.write_text(f"source s = s\nmap s:/ -> /\nformat = {fmt}\n")
        rc, err, rss[fmt] = run_measured([ckptfs_bin, "check", conf], tmp_path)
        if fmt == "tensorflow":
            assert rc == 0, err
    assert rc == 1 and err == (f"{conf}:3:1: error: the safetensors header would be 102009816 "
                               f"bytes, more than readers accept (100000000)\n"), err
    assert rss["safetensors"] < rss["tensorflow"] + 32 * 1024, rss


# ---------------------------------------------------------------------------------------
# an object graph of empty nodes

def graph_checkpoint(prefix: str, empty_nodes: int) -> int:
    """A TF2-shaped checkpoint: a root with one variable `v`, and empty_nodes unreachable
    empty nodes ("0a 00" each). Returns the graph's size."""
    def f_bytes(field, b):
        return varint(field << 3 | 2) + varint(len(b)) + b

    key = b"v/.ATTRIBUTES/VARIABLE_VALUE"
    root = f_bytes(1, f_bytes(1, varint(1 << 3) + varint(1) + f_bytes(2, b"v")))
    var = f_bytes(1, f_bytes(2, f_bytes(1, b"VARIABLE_VALUE") + f_bytes(3, key)))
    graph = root + var + b"\x0a\x00" * empty_nodes
    c1 = crc32c(struct.pack("<I", len(graph)))
    enc = varint(len(graph)) + struct.pack("<I", mask(c1)) + graph
    crc = mask(crc32c(graph, crc32c(struct.pack("<I", mask(c1)), c1)))

    def hook(t, entry):
        return encode_entry(DT_STRING, [], offset=0, size=len(enc), crc=crc) \
            if t.dtype == DT_STRING else entry
    write_bundle(prefix, [Tensor("_CHECKPOINTABLE_OBJECT_GRAPH", DT_STRING, [], enc),
                          Tensor(key.decode(), DT_FLOAT, [1], np.float32([1]).tobytes())],
                 entry_hook=hook, data_order=[0, 1])
    return len(graph)


def test_an_object_graph_of_empty_nodes_is_refused_before_it_is_expanded(tmp_path, ckptfs_bin):
    import tensorflow as tf

    small = str(tmp_path / "small")
    graph_checkpoint(small, 10)
    v = tf.Variable([0.0])
    tf.train.Checkpoint(v=v).read(small).assert_consumed()  # TensorFlow's own reader agrees
    assert v.numpy().tolist() == [1.0]
    prefix = str(tmp_path / "big")
    size = graph_checkpoint(prefix, 4_700_000)
    conf = tmp_path / "m.conf"
    conf.write_text("source a = big\nmap a:/ -> t/\n")
    want = (f"'{prefix}': object graph refused: its {size} bytes hold 4700002 nodes, 1 child "
            f"edges, 1 attributes and 0 slot references, which would take ")
    for argv, head in (([ckptfs_bin, "ls", "--objects", prefix], "ckptfs: "),
                       ([ckptfs_bin, "check", conf], f"{conf}:1:12: error: source 'a': ")):
        rc, err, rss = run_measured(argv, tmp_path)
        assert rc == 1 and err.startswith(head + want), err
        assert err.endswith(" bytes of memory, more than 16 per byte of graph\n"), err
        assert rss < 16 * size / 1024, f"{rss} KiB for {size} bytes of graph"


# ---------------------------------------------------------------------------------------
# materialize

@pytest.fixture
def tf2_source(tmp_path) -> str:
    """A directory written by tf.train.Checkpoint.save: ckpt-1, and its state file."""
    import tensorflow as tf

    d = tmp_path / "runs"
    tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])).save(str(d / "ckpt"))
    return str(d)


def test_materialize_into_a_missing_directory_says_so(run_ckptfs, tmp_path, tf2_source):
    conf = tmp_path / "m.conf"
    conf.write_text(f"source a = {tf2_source}\nmap a:/ -> a/\n")
    out = tmp_path / "no" / "such" / "merged"
    r = run_ckptfs("materialize", conf, out)
    assert r.rc == 1 and r.stderr == (f"ckptfs: cannot write '{out}': directory '{out.parent}' "
                                      f"does not exist (create it: mkdir -p '{out.parent}')\n"), \
        r.describe()
    assert not (tmp_path / "no").exists()
    r = run_ckptfs("materialize", conf, str(tmp_path) + "/")
    assert r.rc == 1 and "is a directory name: OUT_PREFIX is the prefix" in r.stderr, r.describe()
    r = run_ckptfs("materialize", conf, conf / "x")
    assert r.rc == 1 and f"'{conf}' is not a directory" in r.stderr, r.describe()


@pytest.mark.parametrize("mode", ["copy", "link"])
def test_materialize_writes_the_state_file_tensorflow_finds(run_ckptfs, tmp_path, tf2_source,
                                                             mode):
    import tensorflow as tf

    conf = tmp_path / "m.conf"
    conf.write_text(f"source a = {tf2_source}\nmap a:/ -> a/\n")
    out_dir = tmp_path / "out dir"
    out_dir.mkdir()
    out = out_dir / 'mer"ged'  # a quote: escaped in the state file as TensorFlow escapes it
    r = run_ckptfs("materialize", *(["--link"] if mode == "link" else []), conf, out)
    assert r.rc == 0, r.describe()
    assert tf.train.latest_checkpoint(str(out_dir)) == str(out)
    assert (out_dir / "checkpoint").read_text() == \
        'model_checkpoint_path: "mer\\"ged"\nall_model_checkpoint_paths: "mer\\"ged"\n'
    state = tf.train.get_checkpoint_state(str(out_dir))
    assert list(state.all_model_checkpoint_paths) == [str(out)]
    w = tf.Variable([0.0, 0.0])
    tf.train.Checkpoint(a=tf.train.Checkpoint(w=w)).read(
        tf.train.latest_checkpoint(str(out_dir))).expect_partial()
    assert w.numpy().tolist() == [1.0, 2.0]
    # safetensors output is no TensorFlow checkpoint: no state file
    st_dir = tmp_path / "st"
    st_dir.mkdir()
    r = run_ckptfs("materialize", "--format", "safetensors", conf, st_dir / "m")
    assert r.rc == 0 and sorted(os.listdir(st_dir)) == ["m.safetensors"], r.describe()


def test_materialize_keeps_the_state_file_a_source_reads(run_ckptfs, tmp_path, tf2_source):
    import tensorflow as tf

    before = open(os.path.join(tf2_source, "checkpoint"), "rb").read()
    conf = tmp_path / "m.conf"
    conf.write_text("source a = runs\nmap a:/ -> a/\n")
    out = os.path.join(tf2_source, "merged")
    r = run_ckptfs("materialize", conf, out)
    assert r.rc == 0, r.describe()
    assert r.stderr == (f"ckptfs: warning: '{tf2_source}/checkpoint' left as it is: source 'a' "
                        f"is read through it (so tf.train.latest_checkpoint does not name "
                        f"'{out}')\n"), r.describe()
    assert open(os.path.join(tf2_source, "checkpoint"), "rb").read() == before
    assert tf.train.latest_checkpoint(tf2_source).endswith("ckpt-1")
    assert run_ckptfs("check", conf).rc == 0  # the source still names what it named


# ---------------------------------------------------------------------------------------
# Keras 3: layers held in a Python list

def test_keras3_list_held_layers_need_their_own_lines(run_ckptfs, tmp_path):
    """Keras 3 gives TensorFlow's checkpoint no edge to a layer held in a plain Python
    list: its weights are reachable only as the optimizer's `_trainable_variables/N`. So
    `map a:model/` + `exclude *:model/optimizer` leaves them out (and TensorFlow's
    assert_existing_objects_matched still passes); the mapping docs/mapping.md shows
    restores them."""
    import keras
    import tensorflow as tf

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [keras.layers.Dense(4) for _ in range(2)]
            self.head = keras.layers.Dense(1)

        def call(self, x):
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    def fresh():
        m = Net()
        m(np.ones((1, 3)))
        return m

    def same(a, b):
        return all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a.weights, b.weights))

    src = fresh()
    src.compile(optimizer="adam", loss="mse")
    src.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
    tf.train.Checkpoint(model=src).write(str(tmp_path / "a"))
    r = run_ckptfs("ls", "--objects", tmp_path / "a")
    objects = r.stdout.decode()
    assert "model/blocks" not in objects and \
        "model/optimizer/_trainable_variables/0\tfloat32\t[3,4]" in objects, objects

    def materialize(lines, name):
        conf = tmp_path / f"{name}.conf"
        conf.write_text("\n".join(["source a = a"] + lines) + "\n")
        r = run_ckptfs("materialize", conf, tmp_path / name)
        assert r.rc == 0, r.describe()
        return str(tmp_path / name)

    out = materialize(["map a:model/ -> student/", "exclude *:model/optimizer"], "dropped")
    m = fresh()
    tf.train.Checkpoint(student=m).read(out).assert_existing_objects_matched()
    assert same(m.head, src.head)
    assert not any(same(b, s) for b, s in zip(m.blocks, src.blocks))

    out = materialize(["map a:model/ -> student/", "exclude *:model/optimizer"] +
                      [f"map a:model/optimizer/_trainable_variables/{i} -> blocks/{i // 2}/"
                       f"{'_kernel' if i % 2 == 0 else 'bias'}" for i in range(4)], "kept")
    m = fresh()
    tf.train.Checkpoint(student=m, blocks=list(m.blocks)).read(out).assert_consumed()
    assert same(m.head, src.head)
    assert all(same(b, s) for b, s in zip(m.blocks, src.blocks))
