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
  test_hostile_opening.py     what a writer of a source directory can do: files every user
                              may not read under allow_other, FIFOs, memory bombs
  test_hostile_cli.py         names, paths and options made to hurt: escaped output,
                              materialize over a source, the mount race, wrong values
  test_hostile_trips.py       what a new user trips on: Keras 3 files, files that are
                              not mappings, materialize into a missing directory

The 60 s load test is ../test_load.py.  The fixtures here: ``mapping``, which merges all
of ``sources`` (tests/pylib/sources.py: a private copy of the corpus plus a hand-built
~1.4 MB bundle that tests may change or delete), and ``pub``, a directory every user may
enter; hostile_lib.py has the helpers.
"""

from __future__ import annotations

import pytest

from hostile_lib import merge_sources
from pylib import mounting


@pytest.fixture
def mapping(tmp_path, sources) -> str:
    return merge_sources(tmp_path / "merge.conf", sources)


@pytest.fixture
def pub():
    """A directory every user may enter, removed (and unmounted) afterwards."""
    with mounting.public_tmpdir("ckptfs-hostile-") as d:
        yield d
