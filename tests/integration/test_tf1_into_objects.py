"""`checkpoint = object-based` / `name-based` (mapping.md), TensorFlow as the judge.

A TF1 ``Saver`` checkpoint has no object graph. Declared object-based, a merge turns each
tensor a line brings by name into a variable at the object path its target name spells and
carries the graph that describes them, so ``tf.train.Checkpoint.read`` restores it into TF2
objects (a ``tf.Module`` tree, a Keras 3 model) with ``assert_consumed()`` and
``assert_existing_objects_matched()``; declared name-based, a TF2 source is read by key and
the merge carries no graph.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tfgen  # noqa: E402
from objmerge_lib import (GRAPH_KEY, LAYOUTS, expected_keys, keys,  # noqa: E402
                          restore_both_ways)
from pylib import mounting  # noqa: E402
from pylib.mapfile import write_mapping  # noqa: E402


@pytest.fixture(scope="module")
def tf(tf_registered):
    return tf_registered


@pytest.fixture(scope="module")
def tf1_source(tf, tmp_path_factory):
    """tfgen's TF1 Saver checkpoint (enc/w, enc/b, dec/w, dec/b, their Adam slots,
    global_step, beta powers): (prefix, {name: value})."""
    fx = tfgen.make_tf1_saver(str(tmp_path_factory.mktemp("tf1")))[0]
    return fx.prefix, fx.expected


@pytest.fixture(scope="module")
def partitioned_source(tf, tmp_path_factory):
    fx = tfgen.make_partitioned(str(tmp_path_factory.mktemp("part")))
    return fx.prefix, fx.expected


def _dense(tf, w_shape):
    layer = tf.Module()
    layer.w = tf.Variable(tf.zeros(w_shape))
    layer.b = tf.Variable(tf.zeros(w_shape[-1:]))
    return layer


def _net(tf):
    net = tf.Module()
    net.encoder = _dense(tf, (4, 8))
    net.decoder = _dense(tf, (8, 3))
    net.step = tf.Variable(0, dtype=tf.int64)
    return net


@pytest.mark.parametrize("layout", LAYOUTS)
def test_tf1_saver_restores_into_a_module(tf, ckptfs_bin, tf1_source, tmp_path, layout):
    prefix, values = tf1_source
    mapping = write_mapping(tmp_path / "m.conf", {"old": prefix},
                            ["checkpoint = object-based",
                             "map old:enc/ -> net/encoder/", "map old:dec/ -> net/decoder/",
                             "map old:global_step -> net/step",
                             "exclude old:*/Adam*"])

    def check(path):
        net = _net(tf)
        status = tf.train.Checkpoint(net=net).read(path)
        status.assert_consumed()
        status.assert_existing_objects_matched()
        for part, scope in ((net.encoder, "enc"), (net.decoder, "dec")):
            np.testing.assert_array_equal(part.w.numpy(), values[f"{scope}/w"])
            np.testing.assert_array_equal(part.b.numpy(), values[f"{scope}/b"])
        assert net.step.numpy() == values["global_step"]
        # the keys a fresh tf.train.Checkpoint of that structure would write
        assert keys(tf, path) == expected_keys(tf, tf.train.Checkpoint(net=_net(tf)),
                                               tmp_path / path.replace("/", "_"))

    restore_both_ways(tf, ckptfs_bin, mapping, tmp_path, layout, check)


def test_tf1_saver_restores_into_a_keras_model(tf, ckptfs_bin, tf1_source, tmp_path):
    import keras

    prefix, values = tf1_source

    def model():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
                                 keras.layers.Dense(3)])

    # where Keras 3 keeps the weights, as `ckptfs ls --objects` shows them
    probe = tf.train.Checkpoint(model=model()).write(str(tmp_path / "probe" / "ckpt"))
    r = mounting.run_cmd([ckptfs_bin, "ls", "--objects", probe])
    assert r.rc == 0, r.describe()
    listed = [ln.split("\t")[0] for ln in r.stdout.splitlines() if "\t" in ln]
    assert listed == [f"model/_functional/_operations/{i}/{w}"
                      for i in (1, 2) for w in ("_kernel", "bias")]
    lines = ["checkpoint = object-based"]
    for i, scope in ((1, "enc"), (2, "dec")):
        lines += [f"map old:{scope}/w -> model/_functional/_operations/{i}/_kernel",
                  f"map old:{scope}/b -> model/_functional/_operations/{i}/bias"]
    mapping = write_mapping(tmp_path / "m.conf", {"old": prefix}, lines)
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        fresh = model()
        status = tf.train.Checkpoint(model=fresh).read(m.join("model.ckpt"))
        status.assert_consumed()
        status.assert_existing_objects_matched()
    for layer, scope in zip(fresh.layers, ("enc", "dec")):
        np.testing.assert_array_equal(layer.kernel.numpy(), values[f"{scope}/w"])
        np.testing.assert_array_equal(layer.bias.numpy(), values[f"{scope}/b"])


def test_partitioned_tf1_variable_becomes_one_variable(tf, ckptfs_bin, partitioned_source,
                                                        tmp_path):
    prefix, values = partitioned_source
    mapping = write_mapping(tmp_path / "m.conf", {"p": prefix},
                            ["checkpoint = object-based", "map p:part -> table",
                             "map p:emb/cols -> emb/cols"])

    def check(path):
        root = tf.Module()
        root.table = tf.Variable(tf.zeros([10, 4]))
        root.emb = tf.Module()
        root.emb.cols = tf.Variable(tf.zeros([5, 6]))
        status = tf.train.Checkpoint(table=root.table, emb=root.emb).read(path)
        status.assert_consumed()
        status.assert_existing_objects_matched()
        np.testing.assert_array_equal(root.table.numpy(), values["part"])
        np.testing.assert_array_equal(root.emb.cols.numpy(), values["emb/cols"])

    restore_both_ways(tf, ckptfs_bin, mapping, tmp_path, "single", check)


def test_mixed_tf2_and_tf1_sources(tf, ckptfs_bin, tf1_source, tmp_path):
    prefix, values = tf1_source
    rng = np.random.default_rng(3)
    src = tf.Module()
    src.w = tf.Variable(rng.standard_normal((2, 2)).astype(np.float32))
    tf2 = tf.train.Checkpoint(net=src).save(str(tmp_path / "tf2" / "ckpt"))
    mapping = write_mapping(tmp_path / "m.conf", {"new": tf2, "old": prefix},
                            ["checkpoint = object-based", "map new:net/ -> student/",
                             "map old:enc/ -> teacher/encoder/", "exclude old:*/Adam*"])
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        student, teacher = tf.Module(), tf.Module()
        student.w = tf.Variable(tf.zeros((2, 2)))
        teacher.encoder = _dense(tf, (4, 8))
        status = tf.train.Checkpoint(student=student, teacher=teacher).read(
            m.join("model.ckpt"))
        status.assert_consumed()
        status.assert_existing_objects_matched()
    np.testing.assert_array_equal(student.w.numpy(), src.w.numpy())
    np.testing.assert_array_equal(teacher.encoder.w.numpy(), values["enc/w"])


def test_auto_keeps_tf1_sources_by_name(tf, ckptfs_bin, tf1_source, tmp_path):
    prefix, _ = tf1_source
    mapping = write_mapping(tmp_path / "m.conf", {"old": prefix}, ["map old:enc/ -> x/"])
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        listed = {k for k, _ in tf.train.list_variables(m.join("model.ckpt"))}
    assert listed == {"x/w", "x/b", "x/w/Adam", "x/w/Adam_1", "x/b/Adam", "x/b/Adam_1"}
    r = mounting.run_cmd([ckptfs_bin, "ls", "--objects", mapping])
    assert r.rc == 1
    assert r.stderr == f"ckptfs: '{mapping}' merges by name: the merged checkpoint has no " \
                       "object graph (add 'checkpoint = object-based' to give it one)\n"


def test_name_based_reads_a_tf2_source_by_key(tf, ckptfs_bin, tmp_path):
    src = tf.Module()
    src.w = tf.Variable(np.arange(4, dtype=np.float32))
    prefix = tf.train.Checkpoint(net=src).save(str(tmp_path / "tf2" / "ckpt"))
    mapping = write_mapping(tmp_path / "m.conf", {"a": prefix},
                            ["checkpoint = name-based", "map a:/ -> /"])
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        path = m.join("model.ckpt")
        listed = {k for k, _ in tf.train.list_variables(path)}
        got = tf.train.load_checkpoint(path).get_tensor("net/w/.ATTRIBUTES/VARIABLE_VALUE")
    assert GRAPH_KEY not in listed
    assert listed == {"net/w/.ATTRIBUTES/VARIABLE_VALUE", "save_counter/.ATTRIBUTES/VARIABLE_VALUE"}
    np.testing.assert_array_equal(got, src.w.numpy())


def test_ls_objects_and_check_show_the_synthesized_graph(ckptfs_bin, tf1_source, tmp_path):
    prefix, _ = tf1_source
    mapping = write_mapping(tmp_path / "m.conf", {"old": prefix},
                            ["checkpoint = object-based", "map old:enc/ -> net/encoder/",
                             "exclude old:*/Adam*"])
    r = mounting.run_cmd([ckptfs_bin, "ls", "--objects", mapping])
    assert r.rc == 0, r.describe()
    assert r.stdout.splitlines() == ["/", "net/", "net/encoder/",
                                     "net/encoder/b\tfloat32\t[8]",
                                     "net/encoder/w\tfloat32\t[4,8]"]
    r = mounting.run_cmd([ckptfs_bin, "check", mapping])
    assert r.rc == 0, r.describe()
    assert "object graph: 5 objects, 2 saved tensors" in r.stdout
    # ls: the graph ckptfs wrote comes from no source; the variables from 'old'
    r = mounting.run_cmd([ckptfs_bin, "ls", mapping])
    assert r.rc == 0, r.describe()
    rows = {line.split("\t")[0]: line.split("\t")[6:] for line in r.stdout.splitlines()}
    assert rows[GRAPH_KEY] == ["-", "-"]
    assert rows["net/encoder/w/.ATTRIBUTES/VARIABLE_VALUE"] == ["old", "enc/w"]


@pytest.mark.parametrize("lines, message", [
    (["checkpoint = tf2", "map old:enc/ -> x/"],
     "m.conf:2:14: error: unknown checkpoint 'tf2' (expected 'auto', 'object-based' or "
     "'name-based')"),
    (["checkpoint = object-based", "checkpoint = name-based", "map old:enc/ -> x/"],
     "m.conf:3:1: error: duplicate 'checkpoint' (first set at line 2)"),
    (["checkpoint = object-based", "map old:enc/ -> x/",
      "map old:_CHECKPOINTABLE_OBJECT_GRAPH -> _CHECKPOINTABLE_OBJECT_GRAPH"],
     "m.conf:2:1: error: 'checkpoint = object-based' cannot be kept: line 4 carries a "
     "source's _CHECKPOINTABLE_OBJECT_GRAPH by key (remove one of the two)"),
    (["checkpoint = object-based", "map old:enc/w -> x.y"],
     "m.conf:3:18: error: 'x.y' is not an object path: '.' must be escaped as '..' ('/' in a "
     "name as '.S')"),
    (["checkpoint = object-based", "map old:enc/w -> x", "map old:enc/b -> x/b"],
     None),  # a variable with a child is TensorFlow's to judge, not refused here
    (["checkpoint = object-based", "map old:enc/ -> x/", "map old:dec/w -> x/w"],
     "m.conf:4:18: error: object 'x/w' is produced twice: by this line and by line 3"),
])
def test_object_based_errors(ckptfs_bin, tf1_source, tmp_path, lines, message):
    prefix, _ = tf1_source
    mapping = write_mapping(tmp_path / "m.conf", {"old": prefix}, lines)
    r = mounting.run_cmd([ckptfs_bin, "check", mapping])
    if message is None:
        assert r.rc == 0, r.describe()
        return
    assert r.rc == 1, r.describe()
    assert r.stderr.startswith(f"{tmp_path}/{message}"), r.stderr
