"""Hostile input and hostile conditions: ckptfs must refuse damaged input with a message
that names the file and the problem, never mount half-way, keep serving the bytes it
mounted whatever happens to the sources afterwards, end cleanly on signals, recover from a
killed daemon, and never write anywhere.  Every test checks that the files it did not mean
to change are bit-identical afterwards.

  test_hostile_index.py       damaged index and data files (a catalogue of cases)
  test_hostile_mapping.py     broken mappings
  test_hostile_mountpoint.py  bad mountpoints
  test_hostile_sources.py     sources deleted, replaced or truncated under a live mount
  test_hostile_signals.py     SIGTERM under heavy reads, kill -9 and recovery
  test_hostile_security.py    EROFS for every write, other users, allow_other

The 60 s load test is ../test_load.py.  The fixtures here: ``sources``, a private copy of
the corpus plus a hand-built ~1.4 MB bundle that tests may change or delete, and
``mapping``, which merges all of them (hostile_lib.py has the helpers).
"""

from __future__ import annotations

import shutil

import pytest

from hostile_lib import BIG_DATA_ORDER, big_tensors, write_mapping
from pylib.ckptfmt import write_bundle


@pytest.fixture(scope="module")
def big_source_template(tmp_path_factory) -> str:
    """A hand-built bundle of ~1.4 MB (made once; tests copy it)."""
    d = tmp_path_factory.mktemp("big")
    prefix = str(d / "big")
    write_bundle(prefix, big_tensors(), data_order=BIG_DATA_ORDER)
    return str(d)


@pytest.fixture
def sources(tmp_path, corpus_dir, big_source_template) -> str:
    """A private copy of the corpus plus the big bundle: tests change these files."""
    dst = tmp_path / "src"
    shutil.copytree(corpus_dir, dst / "corpus")
    shutil.copytree(big_source_template, dst / "big")
    return str(dst)


@pytest.fixture
def mapping(tmp_path, sources) -> str:
    return write_mapping(tmp_path / "merge.conf", sources)
