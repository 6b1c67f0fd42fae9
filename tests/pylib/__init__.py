"""Python shared by the integration tests, tests/fuzz/make_seeds.py and scripts/bench.py.

* ``ckptfmt``: the TensorFlow checkpoint format, read and written in pure Python.
* ``mounting``: running ckptfs daemons and commands, and always cleaning up after them.

Callers put the ``tests`` directory on ``sys.path`` and ``from pylib import ...``.
"""
