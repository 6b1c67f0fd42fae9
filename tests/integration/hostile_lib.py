"""What the hostile/ tests share (and test_load.py uses in part): the sources they mount
and damage, their mapping, and the checks that a command left nothing behind.

* ``big_tensors``, ``SOURCE_PATHS``, ``write_mapping``: a hand-built ~1.4 MB bundle beside
  a copy of the corpus, merged by a mapping that maps every source's root under its name
  (hostile/conftest.py makes them the ``sources`` and ``mapping`` fixtures);
* ``mount_in_layout``: the mapping mounted in one of the LAYOUTS;
* ``assert_random_reads``: random O_DIRECT reads of a mount against what it served before.
"""

from __future__ import annotations

import os
import random

import numpy as np

from pylib.mountio import direct_pread
from pylib import mounting
from pylib.ckptfmt import DT_DOUBLE, DT_FLOAT, DT_INT32, DT_INT64, DT_UINT8, DTYPE_SIZES, \
    Tensor

PREFIX = "model.ckpt"
CORPUS = {  # mapping source name -> prefix below tests/data/corpus
    "a": "serving_half_plus_two_tf1/variables",
    "b": "serving_half_plus_two_tf2/variables",
    "c": "tfx_estimator_tf1/model.ckpt-1000",
    "d": "tfx_keras_tf2/variables",
}
CORPUS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "data", "corpus")


# ---------------------------------------------------------------------------------------
# sources

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


SOURCE_PATHS = dict({k: os.path.join("corpus", v) for k, v in CORPUS.items()},
                    big=os.path.join("big", "big"))


def write_mapping(path, srcdir: str) -> str:
    lines = [f"source {n} = {os.path.join(srcdir, rel)}" for n, rel in SOURCE_PATHS.items()]
    lines += [f"map {n}:/ -> {n}/" for n in SOURCE_PATHS]
    lines += [f"prefix = {PREFIX}"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


LAYOUTS = ["single", "shards"]


def mount_in_layout(ckptfs_bin: str, mapping: str, tmp_path, layout: str, **kw):
    """mounting.mounted() of mapping at tmp_path/mnt with -o layout=LAYOUT."""
    return mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-o",
                            f"layout={layout}", **kw)


def data_files_of(mnt_path: str) -> list[str]:
    return sorted(n for n in os.listdir(mnt_path) if ".data-" in n)


# ---------------------------------------------------------------------------------------
# reading a mount

def assert_random_reads(m, want: dict[str, bytes], n: int, seed: int):
    """n random O_DIRECT reads of the data files of mount m equal want's bytes."""
    rng = random.Random(seed)
    names = [x for x in want if ".data-" in x]
    for _ in range(n):
        name = rng.choice(names)
        ref = want[name]
        off = rng.randrange(0, len(ref) + 1)
        length = rng.choice([1, 4095, 4097, 65536, 300000, 1 << 20])
        fd = os.open(m.join(name), os.O_RDONLY | os.O_DIRECT)
        try:
            got = direct_pread(fd, length, off)
        finally:
            os.close(fd)
        assert got == ref[off:off + length], (name, off, length)
