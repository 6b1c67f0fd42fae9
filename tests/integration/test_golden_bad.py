"""Golden bad inputs: every deliberately broken fuzz seed has a pinned outcome.

Each tests/fuzz/corpus/{index,mapping,view}/bad_* seed is run through the CLI
and its exit status and complete stderr (the temporary directory shown as
<tmp>) must equal the row pinned for it in tests/golden/bad_inputs.tsv, one
row per (seed, command):

  index/bad_*    copied to <tmp>/ckpt.index, beside zero-filled 4 KiB data
                 shards for one and for two shards (so an index that parses
                 gets as far as its data); `ckptfs ls|verify <tmp>/ckpt`
  mapping/bad_*  copied to <tmp>/<seed>, beside single-shard checkpoints
                 <tmp>/x and <tmp>/y written by bench_gen (the sources the
                 seeds name); `ckptfs check|ls <tmp>/<seed>`
  view/bad_*     fuzz_view input (tests/fuzz/fuzz_view.c): bits 0-2 of byte 0
                 prepend "source a = a", "source b = b", "source c = c", the
                 text up to the first NUL follows; written to <tmp>/<seed>
                 beside a (a prefix), b/ (a directory whose `checkpoint` file
                 names model-7) and c/ (a SavedModel's variables/variables);
                 `ckptfs check|ls <tmp>/<seed>`. Bits 3-6 (layout and prefix
                 options) have no `check` equivalent: such a seed fails here.

A bad_* seed without a row fails, a row naming a missing seed fails, and so
does a seed that every pinned command accepts. After changing a message or
adding a seed, regenerate the expectations and review the diff:

  CKPTFS_GOLDEN_UPDATE=1 .venv/bin/python -m pytest -q tests/integration/test_golden_bad.py

(keeps the commands already pinned for a seed; a new index seed gets `ls`
and `verify`, a new mapping or view seed `check`).

Environment: CKPTFS_BUILD (default <repo>/build) holds the ckptfs binary and
tests/bench_gen; EXEC_PREFIX optionally prefixes the ckptfs command line.
"""

from __future__ import annotations

import glob
import os
import shlex
import subprocess

import pytest

from pylib.testenv import build_dir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(REPO, "tests", "fuzz", "corpus")
GOLDEN = os.path.join(REPO, "tests", "golden", "bad_inputs.tsv")
KINDS = ("index", "mapping", "view")
COMMANDS = {"index": ("ls", "verify"), "mapping": ("check", "ls"), "view": ("check", "ls")}
DEFAULT = {"index": ("ls", "verify"), "mapping": ("check",), "view": ("check",)}
UPDATE = os.environ.get("CKPTFS_GOLDEN_UPDATE") == "1"
TIMEOUT = 60
SHARD_BYTES = 4096
VIEW_SOURCES = (b"source a = a\n", b"source b = b\n", b"source c = c\n")
HEADER = """\
# Golden bad inputs: the exit status and stderr of ckptfs for every
# tests/fuzz/corpus/*/bad_* seed, checked by tests/integration/test_golden_bad.py
# (which says how each seed is set up and how to regenerate this file).
# Columns, tab-separated: seed (relative to tests/fuzz/corpus), command,
# exit status, stderr (empty if none) with the temporary directory as <tmp>, escaped:
# \\\\ backslash, \\t tab, \\n newline, \\xNN any other byte outside ASCII 0x20-0x7e.
"""


# ---------------------------------------------------------------- expectations

def escape(b: bytes) -> str:
    out = []
    for c in b:
        if c == 0x5C:
            out.append("\\\\")
        elif c == 0x09:
            out.append("\\t")
        elif c == 0x0A:
            out.append("\\n")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def read_golden() -> list[tuple[str, str, int, str]]:
    rows = []
    if not os.path.exists(GOLDEN):
        return rows
    with open(GOLDEN, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 4 or not cols[2].lstrip("-").isdigit():
                raise ValueError(f"{GOLDEN}:{n}: expected SEED<TAB>COMMAND<TAB>EXIT<TAB>STDERR")
            rows.append((cols[0], cols[1], int(cols[2]), cols[3]))
    return rows


def seeds() -> list[str]:
    out = []
    for kind in KINDS:
        for p in sorted(glob.glob(os.path.join(CORPUS, kind, "bad_*"))):
            out.append(kind + "/" + os.path.basename(p))
    return out


ROWS = read_golden()


# ------------------------------------------------------------------- running

def binary(*candidates: str) -> str:
    for rel in candidates:
        p = os.path.join(build_dir(), rel)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    pytest.fail(f"none of {', '.join(candidates)} in {build_dir()} "
                f"(build the project, or set CKPTFS_BUILD)", pytrace=False)


def ckptfs() -> str:
    return binary("ckptfs", "fs/ckptfs", "cli/ckptfs")


def run(argv: list[str], cwd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        return subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"timed out after {TIMEOUT}s: {shlex.join(argv)}")


def gen_checkpoint(prefix: str, name: str) -> None:
    """A single-shard checkpoint of two float32 tensors under name/."""
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    argv = [binary("tests/bench_gen"), prefix, "--tensors", "2", "--bytes", "64",
            "--name-prefix", name]
    p = run(argv, os.path.dirname(prefix))
    assert p.returncode == 0, f"{shlex.join(argv)}: {p.stderr.decode(errors='replace')}"


def set_up(kind: str, seed: bytes, name: str, tmp: str) -> str:
    """Lay out what a seed needs in tmp; return the argument ckptfs gets."""
    if kind == "index":
        with open(os.path.join(tmp, "ckpt.index"), "wb") as f:
            f.write(seed)
        for shard, n in ((0, 1), (0, 2), (1, 2)):
            with open(os.path.join(tmp, "ckpt.data-%05d-of-%05d" % (shard, n)), "wb") as f:
                f.write(bytes(SHARD_BYTES))
        return os.path.join(tmp, "ckpt")
    if kind == "mapping":
        for src in ("x", "y"):
            gen_checkpoint(os.path.join(tmp, src), src)
        text = seed
    else:
        ctl = seed[0] if seed else 0
        assert not ctl & 0x78, (f"view seed {name}: control byte 0x{ctl:02x} asks for "
                                f"layout/prefix options, which `ckptfs check` cannot pass")
        text = b"".join(VIEW_SOURCES[i] for i in range(3) if ctl >> i & 1)
        text += seed[1:].split(b"\0", 1)[0]
        gen_checkpoint(os.path.join(tmp, "a"), "a")
        gen_checkpoint(os.path.join(tmp, "b", "model-7"), "b")
        with open(os.path.join(tmp, "b", "checkpoint"), "w") as f:
            f.write('model_checkpoint_path: "model-7"\n'
                    'all_model_checkpoint_paths: "model-7"\n')
        gen_checkpoint(os.path.join(tmp, "c", "variables", "variables"), "c")
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(text)
    return path


def outcome(seed_rel: str, command: str, tmp: str) -> tuple[int, str]:
    """(exit status, escaped stderr with tmp as <tmp>) of one seed and command."""
    kind, name = seed_rel.split("/", 1)
    assert command in COMMANDS[kind], (
        f"{seed_rel}: command {command!r} is not one of {', '.join(COMMANDS[kind])}")
    with open(os.path.join(CORPUS, seed_rel), "rb") as f:
        seed = f.read()
    arg = set_up(kind, seed, name, tmp)
    argv = shlex.split(os.environ.get("EXEC_PREFIX", "")) + [ckptfs(), command, arg]
    p = run(argv, tmp)
    err = p.stderr
    for t in sorted({tmp, os.path.realpath(tmp)}, key=len, reverse=True):
        err = err.replace(t.encode(), b"<tmp>")
    return p.returncode, escape(err.rstrip(b"\n"))


# --------------------------------------------------------------------- tests
# Nothing is skipped (scripts/test fails on a skip): with CKPTFS_GOLDEN_UPDATE=1
# the module holds test_update_golden alone, otherwise the checks alone.

def test_every_bad_seed_is_pinned():
    pinned = {r[0] for r in ROWS}
    missing = [s for s in seeds() if s not in pinned]
    assert not missing, (f"bad_* seeds without an expectation in {GOLDEN} (regenerate "
                         f"with CKPTFS_GOLDEN_UPDATE=1, then review): {missing}")


def test_every_expectation_names_a_seed():
    have = set(seeds())
    stale = sorted({r[0] for r in ROWS if r[0] not in have})
    assert not stale, f"{GOLDEN} names seeds that do not exist: {stale}"
    keys = [(r[0], r[1]) for r in ROWS]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    assert not dups, f"{GOLDEN} pins these (seed, command) pairs twice: {dups}"


def test_every_bad_seed_is_refused_somewhere():
    """A bad input that every pinned command accepts is no longer a bad input."""
    refused = {r[0] for r in ROWS if r[2] != 0}
    accepted = sorted({r[0] for r in ROWS} - refused)
    assert not accepted, f"bad_* seeds that no pinned command refuses: {accepted}"


@pytest.mark.parametrize("seed_rel,command,status,stderr", ROWS,
                         ids=[f"{r[0]}-{r[1]}" for r in ROWS])
def test_bad_input(seed_rel, command, status, stderr, tmp_path):
    if not os.path.exists(os.path.join(CORPUS, seed_rel)):
        pytest.fail(f"{seed_rel}: no such seed (see test_every_expectation_names_a_seed)")
    got = outcome(seed_rel, command, str(tmp_path))
    assert got == (status, stderr), (
        f"ckptfs {command} on {seed_rel}:\n"
        f"  expected exit {status}, stderr {stderr}\n"
        f"  got      exit {got[0]}, stderr {got[1]}")


def update_golden(tmp_path):
    pinned: dict[str, list[str]] = {}
    for r in ROWS:
        pinned.setdefault(r[0], []).append(r[1])
    lines = []
    for i, s in enumerate(seeds()):
        kind = s.split("/", 1)[0]
        cmds = pinned.get(s) or list(DEFAULT[kind])
        for c in sorted(set(cmds), key=COMMANDS[kind].index):
            d = tmp_path / f"{i}-{c}"
            d.mkdir()
            status, err = outcome(s, c, str(d))
            lines.append(f"{s}\t{c}\t{status}\t{err}\n")
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    with open(GOLDEN, "w", encoding="ascii") as f:
        f.write(HEADER)
        f.writelines(lines)


if UPDATE:
    def test_update_golden(tmp_path):
        update_golden(tmp_path)

    del (test_every_bad_seed_is_pinned, test_every_expectation_names_a_seed,
         test_every_bad_seed_is_refused_somewhere, test_bad_input)
