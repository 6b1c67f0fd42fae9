"""What the hostile/ tests share: the mapping of the sources they mount and damage, and
reading a mount.

* ``merge_sources``: a mapping that merges every one of ``sources`` (tests/pylib/sources.py:
  a copy of the corpus and a hand-built ~1.4 MB bundle) under its name (hostile/conftest.py
  makes it the ``mapping`` fixture);
* ``mount_in_layout``: the mapping mounted in one of the LAYOUTS;
* ``assert_random_reads``: random O_DIRECT reads of a mount against what it served before.
"""

from __future__ import annotations

import os
import random

from pylib import mounting
from pylib.mountio import direct_pread
from pylib.sources import sources_mapping

PREFIX = "model.ckpt"


# ---------------------------------------------------------------------------------------
# sources

def merge_sources(path, srcdir: str) -> str:
    """A mapping of every source of `sources` in srcdir, each under its name."""
    return sources_mapping(path, srcdir, lines=[f"prefix = {PREFIX}"])


LAYOUTS = ["single", "shards"]


def mount_in_layout(ckptfs_bin: str, mapping: str, tmp_path, layout: str, **kw):
    """mounting.mounted() of mapping at tmp_path/mnt with -o layout=LAYOUT."""
    return mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-o",
                            f"layout={layout}", **kw)


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
