"""Mapping-file semantics of ckptfs, with TensorFlow's init_from_checkpoint as the oracle.

For every case of the table below (a mapping over the TensorFlow-generated fixtures):

1. the mapping file is written to a temp dir;
2. the oracle (oracle.py): a Python model of docs/mapping.md gives the merged names; a fresh
   TF1 graph of get_variable variables named like the merged targets (partitioned targets
   with the same partitioner) is initialized by
   ``tf.compat.v1.train.init_from_checkpoint(source, assignment_map)`` per source with the
   equivalent assignment map, giving every value;
3. ``ckptfs check`` / ``ckptfs ls`` agree with the model, and every way ckptfs can produce the
   merged checkpoint -- ``materialize`` (copy), ``materialize --link``, ``materialize`` of
   the mapping with ``layout = shards``, and the FUSE mount in both layouts -- gives a
   checkpoint whose ``tf.train.list_variables`` is exactly the merged names, whose raw index
   holds exactly the re-encoded piece keys of the partitioned targets, and from which a TF1
   ``Saver.restore`` and ``init_from_checkpoint`` (root-scope and per-name maps) give the
   oracle's values, dtypes and shapes.

Names a TF graph variable cannot carry (blanks, '#', quotes, non-ASCII: the `tricky_names`
case) are checked through tf.train.load_checkpoint only.  Also: the raw index keeps every
source crc32c; one source tensor under several names is stored once (docs/mapping.md: "the
targets share the same bytes"); reversing the order of the directives changes nothing.

Plus the seed example (a=3 from model a, b=4 from model b), ``ckptfs check`` errors
(missing tensors with "did you mean", target conflicts naming both lines), materialize
refusing to overwrite without --force (and never writing through its own --link symlinks
into a source), and the sources unchanged (sha256) after every test.

Runtime: about 25 s (one TF import, the session fixtures, ~140 small graphs, 30 mounts).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re

import numpy as np
import pytest

import oracle as O
import tfgen
from pylib import ckptfmt as F
from pylib import mounting
from pylib.lsout import fmt_shape, ls_name, parse_ls
from pylib.mapfile import mapping_lines, write_mapping
from sourceguard import SourceGuard, tree_digest

PREFIX = "model.ckpt"


# ---------------------------------------------------------------------------------------
# the case table

@dataclasses.dataclass
class Case:
    id: str
    sources: dict          # mapping source name -> fixture id ("@rel" suffix: relative path)
    lines: list            # map / exclude directives
    shared: tuple = ()     # target groups that must point at the same stored bytes


CASES = [
    Case("single_renamed", {"s": "tf1_saver"}, [
        "map s:enc/w -> model/encoder/kernel",
        "map s:dec/b -> dec/b",
        "map s:global_step -> step",
        "map s:beta1_power -> opt/beta1_power",
    ]),
    Case("scope_to_scope", {"s": "tf1_saver"}, [
        "map s:enc/ -> student/enc/",
        "map s:dec/w/ -> slots/dec_w/",  # the slots under dec/w, not dec/w itself
    ]),
    Case("root_to_scope_excludes", {"s": "tf1_saver"}, [
        "map s:/ -> teacher/",
        "exclude s:*/Adam",
        "exclude s:*/Adam_1",
        "exclude *:global_step",
    ]),
    Case("scope_to_root", {"s": "tf1_saver"}, [
        "map s:enc/ -> /",
        "exclude s:*/Adam_1",
    ]),
    Case("one_tensor_two_names", {"s": "tf1_saver"}, [
        "map s:enc/w -> enc/w",
        "map s:enc/w -> shared/w",
        "map s:/ -> copy/",
        "exclude s:*/Adam*",
        "exclude s:beta?_power",
        "exclude *:global_step",
    ], shared=(("enc/w", "shared/w", "copy/enc/w"),)),
    Case("partitioned_renamed", {"p": "partitioned"}, [
        "map p:part -> renamed/part",
        "map p:emb/ -> embedding/",
        "map p:/ -> all/",
        "exclude *:global_step",
    ]),
    Case("partitioned_scope_to_root", {"p": "partitioned"}, [
        "map p:emb/ -> /",             # emb/cols -> cols, still partitioned
        "map p:/ -> keep/",
        "exclude p:part",              # its pieces go with it
    ]),
    Case("checkpoint_dirs", {"s": "tf1_saver_dir", "t": "tf2_manager_dir@rel"}, [
        "map s:dec/ -> decoder/",
        "map t:model/ -> net/",
        "map t:/ -> t2/",
        "exclude t:*/.OPTIMIZER_SLOT/*",
        "map t:save_counter/.ATTRIBUTES/VARIABLE_VALUE -> save_counter",
        "map t:_CHECKPOINTABLE_OBJECT_GRAPH -> meta/object_graph",
    ]),
    # TF2 sources named by key: a merge by key (by object, key lines are refused)
    Case("savedmodel", {"sm": "savedmodel", "v": "savedmodel_vars_dir"}, [
        "checkpoint = name-based",
        "map sm:/ -> sm/",
        "map sm:kernel/.ATTRIBUTES/VARIABLE_VALUE -> head/kernel",
        "map v:label/.ATTRIBUTES/VARIABLE_VALUE -> label",
        "map v:counter/.ATTRIBUTES/VARIABLE_VALUE -> counter",
    ]),
    Case("multishard", {"m": "multishard"}, [
        "map m:/ -> /",
        "map m:b/kernel -> extra/b_kernel",
        "map m:c/table -> extra/table",
    ], shared=(("b/kernel", "extra/b_kernel"), ("c/table", "extra/table"))),
    Case("two_sources", {"s": "tf1_saver@rel", "m": "multishard"}, [
        "map s:enc/ -> encoder/",
        "exclude s:*/Adam*",
        "map m:f/ -> f/",           # f/mask, f/scale and d/ids: all in data shard 1
        "map m:d/ids -> ids",
        "map s:global_step -> global_step",
    ]),
    Case("all_dtypes", {"x": "all_dtypes"}, [
        "map x:/ -> dtypes/",
        "map x:str/ -> strings/",
        "exclude x:[se]*/*_0",        # empty/float32_0, empty/string_0
        "exclude x:vec/[!f]*8",       # vec/int8, vec/uint8
        "exclude x:scalar/?nt??",     # scalar/int32, scalar/int64
    ]),
    Case("per_source_excludes", {"s": "tf1_saver", "p": "partitioned"}, [
        "map s:/ -> s/",
        "map p:/ -> p/",
        "exclude p:global_step",      # s/global_step stays
        "exclude s:*Adam*",
        "exclude s:*power",
    ]),
    Case("corpus_warm_start", {"e": "corpus/tfx_estimator_tf1", "k": "corpus/tfx_keras_tf2"}, [
        "map e:dnn/ -> tower/dnn/",
        "map e:linear/linear_model/ -> wide/",
        "map k:layer_with_weights-2/ -> head/",
        "exclude k:*/.OPTIMIZER_SLOT/*",
    ]),
    Case("large_64mib", {"l": "large_64mib"}, [
        "map l:big/ -> huge/",         # one 64 MiB tensor between two small ones
        "map l:small/ -> /",
    ]),
    Case("tricky_names", {"t": "tricky_names"}, [
        "map t:enc/ -> E/                    # enc/w, enc/w/Adam: not enc, enc_x/, encoder/",
        "map t:enc -> E0",
        'map "t:name with space" -> "renamed with space"',
        'map "t:x#hash" -> "y#hash"          # a comment after quoted words',
        'map "t:q\\"uote" -> "q\\"2"',
        'map "t:back\\\\slash" -> slash/back',
        "map t:colon:0 -> colon0",
        "map t:ünïcode/ -> u/",
        "map t:a/ -> a.b/                    # a.b < a.b/b < a0 bytewise",
        "map t:a.b -> a.b",
        "map t:a0 -> a0",
        "map t:/ -> all/",
        "exclude t:a/b/*",
        "\tmap\tt:strs -> strs  ",
    ]),
]
CASE_IDS = [c.id for c in CASES]

OUTPUTS = ["materialize", "materialize-link", "materialize-layout-shards",
           "mount-single", "mount-shards"]


# ---------------------------------------------------------------------------------------
# preparing a case: mapping files, model, oracle (once per case)

@dataclasses.dataclass
class Prepared:
    case: Case
    dir: str
    mapping: str
    mapping_shards: str          # the same mapping plus `layout = shards`
    lines: list                  # every line of `mapping`
    sources: dict                # name -> oracle.SourceInfo
    fixtures: list               # tfgen.Fixture of every source
    targets: dict                # name -> oracle.Target
    values: dict                 # the oracle's values
    assignment_maps: list


def _tf_path(fx) -> str:
    """What init_from_checkpoint accepts for this source: itself, or its bundle prefix."""
    if os.path.exists(fx.ckpt + ".index") or os.path.isfile(os.path.join(fx.ckpt, "checkpoint")):
        return fx.ckpt
    return fx.prefix


TRICKY = {
    # names that test scope boundaries, bytewise order after renaming, quoting, non-ASCII
    "enc": np.float32(1.5),
    "enc/w": np.arange(4, dtype=np.float32).reshape(2, 2),
    "enc/w/Adam": np.full((2, 2), 0.25, np.float32),
    "enc_x/w": np.array([1, 2, 3], np.int32),
    "encoder/w": np.array([0.5, -0.5]),
    "Enc/W": np.array([9.0], np.float32),
    "a.b": np.array([11], np.int64),
    "a/b": np.array([12, 13], np.int64),
    "a/b/c": np.int8(-3),
    "a0": np.array([14, 15, 16], np.int64),
    "ünïcode/ω": np.array([2.0, 3.0], np.float32),
    "name with space": np.array([4.0, 5.0], np.float32),
    "x#hash": np.int32(6),
    'q"uote': np.int32(7),
    "back\\slash": np.int32(8),
    "colon:0": np.int32(9),
    "strs": np.array([b"one", b"", "zwei ✓".encode()], dtype=object),
}


@pytest.fixture(scope="module")
def fixtures(all_checkpoints, tmp_path_factory):
    """all_checkpoints plus `tricky_names` (written here with tf.raw_ops.SaveV2)."""
    import tensorflow as tf
    d = str(tmp_path_factory.mktemp("tricky"))
    prefix = os.path.join(d, "ckpt")
    names = sorted(TRICKY)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(TRICKY[n]) for n in names])
    fx = tfgen.Fixture("tricky_names", prefix, prefix, d, "raw", expected=dict(TRICKY))
    fx.guard = SourceGuard(d)
    return {**all_checkpoints, "tricky_names": fx}


@pytest.fixture(scope="module")
def prepare(fixtures, tmp_path_factory):
    """prepare(case) -> Prepared, made once per case (the oracle's graphs run once)."""
    cache: dict = {}

    def get(case: Case) -> Prepared:
        if case.id in cache:
            return cache[case.id]
        d = str(tmp_path_factory.mktemp("map-" + case.id))
        paths, infos, fixtures_used = {}, {}, []
        for name, ref in case.sources.items():
            fid, _, how = ref.partition("@")
            fx = fixtures[fid]
            fixtures_used.append(fx)
            paths[name] = os.path.relpath(fx.ckpt, d) if how == "rel" else fx.ckpt
            infos[name] = O.source_info(name, paths[name], fx.prefix, _tf_path(fx))
        # every line of the mapping, the comment that heads it too: the oracle counts lines
        lines = mapping_lines(paths, case.lines, comment="test_mapping_tf: merge.conf")
        mapping = write_mapping(os.path.join(d, "merge.conf"), {}, lines)
        mapping_shards = write_mapping(os.path.join(d, "merge-shards.conf"), paths,
                                       [*case.lines, "layout = shards"],
                                       comment="test_mapping_tf: merge-shards.conf")
        targets = O.resolve(lines, infos)
        values, maps = O.tf_oracle(lines, infos, targets)
        p = Prepared(case, d, mapping, mapping_shards, lines, infos, fixtures_used, targets,
                     values, maps)
        cache[case.id] = p
        return p
    return get


@pytest.fixture
def guards():
    """guards(fixture, ...): their source files must be unchanged (sha256) after the test."""
    watched = []

    def add(*fixtures):
        watched.extend(fixtures)
    yield add
    for fx in watched:
        fx.guard.check()


def fail_report(problems: list[str], context: str = ""):
    if problems:
        pytest.fail(f"{len(problems)} problem(s){(' in ' + context) if context else ''}:\n"
                    + "\n".join(problems), pytrace=False)


# ---------------------------------------------------------------------------------------
# check/ls against the model; the oracle against TensorFlow's reader

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_mapping_resolves_like_the_model(case, prepare, run_ckptfs, guards):
    p = prepare(case)
    guards(*p.fixtures)
    r = run_ckptfs("check", p.mapping)
    assert r.rc == 0, r.describe()
    assert "warning" not in r.stderr, r.describe()

    r = run_ckptfs("ls", p.mapping)
    assert r.rc == 0, r.describe()
    rows = parse_ls(r.stdout, columns=8)
    # names are shown escaped (a backslash doubled, controls as \n or \xNN)
    for row in rows:
        row[0], row[7] = ls_name(row[0]), ls_name(row[7])
    names = [row[0] for row in rows]
    assert names == sorted(names, key=lambda n: n.encode("utf-8", "surrogateescape")), \
        "ls must list merged tensors in bytewise order"
    got = {row[0]: (row[1], row[2], row[6], row[7]) for row in rows}
    # the object graph a merge by object rewrites comes from no source: '-' '-'
    want = {n: (t.dtype, fmt_shape(t.shape), "-" if t.synth else t.src, "-" if t.synth else t.key)
            for n, t in p.targets.items()}
    problems = [f"{n}: ls {got.get(n)}, expected {want.get(n)}"
                for n in sorted(set(got) | set(want)) if got.get(n) != want.get(n)]
    fail_report(problems, f"ckptfs ls {p.mapping}")

    # the oracle itself: init_from_checkpoint really restored every target from its source
    direct = O.source_values(p.targets, p.sources)
    fail_report(O.compare_values("oracle vs tf.train.load_checkpoint(source)", p.targets,
                                 p.values, direct))


# ---------------------------------------------------------------------------------------
# every way of producing the merged checkpoint against the oracle

def _data_files_check(kind: str, prefix: str, p: Prepared) -> list[str]:
    files = F.data_files(prefix)
    n_used = len(O.used_shards(p.targets, p.sources))
    idx = F.read_index(prefix)
    problems = []
    graph = next((t for t in p.targets.values() if t.synth), None)
    if graph is not None and kind in ("materialize-link", "mount-shards"):
        # the rewritten object graph's bytes are a data file of their own, no source's
        n_used += 1
        own = files[idx.by_key[graph.name.encode()].shard_id]
        files_of_sources = [f for f in files if f != own]
    else:
        files_of_sources = files
    if len(files) != idx.num_shards:
        problems.append(f"{kind}: {len(files)} data files {files} but index header says "
                        f"{idx.num_shards} shards")
    if kind in ("materialize", "mount-single"):
        if len(files) != 1:
            problems.append(f"{kind}: expected one data file, got {files}")
        if kind == "materialize" and any(os.path.islink(f) for f in files):
            problems.append(f"{kind}: data file is a symlink (expected a copy)")
    if kind in ("materialize-link", "mount-shards"):
        if len(files) != n_used:
            problems.append(f"{kind}: expected one data file per used source shard "
                            f"({n_used}), got {[os.path.basename(f) for f in files]}")
    if kind == "materialize-link":
        src_files = {os.path.realpath(f) for s in p.sources.values()
                     for f in F.data_files(s.prefix)}
        for f in files_of_sources:
            if not os.path.islink(f) or os.path.realpath(f) not in src_files:
                problems.append(f"{kind}: {f} is not a symlink to a source data file")
    if kind == "mount-shards":
        src_sizes = {os.path.getsize(f) for s in p.sources.values()
                     for f in F.data_files(s.prefix)}
        for f in files_of_sources:
            if os.path.getsize(f) not in src_sizes:
                problems.append(f"{kind}: {f} ({os.path.getsize(f)} B) is no source shard")
    return problems


def _crc_check(kind: str, prefix: str, p: Prepared) -> list[str]:
    """Bytes are never changed: each entry keeps its source size and crc32c."""
    idx = F.read_index(prefix)
    src_idx = {n: F.read_index(s.prefix) for n, s in p.sources.items()}
    problems = []
    for n, t in p.targets.items():
        e = idx.by_key.get(n.encode())
        if e is None or t.extents is not None or t.synth:
            continue
        se = src_idx[t.src].by_key[t.key.encode()]
        if (e.crc32c, e.size) != (se.crc32c, se.size):
            problems.append(f"{kind}: {n}: crc/size {(e.crc32c, e.size)}, source "
                            f"{t.src}:{t.key} has {(se.crc32c, se.size)}")
    return problems


def _check_output(kind: str, result: str, p: Prepared) -> list[str]:
    problems = O.check_result(result, p.targets, p.values)
    problems += _data_files_check(kind, result, p)
    problems += _crc_check(kind, result, p)
    return problems


@dataclasses.dataclass
class Produced:
    result: str            # the merged checkpoint's prefix
    context: str           # how it was made, for failure messages
    mount: object = None   # mounting.Daemon for the mount outputs


@contextlib.contextmanager
def produce(output: str, p: Prepared, tmp_path, run_ckptfs, ckptfs_bin):
    """Make the merged checkpoint of `p` the way `output` says; yield a Produced."""
    if output.startswith("materialize"):
        out = str(tmp_path / "out" / "merged")
        os.makedirs(os.path.dirname(out))
        mapping = p.mapping_shards if output == "materialize-layout-shards" else p.mapping
        args = ["materialize", mapping, out] + (["--link"] if output == "materialize-link" else [])
        r = run_ckptfs(*args)
        assert r.rc == 0, r.describe()
        yield Produced(out, f"ckptfs {' '.join(args)}")
        return
    layout = output.split("-", 1)[1]
    with mounting.mounted(ckptfs_bin, p.mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={layout}") as m:
        yield Produced(m.join(PREFIX), f"mount {p.mapping} -o layout={layout}", m)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_merged_checkpoint_matches_tf_oracle(case, output, prepare, run_ckptfs, ckptfs_bin,
                                            guards, tmp_path):
    p = prepare(case)
    guards(*p.fixtures)
    with produce(output, p, tmp_path, run_ckptfs, ckptfs_bin) as made:
        problems = _check_output(output, made.result, p)
        if made.mount is not None:
            import tensorflow as tf
            latest = tf.train.latest_checkpoint(made.mount.path)
            if latest != made.result:
                problems.append(f"tf.train.latest_checkpoint({made.mount.path}) = {latest!r}, "
                                f"expected {made.result!r}")
        fail_report(problems, made.context + (f"\n{made.mount.describe()}" if made.mount else ""))


SHARED_CASES = [c for c in CASES if c.shared]


# materialize-layout-shards is the same copy path as materialize: not repeated here
@pytest.mark.parametrize("output", [o for o in OUTPUTS if o != "materialize-layout-shards"])
@pytest.mark.parametrize("case", SHARED_CASES, ids=[c.id for c in SHARED_CASES])
def test_one_tensor_under_two_names_shares_bytes(case, output, prepare, run_ckptfs,
                                                 ckptfs_bin, guards, tmp_path):
    """docs/mapping.md: "A tensor matched by several map lines appears under each target
    name; the targets share the same bytes" -- one (shard, offset, size) for all of them."""
    p = prepare(case)
    guards(*p.fixtures)
    with produce(output, p, tmp_path, run_ckptfs, ckptfs_bin) as made:
        idx = F.read_index(made.result)
        problems = []
        for group in case.shared:
            locs = {n: (idx.by_key[n.encode()].shard_id, idx.by_key[n.encode()].offset,
                        idx.by_key[n.encode()].size) for n in group}
            if len(set(locs.values())) != 1:
                problems.append(f"{output}: one source tensor stored more than once "
                                f"(shard, offset, size): {locs}")
        fail_report(problems, made.context)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_line_order_does_not_matter(case, prepare, run_ckptfs, guards, tmp_path):
    """docs/mapping.md, resolution order: the result is independent of the order of lines."""
    p = prepare(case)
    guards(*p.fixtures)
    n_sources = len(case.sources)
    head, body = p.lines[:1 + n_sources], p.lines[1 + n_sources:]
    rev = str(tmp_path / "reversed.conf")
    with open(rev, "w", encoding="utf-8") as f:
        f.write("\n".join(head + body[::-1]) + "\n")
    r1, r2 = run_ckptfs("ls", p.mapping), run_ckptfs("ls", rev)
    assert r1.rc == 0 and r2.rc == 0, r1.describe() + r2.describe()
    assert r1.stdout == r2.stdout, f"ls differs when the lines are reversed\n{r2.describe()}"
    outs = []
    for m, name in ((p.mapping, "fwd"), (rev, "rev")):
        out = str(tmp_path / name)
        r = run_ckptfs("materialize", m, out)
        assert r.rc == 0, r.describe()
        outs.append(out)
    for a, b in zip(F.bundle_files(outs[0]), F.bundle_files(outs[1])):
        with open(a, "rb") as fa, open(b, "rb") as fb:
            assert fa.read() == fb.read(), f"{os.path.basename(a)} differs when lines are reversed"


# ---------------------------------------------------------------------------------------
# the seed example: a=3 from model a, b=4 from model b

@pytest.fixture(scope="module")
def seed_models(tmp_path_factory):
    import tensorflow as tf
    v1 = tf.compat.v1
    d = str(tmp_path_factory.mktemp("seed"))
    for name, value, path in (("a", 3.0, os.path.join(d, "models", "a", "model-a")),
                              ("b", 4.0, os.path.join(d, "models", "b", "model-b"))):
        os.makedirs(os.path.dirname(path))
        with tf.Graph().as_default():
            v = v1.get_variable(name, initializer=np.float32(value))
            saver = v1.train.Saver([v])
            with v1.Session() as sess:
                sess.run(v.initializer)
                assert saver.save(sess, path) == path
    assert os.path.isfile(os.path.join(d, "models", "b", "checkpoint"))
    body = ("source a = models/a/model-a   # relative to this file\n"
            f"source b = {os.path.join(d, 'models', 'b')}\n"
            "map a:a -> a\n"
            "map b:b -> b\n")
    for name, extra in (("merge.conf", ""), ("merge-shards.conf", "layout = shards\n"),
                        ("merge-prefix.conf", "prefix = merged.ckpt\n")):
        with open(os.path.join(d, name), "w") as f:
            f.write(body + extra)
    return d, os.path.join(d, "merge.conf")


def _restore_ab(prefix: str) -> dict:
    import tensorflow as tf
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        a = v1.get_variable("a", initializer=np.float32(-1))
        b = v1.get_variable("b", initializer=np.float32(-1))
        saver = v1.train.Saver([a, b])
        with v1.Session() as sess:
            saver.restore(sess, prefix)
            va, vb = sess.run([a, b])
    return {"a": va, "b": vb, "listed": tf.train.list_variables(prefix)}


@pytest.mark.parametrize("output", OUTPUTS)
def test_seed_example(output, seed_models, run_ckptfs, ckptfs_bin, source_guard, tmp_path,
                      monkeypatch):
    d, mapping = seed_models
    source_guard(os.path.join(d, "models"))
    monkeypatch.chdir(tmp_path)          # relative source paths are relative to the mapping
    want = {"a": np.float32(3), "b": np.float32(4), "listed": [("a", []), ("b", [])]}
    if output.startswith("materialize"):
        m = os.path.join(d, "merge-shards.conf") if output.endswith("shards") else mapping
        out = str(tmp_path / "merged")
        r = run_ckptfs("materialize", m, out, *(["--link"] if output.endswith("link") else []))
        assert r.rc == 0, r.describe()
        got = _restore_ab(out)
        assert got == want, got
        return
    import tensorflow as tf
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"),
                          "-o", f"layout={output.split('-', 1)[1]}") as mnt:
        got = _restore_ab(mnt.join(PREFIX))
        assert got == want, f"{got}\n{mnt.describe()}"
        assert tf.train.latest_checkpoint(mnt.path) == mnt.join(PREFIX)


def test_seed_example_mount_prefix_directive(seed_models, ckptfs_bin, source_guard, tmp_path):
    """`prefix = merged.ckpt` names the mounted checkpoint; TF finds it as the latest."""
    import tensorflow as tf
    d, _ = seed_models
    source_guard(os.path.join(d, "models"))
    with mounting.mounted(ckptfs_bin, os.path.join(d, "merge-prefix.conf"),
                          str(tmp_path / "mnt")) as mnt:
        assert tf.train.latest_checkpoint(mnt.path) == mnt.join("merged.ckpt"), mnt.describe()
        got = _restore_ab(mnt.join("merged.ckpt"))
        assert (got["a"], got["b"]) == (3, 4), f"{got}\n{mnt.describe()}"


# ---------------------------------------------------------------------------------------
# errors through the real command

def _mapping(tmp_path, all_checkpoints, body: str, name: str = "bad.conf") -> str:
    path = str(tmp_path / name)
    with open(path, "w") as f:
        f.write(body.format(s=all_checkpoints["tf1_saver"].ckpt,
                            m=all_checkpoints["multishard"].ckpt))
    return path


def _diagnostics(stderr: str, path: str, kind: str = "error",
                 lead: str = "") -> list[tuple[int, int, str]]:
    pat = re.compile(rf"^{lead}{re.escape(path)}:(\d+):(\d+): {kind}: (.*)$", re.M)
    return [(int(a), int(b), msg) for a, b, msg in pat.findall(stderr)]


MISSING = [
    # (id, line 4 of the mapping, missing name, columns allowed, suggestion expected)
    ("case", "map s:Enc/w -> x", "Enc/w", (5, 7), "enc/w"),
    ("indented", "   map s:enc/W -> x", "enc/W", (8, 10), "enc/w"),
    ("missing_slash", "map s:enc -> e", "enc", (5, 7), "enc/"),
    ("far", "map s:zzqqxxyy -> x", "zzqqxxyy", (5, 7), None),
]


@pytest.mark.parametrize("line,missing,cols,suggest", [m[1:] for m in MISSING],
                         ids=[m[0] for m in MISSING])
def test_check_missing_tensor(line, missing, cols, suggest, tmp_path, all_checkpoints,
                              run_ckptfs, ckptfs_bin, guards):
    guards(all_checkpoints["tf1_saver"])
    path = _mapping(tmp_path, all_checkpoints,
                    "# a mapping with a typo\nsource s = {s}\n\n" + line
                    + "\nmap s:dec/b -> dec/b\n")
    r = run_ckptfs("check", path)
    assert r.rc == 1, r.describe()
    diags = _diagnostics(r.stderr, path)
    assert diags, f"no '{path}:LINE:COL: error: ...' line\n{r.describe()}"
    lineno, col, msg = diags[0]
    assert lineno == 4 and col in cols, \
        f"error at {lineno}:{col}, expected 4:{cols}\n{r.describe()}"
    assert msg.startswith(f"source 's' has no tensor '{missing}'"), r.describe()
    if suggest is not None:
        assert "did you mean" in msg and f"'{suggest}'" in msg.split("did you mean", 1)[1], \
            f"expected a suggestion of '{suggest}'\n{r.describe()}"
    # materialize resolves the same way and writes nothing
    out = str(tmp_path / "out")
    r2 = run_ckptfs("materialize", path, out)
    assert r2.rc == 1 and _diagnostics(r2.stderr, path), r2.describe()
    assert not os.path.exists(out + ".index") and not F.data_files(out), r2.describe()
    # and the mount form exits 1 with the same diagnostic, mounting nothing
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r3 = mounting.run_cmd([ckptfs_bin, path, mnt, "-f"], timeout=60)
    assert not mounting.is_mounted(str(mnt)), "mounted a mapping that does not resolve"
    # (the mount form prefixes its messages with "ckptfs: ", as test_mount_basic expects)
    assert r3.rc == 1 and _diagnostics(r3.stderr, path, lead="(?:ckptfs: )?")[:1] == \
        diags[:1], \
        r3.describe()


@pytest.mark.parametrize("body,lineno", [
    # an exact rule on an excluded tensor: excludes hide it from every map line
    ("source s = {s}\nexclude s:enc/w\nmap s:enc/w -> x\n", 3),
    # a scope whose every tensor is excluded matches nothing
    ("source s = {s}\nexclude s:enc/*\nmap s:enc/ -> e/\n", 3),
    # a scope that does not exist
    ("source s = {s}\nmap s:encoder/ -> e/\n", 2),
], ids=["excluded_exact", "excluded_scope", "no_scope"])
def test_check_map_matching_nothing(body, lineno, tmp_path, all_checkpoints, run_ckptfs,
                                    guards):
    guards(all_checkpoints["tf1_saver"])
    path = _mapping(tmp_path, all_checkpoints, body)
    r = run_ckptfs("check", path)
    assert r.rc == 1, r.describe()
    diags = _diagnostics(r.stderr, path)
    assert diags and diags[0][0] == lineno, f"expected an error at line {lineno}\n{r.describe()}"


@pytest.mark.parametrize("body,lines,target", [
    ("source s = {s}\nmap s:enc/w -> x\n# between\nmap s:dec/w -> x\n", (2, 4), "x"),
    ("source s = {s}\nmap s:enc/ -> t/\nmap s:dec/w -> t/w\n", (2, 3), "t/w"),
    # the same tensor to the same name twice is still two lines producing one target
    ("source s = {s}\nmap s:enc/w -> enc/w\nmap s:enc/ -> enc/\n", (2, 3), "enc/w"),
    ("source s = {s}\nsource m = {m}\nmap m:a/ -> enc/\nexclude s:*/Adam*\nmap s:/ -> /\n"
     "map m:a/kernel -> enc/w\n", (3, 5, 6), None),
], ids=["two_exact", "scope_and_exact", "same_tensor_same_name", "two_sources"])
def test_check_target_conflict(body, lines, target, tmp_path, all_checkpoints, run_ckptfs,
                               guards):
    guards(all_checkpoints["tf1_saver"], all_checkpoints["multishard"])
    path = _mapping(tmp_path, all_checkpoints, body)
    r = run_ckptfs("check", path)
    assert r.rc == 1, r.describe()
    diags = _diagnostics(r.stderr, path)
    assert diags, r.describe()
    if target is not None:
        hits = [d for d in diags if f"'{target}'" in d[2]]
        assert hits, f"no error names target '{target}'\n{r.describe()}"
        lineno, _col, msg = hits[0]
        mentioned = {lineno} | {int(n) for n in re.findall(r"\bline (\d+)", msg)}
        assert set(lines) <= mentioned, f"error must name lines {lines}\n{r.describe()}"
    else:
        # m:a/kernel -> enc/w (line 6) collides with s:enc/w -> enc/w (line 5), and
        # m:a/kernel -> enc/kernel (line 3) with nothing; the exclude hides enc/w/Adam*
        hits = [d for d in diags if "'enc/w'" in d[2]]
        assert hits, f"no error names target 'enc/w'\n{r.describe()}"
        lineno, _col, msg = hits[0]
        mentioned = {lineno} | {int(n) for n in re.findall(r"\bline (\d+)", msg)}
        assert {5, 6} <= mentioned and 3 not in mentioned, r.describe()


def test_check_unused_exclude_is_a_warning(tmp_path, all_checkpoints, run_ckptfs, guards):
    guards(all_checkpoints["tf1_saver"])
    path = _mapping(tmp_path, all_checkpoints,
                    "source s = {s}\nmap s:enc/ -> e/\nexclude s:nothing*matches\n")
    r = run_ckptfs("check", path)
    assert r.rc == 0, r.describe()
    w = _diagnostics(r.stderr, path, "warning")
    assert w and w[0][0] == 3, f"expected a warning at line 3\n{r.describe()}"


# ---------------------------------------------------------------------------------------
# materialize never overwrites by accident, and never writes into a source

def _digest(prefix: str) -> dict:
    out = {}
    for f in F.bundle_files(prefix):
        out[os.path.basename(f)] = (os.path.islink(f), os.readlink(f) if os.path.islink(f)
                                    else tree_digest(f)[os.path.basename(f)])
    return out


@pytest.mark.parametrize("first,second", [
    ([], []), ([], ["--link"]), (["--link"], []), (["--link"], ["--link"])],
    ids=["copy_over_copy", "link_over_copy", "copy_over_link", "link_over_link"])
def test_materialize_refuses_to_overwrite(first, second, tmp_path, all_checkpoints,
                                          run_ckptfs, guards):
    fx = all_checkpoints["tf1_saver"]   # one source shard: a --link result's only data file
    guards(fx)                          # is a symlink to it, with the copy's very file name
    path = _mapping(tmp_path, all_checkpoints,
                    "source s = {s}\nmap s:enc/ -> enc/\nexclude s:*/Adam*\n", "m.conf")
    out = str(tmp_path / "merged")
    r = run_ckptfs("materialize", path, out, *first)
    assert r.rc == 0, r.describe()
    before = _digest(out)

    r = run_ckptfs("materialize", path, out, *second)
    assert r.rc != 0, f"overwrote an existing checkpoint without --force\n{r.describe()}"
    assert "--force" in r.stderr or "exists" in r.stderr, r.describe()
    assert _digest(out) == before, "a refused materialize changed the existing checkpoint"
    fx.guard.check("a refused materialize")

    r = run_ckptfs("materialize", path, out, *second, "--force")
    assert r.rc == 0, r.describe()
    fx.guard.check("materialize --force over a previous result")
    import tensorflow as tf
    names = sorted(n for n, _ in tf.train.list_variables(out))
    assert names == ["enc/b", "enc/w"], names
    reader = tf.train.load_checkpoint(out)
    src = tf.train.load_checkpoint(fx.prefix)
    for n in names:
        assert np.array_equal(reader.get_tensor(n), src.get_tensor(n)), n
    files = F.data_files(out)
    if "--link" in second:
        assert all(os.path.islink(f) for f in files), files
    else:
        assert files == [F.data_filename(out, 0, 1)] and not os.path.islink(files[0]), files
