"""The TF2 object graph library (objgraph/objgraph.h) against TensorFlow itself.

TensorFlow saves object-based checkpoints here (Keras 3 models with their optimizers,
nested tf.Module objects with legacy slot variables, odd local names, a cycle, a shared
variable, a hash table, a custom ``_serialize_to_tensors``, a variable as the root, a
SavedModel), and ``tests/objgraph_dump`` (tests/tools/objgraph_dump.c) prints the graph as
our library reads it.  For every checkpoint, and for the TF2 checkpoints of
tests/data/corpus:

* the graph we read is the graph TensorFlow's own proto parser reads (every node's
  children, attributes, slot variables, registered saver, has_checkpoint_values);
* the key we generate for every attribute equals the checkpoint_key TensorFlow stored, and
  those keys account for every tensor ``tf.train.list_variables`` lists (a legacy saveable
  such as a hash table stores its tensors under its attribute key plus a suffix);
* for the checkpoints saved in this process, the path of every node -- slot variables
  included -- equals the name TensorFlow's saver gives that object
  (``objects_ids_and_slot_variables_and_paths`` of the checkpoint's own graph view);
* parsing and serializing again gives exactly TensorFlow's serialization
  (``SerializeToString``), which is the stored bytes except for the older serving
  checkpoint, written in a non-canonical field order.

Runtime: a few seconds after the TensorFlow and Keras imports.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pylib.testenv import CORPUS, build_dir, require_binary, run_command  # noqa: E402

GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


@pytest.fixture(scope="module")
def dump_bin() -> str:
    return require_binary(os.path.join(build_dir(), "tests", "objgraph_dump"))


# ---------------------------------------------------------------------------------------
# checkpoints TensorFlow writes, with TensorFlow's own names for every node

def _tf_names(checkpoint) -> dict:
    """{node id: object path} as TensorFlow's saver names them (save_util / util.py)."""
    from tensorflow.python.checkpoint import util as ckpt_util

    view = checkpoint._saver._graph_view  # the view save() just serialized
    _, _, node_ids, _, names = ckpt_util.objects_ids_and_slot_variables_and_paths(view)
    return {node_ids[obj]: names[obj] for obj in node_ids}


def _keras_sequential_adam(tf, out):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="hidden"),
                              keras.layers.Dense(2, name="out")])
    opt = keras.optimizers.Adam(0.01)
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), epochs=1,
              verbose=0)  # one step: the optimizer's moments exist
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
    return ckpt.save(os.path.join(out, "ckpt")), _tf_names(ckpt)


def _keras_functional_nested_sgd(tf, out):
    import keras

    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)], name="inner")
    x = keras.Input((3,))
    model = keras.Model(x, keras.layers.Dense(1)(inner(x)))
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((2, 3), np.float32), np.zeros((2, 1), np.float32), epochs=1,
              verbose=0)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
    return ckpt.save(os.path.join(out, "ckpt")), _tf_names(ckpt)


def _module_v1_slots(tf, out):
    from tensorflow.python.trackable import base

    class Pair(base.Trackable):
        """Saves two tensors under names that need escaping."""

        def __init__(self):
            self.x, self.y = tf.Variable(1.0), tf.Variable(2.0)

        def _serialize_to_tensors(self):
            return {"a.b/c": self.x, "plain": self.y}

        def _restore_from_tensors(self, tensors):
            return tf.group(self.x.assign(tensors["a.b/c"]), self.y.assign(tensors["plain"]))

    root = tf.Module()
    root.v = tf.Variable([1.0, 2.0])
    root.w = tf.Variable(3.0)
    root.child = tf.Module()
    root.child.parent = root                         # a cycle back to the parent
    root.child.deep = tf.Module()
    root.child.deep.w_again = root.w                 # shared: named by its first path
    root.d = {"a.b/c": tf.Variable(4.0), "": tf.Variable(5.0)}
    root.pair = Pair()
    root.table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, -1)
    root.table.insert(tf.constant(["k"]), tf.constant([7], tf.int64))
    opt = tf.compat.v1.train.AdamOptimizer(0.1)      # slot variables m and v
    opt.minimize(lambda: tf.reduce_sum(root.v * root.w), var_list=[root.v, root.w])
    ckpt = tf.train.Checkpoint(model=root, **{"opt/1.x": opt})
    return ckpt.save(os.path.join(out, "ckpt")), _tf_names(ckpt)


def _variable_as_root(tf, out):
    ckpt = tf.train.Checkpoint(root=tf.Variable(1.0))
    return ckpt.save(os.path.join(out, "ckpt")), _tf_names(ckpt)


def _savedmodel(tf, out):
    root = tf.Module()
    root.table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, -1)
    root.d = {"a.b/c": tf.Variable(3.0), "": tf.Variable(4.0)}
    tf.saved_model.save(root, os.path.join(out, "sm"))
    return os.path.join(out, "sm", "variables", "variables"), None


SAVED = {
    "keras_sequential_adam": _keras_sequential_adam,
    "keras_functional_nested_sgd": _keras_functional_nested_sgd,
    "module_v1_slots": _module_v1_slots,
    "variable_as_root": _variable_as_root,
    "savedmodel": _savedmodel,
}
TF2_CORPUS = ["tfx_keras_tf2", "serving_half_plus_two_tf2"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory, corpus_copy):
    """{id: (prefix, {node id: TensorFlow's name} or None)}."""
    import tensorflow as tf

    out = {}
    for name, make in SAVED.items():
        d = str(tmp_path_factory.mktemp(name))
        out[name] = make(tf, d)
    for name in TF2_CORPUS:
        out["corpus/" + name] = (os.path.join(corpus_copy, CORPUS[name]), None)
    return out


# ---------------------------------------------------------------------------------------
# what our library reads

def read_dump(dump_bin, prefix) -> list:
    """objgraph_dump's text as [{id, via, path, children, attrs, slots, saver, hcv}]."""
    r = run_command([dump_bin, prefix])
    assert r.rc == 0, r.describe()
    nodes = []
    for line in r.stdout.decode("utf-8").splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "nodes":
            continue
        if tag == "node":
            i, via, path = json.loads(rest)
            assert i == len(nodes)
            nodes.append(dict(id=i, via=via, path=path, children=[], attrs=[], slots=[],
                              saver=None, hcv=None))
        elif tag == "child":
            nodes[-1]["children"].append(tuple(json.loads(rest)))
        elif tag == "attr":
            nodes[-1]["attrs"].append(tuple(json.loads(rest)))
        elif tag == "slot":
            nodes[-1]["slots"].append(tuple(json.loads(rest)))
        elif tag == "saver":
            nodes[-1]["saver"] = tuple(json.loads(rest))
        elif tag == "has_checkpoint_values":
            nodes[-1]["hcv"] = json.loads(rest)
        else:
            pytest.fail(f"unexpected line {line!r}")
    return nodes


def tf_graph(prefix):
    import tensorflow as tf
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    raw = tf.train.load_checkpoint(prefix).get_tensor(GRAPH_KEY)
    g = trackable_object_graph_pb2.TrackableObjectGraph()
    g.ParseFromString(raw)
    return raw, g


IDS = list(SAVED) + ["corpus/" + c for c in TF2_CORPUS]


@pytest.mark.parametrize("cid", IDS)
def test_graph_is_tensorflows(cid, saved, dump_bin):
    prefix, _ = saved[cid]
    ours = read_dump(dump_bin, prefix)
    _, g = tf_graph(prefix)
    assert len(ours) == len(g.nodes)
    for n, p in zip(ours, g.nodes):
        assert n["children"] == [(c.node_id, c.local_name) for c in p.children], n["id"]
        assert [(a[0], a[2], a[3]) for a in n["attrs"]] == \
            [(a.name, a.checkpoint_key, a.full_name) for a in p.attributes], n["id"]
        assert n["slots"] == [(s.original_variable_node_id, s.slot_name,
                               s.slot_variable_node_id) for s in p.slot_variables], n["id"]
        want_saver = ((p.registered_saver.name, p.registered_saver.object_name)
                      if p.HasField("registered_saver") else None)
        assert n["saver"] == want_saver, n["id"]
        want_hcv = (p.has_checkpoint_values.value if p.HasField("has_checkpoint_values")
                    else None)
        assert n["hcv"] == want_hcv, n["id"]


@pytest.mark.parametrize("cid", IDS)
def test_generated_keys_are_tensorflows(cid, saved, dump_bin):
    import tensorflow as tf

    prefix, _ = saved[cid]
    ours = read_dump(dump_bin, prefix)
    attrs = [a for n in ours for a in n["attrs"]]
    assert attrs, "no attributes at all"
    wrong = [(a[0], a[1], a[2]) for a in attrs if a[1] != a[2]]
    assert not wrong, f"generated != stored key: {wrong}"

    listed = {name for name, _ in tf.train.list_variables(prefix)} - {GRAPH_KEY}
    keys = {a[2] for a in attrs}
    unclaimed = {k for k in listed if not any(k.startswith(a) for a in keys)}
    assert not unclaimed, f"tensors no attribute key accounts for: {sorted(unclaimed)}"
    unused = {a for a in keys if not any(k.startswith(a) for k in listed)}
    assert not unused, f"attribute keys naming no tensor: {sorted(unused)}"


@pytest.mark.parametrize("cid", [c for c in SAVED if c != "savedmodel"])
def test_paths_are_tensorflows_names(cid, saved, dump_bin):
    prefix, names = saved[cid]
    ours = read_dump(dump_bin, prefix)
    assert {n["id"]: n["path"] for n in ours} == names
    vias = {n["via"] for n in ours}
    assert "unreached" not in vias
    if cid == "module_v1_slots":
        assert "slot" in vias


@pytest.mark.parametrize("cid", IDS)
def test_serialization_is_tensorflows(cid, saved, dump_bin):
    prefix, _ = saved[cid]
    raw, g = tf_graph(prefix)
    r = run_command([dump_bin, "--raw", prefix])
    assert r.rc == 0 and r.stdout == raw, r.describe()
    r = run_command([dump_bin, "--serialize", prefix])
    assert r.rc == 0, r.describe()
    assert r.stdout == g.SerializeToString()
    if cid != "corpus/serving_half_plus_two_tf2":
        assert r.stdout == raw


def test_module_names_need_escaping(saved, dump_bin):
    """The odd names of module_v1_slots come out escaped as TensorFlow escapes them."""
    prefix, _ = saved["module_v1_slots"]
    keys = {a[1] for n in read_dump(dump_bin, prefix) for a in n["attrs"]}
    for want in ["model/d/a..b.Sc/.ATTRIBUTES/VARIABLE_VALUE",
                 "model/d//.ATTRIBUTES/VARIABLE_VALUE",
                 "model/pair/.ATTRIBUTES/a....b..Sc",
                 "model/v/.OPTIMIZER_SLOT/opt.S1..x/m/.ATTRIBUTES/VARIABLE_VALUE"]:
        assert want in keys, f"{want!r} not among {sorted(keys)}"


def test_variable_as_root_key(saved, dump_bin):
    prefix, _ = saved["variable_as_root"]
    root = read_dump(dump_bin, prefix)[0]
    assert root["via"] == "root" and root["path"] == ""
    assert [a[1] for a in root["attrs"]] == ["/.ATTRIBUTES/VARIABLE_VALUE"]
