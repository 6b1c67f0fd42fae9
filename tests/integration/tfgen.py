"""Source checkpoints written by real TensorFlow, for the ckptfs oracle tests.

Every ``make_*`` function writes one checkpoint below ``outdir/<id>/`` and returns a
``Fixture``: the path to hand to ``ckptfs`` (a prefix, a checkpoint directory, a SavedModel
directory or its ``variables/`` directory), the bundle prefix TensorFlow reads, and the
values the generator asked TensorFlow to save (a subset of the keys: what the generator
itself knows; TensorFlow's reader is the oracle for everything else, e.g. optimizer slots and
the object graph).

``generate_all(outdir)`` makes all of them (a few seconds plus TF import).  Run this file
directly to generate into /tmp/tfgen-out (or argv[1]) and print what TensorFlow lists.

TensorFlow is imported lazily so that importing this module (pytest collection) is cheap.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys

import numpy as np

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS not in sys.path:  # run directly, not by pytest
    sys.path.insert(0, TESTS)

from pylib import ckptfmt  # noqa: E402

SEED = 20240611


@dataclasses.dataclass
class Fixture:
    id: str
    ckpt: str                 # what the test passes to ckptfs
    prefix: str               # bundle prefix (PREFIX.index exists); what TF's reader opens
    root: str                 # directory holding every file of this fixture
    kind: str                 # raw | large | tf1 | tf2 | savedmodel | multishard | partitioned
    expected: dict = dataclasses.field(default_factory=dict)     # key -> np.ndarray
    # full name -> {"shape": [...], "dtype": "float32", "pieces": n}
    partitioned: dict = dataclasses.field(default_factory=dict)
    num_data_files: int = 1
    variant_keys: tuple = ()  # DT_VARIANT keys: TF's Python reader cannot return them
    notes: str = ""
    saved_model_output: object = None  # SavedModel fixtures: model(probe input) at export
    guard: object = None      # set by conftest: SourceGuard of `root`


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    return tf


def _save_v2(prefix: str, tensors: dict, order: list | None = None):
    """tf.raw_ops.SaveV2 of {name: np.ndarray or tf.Tensor} (data file order = `order`)."""
    tf = _tf()
    names = list(order if order is not None else tensors)
    vals = [t if isinstance(t, tf.Tensor) else tf.constant(t) for t in (tensors[n] for n in names)]
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=vals)


def _fresh(outdir: str, name: str) -> str:
    d = os.path.join(outdir, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def _strings(items) -> np.ndarray:
    a = np.empty(len(items), dtype=object)
    a[:] = [s.encode("utf-8") if isinstance(s, str) else s for s in items]
    return a


# ---------------------------------------------------------------------------------------
# (a) one tensor of every common dtype, scalars, empty tensors, strings

def all_dtypes_values() -> dict:
    import ml_dtypes

    rng = np.random.default_rng(SEED)

    def ints(dt, shape):
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)

    v = {
        "vec/float16": rng.standard_normal((3, 4)).astype(np.float16),
        "vec/bfloat16": rng.standard_normal((2, 5)).astype(np.float32).astype(ml_dtypes.bfloat16),
        "vec/float32": rng.standard_normal((4, 3)).astype(np.float32),
        "vec/float64": rng.standard_normal(5),
        "vec/int8": ints(np.int8, 7),
        "vec/int16": ints(np.int16, (2, 3)),
        "vec/int32": ints(np.int32, 6),
        "vec/int64": ints(np.int64, (3, 2)),
        "vec/uint8": ints(np.uint8, 9),
        "vec/uint16": ints(np.uint16, 4),
        "vec/uint32": ints(np.uint32, (2, 2)),
        "vec/uint64": ints(np.uint64, 5),
        "vec/bool": rng.integers(0, 2, size=6).astype(bool),
        "vec/complex64": (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64),
        "vec/complex128": rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2)),
        "rank3/float32": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "rank5/int32": ints(np.int32, (1, 1, 2, 1, 3)),
        "special/float32": np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], np.float32),
        "scalar/float32": np.float32(rng.standard_normal()),
        "scalar/float64": np.float64(rng.standard_normal()),
        "scalar/float16": np.float16(1.5),
        "scalar/bfloat16": np.array(-2.25, dtype=ml_dtypes.bfloat16),
        "scalar/int32": np.int32(-7),
        "scalar/int64": np.int64(2**40 + 3),
        "scalar/uint8": np.uint8(255),
        "scalar/bool": np.bool_(True),
        "scalar/complex64": np.complex64(1.5 - 2j),
        "empty/float32_0": np.zeros([0], np.float32),
        "empty/float32_3x0": np.zeros([3, 0], np.float32),
        "empty/int64_0x2": np.zeros([0, 2], np.int64),
        "empty/string_0": _strings([]),
        "str/vector": _strings(["", "héllo wörld", "plain", "日本語テキスト", b"\x00\x01\xff bin",
                                "x" * 200, "🙂"]),
        "str/matrix": _strings(["a", "", "bc", "ü", "", "long " * 40]).reshape(2, 3),
        "str/scalar": np.array("scalar ✓".encode("utf-8"), dtype=object),
        "str/scalar_empty": np.array(b"", dtype=object),
    }
    return {k: np.asarray(a) for k, a in v.items()}


def make_all_dtypes(outdir: str) -> Fixture:
    d = _fresh(outdir, "all_dtypes")
    prefix = os.path.join(d, "ckpt")
    vals = all_dtypes_values()
    # SaveV2 writes data in argument order, not key order: use a shuffled order so that
    # offsets are not monotonic in key order.
    order = sorted(vals)
    np.random.default_rng(SEED + 1).shuffle(order)
    _save_v2(prefix, vals, order)
    return Fixture("all_dtypes", prefix, prefix, d, "raw", expected=vals)


# ---------------------------------------------------------------------------------------
# (a') the rarer dtypes: quantized, float8, 2/4-bit ints, and a DT_VARIANT tensor

def exotic_values() -> dict:
    import ml_dtypes

    rng = np.random.default_rng(SEED + 2)
    f = rng.standard_normal(6).astype(np.float32)
    v = {}
    for name in ["float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz",
                 "float8_e5m2fnuz"]:
        v["f8/" + name] = f.astype(getattr(ml_dtypes, name))
    v["int4/int4"] = np.array([-8, -1, 0, 1, 7, 3], dtype=ml_dtypes.int4)
    v["int4/uint4"] = np.array([0, 1, 15, 8, 7, 3], dtype=ml_dtypes.uint4)
    v["int2/int2"] = np.array([-2, -1, 0, 1], dtype=ml_dtypes.int2)
    v["int2/uint2"] = np.array([0, 1, 2, 3], dtype=ml_dtypes.uint2)
    v["f4/float4_e2m1fn"] = np.array([0.5, 1.0, -2.0, 6.0, -0.0], dtype=ml_dtypes.float4_e2m1fn)
    # quantized dtypes: same bytes as the plain ints, different DataType
    v["q/qint8"] = rng.integers(-128, 128, size=5).astype(np.int8)
    v["q/quint8"] = rng.integers(0, 256, size=5).astype(np.uint8)
    v["q/qint16"] = rng.integers(-2**15, 2**15, size=3).astype(np.int16)
    v["q/quint16"] = rng.integers(0, 2**16, size=3).astype(np.uint16)
    v["q/qint32"] = rng.integers(-2**31, 2**31, size=(2, 2)).astype(np.int32)
    return v


EXOTIC_QUANTIZED = {"q/qint8": "qint8", "q/quint8": "quint8", "q/qint16": "qint16",
                    "q/quint16": "quint16", "q/qint32": "qint32"}
VARIANT_LIST_VALUE = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)


def make_exotic_dtypes(outdir: str) -> Fixture:
    tf = _tf()
    d = _fresh(outdir, "exotic_dtypes")
    prefix = os.path.join(d, "ckpt")
    vals = exotic_values()
    tensors = {}
    for k, a in vals.items():
        if k in EXOTIC_QUANTIZED:
            tensors[k] = tf.constant(a, dtype=getattr(tf, EXOTIC_QUANTIZED[k]))
        else:
            tensors[k] = tf.constant(a)
    tensors["variant/tensor_list"] = tf.raw_ops.TensorListFromTensor(
        tensor=tf.constant(VARIANT_LIST_VALUE), element_shape=tf.constant([2]))
    _save_v2(prefix, tensors, sorted(tensors))
    return Fixture("exotic_dtypes", prefix, prefix, d, "raw", expected=vals,
                   variant_keys=("variant/tensor_list",))


def restore_variant_list(prefix: str, key: str = "variant/tensor_list") -> np.ndarray:
    """Read a TensorList variant back through RestoreV2 and stack it."""
    tf = _tf()
    h = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[key], shape_and_slices=[""],
                             dtypes=[tf.variant])[0]
    return tf.raw_ops.TensorListStack(input_handle=h, element_dtype=tf.float32,
                                      element_shape=tf.constant([2])).numpy()


# ---------------------------------------------------------------------------------------
# (b) one 64 MiB float32 tensor

LARGE_SHAPE = (4096, 4096)  # 16 Mi elements, 64 MiB


def make_large(outdir: str) -> Fixture:
    d = _fresh(outdir, "large_64mib")
    prefix = os.path.join(d, "ckpt")
    rng = np.random.default_rng(SEED + 3)
    vals = {
        "small/before": np.array([1, 2], np.int32),
        "big/float32": rng.standard_normal(LARGE_SHAPE, dtype=np.float32),
        "small/after": np.array([0.5, -0.5, 0.25], np.float32),
    }
    _save_v2(prefix, vals, ["small/before", "big/float32", "small/after"])
    return Fixture("large_64mib", prefix, prefix, d, "large", expected=vals)


# ---------------------------------------------------------------------------------------
# (c) TF1 graph-mode Saver checkpoint with scopes, Adam slots and global_step

def build_tf1_model():
    """Build (in the current default graph) the TF1 model; returns (train_op, global_step).

    Deterministic initial values; the same function rebuilds the graph for restore tests.
    """
    tf = _tf()
    v1 = tf.compat.v1
    rng = np.random.default_rng(SEED + 4)
    init = {
        "enc/w": rng.standard_normal((4, 8)).astype(np.float32),
        "enc/b": rng.standard_normal(8).astype(np.float32),
        "dec/w": rng.standard_normal((8, 3)).astype(np.float32),
        "dec/b": rng.standard_normal(3).astype(np.float32),
    }
    x = tf.constant(rng.standard_normal((5, 4)).astype(np.float32))
    target = tf.constant(rng.standard_normal((5, 3)).astype(np.float32))
    gs = v1.train.get_or_create_global_step()
    with v1.variable_scope("enc"):
        ew = v1.get_variable("w", initializer=init["enc/w"])
        eb = v1.get_variable("b", initializer=init["enc/b"])
    with v1.variable_scope("dec"):
        dw = v1.get_variable("w", initializer=init["dec/w"])
        db = v1.get_variable("b", initializer=init["dec/b"])
    h = tf.tanh(tf.matmul(x, ew) + eb)
    y = tf.matmul(h, dw) + db
    loss = tf.reduce_mean(tf.square(y - target))
    train_op = v1.train.AdamOptimizer(0.01).minimize(loss, global_step=gs)
    return train_op, gs


def _graph_values(sess) -> dict:
    tf = _tf()
    gv = tf.compat.v1.global_variables()
    return {v.op.name: np.asarray(x) for v, x in zip(gv, sess.run(gv))}


def make_tf1_saver(outdir: str) -> list[Fixture]:
    tf = _tf()
    v1 = tf.compat.v1
    d = _fresh(outdir, "tf1_saver")
    with tf.Graph().as_default():
        train_op, gs = build_tf1_model()
        saver = v1.train.Saver()
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(train_op)
            values = _graph_values(sess)
            prefix = saver.save(sess, os.path.join(d, "model.ckpt"), global_step=gs)
    assert prefix.endswith("model.ckpt-1"), prefix
    for n in ("enc/w", "enc/w/Adam", "enc/w/Adam_1", "dec/b/Adam_1", "global_step",
              "beta1_power", "beta2_power"):
        assert n in values, (n, sorted(values))
    return [
        Fixture("tf1_saver", prefix, prefix, d, "tf1", expected=values),
        # same files through the directory: its `checkpoint` state file holds an ABSOLUTE
        # path (TF1 Saver default save_relative_paths=False)
        Fixture("tf1_saver_dir", d, prefix, d, "tf1", expected=values,
                notes="checkpoint state file with absolute paths"),
    ]


def tf1_restore_values(prefix: str) -> dict:
    """Saver.restore `prefix` into a freshly built TF1 model graph; return all variables."""
    tf = _tf()
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        build_tf1_model()
        saver = v1.train.Saver()
        with v1.Session() as sess:
            saver.restore(sess, prefix)
            return _graph_values(sess)


# ---------------------------------------------------------------------------------------
# (d) TF2 object-based checkpoint via CheckpointManager (directory with `checkpoint` file)

def _build_tf2_objects():
    tf = _tf()
    rng = np.random.default_rng(SEED + 5)

    class Dense(tf.Module):
        def __init__(self, n_in, n_out, name=None):
            super().__init__(name=name)
            self.w = tf.Variable(rng.standard_normal((n_in, n_out)).astype(np.float32), name="w")
            self.b = tf.Variable(np.zeros(n_out, np.float32), name="b")

        def __call__(self, x):
            return tf.matmul(x, self.w) + self.b

    class Net(tf.Module):
        def __init__(self):
            super().__init__(name="net")
            self.enc = Dense(4, 6, name="enc")
            self.head = Dense(6, 2, name="head")
            self.steps = tf.Variable(np.int64(0), trainable=False, name="steps")

        def __call__(self, x):
            return self.head(tf.nn.relu(self.enc(x)))

    net = Net()
    opt = tf.compat.v1.train.AdamOptimizer(0.05)  # Keras-free, trackable, has slots
    ckpt = tf.train.Checkpoint(model=net, optimizer=opt)
    x = tf.constant(rng.standard_normal((3, 4)).astype(np.float32))
    return net, opt, ckpt, x


def _tf2_step(net, opt, x):
    tf = _tf()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(net(x)))
    vars_ = net.trainable_variables
    opt.apply_gradients(zip(tape.gradient(loss, vars_), vars_))
    net.steps.assign_add(1)


TF2_MODULE_KEYS = {
    "enc.w": "model/enc/w/.ATTRIBUTES/VARIABLE_VALUE",
    "enc.b": "model/enc/b/.ATTRIBUTES/VARIABLE_VALUE",
    "head.w": "model/head/w/.ATTRIBUTES/VARIABLE_VALUE",
    "head.b": "model/head/b/.ATTRIBUTES/VARIABLE_VALUE",
    "steps": "model/steps/.ATTRIBUTES/VARIABLE_VALUE",
}


def _tf2_module_values(net) -> dict:
    return {
        "enc.w": net.enc.w.numpy(), "enc.b": net.enc.b.numpy(),
        "head.w": net.head.w.numpy(), "head.b": net.head.b.numpy(),
        "steps": net.steps.numpy(),
    }


def make_tf2_manager(outdir: str) -> list[Fixture]:
    tf = _tf()
    d = _fresh(outdir, "tf2_manager")
    net, opt, ckpt, x = _build_tf2_objects()
    mgr = tf.train.CheckpointManager(ckpt, d, max_to_keep=3)
    _tf2_step(net, opt, x)
    first = mgr.save()          # ckpt-1 (older; the dir form must NOT pick it)
    _tf2_step(net, opt, x)
    prefix = mgr.save()         # ckpt-2 = latest
    assert os.path.basename(first) == "ckpt-1" and os.path.basename(prefix) == "ckpt-2"
    assert tf.train.latest_checkpoint(d) == prefix
    vals = _tf2_module_values(net)
    expected = {TF2_MODULE_KEYS[k]: v for k, v in vals.items()}
    expected["save_counter/.ATTRIBUTES/VARIABLE_VALUE"] = np.int64(2)
    return [Fixture("tf2_manager_dir", d, prefix, d, "tf2", expected=expected,
                    notes="dir with relative `checkpoint` state; latest is ckpt-2")]


def tf2_restore_values(prefix: str) -> dict:
    """tf.train.Checkpoint(...).restore(prefix) into fresh objects; module values by short name."""
    net, opt, ckpt, x = _build_tf2_objects()
    status = ckpt.restore(prefix)
    status.assert_existing_objects_matched()
    return _tf2_module_values(net)


# ---------------------------------------------------------------------------------------
# (e) SavedModel

def _build_saved_module():
    tf = _tf()
    rng = np.random.default_rng(SEED + 6)

    class Affine(tf.Module):
        def __init__(self):
            super().__init__(name="affine")
            self.kernel = tf.Variable(rng.standard_normal((4, 3)).astype(np.float32))
            self.bias = tf.Variable(rng.standard_normal(3).astype(np.float64))
            self.counter = tf.Variable(np.int64(41))
            self.label = tf.Variable("affine ✓ label")   # a DT_STRING variable

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x):
            return tf.matmul(x, self.kernel) + tf.cast(self.bias, tf.float32)

    return Affine()


def saved_model_probe_input() -> np.ndarray:
    return np.arange(8, dtype=np.float32).reshape(2, 4) / 7.0


def make_savedmodel(outdir: str) -> list[Fixture]:
    tf = _tf()
    d = _fresh(outdir, "savedmodel")
    export = os.path.join(d, "export")
    m = _build_saved_module()
    tf.saved_model.save(m, export)
    prefix = os.path.join(export, "variables", "variables")
    vals = {"kernel": m.kernel.numpy(), "bias": m.bias.numpy(), "counter": m.counter.numpy(),
            "label": m.label.numpy()}
    out = m(tf.constant(saved_model_probe_input())).numpy()
    # SavedModel variables are keyed by object path, e.g. kernel/.ATTRIBUTES/VARIABLE_VALUE
    expected = {f"{k}/.ATTRIBUTES/VARIABLE_VALUE": np.asarray(v) for k, v in vals.items()}
    common = dict(prefix=prefix, root=d, kind="savedmodel", expected=expected,
                  saved_model_output=out)
    return [Fixture("savedmodel", export, **common, notes="export dir"),
            Fixture("savedmodel_vars_dir", os.path.join(export, "variables"), **common,
                    notes="the variables/ dir")]


# ---------------------------------------------------------------------------------------
# (f) two data files, genuinely produced by TensorFlow's sharded-save path

def make_multishard(outdir: str) -> Fixture:
    tf = _tf()
    d = _fresh(outdir, "multishard")
    prefix = os.path.join(d, "model.ckpt-7")
    rng = np.random.default_rng(SEED + 7)
    shard0 = {  # names interleave with shard 1 in key order
        "a/kernel": rng.standard_normal((3, 3)).astype(np.float32),
        "c/table": _strings(["zero", "", "two ✓"]),
        "e/step": np.int64(7),
    }
    shard1 = {
        "b/kernel": rng.standard_normal((5, 2)),
        "d/ids": rng.integers(-1000, 1000, size=10).astype(np.int64),
        "f/mask": np.array([True, False, True]),
        "f/scale": rng.standard_normal(4).astype(np.float16),
    }
    temp = prefix + "_temp"
    parts = [os.path.join(temp, "part-%05d-of-%05d" % (i, 2)) for i in range(2)]
    os.makedirs(temp)
    _save_v2(parts[0], shard0)
    _save_v2(parts[1], shard1)
    tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=parts, destination_prefix=prefix,
                                  delete_old_dirs=True)
    files = ckptfmt.data_files(prefix)
    want = [ckptfmt.data_filename(prefix, i, 2) for i in range(2)]
    if files != want:
        raise AssertionError(f"MergeV2Checkpoints produced {files}, wanted {want}")
    if os.path.exists(temp):
        raise AssertionError(f"{temp} left behind")
    idx = ckptfmt.read_index(prefix)
    shards = {e.name: e.shard_id for e in idx.entries}
    assert all(shards[k] == 0 for k in shard0) and all(shards[k] == 1 for k in shard1), shards
    expected = {**{k: np.asarray(v) for k, v in shard0.items()},
                **{k: np.asarray(v) for k, v in shard1.items()}}
    return Fixture("multishard", prefix, prefix, d, "multishard", expected=expected,
                   num_data_files=2)


# ---------------------------------------------------------------------------------------
# (g) TF1 partitioned variables (slices in the index) beside ordinary ones

PARTITIONED = {
    # name: (shape, partitioner args (num_shards, axis), dtype)
    "part": ([10, 4], (3, 0), "float32"),
    "emb/cols": ([5, 6], (2, 1), "float32"),
}


def _slice_initializer(full: np.ndarray):
    """Initializer giving each partition its slice of `full` (constant_initializer would
    be called with the partition's shape and refuse the whole array)."""
    tf = _tf()

    def init(shape, dtype=None, partition_info=None):
        off = partition_info.var_offset if partition_info is not None else [0] * len(shape)
        sl = tuple(slice(o, o + n) for o, n in zip(off, shape))
        return tf.constant(full[sl], dtype=dtype)

    return init


def build_partitioned_model():
    """Build the partitioned-variable graph; returns {full name: PartitionedVariable|Variable}."""
    tf = _tf()
    v1 = tf.compat.v1
    rng = np.random.default_rng(SEED + 8)
    out = {}
    for name, (shape, (n, axis), _dt) in PARTITIONED.items():
        init = rng.standard_normal(shape).astype(np.float32)
        scope, _, leaf = name.rpartition("/")
        with v1.variable_scope(scope or v1.get_variable_scope()):
            out[name] = v1.get_variable(
                leaf, shape=shape, dtype=tf.float32,
                initializer=_slice_initializer(init),
                partitioner=v1.fixed_size_partitioner(n, axis=axis))
    out["plain"] = v1.get_variable("plain", initializer=rng.standard_normal(3).astype(np.float32))
    out["global_step"] = v1.train.get_or_create_global_step()
    return out


def _partitioned_values(sess, vars_) -> dict:
    tf = _tf()
    # convert_to_tensor of a PartitionedVariable concatenates its pieces: the full value
    tensors = {k: tf.convert_to_tensor(v) for k, v in vars_.items()}
    return {k: np.asarray(x) for k, x in sess.run(tensors).items()}


def make_partitioned(outdir: str) -> Fixture:
    tf = _tf()
    v1 = tf.compat.v1
    d = _fresh(outdir, "partitioned")
    with tf.Graph().as_default():
        vars_ = build_partitioned_model()
        saver = v1.train.Saver()
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            expected = _partitioned_values(sess, vars_)
            prefix = saver.save(sess, os.path.join(d, "model.ckpt"), global_step=0)
    # The index must really hold piece entries next to each full entry.
    idx = ckptfmt.read_index(prefix)
    pieces = idx.pieces()
    want_pieces = sum(n for _s, (n, _a), _d in PARTITIONED.values())
    if len(pieces) != want_pieces:
        raise AssertionError(f"expected {want_pieces} slice entries, index has {pieces}")
    partitioned = {}
    for name, (shape, (n, _axis), dt) in PARTITIONED.items():
        e = idx.by_key[name.encode()]
        if len(e.slices) != n or e.shape != shape:
            raise AssertionError(f"{name}: full entry {e}")
        partitioned[name] = {"shape": shape, "dtype": dt, "pieces": n}
    return Fixture("partitioned", prefix, prefix, d, "partitioned", expected=expected,
                   partitioned=partitioned)


def partitioned_restore_values(prefix: str) -> dict:
    """Saver.restore into the same partitioned graph (same partitioners); full values."""
    tf = _tf()
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        vars_ = build_partitioned_model()
        saver = v1.train.Saver()
        with v1.Session() as sess:
            saver.restore(sess, prefix)
            return _partitioned_values(sess, vars_)


# ---------------------------------------------------------------------------------------

MAKERS = [make_all_dtypes, make_exotic_dtypes, make_large, make_tf1_saver, make_tf2_manager,
          make_savedmodel, make_multishard, make_partitioned]

# Stable ids, known without importing TensorFlow (pytest parametrization).
FIXTURE_IDS = ["all_dtypes", "exotic_dtypes", "large_64mib", "tf1_saver", "tf1_saver_dir",
               "tf2_manager_dir", "savedmodel", "savedmodel_vars_dir", "multishard",
               "partitioned"]


def generate_all(outdir: str) -> dict[str, Fixture]:
    os.makedirs(outdir, exist_ok=True)
    out = {}
    for make in MAKERS:
        r = make(outdir)
        for fx in (r if isinstance(r, list) else [r]):
            out[fx.id] = fx
    if list(out) != FIXTURE_IDS:
        raise AssertionError(f"fixture ids {list(out)} != FIXTURE_IDS {FIXTURE_IDS}")
    return out


def tf_listing(prefix: str) -> list[tuple[str, str, list]]:
    """(name, dtype name, shape) for every key TensorFlow lists, in list_variables order."""
    tf = _tf()
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    return [(n, dtypes[n].name, list(s)) for n, s in tf.train.list_variables(prefix)]


def main(argv):
    outdir = argv[1] if len(argv) > 1 else "/tmp/tfgen-out"
    tf = _tf()
    fixtures = generate_all(outdir)
    for fx in fixtures.values():
        print(f"== {fx.id}  ckpt={fx.ckpt}")
        print(f"   prefix={fx.prefix}  data files={len(ckptfmt.data_files(fx.prefix))}"
              + (f"  ({fx.notes})" if fx.notes else ""))
        listed_by_dir = None
        if os.path.isdir(fx.ckpt):
            try:
                listed_by_dir = tf.train.list_variables(fx.ckpt)
            except Exception as e:  # noqa: BLE001 - report what TF does with the dir
                listed_by_dir = f"{type(e).__name__}"
        for name, dt, shape in tf_listing(fx.prefix):
            mark = " (partitioned)" if name in fx.partitioned else ""
            print(f"   {name}\t{dt}\t{shape}{mark}")
        if listed_by_dir is not None:
            same = (isinstance(listed_by_dir, list)
                    and listed_by_dir == tf.train.list_variables(fx.prefix))
            print(f"   tf.train.list_variables(ckpt dir): "
                  f"{'same as prefix' if same else listed_by_dir}")
        idx = ckptfmt.read_index(fx.prefix)
        if idx.pieces():
            print(f"   raw index piece keys: {[e.key for e in idx.pieces()]}")


if __name__ == "__main__":
    main(sys.argv)
