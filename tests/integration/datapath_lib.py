"""Helpers shared by the tests of the data paths a mount serves its data files by
(test_passthrough.py, test_direct_io.py): a mapping over their one-shard sources of random
bytes (pylib.sources.random_sources), the autouse fixture that keeps CKPTFS_MOUNT_OPTS out of
their mounts, and the daemon's -d log read for the READ requests a file got."""

from __future__ import annotations

import os
import re

import pytest

from pylib.mapfile import map_each, write_mapping

PREFIX = "model.ckpt"


def merge_mapping(tmp_path, names, layout: str) -> str:
    """A mapping of the random sources of names (tmp_path/NAME/ckpt), each under NAME/,
    in layout."""
    return write_mapping(tmp_path / f"merge-{layout}-{''.join(names)}.conf",
                         {n: tmp_path / n / "ckpt" for n in names},
                         [*map_each(names), f"prefix = {PREFIX}", f"layout = {layout}"])


@pytest.fixture(autouse=True)
def no_extra_mount_opts(monkeypatch):
    """These tests choose the data path themselves: CKPTFS_MOUNT_OPTS is not added."""
    monkeypatch.delenv("CKPTFS_MOUNT_OPTS", raising=False)


def reads_of(m, path: str) -> int:
    """READ requests the daemon got for the file at path (from its -d log)."""
    ino = os.stat(path).st_ino
    return len(re.findall(rf"opcode: READ \(15\), nodeid: {ino},", m.log()))
