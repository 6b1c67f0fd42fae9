"""Python shared by the integration tests (every helper more than one test file uses, once),
tests/fuzz/make_seeds.py and scripts/bench.py.

* ``ckptfmt``: the TensorFlow checkpoint format, read and written in pure Python.
* ``mounting``: running ckptfs daemons and commands, and always cleaning up after them.
* ``mountio``: reading files through a mount (read(2), O_DIRECT, mmap).
* ``testenv``: where the repository, the corpus and the build are; running a command.
* ``lsout``: what ``ckptfs ls`` prints, read back.
* ``mapfile``: mapping files as the tests write them.
* ``sources``: the sources the integration tests mount and damage, and their fixtures.

Callers put the ``tests`` directory on ``sys.path`` and ``from pylib import ...``.
"""
