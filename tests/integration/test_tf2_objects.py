"""TF2 checkpoints merged by object (mapping.md, "Object paths"), TensorFlow as the judge.

Sources are saved by ``tf.train.Checkpoint`` (Keras 3 models with their optimizers after a
training step, a plain ``tf.Module`` of nested lists and dicts); the merge is mounted (both
layouts) and materialized (copy and ``--link``), and TensorFlow restores the *merged*
structure from it through the rewritten object graph:

* ``read(...)`` passes ``assert_consumed()`` and ``assert_existing_objects_matched()``;
* every weight and every optimizer slot equals its source;
* ``tf.train.list_variables`` on the merge lists exactly the keys TensorFlow writes when it
  saves the merged structure itself.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from objmerge_lib import (GRAPH_KEY, LAYOUTS, expected_keys, keys,  # noqa: E402
                          restore_both_ways)
from pylib import mounting  # noqa: E402
from pylib.mapfile import write_mapping  # noqa: E402


@pytest.fixture(scope="module")
def tf(tf_registered):
    """TensorFlow, with the ckptfs:// plugin registered: every merge is also read through
    it (_restore_both_ways)."""
    return tf_registered


def _keras_pair(hidden: int, out: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(hidden),
                              keras.layers.Dense(out)])
    return model, keras.optimizers.Adam(0.01)


SHAPES = {"a": (4, 2, 1), "b": (5, 3, 2)}


@pytest.fixture(scope="module")
def keras_sources(tf, tmp_path_factory):
    """Two Keras models, each saved with its optimizer after one step:
    {name: (prefix, weights, optimizer variables)}."""
    root = tmp_path_factory.mktemp("keras")
    out = {}
    for name, (hidden, n_out, seed) in SHAPES.items():
        model, opt = _keras_pair(hidden, n_out, seed)
        model.compile(optimizer=opt, loss="mse")
        model.fit(np.ones((4, 3), np.float32), np.full((4, n_out), 0.5, np.float32),
                  epochs=1, verbose=0)
        prefix = tf.train.Checkpoint(model=model, optimizer=opt).save(str(root / name / "ckpt"))
        out[name] = (prefix, [w.numpy() for w in model.weights],
                     [v.numpy() for v in opt.variables])
    return out


def _fresh(name: str):
    hidden, n_out, seed = SHAPES[name]
    model, opt = _keras_pair(hidden, n_out, seed + 100)  # other initial values
    model.build((None, 3))
    opt.build(model.trainable_variables)
    return model, opt


@pytest.mark.parametrize("layout", LAYOUTS)
def test_two_models_with_optimizers(tf, ckptfs_bin, keras_sources, tmp_path, layout):
    mapping = write_mapping(tmp_path / "m.conf",
                             {n: s[0] for n, s in keras_sources.items()},
                             ["map a:/ -> encoder/", "map b:/ -> decoder/"])

    def check(prefix):
        (m1, o1), (m2, o2) = _fresh("a"), _fresh("b")
        enc = tf.train.Checkpoint(model=m1, optimizer=o1)
        dec = tf.train.Checkpoint(model=m2, optimizer=o2)
        enc.save_counter, dec.save_counter  # the sources saved theirs: make them exist
        merged = tf.train.Checkpoint(encoder=enc, decoder=dec)
        status = merged.read(prefix)
        status.assert_consumed()
        status.assert_existing_objects_matched()
        for (model, opt), name in (((m1, o1), "a"), ((m2, o2), "b")):
            _, weights, slots = keras_sources[name]
            assert len(model.weights) == len(weights)
            for got, want in zip(model.weights, weights):
                np.testing.assert_array_equal(got.numpy(), want)
            assert len(opt.variables) == len(slots)
            for got, want in zip(opt.variables, slots):
                np.testing.assert_array_equal(got.numpy(), want)
        assert keys(tf, prefix) == expected_keys(tf, merged, tmp_path / prefix.replace("/", "_"))

    restore_both_ways(tf, ckptfs_bin, mapping, tmp_path, layout, check)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_models_only(tf, ckptfs_bin, keras_sources, tmp_path, layout):
    # a compiled Keras 3 model tracks its optimizer: cut that edge to take weights only
    mapping = write_mapping(tmp_path / "m.conf",
                             {n: s[0] for n, s in keras_sources.items()},
                             ["map a:model/ -> student/", "map b:model/ -> teacher/",
                              "exclude *:model/optimizer"])

    def check(prefix):
        (m1, _), (m2, _) = _fresh("a"), _fresh("b")
        merged = tf.train.Checkpoint(student=m1, teacher=m2)
        status = merged.read(prefix)
        status.assert_consumed()
        status.assert_existing_objects_matched()
        for model, name in ((m1, "a"), (m2, "b")):
            for got, want in zip(model.weights, keras_sources[name][1]):
                np.testing.assert_array_equal(got.numpy(), want)
        assert keys(tf, prefix) == expected_keys(tf, merged, tmp_path / prefix.replace("/", "_"))

    restore_both_ways(tf, ckptfs_bin, mapping, tmp_path, layout, check)


def _module_tree(tf, seed: int):
    rng = np.random.default_rng(seed)

    def var(*shape):
        return tf.Variable(rng.standard_normal(shape).astype(np.float32))

    net = tf.Module()
    net.blocks = [{"w": var(2, 3), "b": var(3)}, {"w": var(3, 3), "b": var(3)}]
    net.head = {"proj": [var(3, 1), var(1)], "scale": var()}
    return net


def test_module_part_moved(tf, ckptfs_bin, tmp_path):
    src = _module_tree(tf, 7)
    prefix = tf.train.Checkpoint(net=src).save(str(tmp_path / "src" / "ckpt"))
    mapping = write_mapping(tmp_path / "m.conf", {"s": prefix},
                             ["map s:net/blocks/ -> encoder/layers/",
                              "map s:net/head/proj/ -> decoder/out/"])

    def check(prefix):
        fresh = _module_tree(tf, 8)
        enc, dec = tf.Module(), tf.Module()
        enc.layers = fresh.blocks
        dec.out = fresh.head["proj"]
        merged = tf.train.Checkpoint(encoder=enc, decoder=dec)
        status = merged.read(prefix)
        status.assert_consumed()
        status.assert_existing_objects_matched()
        for got, want in zip(fresh.blocks, src.blocks):
            for k in ("w", "b"):
                np.testing.assert_array_equal(got[k].numpy(), want[k].numpy())
        for got, want in zip(fresh.head["proj"], src.head["proj"]):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert keys(tf, prefix) == expected_keys(tf, merged, tmp_path / prefix.replace("/", "_"))

    restore_both_ways(tf, ckptfs_bin, mapping, tmp_path, "single", check)


def test_identity_mount_keeps_the_graph(tf, ckptfs_bin, keras_sources, tmp_path):
    prefix = keras_sources["a"][0]
    mapping = write_mapping(tmp_path / "m.conf", {"a": prefix}, ["map a:/ -> /"])
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt")) as m:
        got = tf.train.load_checkpoint(m.join("model.ckpt")).get_tensor(GRAPH_KEY)
        want = tf.train.load_checkpoint(prefix).get_tensor(GRAPH_KEY)
        assert got == want
        assert tf.train.list_variables(m.join("model.ckpt")) == \
            tf.train.list_variables(prefix)


def test_unknown_object_path_suggests(ckptfs_bin, keras_sources, tmp_path):
    mapping = write_mapping(tmp_path / "m.conf", {"a": keras_sources["a"][0]},
                             ["map a:modle/ -> student/"])
    r = mounting.run_cmd([ckptfs_bin, "check", mapping])
    assert r.rc == 1
    assert f"{mapping}:2:5: error: source 'a' has no object 'modle/' (did you mean " \
           "'model/'?)" in r.stderr


def _graph_proto(tf, prefix: str):
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    g = trackable_object_graph_pb2.TrackableObjectGraph()
    g.ParseFromString(tf.train.load_checkpoint(prefix).get_tensor(GRAPH_KEY))
    return g


def test_ls_objects_lists_paths_variables_and_aliases(tf, ckptfs_bin, keras_sources):
    prefix = keras_sources["a"][0]
    r = mounting.run_cmd([ckptfs_bin, "ls", "--objects", prefix])
    assert r.rc == 0, r.describe()
    lines = dict(ln.split("\t", 1) if "\t" in ln else (ln, "") for ln in r.stdout.splitlines())
    # every variable TensorFlow lists is a leaf with its dtype and shape
    reader = tf.train.load_checkpoint(prefix)
    dtypes, shapes = reader.get_variable_to_dtype_map(), reader.get_variable_to_shape_map()
    variables = {k[:-len("/.ATTRIBUTES/VARIABLE_VALUE")]: k for k in dtypes
                 if k.endswith("/.ATTRIBUTES/VARIABLE_VALUE")}
    assert variables and {p for p, i in lines.items() if i and not i.startswith("= ")} \
        == set(variables)
    for path, key in variables.items():
        shape = "[" + ",".join(str(d) for d in shapes[key]) + "]"
        assert lines[path] == f"{dtypes[key].name}\t{shape}", path
    # Keras 3: the model's kernel is the optimizer's variable, marked as an alias
    assert lines["model/_functional/_operations/1/_kernel"] == \
        "= optimizer/_trainable_variables/0"
    assert lines["/"] == "" and lines["model/"] == ""


def test_check_summarizes_the_graph(tf, ckptfs_bin, keras_sources, tmp_path):
    mapping = write_mapping(tmp_path / "m.conf",
                             {n: s[0] for n, s in keras_sources.items()},
                             ["map a:/ -> encoder/", "map b:/ -> decoder/"])
    r = mounting.run_cmd([ckptfs_bin, "check", mapping])
    assert r.rc == 0, r.describe()
    out = tmp_path / "out" / "model.ckpt"
    out.parent.mkdir()
    assert mounting.run_cmd([ckptfs_bin, "materialize", mapping, str(out)]).rc == 0
    g = _graph_proto(tf, str(out))
    n_attrs = sum(len(n.attributes) for n in g.nodes)
    assert f"object graph: {len(g.nodes)} objects, {n_attrs} saved tensors " \
           "(rewritten for the merge)" in r.stdout
    # the graph has a node per source object plus the new root
    assert len(g.nodes) == 1 + sum(len(_graph_proto(tf, s[0]).nodes)
                                   for s in keras_sources.values())
    r = mounting.run_cmd([ckptfs_bin, "ls", "--objects", mapping])
    assert r.rc == 0, r.describe()
    assert "encoder/optimizer/_trainable_variables/0\tfloat32\t[3,4]" in r.stdout.splitlines()


def _sharded_module(tf, seed: int, n: int):
    rng = np.random.default_rng(seed)
    net = tf.Module()
    net.vs = [tf.Variable(rng.standard_normal(64).astype(np.float32)) for _ in range(n)]
    return net


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sharded_sources_from_manager_directories(tf, ckptfs_bin, tmp_path, layout):
    """Sources saved in several data shards (MaxShardSizePolicy), named by their
    CheckpointManager directories (the `checkpoint` state file picks the latest)."""
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=600)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    srcs = {}
    for name, seed in (("a", 1), ("b", 2)):
        d = tmp_path / name
        net = _sharded_module(tf, seed, 6)
        manager = tf.train.CheckpointManager(tf.train.Checkpoint(net=net), str(d), max_to_keep=2)
        manager.save(options=options)
        for v in net.vs:  # the second save is the latest, with other values
            v.assign_add(tf.ones_like(v))
        manager.save(options=options)
        prefix = manager.latest_checkpoint
        assert len([f for f in os.listdir(d) if f.startswith(os.path.basename(prefix) + ".data-")]) > 2
        srcs[name] = (str(d), net)
    mapping = write_mapping(tmp_path / "m.conf", {n: s[0] for n, s in srcs.items()},
                            ["map a:net/ -> encoder/", "map b:net/vs/ -> decoder/layers/"])

    def check(prefix):
        enc, dec = _sharded_module(tf, 99, 6), tf.Module()
        dec.layers = _sharded_module(tf, 98, 6).vs
        merged = tf.train.Checkpoint(encoder=enc, decoder=dec)
        status = merged.read(prefix)
        status.assert_consumed()
        status.assert_existing_objects_matched()
        for got, want in zip(enc.vs + dec.layers, srcs["a"][1].vs + srcs["b"][1].vs):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert keys(tf, prefix) == expected_keys(tf, merged, tmp_path / prefix.replace("/", "_"))

    restore_both_ways(tf, ckptfs_bin, mapping, tmp_path, layout, check)
