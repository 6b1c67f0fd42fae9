"""ckptfs's bundle reader and writer against TensorFlow itself.

For every TensorFlow-generated checkpoint (tfgen.py) and every corpus checkpoint:
  * `ckptfs ls` lists exactly what tf.train.list_variables lists (name, dtype, shape), in key
    order, with consistent shard/offset/size columns (`-` for partitioned variables);
  * `ckptfs cat` returns the stored bytes, equal to TensorFlow's get_tensor values;
  * `ckptfs verify` passes, and fails naming the tensor when one byte of it is corrupted
    (in a copy);
  * `bundle_rewrite` produces a bundle TensorFlow reads with equal values, and TF1 Saver /
    TF2 Checkpoint / SavedModel restores work from it;
  * source files are never modified (every test using `checkpoint` checks at teardown).
"""

from __future__ import annotations

import functools
import os
import shutil

import numpy as np
import pytest

import tfgen
import tfvalues as V
from pylib import ckptfmt as F
from pylib.lsout import fmt_shape, parse_ls
from sourceguard import tree_digest


@functools.lru_cache(maxsize=None)
def index_of(prefix: str) -> F.BundleIndex:
    return F.read_index(prefix)


def key_order(names):
    return sorted(names, key=lambda n: n.encode("utf-8", "surrogateescape"))


def dtype_size(dtype_name: str) -> int:
    import tensorflow as tf
    return tf.as_dtype(dtype_name).size


def fail_report(failures: list[str]):
    if failures:
        pytest.fail(f"{len(failures)} problem(s):\n" + "\n".join(failures), pytrace=False)


# ---------------------------------------------------------------------------------------
# the generator and the oracle agree (guards against generator bugs)

def test_tfgen_expected_values(generated_checkpoint, tf_views):
    checkpoint = generated_checkpoint
    tf_view = tf_views(checkpoint.prefix)
    assert checkpoint.expected, "generator recorded no expected values"
    for name, want in checkpoint.expected.items():
        assert name in tf_view.dtypes, f"{name} not listed by TensorFlow"
        V.assert_same_value(name, tf_view.dtypes[name], tf_view.value(name), want)
    for name, info in checkpoint.partitioned.items():
        assert tf_view.shapes[name] == info["shape"]
    assert len(F.data_files(checkpoint.prefix)) == checkpoint.num_data_files


# ---------------------------------------------------------------------------------------
# ls

def test_ls_matches_tensorflow(checkpoint, run_ckptfs, tf_view):
    r = run_ckptfs("ls", checkpoint.ckpt)
    assert r.rc == 0, r.describe()
    rows = parse_ls(r.stdout, columns=6)
    names = [row[0] for row in rows]
    assert names == key_order(names), "ls must print tensors in key (bytewise) order"
    got = [(row[0], row[1], row[2]) for row in rows]
    want = [(n, d, fmt_shape(s)) for n, d, s in tf_view.listing]
    want = sorted(want, key=lambda t: t[0].encode("utf-8", "surrogateescape"))
    assert got == want


def test_ls_location_columns(checkpoint, run_ckptfs):
    """shard/offset/size agree with an independent parse of the index and fit the files."""
    idx = index_of(checkpoint.prefix)
    assert len(F.data_files(checkpoint.prefix)) == idx.num_shards
    file_sizes = [os.path.getsize(idx.data_path(i)) for i in range(idx.num_shards)]
    listed = {e.name: e for e in idx.listed()}
    partitioned = {n for n, e in listed.items() if e.is_partitioned}
    if checkpoint.kind != "corpus":
        assert partitioned == set(checkpoint.partitioned), "generator/index disagree"

    r = run_ckptfs("ls", checkpoint.ckpt)
    assert r.rc == 0, r.describe()
    rows = parse_ls(r.stdout, columns=6)
    assert {row[0] for row in rows} == set(listed), "ls names != index names (minus pieces)"
    failures = []
    shards_seen = set()
    for name, dt, _shape, shard, off, size in rows:
        e = listed[name]
        if name in partitioned:
            if (shard, off, size) != ("-", "-", "-"):
                failures.append(f"{name}: partitioned, expected '-' columns, got {shard, off, size}")
            continue
        try:
            shard_i, off_i, size_i = int(shard), int(off), int(size)
        except ValueError:
            failures.append(f"{name}: non-integer location columns {shard, off, size}")
            continue
        shards_seen.add(shard_i)
        if not 0 <= shard_i < idx.num_shards:
            failures.append(f"{name}: shard {shard_i} out of range (num_shards {idx.num_shards})")
            continue
        if off_i < 0 or size_i < 0 or off_i + size_i > file_sizes[shard_i]:
            failures.append(f"{name}: [{off_i}, +{size_i}) outside data file "
                            f"{shard_i} of {file_sizes[shard_i]} bytes")
        if (shard_i, off_i, size_i) != (e.shard_id, e.offset, e.size):
            failures.append(f"{name}: ls says {(shard_i, off_i, size_i)}, index has "
                            f"{(e.shard_id, e.offset, e.size)}")
        if dt not in ("string", "variant") and size_i != e.num_elements * dtype_size(dt):
            failures.append(f"{name}: size {size_i} != {e.num_elements} x {dt}")
    fail_report(failures)
    if checkpoint.num_data_files > 1:
        assert shards_seen == set(range(checkpoint.num_data_files)), shards_seen


# ---------------------------------------------------------------------------------------
# cat

def test_cat_bytes_match_tensorflow(checkpoint, run_ckptfs, tf_view):
    idx = index_of(checkpoint.prefix)
    failures = []
    for e in idx.listed():
        r = run_ckptfs("cat", checkpoint.ckpt, e.name)
        if e.is_partitioned:
            if r.rc == 0:
                failures.append(f"{e.name}: cat of a partitioned variable must fail, got exit 0 "
                                f"and {len(r.stdout)} bytes")
            continue
        if r.rc != 0:
            failures.append(f"{e.name}: {r.describe()}")
            continue
        if len(r.stdout) != e.size:
            failures.append(f"{e.name}: cat wrote {len(r.stdout)} bytes, entry size is {e.size}")
            continue
        if r.stdout != idx.raw_bytes(e):
            failures.append(f"{e.name}: bytes differ from the data file at offset {e.offset}")
        if e.dtype == F.DT_VARIANT:
            continue  # TF's Python reader cannot return variants; see the rewrite test
        want = tf_view.value(e.name)
        if e.dtype == F.DT_STRING:
            try:
                got = F.decode_tf_strings(r.stdout, e.num_elements)
            except ValueError as exc:
                failures.append(f"{e.name}: cannot decode string layout: {exc}")
                continue
            if got != V.string_elements(want):
                failures.append(f"{e.name}: decoded strings {got[:4]!r}... != TF "
                                f"{V.string_elements(want)[:4]!r}...")
        elif r.stdout != V.numeric_bytes(want):
            failures.append(f"{e.name}: {e.dtype_name} bytes != TensorFlow get_tensor bytes")
    fail_report(failures)


def test_partitioned_pieces_match_tensorflow(partitioned_checkpoint, tf_views):
    """Pieces of a partitioned variable (not reachable by `cat`) hold TF's full value's
    slices, and their keys follow the slice-key encoding (checked against TF's own file)."""
    checkpoint = partitioned_checkpoint
    tf_view = tf_views(checkpoint.prefix)
    idx = index_of(checkpoint.prefix)
    fulls = [e for e in idx.listed() if e.is_partitioned]
    assert fulls, "the partitioned fixture has no partitioned variables"
    seen = set()
    for full in fulls:
        value = np.asarray(tf_view.value(full.name))
        assert list(value.shape) == full.shape
        for sl in full.slices:
            ext = F.slice_extents(sl)
            key = F.encode_slice_key(full.name, ext)
            assert key in idx.by_key, f"{full.name}: no piece entry {key!r} for {ext}"
            piece = idx.by_key[key]
            region = tuple(slice(s, None if n < 0 else s + n) for s, n in ext)
            assert idx.raw_bytes(piece) == V.numeric_bytes(value[region]), (full.name, ext)
            assert F.piece_name(key) == full.name
            seen.add(key)
    assert seen == {e.key for e in idx.pieces()}, "orphan piece entries in the index"


def test_cat_missing_tensor_fails(checkpoint, run_ckptfs):
    r = run_ckptfs("cat", checkpoint.ckpt, "no/such/tensor")
    assert r.rc == 1, r.describe()
    assert r.stdout == b"", r.describe()
    assert r.stderr.strip(), "expected a message on stderr"


# ---------------------------------------------------------------------------------------
# verify

def test_verify_ok(checkpoint, run_ckptfs):
    r = run_ckptfs("verify", checkpoint.ckpt)
    assert r.rc == 0, r.describe()
    assert r.stdout.strip(), "verify should print a summary line on stdout"


def _copy_fixture(fx, dst_root: str) -> tuple[str, str]:
    """Copy every file of a fixture; return (ckpt path, prefix) inside the copy."""
    shutil.copytree(fx.root, dst_root)

    def rel(p):
        return os.path.join(dst_root, os.path.relpath(p, fx.root))

    ckpt, prefix = rel(fx.ckpt), rel(fx.prefix)
    state = os.path.join(fx.ckpt, "checkpoint")
    if os.path.isdir(fx.ckpt) and os.path.isfile(state):
        with open(state, encoding="utf-8") as f:
            if fx.root in f.read():
                # absolute paths in the state file would lead back to the source files
                ckpt = prefix
    return ckpt, prefix


def _corruption_targets(idx: F.BundleIndex) -> list[F.IndexEntry]:
    cands = [e for e in idx.entries if not e.is_partitioned and e.size > 0]
    largest = max(cands, key=lambda e: (e.size, e.key))
    targets = [largest]
    strings = [e for e in cands if e.dtype == F.DT_STRING and e is not largest]
    if strings:
        targets.append(max(strings, key=lambda e: (e.size, e.key)))
    return targets


def _flip_byte(path: str, pos: int):
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0xFF]))


def test_verify_detects_corruption(checkpoint, run_ckptfs, tmp_path):
    import tensorflow as tf

    idx = index_of(checkpoint.prefix)
    for n, target in enumerate(_corruption_targets(idx)):
        ckpt, prefix = _copy_fixture(checkpoint, str(tmp_path / f"copy{n}"))
        copy_guard_before = tree_digest(checkpoint.root)
        name = F.piece_name(target.key) if target.is_piece else target.name
        # strings: last byte = payload (or the length checksum when all elements are empty)
        pos = target.offset + (target.size - 1 if target.dtype == F.DT_STRING else target.size // 2)
        _flip_byte(F.data_filename(prefix, target.shard_id, idx.num_shards), pos)
        assert tree_digest(checkpoint.root) == copy_guard_before

        if target.dtype != F.DT_VARIANT:  # TensorFlow agrees the copy is corrupt
            with pytest.raises(tf.errors.OpError):
                tf.train.load_checkpoint(prefix).get_tensor(name)

        r = run_ckptfs("verify", ckpt)
        assert r.rc != 0, f"corrupted {name!r} at byte {pos}: verify passed\n{r.describe()}"
        text = r.stdout.decode("utf-8", "replace") + r.stderr
        assert name in text, f"verify must name the corrupted tensor {name!r}\n{r.describe()}"

        if not target.is_piece:
            r = run_ckptfs("cat", ckpt, name)
            assert r.rc == 1, f"cat of corrupted {name!r}\n{r.describe()}"
            assert r.stderr.strip(), r.describe()
        intact = [e for e in idx.listed() if not e.is_partitioned and e.size > 0
                  and e.key != target.key]
        if intact:
            r = run_ckptfs("cat", ckpt, intact[0].name)
            assert r.rc == 0 and r.stdout == idx.raw_bytes(intact[0]), \
                f"cat of intact {intact[0].name!r} beside a corrupted tensor\n{r.describe()}"


# ---------------------------------------------------------------------------------------
# bundle_rewrite (ckptfs's writer) -> TensorFlow reads it

def rewrite(run_bundle_rewrite, src: str, dst_prefix: str) -> F.BundleIndex:
    os.makedirs(os.path.dirname(dst_prefix), exist_ok=True)
    r = run_bundle_rewrite(src, dst_prefix)
    assert r.rc == 0, r.describe()
    assert os.path.isfile(dst_prefix + ".index"), f"{dst_prefix}.index not written"
    assert F.data_files(dst_prefix) == [F.data_filename(dst_prefix, 0, 1)], \
        f"expected exactly one data file, got {F.data_files(dst_prefix)}"
    leftovers = [f for f in os.listdir(os.path.dirname(dst_prefix)) if "tempstate" in f]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    idx = F.read_index(dst_prefix)
    assert idx.num_shards == 1
    return idx


def test_bundle_rewrite_roundtrip(checkpoint, run_bundle_rewrite, tf_views, tmp_path):
    src_idx = index_of(checkpoint.prefix)
    dst = str(tmp_path / "rw" / "rewritten")
    dst_idx = rewrite(run_bundle_rewrite, checkpoint.ckpt, dst)
    src_view, dst_view = tf_views(checkpoint.prefix), tf_views(dst)
    assert dst_view.listing == src_view.listing

    failures = []
    # same entries: every key (pieces included), dtype, shape, slices, bytes
    if [e.key for e in dst_idx.entries] != [e.key for e in src_idx.entries]:
        failures.append(f"index keys differ: {[e.key for e in dst_idx.entries]!r} vs "
                        f"{[e.key for e in src_idx.entries]!r}")
    for se in src_idx.entries:
        de = dst_idx.by_key.get(se.key)
        if de is None:
            continue
        if (de.dtype, de.shape) != (se.dtype, se.shape):
            failures.append(f"{se.key!r}: dtype/shape {(de.dtype, de.shape)} != {(se.dtype, se.shape)}")
        if se.is_partitioned:
            if [F.slice_extents(s) for s in de.slices] != [F.slice_extents(s) for s in se.slices]:
                failures.append(f"{se.key!r}: slices differ")
        elif dst_idx.raw_bytes(de) != src_idx.raw_bytes(se):
            failures.append(f"{se.key!r}: stored bytes differ")

    # TensorFlow reads equal values (it checks every CRC on the way)
    for name, dt, _shape in src_view.listing:
        try:
            if dt == "variant":
                if name in checkpoint.variant_keys:  # a TensorList made by tfgen
                    got = tfgen.restore_variant_list(dst, name)
                    if not np.array_equal(got, tfgen.VARIANT_LIST_VALUE):
                        failures.append(f"{name}: variant restored as {got}")
                continue
            V.assert_same_value(name, dt, dst_view.value(name), src_view.value(name))
        except AssertionError as exc:
            failures.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - TF errors, reported per tensor
            failures.append(f"{name}: TensorFlow failed to read the rewrite: "
                            f"{type(exc).__name__}: {str(exc)[:300]}")
    fail_report(failures)


def _assert_values(got: dict, want: dict, what: str):
    assert set(got) == set(want), f"{what}: variables {sorted(got)} != {sorted(want)}"
    for k in want:
        g, w = np.asarray(got[k]), np.asarray(want[k])
        if w.dtype.kind in "SO":
            assert V.string_elements(got[k]) == V.string_elements(want[k]), f"{what}: {k} differs"
            continue
        assert (g.dtype, g.shape) == (w.dtype, w.shape), f"{what}: {k}: {g.dtype}{g.shape} != {w.dtype}{w.shape}"
        assert V.numeric_bytes(g) == V.numeric_bytes(w), f"{what}: {k} differs"


def test_rewrite_tf1_saver_restore(all_checkpoints, run_bundle_rewrite, source_guard, tmp_path):
    fx = all_checkpoints["tf1_saver"]
    source_guard(fx.root)
    dst = str(tmp_path / "rw" / "model.ckpt-1")
    rewrite(run_bundle_rewrite, fx.ckpt, dst)
    _assert_values(tfgen.tf1_restore_values(fx.prefix), fx.expected, "oracle: restore of source")
    _assert_values(tfgen.tf1_restore_values(dst), fx.expected, "Saver.restore of rewrite")


def test_rewrite_partitioned_saver_restore(all_checkpoints, run_bundle_rewrite, source_guard,
                                           tf_views, tmp_path):
    fx = all_checkpoints["partitioned"]
    source_guard(fx.root)
    dst = str(tmp_path / "rw" / "model.ckpt-0")
    idx = rewrite(run_bundle_rewrite, fx.ckpt, dst)
    assert {e.key for e in idx.pieces()} == {e.key for e in index_of(fx.prefix).pieces()}
    view = tf_views(dst)
    for name in fx.partitioned:  # CheckpointReader assembles the full value from pieces
        _assert_values({name: view.value(name)}, {name: fx.expected[name]}, "get_tensor")
    _assert_values(tfgen.partitioned_restore_values(dst), fx.expected,
                   "Saver.restore of rewrite (same partitioners)")


def test_rewrite_tf2_checkpoint_restore(all_checkpoints, run_bundle_rewrite, source_guard,
                                        tmp_path):
    fx = all_checkpoints["tf2_manager_dir"]
    source_guard(fx.root)
    dst = str(tmp_path / "rw" / "ckpt-2")
    rewrite(run_bundle_rewrite, fx.ckpt, dst)
    want = {short: fx.expected[key] for short, key in tfgen.TF2_MODULE_KEYS.items()}
    _assert_values(tfgen.tf2_restore_values(dst), want, "tf.train.Checkpoint.restore of rewrite")


def test_rewrite_savedmodel_loads(all_checkpoints, run_bundle_rewrite, source_guard, tmp_path):
    import tensorflow as tf

    fx = all_checkpoints["savedmodel"]
    source_guard(fx.root)
    export = str(tmp_path / "export")
    shutil.copytree(fx.ckpt, export, ignore=lambda d, names: ["variables"] if d == fx.ckpt else [])
    rewrite(run_bundle_rewrite, fx.ckpt, os.path.join(export, "variables", "variables"))
    loaded = tf.saved_model.load(export)
    got = {k: getattr(loaded, k.split("/")[0]).numpy() for k in fx.expected}
    _assert_values(got, fx.expected, "tf.saved_model.load of rewrite")
    out = loaded(tf.constant(tfgen.saved_model_probe_input())).numpy()
    np.testing.assert_array_equal(out, fx.saved_model_output)


# ---------------------------------------------------------------------------------------

def test_all_sources_unchanged(all_checkpoints, corpus_guard):
    """Runs last in this file: no test modified any source checkpoint or the corpus."""
    problems = [f"tests/data/corpus: {p}" for p in corpus_guard.problems()]
    for fx in all_checkpoints.values():
        problems += [f"{fx.id}: {p}" for p in fx.guard.problems()]
    assert not problems, problems
