#!/usr/bin/env python3
"""Regenerate the fuzz_objgraph seeds under tests/fuzz/corpus/objgraph/.

    .venv/bin/python tests/fuzz/make_objgraph_seeds.py

Each seed is serialized TrackableObjectGraph bytes (checkpoint-format.md §6.2):

* real_*: the graphs TensorFlow stored in the two TF2 checkpoints of tests/data/corpus,
  and in two checkpoints TensorFlow saves here (a Keras 3 model with Adam after one step;
  a tf.Module with legacy slot variables, names that need escaping, a cycle and a shared
  variable). Needs TensorFlow (the project's venv).
* ok_*: small valid graphs written by the minimal protobuf writer below (a cycle, an
  empty local name, a ".TENSORS" attribute, a registered saver, present-but-empty
  sub-messages).
* bad_*: graphs broken in exactly one way, each refused by objgraph_parse: a dangling or
  negative node id, a slot variable that is the root / a child / named twice, duplicate
  child names, bad UTF-8, a NUL in a name, an unknown field, truncation, no nodes, a
  graph of empty nodes over the memory bound (ok_memory_bound sits on it).
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus", "objgraph")
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

# ------------------------------------------------------ a protobuf writer


def varint(v):
    v &= (1 << 64) - 1  # negative int32 is sign-extended to ten bytes
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def f_int(field, v):
    return varint(field << 3) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(field << 3 | 2) + varint(len(b)) + b


def child(node_id, name):
    return f_bytes(1, (f_int(1, node_id) if node_id else b"") + f_bytes(2, name))


def attr(name, key, full=""):
    return f_bytes(2, f_bytes(1, name) + (f_bytes(2, full) if full else b"") +
                   f_bytes(3, key))


def slot(var, name, node):
    return f_bytes(3, f_int(1, var) + f_bytes(2, name) + f_int(3, node))


def graph(*nodes):
    return b"".join(f_bytes(1, n) for n in nodes)


# ------------------------------------------------------------ the seeds

VAR = "VARIABLE_VALUE"

SYNTHETIC = {
    # root -> model -> (a/b.c, back to root, itself); opt's slot of 3 is 4
    "ok_cycle_and_slot": graph(
        child(1, "model") + child(2, "opt"),
        child(3, "a/b.c") + child(0, "up") + child(1, "me"),
        slot(3, "m/x", 4),
        attr(VAR, "model/a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE"),
        attr(VAR, "model/a.Sb..c/.OPTIMIZER_SLOT/opt/m.Sx/.ATTRIBUTES/VARIABLE_VALUE")),
    "ok_empty_name_tensors_saver": graph(
        child(1, "m") + f_bytes(5, f_int(1, 1)),
        child(2, "") + f_bytes(4, f_bytes(1, "saver") + f_bytes(2, "m")),
        attr(".TENSORS", "m//.ATTRIBUTES/") + attr("a.b", "m//.ATTRIBUTES/a..b") +
        f_bytes(5, b"")),
    "ok_unreached_node": graph(b"", attr(VAR, "lost/.ATTRIBUTES/VARIABLE_VALUE")),
    "bad_dangling_child": graph(child(2, "a"), b""),
    "bad_negative_child": graph(child(-1, "a"), b""),
    "bad_slot_is_root": graph(child(1, "v") + slot(1, "m", 0), b""),
    "bad_slot_is_child": graph(child(1, "v") + child(2, "w") + slot(1, "m", 2), b"", b""),
    "bad_slot_twice": graph(child(1, "v") + slot(1, "m", 2) + slot(1, "v", 2), b"", b""),
    "bad_slot_out_of_range": graph(child(1, "v") + slot(1, "m", 9), b""),
    "bad_duplicate_names": graph(child(1, "a") + child(2, "a"), b"", b""),
    "bad_utf8": graph(child(1, b"\xc0\xaf"), b""),
    "bad_nul_in_name": graph(child(1, b"a\0b"), b""),
    "bad_unknown_field": graph(child(1, "a"), f_int(6, 1)),
    "bad_truncated": graph(child(1, "a"), attr(VAR, "a/.ATTRIBUTES/VARIABLE_VALUE"))[:-3],
    "bad_huge_length": bytes([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    "bad_no_nodes": b"",
    # over 16 bytes of memory per byte of graph: empty nodes, two bytes each
    "bad_empty_nodes": graph(child(1, "v"), b"", *[b""] * 3000),
    # at the bound: nodes of six bytes (has_checkpoint_values), 96 bytes each parsed
    "ok_memory_bound": graph(child(1, "v"), b"", *[f_bytes(5, f_int(1, 1))] * 1000),
}


def tf_graphs(tmp):
    """{name: bytes} of the real graphs; needs TensorFlow and Keras."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    out = {}
    for name in ("tfx_keras_tf2", "serving_half_plus_two_tf2"):
        prefix = os.path.join(ROOT, "tests", "data", "corpus", name, "variables")
        out["real_" + name] = tf.train.load_checkpoint(prefix).get_tensor(GRAPH_KEY)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    opt = keras.optimizers.Adam()
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((2, 3)), np.ones((2, 2)), epochs=1, verbose=0)
    p = tf.train.Checkpoint(model=model, optimizer=opt).save(os.path.join(tmp, "keras"))
    out["real_keras_adam"] = tf.train.load_checkpoint(p).get_tensor(GRAPH_KEY)

    root = tf.Module()
    root.v, root.w = tf.Variable([1.0, 2.0]), tf.Variable(3.0)
    root.child = tf.Module()
    root.child.parent = root
    root.child.w_again = root.w
    root.d = {"a.b/c": tf.Variable(4.0), "": tf.Variable(5.0)}
    opt1 = tf.compat.v1.train.AdamOptimizer(0.1)
    opt1.minimize(lambda: tf.reduce_sum(root.v * root.w), var_list=[root.v, root.w])
    p = tf.train.Checkpoint(model=root, opt=opt1).save(os.path.join(tmp, "module"))
    out["real_module_v1_slots"] = tf.train.load_checkpoint(p).get_tensor(GRAPH_KEY)
    return out


def main():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        seeds = dict(SYNTHETIC, **tf_graphs(tmp))
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name + ".pb"), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
