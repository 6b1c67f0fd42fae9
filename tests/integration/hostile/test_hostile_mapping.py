"""Hostile input: broken mappings are refused by `ckptfs check`, `ckptfs ls` and
the mount form (daemon and foreground) with FILE:LINE: error: messages, mounting nothing
and changing no source."""

from __future__ import annotations

import os

import pytest

from pylib.mounting import assert_not_mounted, mount_attempt, run_cmd
from pylib.sources import CORPUS_SOURCES
from sourceguard import SourceGuard


MAPPING_CASES = [
    ("unknown-directive", "source a = {S}\nmap a:/ -> a/\nfrobnicate everything\n",
     3, ("unknown directive 'frobnicate'",)),
    ("unknown-source", "source a = {S}\nmap z:/ -> a/\n", 2, ("unknown source 'z'",)),
    ("map-matches-no-tensor", "source a = {S}\nmap a:global_stepp -> g\n", 2,
     ("no tensor 'global_stepp'", "did you mean 'global_step'")),
    ("map-matches-no-scope", "source a = {S}\nmap a:nosuch/ -> g/\n", 2,
     ("no scope 'nosuch/'",)),
    ("target-conflict",
     "source a = {S}\nsource b = {S2}\nmap a:global_step -> x\nmap b:/ -> /\n"
     "map b:a2 -> x\n", 5, ("target 'x'", "line 3")),
    ("target-conflict-scope", "source a = {S}\nmap a:/ -> /\nmap a:global_step -> global_step\n",
     3, ("target 'global_step'", "line 2")),
    ("duplicate-source", "source a = {S}\nsource a = {S2}\nmap a:/ -> /\n", 2,
     ("duplicate source 'a'",)),
    ("source-missing", "source a = {S}\nsource m = {MISSING}\nmap a:/ -> /\n", 2,
     ("source 'm'", "does not exist")),
    ("malformed-arrow", "source a = {S}\nmap a:/ => /\n", 2, ("expected '->'",)),
    ("scope-to-tensor", "source a = {S}\nmap a:dnn/ -> x\n", 2, ("scope 'dnn/'",)),
    ("bad-prefix", "source a = {S}\nmap a:/ -> /\nprefix = a/b\n", 3, ("prefix 'a/b'",)),
    ("bad-layout", "source a = {S}\nmap a:/ -> /\nlayout = diagonal\n", 3,
     ("unknown layout 'diagonal'",)),
    ("no-map-lines", "source a = {S}\n", None, ("no 'map' lines",)),
    ("empty-file", "", None, ("no 'source' lines",)),
    ("unterminated-quote", "source a = \"{S}\nmap a:/ -> /\n", 1,
     ("unterminated quoted word",)),
]


@pytest.mark.parametrize("text, line, fragments",
                         [c[1:] for c in MAPPING_CASES], ids=[c[0] for c in MAPPING_CASES])
def test_broken_mapping_is_refused(tmp_path, ckptfs_bin, corpus_copy, text, line,
                                   fragments):
    s = os.path.join(corpus_copy, CORPUS_SOURCES["c"])
    s2 = os.path.join(corpus_copy, CORPUS_SOURCES["a"])
    guard = SourceGuard(corpus_copy)
    mapping = tmp_path / "broken.conf"
    mapping.write_text(text.format(S=s, S2=s2, MISSING=tmp_path / "nowhere" / "m"))
    where = f"{mapping}:{line}:" if line else f"{mapping}: error:"
    mnt = str(tmp_path / "mnt")
    runs = {"check": run_cmd([ckptfs_bin, "check", mapping]),
            "ls": run_cmd([ckptfs_bin, "ls", mapping]),
            "mount": mount_attempt(ckptfs_bin, str(mapping), mnt),
            "mount -f": mount_attempt(ckptfs_bin, str(mapping), mnt, "-f")}
    for what, r in runs.items():
        assert r.rc == 1, f"{what}\n{r.describe()}"
        assert where in r.stderr and " error: " in r.stderr, f"{what}\n{r.describe()}"
        for f in fragments:
            assert f in r.stderr, f"{what}: no {f!r}\n{r.describe()}"
        assert r.stdout == "", f"{what}\n{r.describe()}"
    assert_not_mounted(mnt, "a broken mapping")
    guard.check("a broken mapping")
