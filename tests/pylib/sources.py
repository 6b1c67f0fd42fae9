"""Sources for the integration tests to mount, change and damage, and the fixtures that make
them (tests/integration/conftest.py registers ``sources`` and ``big_source_template``).

* ``sources``: for each test, in tmp_path/sources, a private copy of tests/data/corpus
  (corpus/) and a hand-built ~1.4 MB bundle (big/big) that the test may change,
  replace or delete; ``SOURCE_PATHS`` names them for a mapping (``a`` to ``d``: the four
  corpus checkpoints, ``CORPUS_SOURCES``; ``big``), and ``sources_mapping`` writes one
  that merges them, each under a directory of its name;
* ``big_tensors``: the tensors of that bundle (or their bytes inverted), in its data order
  ``BIG_DATA_ORDER``;
* ``random_sources``: one-shard sources of random bytes, and ``random_sources_fixture``,
  which makes a module's ``sources`` of them.
"""

from __future__ import annotations

import os
import random
import shutil

import numpy as np
import pytest

from pylib import ckptfmt
from pylib.ckptfmt import DT_DOUBLE, DT_FLOAT, DT_INT32, DT_INT64, DT_UINT8, DTYPE_SIZES, \
    Tensor
from pylib.mapfile import map_each, write_mapping
from pylib.testenv import CORPUS, CORPUS_DIR

# mapping source name -> prefix below tests/data/corpus
CORPUS_SOURCES = {
    "a": CORPUS["serving_half_plus_two_tf1"],
    "b": CORPUS["serving_half_plus_two_tf2"],
    "c": CORPUS["tfx_estimator_tf1"],
    "d": CORPUS["tfx_keras_tf2"],
}
# mapping source name -> prefix below the `sources` directory
SOURCE_PATHS = dict({n: os.path.join("corpus", rel) for n, rel in CORPUS_SOURCES.items()},
                    big=os.path.join("big", "big"))


# ---------------------------------------------------------------------------------------
# the corpus and the big bundle

def big_tensors(seed: int = 11, invert: bool = False) -> list[Tensor]:
    """About 1.4 MB in tensors of many sizes (several max_read pieces, tiny ones too)."""
    rng = np.random.default_rng(seed)
    specs = [("big/emb", DT_FLOAT, [256, 256]), ("big/bytes", DT_UINT8, [700001]),
             ("big/f64", DT_DOUBLE, [50000]), ("big/ids", DT_INT32, [3]),
             ("big/one", DT_UINT8, [1]), ("big/zero", DT_FLOAT, [0]),
             ("big/mid", DT_INT64, [4099])]
    out = []
    for key, dt, dims in specs:
        n = int(np.prod(dims)) * DTYPE_SIZES[dt]
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        if invert:
            data = bytes(b ^ 0xFF for b in data) if n < 4096 else \
                (np.frombuffer(data, np.uint8) ^ 0xFF).tobytes()
        out.append(Tensor(key, dt, dims, data))
    return out


BIG_DATA_ORDER = [2, 0, 6, 3, 1, 5, 4]   # data file order differs from key order


@pytest.fixture(scope="session")
def big_source_template(tmp_path_factory) -> str:
    """The big bundle, made once (as big/big); `sources` copies it."""
    d = tmp_path_factory.mktemp("big")
    ckptfmt.write_bundle(str(d / "big"), big_tensors(), data_order=BIG_DATA_ORDER)
    return str(d)


@pytest.fixture
def sources(tmp_path, big_source_template) -> str:
    """A private copy of the corpus plus the big bundle, in tmp_path/sources (SOURCE_PATHS):
    tests change, replace and delete these files."""
    dst = tmp_path / "sources"
    shutil.copytree(CORPUS_DIR, dst / "corpus")
    shutil.copytree(big_source_template, dst / "big")
    return str(dst)


def sources_mapping(path, srcdir: str, names=tuple(SOURCE_PATHS), lines=()) -> str:
    """A mapping of the sources (SOURCE_PATHS) of names in srcdir, each under NAME/, then
    lines."""
    return write_mapping(path, {n: os.path.join(srcdir, SOURCE_PATHS[n]) for n in names},
                         [*map_each(names), *lines])


# ---------------------------------------------------------------------------------------
# random bytes

def random_sources(tmp_path, sizes: dict[str, int], seed: int, split: int) -> dict[str, str]:
    """One one-shard source per name of sizes, tmp_path/NAME/ckpt: two uint8 tensors of
    random bytes each (the first 1/split of the size, then the rest); name -> data shard
    path."""
    rng = random.Random(seed)
    out = {}
    for name, size in sizes.items():
        d = tmp_path / name
        d.mkdir()
        first = size // split
        tensors = [Tensor(f"{name}0", DT_UINT8, [first], rng.randbytes(first)),
                   Tensor(f"{name}1", DT_UINT8, [size - first], rng.randbytes(size - first))]
        ckptfmt.write_bundle(str(d / "ckpt"), tensors)
        out[name] = ckptfmt.data_filename(str(d / "ckpt"), 0, 1)
    return out


def random_sources_fixture(sizes: dict[str, int], seed: int, split: int):
    """A ``sources`` fixture for a test module (``sources = random_sources_fixture(...)``)
    whose sources are random_sources(tmp_path, sizes, seed, split)."""
    @pytest.fixture(name="sources")
    def random_sources_of_the_module(tmp_path) -> dict[str, str]:
        return random_sources(tmp_path, sizes, seed, split)
    return random_sources_of_the_module
