"""TensorFlow oracle for ckptfs mapping files (helpers for test_mapping_tf.py).

Two independent references for a mapping:

* ``resolve()``: a deliberately small Python model of the contract in docs/mapping.md that
  only computes *which* names the merged checkpoint holds and where each comes from
  (root / scope / exact rules, fnmatch excludes without FNM_PATHNAME, the object graph never
  matched by root or scope rules).  It reads the sources through TensorFlow's own listing.
* ``tf_oracle()``: the *values*: a fresh TF1 graph holds one ``get_variable`` variable per
  merged target (same name, shape, dtype; partitioned targets created with the partitioner
  their source was saved with), ``tf.compat.v1.train.init_from_checkpoint(source,
  assignment_map)`` is called per source with the assignment map equivalent to the mapping
  lines, the initializers run, and every variable is read back.

``check_result()`` then compares a merged checkpoint written (or mounted) by ckptfs with
both: the listing, the raw index (piece keys), TF1 ``Saver.restore`` into a fresh graph,
and ``init_from_checkpoint`` from the result (root-scope style and per-name style).

Nothing here runs ckptfs; TensorFlow is imported lazily.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import re

import numpy as np

import tfvalues as V
from pylib import ckptfmt as F

OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    return tf


# ---------------------------------------------------------------------------------------
# sources as TensorFlow lists them

@dataclasses.dataclass
class SourceInfo:
    name: str              # name in the mapping file
    path: str              # what the mapping file says (prefix, dir, SavedModel, ...)
    prefix: str            # the bundle prefix TensorFlow reads
    tf_path: str           # what to hand to init_from_checkpoint (prefix or checkpoint dir)
    listing: dict          # tensor name -> (dtype name, shape list), pieces hidden
    partitions: dict       # partitioned tensor name -> [extents per piece] (raw index)
    shard_of: dict         # tensor name -> set of shard ids holding its bytes


def source_info(name: str, path: str, prefix: str, tf_path: str | None = None) -> SourceInfo:
    tf = _tf()
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    listing = {n: (dtypes[n].name, list(s)) for n, s in tf.train.list_variables(prefix)}
    idx = F.read_index(prefix)
    partitions = {}
    shard_of = {}
    pieces_by_name = {}
    for e in idx.pieces():
        pieces_by_name.setdefault(F.piece_name(e.key), []).append(e)
    for e in idx.listed():
        if e.is_partitioned:
            partitions[e.name] = [F.slice_extents(s) for s in e.slices]
            shard_of[e.name] = {p.shard_id for p in pieces_by_name.get(e.name, [])}
        else:
            shard_of[e.name] = {e.shard_id}
    return SourceInfo(name, path, prefix, tf_path or prefix, listing, partitions, shard_of)


# ---------------------------------------------------------------------------------------
# the Python model of the mapping contract (names only)

@dataclasses.dataclass
class MapLine:
    lineno: int
    src: str
    frm: str
    to: str

    @property
    def kind(self) -> str:
        if self.frm == "/":
            return "root"
        return "scope" if self.frm.endswith("/") else "exact"


@dataclasses.dataclass
class Target:
    name: str
    src: str
    key: str
    dtype: str
    shape: list
    lineno: int
    partition: tuple | None = None    # (num_shards, axis) of a fixed_size_partitioner
    extents: list | None = None       # source piece extents (partitioned only)
    synth: bool = False               # the rewritten object graph: bytes of no source


def words_of(line: str) -> list[str]:
    """Words of one mapping line (docs/mapping.md lexical rules): blanks separate words, `#`
    outside quotes starts a comment, a word starting with `"` runs to the closing quote with
    the escapes \\" and \\\\."""
    words, i, n = [], 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t":
            i += 1
        elif c == "#":
            break
        elif c == '"':
            i += 1
            w = []
            while line[i] != '"':
                if line[i] == "\\":
                    assert line[i + 1] in '"\\', line
                    i += 1
                w.append(line[i])
                i += 1
            words.append("".join(w))
            i += 1
        else:
            j = i
            while j < n and line[j] not in " \t#":
                j += 1
            words.append(line[i:j])
            i = j
    return words


def quote(word: str) -> str:
    """A mapping-file word for `word` (quoted when it has to be)."""
    if any(c in word for c in ' \t#') or word.startswith('"'):
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def parse_directives(lines: list[str]):
    """(map lines, excludes) of a mapping file's lines."""
    maps, excludes = [], []
    for i, raw in enumerate(lines, 1):
        words = words_of(raw)
        if not words:
            continue
        if words[0] == "map":
            assert len(words) == 4 and words[2] == "->", raw
            src, frm = words[1].split(":", 1)
            maps.append(MapLine(i, src, frm, words[3]))
        elif words[0] == "exclude":
            assert len(words) == 2, raw
            src, glob = words[1].split(":", 1)
            excludes.append((src, glob))
    return maps, excludes


_LIBC = ctypes.CDLL(None)
_LIBC.fnmatch.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]


def glob_matches(glob: str, name: str) -> bool:
    """POSIX fnmatch(3) with flags 0 (no FNM_PATHNAME: `*` matches `/`; `\\` escapes),
    the contract's definition; Python's fnmatch differs on backslashes and `[^...]`."""
    return _LIBC.fnmatch(glob.encode("utf-8"), name.encode("utf-8", "surrogateescape"), 0) == 0


def partitioner_of(extents: list, shape: list) -> tuple[int, int]:
    """(num_shards, axis) of the fixed_size_partitioner that produced these pieces."""
    axes = {a for ext in extents for a, (start, length) in enumerate(ext)
            if not (length == -1 or (start == 0 and length == shape[a]))}
    assert len(axes) == 1, f"not a one-axis partitioning: {extents}"
    return len(extents), axes.pop()


def resolve(lines: list[str], sources: dict[str, SourceInfo]) -> dict[str, Target]:
    """Merged target name -> Target, per docs/mapping.md.  Raises on case-design errors."""
    maps, excludes = parse_directives(lines)
    visible = {}
    for sname, s in sources.items():
        visible[sname] = {n for n in s.listing
                          if not any(es in ("*", sname) and glob_matches(g, n)
                                     for es, g in excludes)}
    out: dict[str, Target] = {}
    for m in maps:
        s = sources[m.src]
        vis = visible[m.src]
        if m.kind == "exact":
            pairs = [(m.frm, m.to)] if m.frm in vis else []
        else:
            scope = "" if m.kind == "root" else m.frm
            prefix = "" if m.to == "/" else m.to
            pairs = [(n, prefix + n[len(scope):]) for n in sorted(vis)
                     if n.startswith(scope) and n != OBJECT_GRAPH]
        assert pairs, f"case design: line {m.lineno} matches nothing"
        for key, tgt in pairs:
            assert tgt not in out, f"case design: target {tgt} produced twice"
            dt, shape = s.listing[key]
            t = Target(tgt, m.src, key, dt, shape, m.lineno)
            if key in s.partitions:
                t.extents = s.partitions[key]
                t.partition = partitioner_of(t.extents, shape)
            out[tgt] = t
    name_based = any(words_of(raw) == ["checkpoint", "=", "name-based"] for raw in lines)
    graph = None if name_based else object_graph_target(maps, excludes, sources)
    if graph:
        assert graph.name not in out, "case design: the object graph produced twice"
        out[graph.name] = graph
    return out


def _object_line(m: MapLine, s: SourceInfo) -> bool:
    """A map line read by object paths (mapping.md, "Object paths"), for the cases here:
    the root, or a scope that is an object's path rather than a scope of key names."""
    if OBJECT_GRAPH not in s.listing:
        return False
    return m.kind == "root" or (m.kind == "scope" and ".ATTRIBUTES" not in m.frm
                                and ".OPTIMIZER_SLOT" not in m.frm)


def object_graph_target(maps, excludes, sources) -> Target | None:
    """The merge's _CHECKPOINTABLE_OBJECT_GRAPH: a source's own in a version 1 mapping (an
    exact rule, resolved above) or an identity mount, else a rewritten one when any line
    maps objects of a TF2 source."""
    if any(m.kind == "exact" and OBJECT_GRAPH in (m.frm, m.to) for m in maps):
        return None
    if (len(maps) == 1 and maps[0].kind == "root" and maps[0].to == "/"
            and OBJECT_GRAPH in sources[maps[0].src].listing
            and not any(es in ("*", maps[0].src) for es, _ in excludes)):
        return Target(OBJECT_GRAPH, maps[0].src, OBJECT_GRAPH, "string", [], maps[0].lineno)
    first = next((m for m in maps if _object_line(m, sources[m.src])), None)
    if first is None:
        return None
    return Target(OBJECT_GRAPH, first.src, OBJECT_GRAPH, "string", [], first.lineno,
                  synth=True)


def used_shards(targets: dict[str, Target], sources: dict[str, SourceInfo]) -> set:
    """{(source name, shard id)} holding bytes of some target."""
    return {(t.src, sh) for t in targets.values() if not t.synth
            for sh in sources[t.src].shard_of[t.key]}


# ---------------------------------------------------------------------------------------
# TF1 variables for a set of targets

def _sentinel(dtype_name: str):
    if dtype_name == "string":
        return b"<sentinel: not restored>"
    if dtype_name == "bool":
        return False
    if dtype_name.startswith("uint"):
        return 77
    if dtype_name.startswith("int"):
        return -77
    return -1234.5


_TF_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/]*")


def tf_can_name(name: str) -> bool:
    """Can a TF1 graph variable carry this name (TensorFlow's op-name rules)?"""
    return bool(_TF_NAME.fullmatch(name)) and not name.endswith("/") and "//" not in name


def graph_targets(targets: dict[str, Target]) -> dict[str, Target]:
    return {n: t for n, t in targets.items() if tf_can_name(n)}


def make_variables(targets: dict[str, Target], prefix: str = "") -> dict:
    """get_variable for every target (name = prefix + target) in the default graph."""
    tf = _tf()
    v1 = tf.compat.v1
    out = {}
    for name, t in sorted(targets.items()):
        assert "/part_" not in name, f"case design: {name} would confuse TF's partition folding"
        kwargs = dict(shape=t.shape, dtype=tf.as_dtype(t.dtype),
                      initializer=v1.constant_initializer(_sentinel(t.dtype)))
        if t.partition is not None:
            n, axis = t.partition
            kwargs["partitioner"] = v1.fixed_size_partitioner(n, axis=axis)
        out[name] = v1.get_variable(prefix + name, **kwargs)
        if t.partition is not None:
            pieces = [list(v._get_save_slice_info().var_offset) for v in out[name]]  # noqa: SLF001
            want = [[s for s, _ in ext] for ext in t.extents]
            assert sorted(pieces) == sorted(want), (name, pieces, want)
    return out


def read_variables(sess, variables: dict) -> dict:
    tf = _tf()
    tensors = {k: tf.convert_to_tensor(v) for k, v in variables.items()}
    return {k: np.asarray(x) for k, x in sess.run(tensors).items()} if tensors else {}


# ---------------------------------------------------------------------------------------
# the value oracle: init_from_checkpoint with the equivalent assignment map

def assignment_pair(m: MapLine) -> tuple[str, str]:
    """The assignment_map entry (checkpoint side, variable side) equivalent to a map line:
    the same words, TensorFlow's '/' meaning the root on either side."""
    return m.frm, m.to


def _tf_scope(var_side: str) -> str | None:
    """Variable-store scope a scope-style assignment entry iterates ('' = everything)."""
    if "/" not in var_side:
        return None
    return var_side[:var_side.rindex("/")]


def oracle_passes(maps: list[MapLine], targets: dict[str, Target]) -> list[list[MapLine]]:
    """Split map lines into groups that can share one graph.

    TensorFlow resolves a scope entry by iterating every variable of the store under the
    variable-side scope ('' for '/'), so a graph may not hold another line's targets there.
    """
    by_line = {}
    for t in targets.values():
        by_line.setdefault(t.lineno, set()).add(t.name)

    def covers(m, names):
        if m.kind == "exact":
            return False
        scope = _tf_scope(assignment_pair(m)[1])
        return any(scope == "" or n.startswith(scope + "/") for n in names)

    passes: list[list[MapLine]] = []
    for m in maps:
        for p in passes:
            others = set().union(*(by_line[o.lineno] for o in p))
            if not covers(m, others) and not any(covers(o, by_line[m.lineno]) for o in p):
                p.append(m)
                break
        else:
            passes.append([m])
    return passes


def tf_oracle(lines: list[str], sources: dict[str, SourceInfo],
              targets: dict[str, Target]) -> tuple[dict, list]:
    """({target: value}, [assignment maps used]) from init_from_checkpoint in fresh graphs.

    Targets whose names a TF graph variable cannot carry (blanks, '#', non-ASCII...) are
    left out of the graphs (TensorFlow's scope resolution only visits variables that exist)
    and take their value from tf.train.load_checkpoint(source) instead.
    """
    tf = _tf()
    v1 = tf.compat.v1
    maps, _ = parse_directives(lines)
    values, used_maps = {}, []
    ungraphed = {n: t for n, t in targets.items() if not tf_can_name(n)}
    values.update(source_values(ungraphed, sources))
    for group in oracle_passes(maps, targets):
        lines_in = {m.lineno for m in group}
        tg = {n: t for n, t in graph_targets(targets).items() if t.lineno in lines_in}
        if not tg:
            continue
        amap_lines = [m for m in group if any(t.lineno == m.lineno for t in tg.values())]
        with tf.Graph().as_default():
            variables = make_variables(tg)
            for sname in sorted({m.src for m in amap_lines}):
                amap = [assignment_pair(m) for m in amap_lines if m.src == sname]
                used_maps.append((sources[sname].tf_path, amap))
                v1.train.init_from_checkpoint(sources[sname].tf_path, amap)
            with v1.Session() as sess:
                sess.run(v1.global_variables_initializer())
                values.update(read_variables(sess, variables))
    assert set(values) == set(targets)
    return values, used_maps


# ---------------------------------------------------------------------------------------
# comparisons

def value_problem(name: str, dtype: str, got, want) -> str | None:
    g, w = np.asarray(got), np.asarray(want)
    if g.shape != w.shape:
        return f"{name}: shape {list(g.shape)}, expected {list(w.shape)}"
    if dtype == "string":
        gs, ws = V.string_elements(g), V.string_elements(w)
        if gs != ws:
            return f"{name}: string values differ: {gs[:3]} vs {ws[:3]}"
        return None
    if g.dtype != w.dtype:
        return f"{name}: numpy dtype {g.dtype}, expected {w.dtype}"
    if V.numeric_bytes(g) != V.numeric_bytes(w):
        return f"{name}: {dtype} values differ: got {g.ravel()[:4]}, expected {w.ravel()[:4]}"
    return None


def compare_values(label: str, targets: dict[str, Target], got: dict, want: dict) -> list[str]:
    out = []
    if set(got) != set(want):
        out.append(f"{label}: variables {sorted(set(got) ^ set(want))} missing or extra")
    for n in sorted(set(got) & set(want)):
        if targets[n].synth:
            continue  # the rewritten object graph: test_tf2_objects.py restores through it
        p = value_problem(n, targets[n].dtype, got[n], want[n])
        if p:
            out.append(f"{label}: {p}")
    return out


def source_values(targets: dict[str, Target], sources: dict[str, SourceInfo]) -> dict:
    """Each target's value read straight from its source by TensorFlow's reader."""
    tf = _tf()
    readers = {n: tf.train.load_checkpoint(s.prefix) for n, s in sources.items()}
    return {n: np.asarray(readers[t.src].get_tensor(t.key)) for n, t in targets.items()}


# ---------------------------------------------------------------------------------------
# checking one merged checkpoint written or mounted by ckptfs

def check_listing(result: str, targets: dict[str, Target]) -> list[str]:
    """tf.train.list_variables / dtype map of the result == the merged targets, exactly."""
    tf = _tf()
    problems = []
    listed = tf.train.list_variables(result)
    names = [n for n, _ in listed]
    if sorted(names) != sorted(targets):
        problems.append(f"list_variables({result}): extra {sorted(set(names) - set(targets))}, "
                        f"missing {sorted(set(targets) - set(names))}")
    dtypes = tf.train.load_checkpoint(result).get_variable_to_dtype_map()
    for n, shape in listed:
        t = targets.get(n)
        if t is None:
            continue
        if list(shape) != list(t.shape):
            problems.append(f"list_variables: {n} shape {list(shape)}, expected {t.shape}")
        if dtypes[n].name != t.dtype:
            problems.append(f"list_variables: {n} dtype {dtypes[n].name}, expected {t.dtype}")
    return problems


def check_index(result: str, targets: dict[str, Target]) -> list[str]:
    """Raw index: one full entry per target; piece keys exactly those of the partitioned
    targets, re-encoded under the new name with the source's extents."""
    problems = []
    idx = F.read_index(result)
    full = {e.name for e in idx.listed()}
    if full != set(targets):
        problems.append(f"index full entries: extra {sorted(full - set(targets))}, "
                        f"missing {sorted(set(targets) - full)}")
    want_pieces = set()
    for n, t in targets.items():
        if t.extents is not None:
            want_pieces |= {F.encode_slice_key(n, ext) for ext in t.extents}
            e = idx.by_key.get(n.encode())
            if e is not None and [F.slice_extents(s) for s in e.slices] != t.extents:
                problems.append(f"index: {n} full entry slices {e.slices}, expected {t.extents}")
        else:
            e = idx.by_key.get(n.encode())
            if e is not None and e.slices:
                problems.append(f"index: {n} is not partitioned but has slices {e.slices}")
    got_pieces = {e.key for e in idx.pieces()}
    if got_pieces != want_pieces:
        problems.append(f"index piece keys: extra {sorted(got_pieces - want_pieces)}, "
                        f"missing {sorted(want_pieces - got_pieces)}")
    return problems


def restore_values(result: str, targets: dict[str, Target]) -> dict[str, dict]:
    """{'saver': ..., 'init_from_checkpoint root': ..., 'init_from_checkpoint by name': ...}.

    One fresh graph: the targets under their own names (restored by a TF1 Saver with an
    explicit var_list), plus two copies under ifc_root/ and ifc_name/ that
    init_from_checkpoint(result, {'/': 'ifc_root/'}) and (name, 'ifc_name/' + name) pairs
    initialize from the result.
    """
    tf = _tf()
    v1 = tf.compat.v1
    targets = graph_targets(targets)
    if not targets:
        return {}
    with tf.Graph().as_default():
        plain = make_variables(targets)
        by_root = make_variables(targets, "ifc_root/")
        by_name = make_variables(targets, "ifc_name/")
        saver = v1.train.Saver(var_list=dict(plain))
        v1.train.init_from_checkpoint(result, {"/": "ifc_root/"})
        v1.train.init_from_checkpoint(result, [(n, "ifc_name/" + n) for n in sorted(targets)])
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            saver.restore(sess, result)
            return {"Saver.restore": read_variables(sess, plain),
                    "init_from_checkpoint {'/': 'ifc_root/'}": read_variables(sess, by_root),
                    "init_from_checkpoint per name": read_variables(sess, by_name)}


def check_result(result: str, targets: dict[str, Target], oracle: dict,
                 raw_index: bool = True) -> list[str]:
    """Everything TensorFlow sees of result agrees with the oracle. raw_index=False for a
    result only TensorFlow can open (a ckptfs:// URI): check_index it from a local copy."""
    tf = _tf()
    problems = check_listing(result, targets)
    if raw_index:
        problems += check_index(result, targets)
    try:
        reader = tf.train.load_checkpoint(result)
        got = {n: reader.get_tensor(n) for n in targets}
    except Exception as e:  # noqa: BLE001
        problems.append(f"tf.train.load_checkpoint({result}).get_tensor failed: "
                        f"{type(e).__name__}: {str(e)[:1500]}")
    else:
        problems += compare_values("load_checkpoint(result).get_tensor", targets, got, oracle)
    graphed = graph_targets(targets)
    try:
        restored = restore_values(result, targets)
    except Exception as e:  # noqa: BLE001 - report TF's refusal as a problem with the result
        return problems + [f"restoring {result} failed: {type(e).__name__}: {str(e)[:1500]}"]
    for label, got in restored.items():
        problems += compare_values(label, graphed, got, {n: oracle[n] for n in graphed})
    return problems
