"""Helpers shared by the tests of the data paths a mount serves its data files by
(test_passthrough.py, test_direct_io.py): one-shard sources of random bytes, a mapping over
them, and the daemon's -d log read for the READ requests a file got."""

from __future__ import annotations

import os
import random
import re

from pylib import ckptfmt

PREFIX = "model.ckpt"
DT_UINT8 = 4


def random_sources(tmp_path, sizes: dict[str, int], seed: int, split: int) -> dict[str, str]:
    """One one-shard source per name of sizes, two uint8 tensors of random bytes each (the
    first 1/split of the size, then the rest); name -> data shard path."""
    rng = random.Random(seed)
    out = {}
    for name, size in sizes.items():
        d = tmp_path / name
        d.mkdir()
        first = size // split
        tensors = [ckptfmt.Tensor(f"{name}0", DT_UINT8, [first], rng.randbytes(first)),
                   ckptfmt.Tensor(f"{name}1", DT_UINT8, [size - first],
                                  rng.randbytes(size - first))]
        ckptfmt.write_bundle(str(d / "ckpt"), tensors)
        out[name] = ckptfmt.data_filename(str(d / "ckpt"), 0, 1)
    return out


def write_mapping(tmp_path, names, layout: str) -> str:
    lines = [f"source {n} = {tmp_path / n / 'ckpt'}" for n in names]
    lines += [f"map {n}:/ -> {n}/" for n in names]
    lines += [f"prefix = {PREFIX}", f"layout = {layout}"]
    path = tmp_path / f"merge-{layout}-{''.join(names)}.conf"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def data_files(m) -> list[str]:
    return sorted(n for n in os.listdir(m.path) if ".data-" in n)


def reads_of(m, path: str) -> int:
    """READ requests the daemon got for the file at path (from its -d log)."""
    ino = os.stat(path).st_ino
    return len(re.findall(rf"opcode: READ \(15\), nodeid: {ino},", m.log()))
