"""Checking that sources are never modified: sha256 of every file below a directory,
before and after.

* ``tree_digest(dir)``: {relative path: (size, sha256)} of every file below a directory
  (or of one file);
* ``SourceGuard(dir)``: records the digest now; ``problems()`` lists what changed since,
  ``check(what)`` asserts nothing did.
"""

from __future__ import annotations

import hashlib
import os


def tree_digest(root: str) -> dict[str, tuple[int, str]]:
    """{relative path: (size, sha256 hex)} for every file below root (or root itself)."""
    out = {}
    if os.path.isfile(root):
        paths = [root]
        base = os.path.dirname(root)
    else:
        base = root
        paths = []
        for d, _dirs, files in os.walk(root):
            paths.extend(os.path.join(d, f) for f in files)
    for p in sorted(paths):
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        out[os.path.relpath(p, base)] = (os.path.getsize(p), h.hexdigest())
    return out


def diff_digests(before: dict, after: dict) -> list[str]:
    problems = []
    for k in sorted(set(before) | set(after)):
        if k not in after:
            problems.append(f"removed: {k}")
        elif k not in before:
            problems.append(f"added: {k}")
        elif before[k] != after[k]:
            problems.append(f"changed: {k}")
    return problems


class SourceGuard:
    """Records sha256 of every file below a directory; check() asserts nothing changed."""

    def __init__(self, root: str):
        self.root = root
        self.before = tree_digest(root)

    def problems(self) -> list[str]:
        return diff_digests(self.before, tree_digest(self.root))

    def check(self, what: str = ""):
        bad = self.problems()
        assert not bad, f"source files modified{(' by ' + what) if what else ''} under {self.root}: {bad}"
