"""pytest fixtures for the TensorFlow-oracle integration tests of ckptfs.

Environment:
  CKPTFS_BUILD   build directory holding ckptfs and tests/bundle_rewrite
                 (default: <repo>/build)
  EXEC_PREFIX    optional command prefix for the C binaries, e.g. "valgrind -q --error-exitcode=99"

Checkpoints are generated once per session with real TensorFlow (tfgen.py) into a session
temp dir; the read-only corpus (tests/data/corpus) is copied to a temp dir first.  Every
test that uses the `checkpoint` fixture asserts at teardown that the source files are
byte-identical (sha256) to what was recorded right after generation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for _d in (HERE, TESTS):  # tests/integration's modules, and tests/pylib as `pylib`
    if _d not in sys.path:
        sys.path.insert(0, _d)

import tfgen  # noqa: E402
from pylib import mounting, testenv  # noqa: E402
from pylib.sources import big_source_template, sources  # noqa: E402,F401 (fixtures)
from pylib.testenv import (CORPUS, CORPUS_DIR, CORPUS_IDS, REPO, Result,  # noqa: E402,F401
                           require_binary, run_command)
from sourceguard import SourceGuard  # noqa: E402

CHECKPOINT_IDS = tfgen.FIXTURE_IDS + CORPUS_IDS


# ---------------------------------------------------------------------------------------
# binaries

@pytest.fixture(scope="session")
def build_dir() -> str:
    return testenv.build_dir()


@pytest.fixture(scope="session")
def ckptfs_bin(build_dir) -> str:
    return require_binary(os.path.join(build_dir, "ckptfs"))


@pytest.fixture(scope="session")
def bundle_rewrite_bin(build_dir) -> str:
    return require_binary(os.path.join(build_dir, "tests", "bundle_rewrite"))


@pytest.fixture(scope="session")
def run_ckptfs(ckptfs_bin):
    """run_ckptfs("ls", CKPT) -> Result(rc, stdout bytes, stderr str); unpacks as a 3-tuple."""
    def run(*args) -> Result:
        return run_command([ckptfs_bin, *args])
    return run


@pytest.fixture(scope="session")
def plugin_path(run_ckptfs) -> str:
    """The TensorFlow plugin (ckptfs://) of this build: the build makes it whenever
    TensorFlow's headers are found, as they are wherever these tests run. A sanitized
    build has none (TensorFlow's process has no ASan runtime to load it with):
    scripts/test --sanitize then names a regular build's in CKPTFS_TF_PLUGIN_LIB."""
    regular = os.environ.get("CKPTFS_TF_PLUGIN_LIB")
    if regular:
        assert os.path.isabs(regular) and os.path.isfile(regular), regular
        return regular
    r = run_ckptfs("tf-plugin")
    assert r.rc == 0, r.describe()
    path = r.stdout.decode().strip()
    assert os.path.isabs(path) and os.path.isfile(path), path
    return path


@pytest.fixture(scope="session")
def tf_registered(plugin_path):
    """TensorFlow with the plugin registered in this process (once per session:
    TensorFlow keeps one file system per scheme and refuses a second)."""
    import tensorflow as tf
    tf.experimental.register_filesystem_plugin(plugin_path)
    return tf


@pytest.fixture(scope="session")
def run_bundle_rewrite(bundle_rewrite_bin):
    def run(src, dst_prefix) -> Result:
        return run_command([bundle_rewrite_bin, src, dst_prefix])
    return run


# ---------------------------------------------------------------------------------------
# "sources are never modified"

@pytest.fixture
def source_guard():
    """source_guard(dir) records the dir now and asserts it is unchanged after the test."""
    guards = []

    def guard(root: str) -> SourceGuard:
        g = SourceGuard(root)
        guards.append(g)
        return g

    yield guard
    for g in guards:
        g.check("the test")


# ---------------------------------------------------------------------------------------
# checkpoints

@pytest.fixture(scope="session")
def corpus_dir() -> str:
    """The read-only corpus (do not use directly: use corpus_copy)."""
    return CORPUS_DIR


@pytest.fixture(scope="session")
def corpus_guard(corpus_dir) -> SourceGuard:
    """sha256 of the original corpus files, recorded at session start."""
    return SourceGuard(corpus_dir)


# `sources`, a private copy of the corpus and a big bundle made for each test that may
# change them, is pylib/sources.py's (imported above).


@pytest.fixture(scope="session")
def corpus_copy(tmp_path_factory, corpus_dir, corpus_guard):
    """A private copy of tests/data/corpus; the original is checked unchanged at the end."""
    dst = os.path.join(str(tmp_path_factory.mktemp("corpus")), "corpus")
    shutil.copytree(corpus_dir, dst)
    yield dst
    corpus_guard.check("the session")


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """{id: tfgen.Fixture} for every TensorFlow-generated checkpoint (made once)."""
    out = str(tmp_path_factory.mktemp("tfgen"))
    return tfgen.generate_all(out)


@pytest.fixture(scope="session")
def all_checkpoints(generated, corpus_copy):
    """{id: Fixture} for generated + corpus checkpoints, with a SourceGuard recorded once."""
    out = dict(generated)
    for cid, rel in CORPUS.items():
        prefix = os.path.join(corpus_copy, rel)
        out["corpus/" + cid] = tfgen.Fixture("corpus/" + cid, prefix, prefix,
                                            os.path.dirname(prefix), "corpus")
    guards = {}
    for fx in out.values():
        if fx.root not in guards:
            guards[fx.root] = SourceGuard(fx.root)
        fx.guard = guards[fx.root]
    return out


def _guarded(request, all_checkpoints):
    fx = all_checkpoints[request.param]
    yield fx
    fx.guard.check(request.node.name)


@pytest.fixture(params=CHECKPOINT_IDS, ids=CHECKPOINT_IDS)
def checkpoint(request, all_checkpoints):
    """One source checkpoint (tfgen.Fixture); its files must be unchanged after the test."""
    yield from _guarded(request, all_checkpoints)


@pytest.fixture(params=tfgen.FIXTURE_IDS, ids=tfgen.FIXTURE_IDS)
def generated_checkpoint(request, all_checkpoints):
    """Like `checkpoint`, for those TensorFlow wrote in this run (they carry expectations)."""
    yield from _guarded(request, all_checkpoints)


# Fixtures whose index holds partitioned variables (slice entries).
PARTITIONED_IDS = ["partitioned"]


@pytest.fixture(params=PARTITIONED_IDS, ids=PARTITIONED_IDS)
def partitioned_checkpoint(request, all_checkpoints):
    yield from _guarded(request, all_checkpoints)


# ---------------------------------------------------------------------------------------
# TensorFlow oracle

class TFView:
    """TensorFlow's view of one bundle prefix (tf.train.load_checkpoint / list_variables)."""

    def __init__(self, prefix: str):
        import tensorflow as tf

        self.tf = tf
        self.prefix = prefix
        self.reader = tf.train.load_checkpoint(prefix)
        self.listing = tfgen.tf_listing(prefix)       # [(name, dtype name, shape)]
        self.dtypes = {n: d for n, d, _ in self.listing}
        self.shapes = {n: s for n, _, s in self.listing}

    def value(self, name: str):
        return self.reader.get_tensor(name)


@pytest.fixture(scope="session")
def tf_views():
    cache = {}

    def view(prefix: str) -> TFView:
        if prefix not in cache:
            cache[prefix] = TFView(prefix)
        return cache[prefix]
    return view


@pytest.fixture
def tf_view(checkpoint, tf_views) -> TFView:
    return tf_views(checkpoint.prefix)


# ---------------------------------------------------------------------------------------
# the Python wheel (scripts/wheel), built once a session: test_wheel.py, test_docs.py

def _run_checked(argv: list, timeout: float) -> subprocess.CompletedProcess:
    p = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=timeout)
    assert p.returncode == 0, (f"{argv}: exit {p.returncode}\nstdout:\n{p.stdout[-4000:]}\n"
                               f"stderr:\n{p.stderr[-4000:]}")
    return p


@pytest.fixture(scope="session")
def wheel() -> str:
    given = os.environ.get("CKPTFS_WHEEL")
    if given:
        assert os.path.isfile(given), f"CKPTFS_WHEEL={given} is not a file"
        return given
    start = time.monotonic()
    p = _run_checked([os.path.join(REPO, "scripts", "wheel")], timeout=1800)
    path = p.stdout.strip().splitlines()[-1]
    print(f"\nscripts/wheel: {path} in {time.monotonic() - start:.0f} s")
    return path


@pytest.fixture(scope="session")
def wheel_dir():
    """A directory every user may read (pytest's are 0700): sources and the install."""
    with mounting.public_tmpdir("ckptfs-wheel-") as d:
        yield d


@pytest.fixture(scope="session")
def wheel_site(wheel, wheel_dir) -> str:
    """The wheel installed with pip --target, for the TensorFlow venvs' PYTHONPATH."""
    d = os.path.join(wheel_dir, "site")
    _run_checked([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  "--no-index", "--no-deps", "--target", d, wheel], timeout=300)
    return d
